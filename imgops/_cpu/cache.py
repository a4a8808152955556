"""Where Numba keeps the compiled CPU kernels, and whether any are there yet.

Numba writes its on-disk cache next to the sources (``__pycache__``) when that is
writable, else in the user's cache directory (``~/.cache/numba`` or
``$NUMBA_CACHE_DIR``), mirroring the source tree; ``NUMBA_CACHE_DIR`` always wins.
The command line reads this to say, before the first compilation, that it is
compiling once.
"""

from __future__ import annotations

import pathlib


def status() -> dict:
    """``{"dir": the cache directory of imgops's CPU kernels, "kernels": how many
    kernels have an index there}`` (0: the next calls compile; None for both when
    Numba's JIT is disabled, as under the CUDA simulator)."""
    from . import layout  # any cached kernel of this package tells the locator's choice

    cache = getattr(layout.gather, "_cache", None)
    if cache is None:
        return {"dir": None, "kernels": None}
    path = pathlib.Path(cache._cache_path)
    root = path.parent  # the package's cache folder; its subpackages' folders beside it
    n = sum(1 for _ in root.rglob("*.nbi")) if root.exists() else 0
    return {"dir": str(path), "kernels": n}
