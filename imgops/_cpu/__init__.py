"""CPU target: ``@njit`` kernels and the loops specific to the CPU."""

import importlib


def __getattr__(name: str):
    """Load a submodule on first use (``import imgops`` stays free of Numba)."""
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from exc
