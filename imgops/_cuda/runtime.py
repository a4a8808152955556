"""The CUDA launch and staging runtime: device arrays, host copies through pinned
memory, constant taps, grid sizes. Loaded only when a call runs on the GPU."""

from __future__ import annotations

import functools
import threading

import numpy as np
from numba import cuda

from .tiles import SHARED_BYTES, tile_geometry

# ----------------------------------------------------------------------------- device arrays
# Threads per block for the (x, y, plane) grids. Tests shrink it so that small images
# span many blocks.
THREADS = [32, 8, 1]


def is_device(obj) -> bool:
    """A CUDA device array (Numba, CuPy, PyTorch, ...) rather than a NumPy array."""
    return not isinstance(obj, np.ndarray) and (
        hasattr(obj, "__cuda_array_interface__") or type(obj).__name__ == "FakeCUDAArray")


def as_device(obj):
    """Any device array as a Numba device array (no copy); NumPy arrays are copied over."""
    if isinstance(obj, np.ndarray):
        a = obj if obj.dtype.isnative else obj.astype(obj.dtype.newbyteorder("="))
        return upload(a)
    if type(obj).__name__ in ("DeviceNDArray", "FakeCUDAArray"):
        return obj
    return cuda.as_cuda_array(obj)


# ----------------------------------------------------------------------------- host copies
# NumPy in / NumPy out without pageable copies: large arrays travel through two pinned
# staging buffers in chunks, each on its own stream, so that the host's copy of one chunk
# into (or out of) pinned memory overlaps the DMA of the other. The buffers are made on
# first use and reused; a lock keeps concurrent callers (the CLI's workers) apart.
STAGE_BYTES = 16 << 20  # one staging buffer
STAGED_MIN = 4 << 20  # smaller arrays: one plain copy


class _Staging:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.size = STAGE_BYTES
        self.bufs = [cuda.pinned_array(self.size, np.uint8) for _ in range(2)]
        self.streams = [cuda.stream() for _ in range(2)]


_staging: list = []
_staging_lock = threading.Lock()


def _stage() -> _Staging:
    with _staging_lock:
        if not _staging or _staging[0].size != STAGE_BYTES:
            _staging[:] = [_Staging()]
        return _staging[0]


def _chunks(n: int, size: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


def upload(a: np.ndarray):
    """A NumPy array on the device (C-contiguous), staged through pinned memory."""
    a = np.ascontiguousarray(a)
    if a.nbytes < max(STAGED_MIN, 1):
        return cuda.to_device(a)
    dev = cuda.device_array(a.shape, a.dtype)
    src = a.reshape(-1).view(np.uint8)
    dst = dev.reshape(a.size).view(np.uint8)
    st = _stage()
    with st.lock:
        for i, (lo, hi) in enumerate(_chunks(src.size, st.size)):
            stream, buf = st.streams[i % 2], st.bufs[i % 2][:hi - lo]
            stream.synchronize()  # this buffer's previous chunk has left it
            buf[:] = src[lo:hi]
            dst[lo:hi].copy_to_device(buf, stream=stream)
        for stream in st.streams:
            stream.synchronize()
    return dev


def download(dev) -> np.ndarray:
    """A device array's contents as a new NumPy array, staged through pinned memory."""
    nbytes = dev.size * dev.dtype.itemsize
    if nbytes < max(STAGED_MIN, 1) or not dev.is_c_contiguous():
        return dev.copy_to_host()
    out = np.empty(dev.shape, dev.dtype)
    src = dev.reshape(dev.size).view(np.uint8)
    dst = out.reshape(-1).view(np.uint8)
    st = _stage()
    with st.lock:
        chunks = _chunks(nbytes, st.size)

        def issue(i):
            lo, hi = chunks[i]
            src[lo:hi].copy_to_host(st.bufs[i % 2][:hi - lo], stream=st.streams[i % 2])

        for i in range(min(2, len(chunks))):
            issue(i)
        for i, (lo, hi) in enumerate(chunks):
            st.streams[i % 2].synchronize()
            dst[lo:hi] = st.bufs[i % 2][:hi - lo]
            if i + 2 < len(chunks):
                issue(i + 2)
    return out


def to_device(a: np.ndarray):
    return cuda.to_device(np.ascontiguousarray(a))


def empty(shape, dtype):
    return cuda.device_array(tuple(int(s) for s in shape), dtype=np.dtype(dtype))


@functools.lru_cache(maxsize=64)
def _constant(data: bytes, dtype: str, shape: tuple):
    return to_device(np.frombuffer(data, dtype).reshape(shape))


def constant(a: np.ndarray):
    """A small read-only array (filter taps) on the device, uploaded once per value."""
    a = np.ascontiguousarray(a)
    return _constant(a.tobytes(), a.dtype.str, a.shape)


def launch_tiled(kernel, out_shape, halo, elems_per_tile, itemsize, *args) -> bool:
    """Launch a shared-memory tiled kernel (``tiles.RPT`` rows per thread) over the
    (P, H, W) ``out_shape``; ``elems_per_tile(TH, TW, TR, TC)`` is its shared memory in
    elements. False, launching nothing, when a tile would not fit."""
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
