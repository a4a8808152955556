"""Selection networks: the compare-exchange lists the median kernels run.

Pure NumPy: ``selection_network(n, rank)`` builds the network once per window
size; the CPU kernel for 7x7 takes it as data, and ``tools/gen_median_nets.py``
unrolls the 3x3 and 5x5 ones into ``imgops/_shared/median_nets.py``.
"""

import numpy as np


def selection_network(n: int, rank: int) -> np.ndarray:
    """Compare-exchange steps that leave the rank-th smallest of n values at ``rank``.

    Batcher's odd-even merge sort on the next power of two (steps reaching past n
    dropped: those slots hold +inf), pruned backwards to the steps the output
    depends on. Rows are (i, j, what): what 0 = both min->i and max->j, 1 = only
    min->i needed, 2 = only max->j needed.
    """
    size = 1
    while size < n:
        size *= 2
    steps = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        a, b = i + j, i + j + k
                        if b < n:
                            steps.append((a, b))
            k //= 2
        p *= 2
    needed = {rank}
    kept = []
    for a, b in reversed(steps):
        na, nb = a in needed, b in needed
        if na or nb:
            kept.append((a, b, 0 if na and nb else 1 if na else 2))
            needed |= {a, b}
    return np.array(kept[::-1], dtype=np.int64).reshape(-1, 3)
