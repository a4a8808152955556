"""Every operation record, run through the dispatch layer with its own example
arguments: the output dtype rule, layouts, the input left alone, and the errors
every operation shares."""

import numpy as np
import pytest

from imgops import _dispatch, _ops

IMAGE_OPS = [name for name, op in _ops.OPS.items() if op.example is not None]


def _image(shape):
    return np.random.default_rng(3).random(shape).astype(np.float32)


@pytest.mark.parametrize("name", IMAGE_OPS)
def test_every_record_runs_with_its_example(name):
    op = _ops.OPS[name]
    for shape in [(9, 11), (9, 11, 2), (2, 9, 11, 2)][:1 if op.ndims == (2,) else 3]:
        img = _image(shape)
        before = img.copy()
        out = _dispatch.run(name, img, **op.example)
        np.testing.assert_array_equal(img, before)  # never modified
        if op.out_dtype == "scalar":
            assert isinstance(out, float)
            continue
        assert out.dtype == {"same": np.float32, "float": np.float32, "bool": bool}[op.out_dtype]
        assert out.ndim == img.ndim
        if op.out_size is None:
            assert out.shape == img.shape


@pytest.mark.parametrize("name", IMAGE_OPS)
def test_every_record_refuses_bad_images(name):
    op = _ops.OPS[name]
    with pytest.raises(TypeError, match="uint8, uint16, float32, float64"):
        _dispatch.run(name, np.zeros((9, 11), bool), **op.example)
    with pytest.raises(ValueError, match="empty"):
        _dispatch.run(name, np.zeros((0, 11), np.float32), **op.example)
    with pytest.raises(ValueError, match="shaped"):
        _dispatch.run(name, np.zeros((2, 2, 9, 11, 1), np.float32), **op.example)
    with pytest.raises(TypeError, match="NumPy array"):
        _dispatch.run(name, [[0.0, 1.0]], **op.example)
    with pytest.raises(ValueError, match="backend"):
        _dispatch.run(name, _image((9, 11)), "gpu", **op.example)


def test_records_name_implementations_that_exist():
    from imgops._cpu import ops as cpu_ops
    from imgops._cuda import ops as cuda_ops  # importable without a GPU

    for op in _ops.OPS.values():
        assert callable(getattr(cpu_ops, op.cpu)), op.name
        if op.cuda is not None:
            assert callable(getattr(cuda_ops, op.cuda)), op.name
