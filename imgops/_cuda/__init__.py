"""CUDA target: ``@cuda.jit`` kernels and their launch and staging runtime.

Nothing here is imported by ``import imgops``: the dispatch layer loads these
modules on the first call that runs on the GPU (``probe`` answers whether one is
usable without loading numba.cuda when it is not needed).
"""
