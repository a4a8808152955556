"""Whether CUDA is usable, checked without loading numba.cuda until asked."""

from __future__ import annotations

import functools


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
