"""CPU target: ``@njit`` kernels and the loops specific to the CPU."""
