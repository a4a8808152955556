"""What the command line runs in child processes: the compile head start of a cold run
and ``imgops warmup``'s two groups of kernels.

They live in the library rather than in ``imgops.cli``: a spawned child imports its
target by module name along the parent's ``sys.path``, which in a source checkout (the
tests, run from the repository's root) can find the source tree's ``imgops`` first,
where the command line, installed from ``cli/`` as ``imgops.cli``, is absent. The child
then died before its task, and a ``multiprocessing.Pool`` waited for it forever.
"""

from __future__ import annotations


def prime(target: str) -> None:
    """In a helper process: compile (into Numba's cache) the kernels ``target`` names
    that a cold run reaches last, while the main process compiles those it needs first.
    It is only a head start: it says nothing, ignores Ctrl-C (the main process ends it)
    and keeps its failures to itself (the main process compiles what is missing)."""
    import signal
    import warnings

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warnings.simplefilter("ignore")
    try:
        if target == "bm3d":
            from imgops._cpu import bm3d

            bm3d.prime()
    except Exception:  # noqa: BLE001, S110 - a head start only
        pass


def warm(group: str, dtypes) -> None:
    """Run one group of the commands' default operations (``"denoise"`` or
    ``"others"``) on tiny noisy images of each dtype in ``dtypes``, gray and colour."""
    import numpy as np

    import imgops

    fns = [imgops.denoise] if group == "denoise" else [
        lambda x: imgops.gaussian(x, 1.0), imgops.sobel, imgops.downsample, imgops.upsample]
    rng = np.random.default_rng(0)
    for name in dtypes:
        top = np.iinfo(name).max if np.dtype(name).kind == "u" else 1.0
        for shape in [(16, 16), (16, 16, 3)]:
            # noise, so that estimate_noise > 0 and denoise runs its method
            a = (rng.random(shape) * top).astype(name)
            for fn in fns:
                fn(a)
