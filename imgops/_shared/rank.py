"""Order statistics on small arrays: the quickselect both median kernels call."""

from numba import njit


@njit(inline="always", cache=True)
def sort3(a, b, c):
    if a > b:
        a, b = b, a
    if b > c:
        b, c = c, b
    if a > b:
        a, b = b, a
    return a, b, c


@njit(inline="always", cache=True)
def med3(a, b, c):
    return max(min(a, b), min(max(a, b), c))


@njit(inline="always", cache=True)
def quickselect(a, n, r):
    """The r-th smallest of a[:n] (a is reordered)."""
    lo = 0
    hi = n - 1
    while hi > lo:
        pivot = a[(lo + hi) // 2]
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if r <= j:
            hi = j
        elif r >= i:
            lo = i
        else:
            break
    return a[r]
