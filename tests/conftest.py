import numpy as np
import pytest
from helpers import DTYPES, MODES


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return np.dtype(request.param)


@pytest.fixture(params=MODES)
def mode(request):
    return request.param
