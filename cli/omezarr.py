"""OME-Zarr images (NGFF 0.4, zarr format 2, and 0.5, zarr format 3).

An INPUT directory named ``*.zarr`` whose root group carries NGFF ``multiscales``
metadata is one image. Its full-resolution level is read chunk by chunk (Dask), every
2-D (y, x) plane of it (each channel, z slice and time point on its own) goes through
the command's operation, and ``OUTPUT/NAME.zarr`` is written as OME-Zarr again:

- level 0 is the result, with the input level's chunk shape (its y, x chunk sizes
  scaled by resampling), dtype of the result, compressors and dimension names;
- the pyramid is rebuilt from it with imgops's own area resampling, level by level,
  with the input's number of levels and the same downsampling ratio between them;
- the root group's metadata (``multiscales`` with its axes, names and units, ``omero``
  channel names and colours, anything else) is carried over, the y and x ``scale``
  of every level's coordinate transformations divided by the resampling factor.

The input's ``labels`` (NGFF label images: segmentations on the image's pixel grid)
are copied unchanged, every level and its metadata, when the result keeps the image's
size, with which they still align; a resampled result leaves them out (they would no
longer align with it). Other children of the input group (plates, wells) are not
copied: the command writes the image. A layout that is not understood (no y and x as
the last two axes, a missing level) is a per-file failure with the reason.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
from pathlib import Path

import numpy as np

from . import files


def _group_attrs(path: Path) -> dict | None:
    """The root group's attributes read from its JSON (no Zarr needed), or None."""
    try:
        if (path / "zarr.json").is_file():
            meta = json.loads((path / "zarr.json").read_text())
            if meta.get("node_type") != "group":
                return None
            return meta.get("attributes") or {}
        if (path / ".zgroup").is_file():
            attrs = path / ".zattrs"
            return json.loads(attrs.read_text()) if attrs.is_file() else {}
    except (OSError, ValueError):
        return None
    return None


def _ome(attrs: dict) -> dict:
    """The NGFF block: under ``"ome"`` in 0.5, the attributes themselves in 0.4."""
    return attrs["ome"] if isinstance(attrs.get("ome"), dict) else attrs


def is_ome_zarr(path: Path) -> bool:
    """A directory named ``*.zarr`` whose root group has NGFF multiscales metadata."""
    if not (path.is_dir() and path.name.endswith(".zarr")):
        return False
    attrs = _group_attrs(path)
    return bool(attrs) and bool(_ome(attrs).get("multiscales"))


def _axes(ms: dict) -> list[str]:
    return [a["name"] if isinstance(a, dict) else str(a) for a in ms.get("axes", [])]


def _levels(ms: dict) -> list[str]:
    return [d["path"] for d in ms["datasets"]]


def _scaled_transforms(ms: dict, axes: list[str], fy: float, fx: float) -> None:
    """Divide the y and x entries of every ``scale`` transformation by ``fy``, ``fx``
    (in place): the output's pixels are that much larger (or smaller)."""
    iy, ix = axes.index("y"), axes.index("x")
    for d in ms["datasets"]:
        for t in d.get("coordinateTransformations", []):
            if t.get("type") == "scale" and isinstance(t.get("scale"), list):
                t["scale"][iy] = t["scale"][iy] / fy
                t["scale"][ix] = t["scale"][ix] / fx


def _plane_op(process):
    """The command's operation on one 2-D dask plane."""
    def run(plane):
        return process(files.Picture(plane)).pixels
    return run


def _store_planes(src, target, op, lead: tuple) -> None:
    """``op`` of every (y, x) plane of ``src`` (dask) into ``target`` (zarr)."""
    import dask.array as da

    for idx in np.ndindex(*lead):
        # the target's chunks: no two tasks write into one zarr chunk (without a lock,
        # partial writes of one chunk from two threads would lose one of them)
        out = op(src[idx]).rechunk(target.chunks[-2:])
        region = tuple(slice(i, i + 1) for i in idx) + (slice(None), slice(None))
        da.store(out.reshape((1,) * len(idx) + out.shape), target, regions=region,
                 lock=False)


