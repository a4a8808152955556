"""Numba engines. Each module holds an engine's CPU kernels (and CUDA twins where present).

Kernels never validate arguments: ``imgops._core`` has done that.
"""
