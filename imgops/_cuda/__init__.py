"""CUDA target: ``@cuda.jit`` kernels and their launch and staging runtime.

Nothing here is imported by ``import imgops``: the dispatch layer loads these
modules on the first call that runs on the GPU (``probe`` answers whether one is
usable without loading numba.cuda when it is not needed).
"""

import importlib


def __getattr__(name: str):
    """Load a submodule on first use (``import imgops`` stays free of Numba)."""
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from exc
