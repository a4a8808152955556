"""CUDA availability, checked lazily so that ``import imgops`` never loads numba.cuda."""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=1)
def _probe() -> tuple[bool, str, list]:
    try:
        from numba import cuda
    except Exception as exc:  # pragma: no cover - depends on the install
        return False, f"numba.cuda cannot be imported: {exc}", []
    try:
        from numba import config

        if config.ENABLE_CUDASIM:
            return True, "CUDA simulator (NUMBA_ENABLE_CUDASIM=1)", [
                {"name": "simulator", "memory_bytes": None, "compute_capability": None}]
        if not cuda.is_available():
            return False, "no CUDA driver or GPU found", []
        devices = []
        for dev in cuda.list_devices():
            with dev:
                ctx = cuda.current_context()
                free, total = ctx.get_memory_info()
                d = cuda.get_current_device()
                devices.append({"name": d.name.decode() if isinstance(d.name, bytes) else d.name,
                                "memory_bytes": int(total),
                                "compute_capability": tuple(d.compute_capability)})
        return True, "", devices
    except Exception as exc:  # pragma: no cover - depends on the machine
        return False, f"CUDA is not usable: {exc}", []


def describe() -> dict:
    ok, reason, devices = _probe()
    return {"available": ok, "devices": devices, "reason": reason}


def require_gpu() -> None:
    ok, reason, _ = _probe()
    if not ok:
        raise RuntimeError(f"backend='cuda' needs a usable GPU: {reason}")


# ----------------------------------------------------------------------------- device arrays
# Threads per block for the (x, y, plane) grids. Tests shrink it so that small images
# span many blocks.
THREADS = [32, 8, 1]


def is_device(obj) -> bool:
    """A CUDA device array (Numba, CuPy, PyTorch, ...) rather than a NumPy array."""
    if isinstance(obj, np.ndarray):
        return False
    return hasattr(obj, "__cuda_array_interface__") or type(obj).__name__ == "FakeCUDAArray"


def as_device(obj):
    """Any device array as a Numba device array (no copy); NumPy arrays are copied over."""
    from numba import cuda

    if isinstance(obj, np.ndarray):
        a = obj if obj.dtype.isnative else obj.astype(obj.dtype.newbyteorder("="))
        return cuda.to_device(np.ascontiguousarray(a))
    if type(obj).__name__ in ("DeviceNDArray", "FakeCUDAArray"):
        return obj
    return cuda.as_cuda_array(obj)


def to_device(a: np.ndarray):
    from numba import cuda

    return cuda.to_device(np.ascontiguousarray(a))


def empty(shape, dtype):
    from numba import cuda

    return cuda.device_array(tuple(int(s) for s in shape), dtype=np.dtype(dtype))


@functools.lru_cache(maxsize=64)
def _constant(data: bytes, dtype: str, shape: tuple):
    return to_device(np.frombuffer(data, dtype).reshape(shape))


def constant(a: np.ndarray):
    """A small read-only array (filter taps) on the device, uploaded once per value."""
    a = np.ascontiguousarray(a)
    return _constant(a.tobytes(), a.dtype.str, a.shape)


def launch_tiled(kernel, out_shape, halo, elems_per_tile, itemsize, *args) -> bool:
    """Launch a shared-memory tiled kernel (``border.RPT`` rows per thread) over the
    (P, H, W) ``out_shape``; ``elems_per_tile(TH, TW, TR, TC)`` is its shared memory in
    elements. False, launching nothing, when a tile would not fit."""
    from ._kernels.border import SHARED_BYTES, tile_geometry

    tx, ty, _ = THREADS
    th, tw, tr, tc = tile_geometry((tx, ty), halo)
    nbytes = elems_per_tile(th, tw, tr, tc) * itemsize
    if nbytes > SHARED_BYTES:
        return False
    P, H, W = out_shape
    grid = (max(1, -(-W // tw)), max(1, -(-H // th)), P)
    kernel[grid, (tx, ty, 1), 0, nbytes](*args)
    return True


def launch(kernel, dims, *args) -> None:
    """Run ``kernel`` on a 3-D grid covering ``dims = (x, y, z)`` extents."""
    tx, ty, tz = THREADS
    blocks = (max(1, -(-dims[0] // tx)), max(1, -(-dims[1] // ty)), max(1, -(-dims[2] // tz)))
    kernel[blocks, (tx, ty, tz)](*args)


def launch2d(kernel, dims, *args) -> None:
    tx, ty, _ = THREADS
    kernel[(max(1, -(-dims[0] // tx)), max(1, -(-dims[1] // ty))), (tx, ty)](*args)


def as4d(dev):
    """A device array (H, W), (H, W, C) or (N, H, W, C) viewed as (N, H, W, C), strides
    kept (no copy, contiguous or not)."""
    if dev.ndim == 4:
        return dev
    if dev.ndim == 2:
        shape, strides = (1, *dev.shape, 1), (0, *dev.strides, dev.dtype.itemsize)
    else:
        shape, strides = (1, *dev.shape), (0, *dev.strides)
    if type(dev).__name__ == "FakeCUDAArray":  # the simulator wraps a NumPy array
        return type(dev)(np.lib.stride_tricks.as_strided(dev._ary, shape, strides))
    from numba.cuda.cudadrv.devicearray import DeviceNDArray

    return DeviceNDArray(shape, strides, dev.dtype, gpu_data=dev.gpu_data)