def _like(group, name: str, ref, shape: tuple, dtype, yx_chunks: tuple):
    """A new array in ``group`` shaped like the input level ``ref``: its chunks (y, x
    as given), compressors and dimension names where they apply."""
    chunks = tuple(ref.chunks[:-2]) + tuple(min(c, s) for c, s in zip(yx_chunks,
                                                                       shape[-2:],
                                                                       strict=True))
    kw = dict(name=name, shape=shape, chunks=chunks, dtype=dtype)
    names = getattr(ref.metadata, "dimension_names", None)
    if names and group.metadata.zarr_format == 3:
        kw["dimension_names"] = names
    try:
        return group.create_array(**kw, compressors=ref.compressors)
    except (TypeError, ValueError):  # the input's compressors do not fit: the defaults
        return group.create_array(**kw, overwrite=True)


def _factor(upper: tuple, lower: tuple) -> int | None:
    """The integer factor f with ``lower = upper / f`` rounded (up or down) on both
    axes, or None."""
    f = round(upper[0] / lower[0])
    if f < 1:
        return None
    ok = all(n in (u // f, -(-u // f)) for u, n in zip(upper, lower, strict=True))
    return f if ok else None


def write(job, process, tmp: Path) -> None:
    """Process the OME-Zarr image ``job.src`` into a new OME-Zarr at ``tmp``."""
    import dask.array as da
    import zarr

    src = zarr.open_group(str(job.src), mode="r")
    attrs = src.attrs.asdict()
    ms = _ome(attrs)["multiscales"][0]
    axes = _axes(ms)
    if axes[-2:] != ["y", "x"]:
        raise files.ImageFileError(f"OME-Zarr axes {axes}: y and x must be the last two")
    levels = _levels(ms)
    try:
        inputs = [src[p] for p in levels]
    except KeyError as exc:
        raise files.ImageFileError(f"OME-Zarr level {exc} is missing") from None
    x = da.from_zarr(inputs[0])
    lead = x.shape[:-2]
    op = _plane_op(process)
    probe = op(x[(0,) * len(lead)])  # lazy: the output plane's shape and dtype
    if probe.ndim != 2:
        raise files.ImageFileError("the operation does not give one plane per plane")
    (h0, w0), (h1, w1) = x.shape[-2:], probe.shape
    fy, fx = h1 / h0, w1 / w0
    out = zarr.open_group(str(tmp), mode="w", zarr_format=src.metadata.zarr_format)
    cy, cx = inputs[0].chunks[-2:]
    yx = (max(1, round(cy * fy)), max(1, round(cx * fx)))
    target = _like(out, levels[0], inputs[0], lead + probe.shape, probe.dtype, yx)
    _store_planes(x, target, op, lead)
    import imgops

    prev = target
    for k in range(1, len(levels)):
        # the input's factor between this level and the one above it: an integer when
        # its sizes are the upper level's divided by it, rounded up or down
        f = _factor(inputs[k - 1].shape[-2:], inputs[k].shape[-2:])
        ry = inputs[k - 1].shape[-2] / inputs[k].shape[-2]
        rx = inputs[k - 1].shape[-1] / inputs[k].shape[-1]
        shape = (max(1, math.ceil(prev.shape[-2] / ry)), max(1, math.ceil(prev.shape[-1] / rx)))
        if f:
            shape = tuple(-(-n // f) for n in prev.shape[-2:])

            def down(plane, f=f):
                return imgops.downsample(plane, f, method="area")
        else:
            def down(plane, s=shape):
                return imgops.resize(plane, s, method="area")
        cy, cx = inputs[k].chunks[-2:]
        level = _like(out, levels[k], inputs[k], lead + shape, probe.dtype,
                      (max(1, round(cy * fy)), max(1, round(cx * fx))))
        _store_planes(da.from_zarr(prev), level, down, lead)
        prev = level
    meta = copy.deepcopy(attrs)
    if (fy, fx) != (1.0, 1.0):
        _scaled_transforms(_ome(meta)["multiscales"][0], axes, fy, fx)
    out.attrs.update(meta)
    labels = Path(job.src) / "labels"
    if (fy, fx) == (1.0, 1.0) and labels.is_dir():  # still on the result's pixel grid
        shutil.copytree(labels, Path(tmp) / "labels")
