"""Numba engines. Each module holds an engine's CPU kernels and their CUDA twins.

Kernels never validate arguments: ``imgops._core`` has done that. The modules load
lazily (``from ._kernels import stencil`` hands out a proxy that imports on first
attribute access), so ``import imgops`` does not import Numba (~0.5 s here).
"""

import importlib


class _Lazy:
    """Stands in for a kernel module until its first use."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name}>"


for _m in ("border", "stencil", "rank", "median_nets", "resample", "denoise", "layout"):
    globals()[_m] = _Lazy(f"{__name__}.{_m}")
del _m
