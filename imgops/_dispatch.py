"""The one dispatch layer: an operation's record, its checks, then its target.

``run(name, image, backend, **arguments)`` looks the operation up in
``imgops._ops.OPS``, checks the image and the arguments there, and runs the
implementation the record names for the target:

- NumPy array -> ``imgops._cpu.ops`` (``backend="auto"`` or ``"cpu"``);
- device array (``__cuda_array_interface__``) or ``backend="cuda"`` ->
  ``imgops._cuda.ops``;
- dask array -> ``imgops._dask``, chunk by chunk with the record's footprint.

The target packages are imported on first use, so ``import imgops`` loads
neither Numba nor numba.cuda.
"""

from __future__ import annotations

import functools
import importlib
import sys

import numpy as np

from . import _validate
from ._ops import OPS, Op

BACKENDS = ("auto", "cpu", "cuda")


def is_device_array(obj) -> bool:
    """A CUDA device array (Numba, CuPy, PyTorch, ...) rather than a NumPy array."""
    return not isinstance(obj, np.ndarray) and (
        hasattr(obj, "__cuda_array_interface__") or type(obj).__name__ == "FakeCUDAArray")


def is_dask_array(obj) -> bool:
    """A ``dask.array.Array`` (never imports dask to answer no)."""
    da = sys.modules.get("dask.array")
    return da is not None and isinstance(obj, da.Array)


def resolve_backend(backend, image) -> str:
    """"cpu" or "cuda" for this image; "cuda" only where a GPU is usable."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}; got {backend!r}")
    if backend == "auto":
        return "cuda" if is_device_array(image) else "cpu"
    if backend == "cpu" and is_device_array(image):
        raise TypeError("backend='cpu' takes a NumPy array; got a CUDA device array "
                        "(use backend='cuda' or 'auto', or copy it to the host)")
    if backend == "cuda":
        _target("probe", "cuda").require_gpu()
    return backend


def _target(module: str, target: str):
    return importlib.import_module(f"imgops._{target}.{module}")


def implementation(op: Op, target: str):
    """The function ``op`` runs on ``target`` ("cpu" or "cuda")."""
    name = op.cpu if target == "cpu" else op.cuda
    if name is None:
        raise NotImplementedError(f"{op.name} has no {target} implementation")
    return getattr(_target("ops", target), name)


def check_input(op: Op, image, device: bool):
    """The image checked as the record's layout requires."""
    if op.layout == "nchw":
        return _check_nchw(image, device)
    return _validate.check_image(image, ndims=(2, 3, 4), device=device)


def _check_nchw(x, device: bool, name: str = "x"):
    if device:
        if np.dtype(x.dtype) not in (np.float32, np.float64) or x.ndim != 4 or x.size == 0:
            raise ValueError(f"{name} must be a non-empty (N, C, H, W) float32/float64 array")
        return x
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array; got {type(x).__name__}")
    if x.dtype.newbyteorder("=") not in (np.float32, np.float64):
        raise TypeError(f"{name} has dtype {x.dtype}; imgops.nn supports float32, float64")
    if x.ndim != 4:
        raise ValueError(f"{name} must be shaped (N, C, H, W); got {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name} is empty (shape {x.shape})")
    return np.ascontiguousarray(x, dtype=x.dtype.newbyteorder("="))


def prepare(name: str, image, backend: str = "auto", **arguments):
    """(record, target, checked image, checked parameters) of a call."""
    op = OPS[name]
    if is_dask_array(image):
        return op, "dask", image, arguments
    target = resolve_backend(backend, image)
    image = check_input(op, image, device=is_device_array(image))
    return op, target, image, op.check(image, **arguments)


def run(name: str, image, backend: str = "auto", **arguments):
    """Check and run the operation ``name`` on ``image`` (see the module docstring)."""
    op, target, image, params = prepare(name, image, backend, **arguments)
    if target == "dask":
        return importlib.import_module("imgops._dask").run(
            op, image, backend, arguments, compute=functools.partial(run, backend=backend))
    if op.out_dtype == "scalar" and target == "cuda":  # one number: the host sums it
        image = implementation(op, "cuda")(image)
        target = "cpu"
    return implementation(op, target)(image, **params)


def chunk_threads():
    """The context in which a Dask task runs Numba's parallel kernels outside :func:`run`
    (``imgops._dask.numba_threads``: the task's share of the threads; under the
    ``workqueue`` layer, which aborts on concurrent launches, a process-wide lock)."""
    return importlib.import_module("imgops._dask").numba_threads()


def backends(*, cuda: bool = True) -> dict:
    """Report the compute backends available on this machine.

    The CUDA probe runs once per process and its answer is cached. The command
    ``imgops info`` prints the same report. Asking does not start Numba's threads.

    Parameters
    ----------
    cuda : bool, optional
        Probe CUDA too (default). ``False`` leaves the ``"cuda"`` entry out and skips
        importing numba.cuda and looking for a driver (about 0.3 s on a first call).

    Returns
    -------
    dict
        ``{"cpu": {...}, "cuda": {...}}`` with

        - ``"cpu"``: ``"threads"`` (int, the threads Numba's parallel kernels use),
          ``"threading_layer"`` (str, Numba's threading layer, such as ``"omp"``
          or ``"tbb"``; ``"not yet chosen (config: ...)"`` until the first parallel
          kernel has run), ``"numba"`` (str, Numba's version) and ``"cache"``
          (``{"dir": ..., "kernels": ...}``: where imgops's compiled CPU kernels are
          cached and how many are there; 0 means the next calls compile);
        - ``"cuda"``: ``"available"`` (bool, whether ``backend="cuda"`` can run),
          ``"devices"`` (a list with, for each GPU, a dict of ``"name"``,
          ``"memory_bytes"`` and ``"compute_capability"``) and ``"reason"`` (str,
          why CUDA is not available; empty when it is, except for a note when
          Numba's CUDA simulator stands in for a GPU).

    Examples
    --------
    >>> info = backends()
    >>> sorted(info), sorted(info["cpu"])
    (['cpu', 'cuda'], ['cache', 'numba', 'threading_layer', 'threads'])
    >>> info["cpu"]["threads"] >= 1
    True
    >>> isinstance(info["cuda"]["available"], bool)
    True
    """
    import numba

    try:
        layer = numba.threading_layer()
        threads = numba.get_num_threads()
    except ValueError:  # no parallel kernel has run yet: report the configured choice,
        # without starting the threads (a process that forks workers must not have)
        layer = f"not yet chosen (config: {numba.config.THREADING_LAYER})"
        threads = numba.config.NUMBA_NUM_THREADS
    cpu = {"threads": threads, "threading_layer": layer, "numba": numba.__version__,
           "cache": _target("cache", "cpu").status()}
    return {"cpu": cpu, "cuda": _target("probe", "cuda").describe()} if cuda else \
        {"cpu": cpu}
