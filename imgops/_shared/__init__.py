"""Device-agnostic ``@njit`` bodies that both the CPU and the CUDA kernels call."""
