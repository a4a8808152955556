"""Large images: a Zarr array or a large TIFF, processed chunk by chunk with Dask.

- An INPUT directory whose name ends in ``.zarr`` and that holds one array at its root
  (zarr format 2 or 3) is one image. It is read chunk by chunk and written as
  ``OUTPUT/NAME.zarr`` with the same zarr format, chunk shape and dtype (the shape
  scaled by resampling; ``edges --raw`` writes float32). A Zarr array has no alpha:
  every channel is processed.
- A TIFF with more than ``tile_above`` pixels (default 2**27) is read through
  tifffile's Zarr interface and written as a tiled BigTIFF, one band of tiles at a
  time (``--format`` other than TIFF is refused for it: formats without tiles cannot be
  written piece by piece). Alpha is kept as the in-memory path keeps it.

The command's own processing function runs on a :class:`files.Picture` whose pixels
are a dask array: imgops's functions return lazy dask arrays for them. Peak memory is
a few chunks per worker thread (plus one band of tiles for a TIFF output).

The batch's guarantees hold: existing outputs are refused before any work (unless
``--overwrite`` or ``--skip-existing``), outputs are written under a temporary name in
the output folder and renamed, a failing image is reported (path and reason) and the
batch goes on, and the summary counts it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from . import files, omezarr

TILE_ABOVE = 2**27  # pixels: TIFFs larger than this are processed tile by tile
ZARR_SUFFIX = ".zarr"
TILE = 512  # side of the output TIFF's tiles (a multiple of 16, as TIFF requires)
CHUNK_BYTES = 32 * 2**20  # target size of a TIFF input's chunks
_SUPPORTED = tuple(np.dtype(t) for t in (np.uint8, np.uint16, np.float32, np.float64))


@dataclass
class BigJob:
    src: Path
    dst: Path
    kind: str  # "zarr" or the output file's format ("tiff")


class UsageError(click.UsageError):
    """Refusals before anything is touched (exit status 2)."""


# ----------------------------------------------------------------------------- planning
def is_zarr_array(path: Path) -> bool:
    """A directory named ``*.zarr`` holding an array's metadata at its root."""
    if not (path.is_dir() and path.name.endswith(ZARR_SUFFIX)):
        return False
    if (path / ".zarray").is_file():
        return True
    try:  # zarr format 3: an array's zarr.json, not a group's
        import json

        return json.loads((path / "zarr.json").read_text()).get("node_type") == "array"
    except (OSError, ValueError, AttributeError):
        return False


def split_inputs(inputs: list[Path]) -> tuple[list[Path], list[Path]]:
    """``(Zarr inputs: arrays and OME-Zarr images, the other inputs)``."""
    zarrs = [p for p in inputs if is_zarr_array(p) or omezarr.is_ome_zarr(p)]
    return zarrs, [p for p in inputs if p not in zarrs]


def plan_zarr(inputs: list[Path], output: Path, *, overwrite: bool, skip_existing: bool
              ) -> tuple[list[BigJob], list[BigJob], list[tuple[Path, str]]]:
    """Jobs, jobs skipped (outputs exist) and inputs refused up front, as ``batch.plan``;
    raises :class:`UsageError` when outputs exist and neither flag is given."""
    jobs, refused, seen = [], [], {}
    for src in inputs:
        if src.resolve() == output.resolve() or output.resolve().is_relative_to(
                src.resolve()):
            raise UsageError(f"OUTPUT {output} is inside (or equal to) the input {src}")
        dst = output / src.name
        if dst in seen:
            refused.append((src, f"output {dst} would also be written from {seen[dst]}"))
            continue
        seen[dst] = src
        jobs.append(BigJob(src, dst, "ome-zarr" if omezarr.is_ome_zarr(src) else "zarr"))
    existing = [j for j in jobs if j.dst.exists()]
    if existing and not (overwrite or skip_existing):
        names = "\n  ".join(str(j.dst) for j in existing[:20])
        raise UsageError(f"{len(existing)} output(s) exist; nothing was written. Use "
                         f"--overwrite or --skip-existing.\n  {names}")
    if skip_existing:
        return [j for j in jobs if j not in existing], existing, refused
    return jobs, [], refused


def tiff_pixels(path: Path) -> int | None:
    """H x W of a TIFF's first page from its header (None if it cannot be parsed)."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tf:
            page = tf.pages[0]
            shape = page.shape
            if page.planarconfig == 2 and len(shape) >= 3:
                return int(shape[-2]) * int(shape[-1])
            return int(shape[0]) * int(shape[1])
    except Exception:  # unreadable: the in-memory path reports it
        return None


def take_large(jobs: list, tile_above: int) -> tuple[list[BigJob], list]:
    """Split the batch's jobs: TIFF inputs above ``tile_above`` pixels become tiled jobs."""
    large, small = [], []
    for job in jobs:
        n = tiff_pixels(job.src) if files.kind_of(job.src) == "tiff" else None
        if n is not None and n > tile_above:
            large.append(BigJob(job.src, job.dst, job.kind))
        else:
            small.append(job)
    return large, small


# ----------------------------------------------------------------------------- reading
def _tiff_meta(path: Path) -> dict:
    """What the tiled path needs from a TIFF's header; ImageFileError if unsupported."""
    import tifffile

    with tifffile.TiffFile(path) as tf:
        files.check_single_tiff(tf)
        page = tf.pages[0]
        photometric = int(page.photometric)
        if photometric not in (1, 2) or page.planarconfig == 2:
            raise files.ImageFileError("large TIFFs are processed tiled when gray or RGB "
                                       "with interleaved samples; this one is not")
        dtype = np.dtype(page.dtype).newbyteorder("=")
        if dtype not in _SUPPORTED:
            raise files.ImageFileError(f"unsupported TIFF sample type {page.dtype}")
        files.check_tiff_samples(page, dtype)
        extras = tuple(int(e) for e in (page.extrasamples or ()))
        icc = page.tags.get("InterColorProfile")
        meta = {"shape": tuple(int(s) for s in page.shape), "dtype": dtype,
                "tile": (int(page.tilelength), int(page.tilewidth)) if page.is_tiled
                else None, "rows": int(page.rowsperstrip or page.shape[0]),
                "extras": extras, "icc": bytes(icc.value) if icc is not None else None,
                "resolution": files.tiff_resolution(page),
                "codec": files.tiff_codec(page, dtype)}
    if len(meta["shape"]) not in (2, 3):
        raise files.ImageFileError(f"unsupported TIFF layout {meta['shape']}")
    return meta


def _read_tiff_block(path: str, dtype: np.dtype, block_info=None) -> np.ndarray:
    """One chunk of a TIFF, through tifffile's Zarr interface (opened per chunk: a file
    handle cannot travel to another process, and none is left open), in native order."""
    import tifffile
    import zarr

    loc = block_info[None]["array-location"]
    with tifffile.imread(path, aszarr=True) as store:
        block = zarr.open(store, mode="r")[tuple(slice(a, b) for a, b in loc)]
    return np.asarray(block).astype(dtype, copy=False)


def _tiff_chunks(meta: dict) -> tuple:
    """Chunks of whole tiles (about 2048 pixels a side), or of whole strips (about
    CHUNK_BYTES, full width)."""
    shape = meta["shape"]
    h, w = shape[:2]
    if meta["tile"]:
        th, tw = meta["tile"]
        ch, cw = max(th, 2048 // th * th), max(tw, 2048 // tw * tw)
    else:
        px = int(np.prod(shape[1:])) * meta["dtype"].itemsize
        rows = meta["rows"]
        ch, cw = max(rows, max(256, CHUNK_BYTES // px) // rows * rows), w
    return (min(ch, h), min(cw, w)) + tuple(shape[2:])


def read_lazy(job: BigJob) -> files.Picture:
    """The input as a Picture whose pixels are a dask array."""
    import dask.array as da

    if job.kind == "zarr":
        import zarr

        z = zarr.open_array(str(job.src), mode="r")
        dtype = np.dtype(z.dtype)
        if dtype.newbyteorder("=") not in _SUPPORTED or z.ndim not in (2, 3):
            raise files.ImageFileError(f"a Zarr image must be (H, W) or (H, W, C) of uint8, "
                                       f"uint16, float32 or float64; got {z.shape} {dtype}")
        return files.Picture(da.from_zarr(str(job.src)))
    meta = _tiff_meta(job.src)
    chunks = da.core.normalize_chunks(_tiff_chunks(meta), meta["shape"])
    x = da.map_blocks(_read_tiff_block, str(job.src), meta["dtype"], chunks=chunks,
                      dtype=meta["dtype"],
                      meta=np.empty((0,) * len(meta["shape"]), meta["dtype"]))
    has_alpha = bool(meta["extras"]) and len(meta["shape"]) == 3
    extra = {"extrasamples": meta["extras"]} if meta["extras"] else {}
    extra.update(meta["resolution"])
    extra.update(meta.get("codec", {}))
    return files.Picture(x, has_alpha=has_alpha, icc=meta["icc"], meta=extra)


# ----------------------------------------------------------------------------- writing
def _temporary(dst: Path) -> Path:
    return dst.parent / f"{files.tmp_prefix()}{uuid.uuid4().hex[:8]}-{dst.name}"


def _replace(tmp: Path, dst: Path) -> None:
    """Rename ``tmp`` over ``dst`` (a folder for Zarr: the old one is moved aside first,
    then removed)."""
    if dst.is_dir():
        old = _temporary(dst)
        os.replace(dst, old)
        os.replace(tmp, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, dst)


def write_zarr(pixels, src: Path, tmp: Path) -> None:
    """``pixels`` (dask) into a new Zarr array at ``tmp``: the input's zarr format and
    chunk shape, the result's dtype, the input's compressors where they apply."""
    import dask.array as da
    import zarr

    z = zarr.open_array(str(src), mode="r")
    chunks = tuple(min(c, s) for c, s in zip(z.chunks, pixels.shape, strict=False))
    chunks = chunks + tuple(pixels.shape[len(chunks):])
    kw = dict(store=str(tmp), shape=pixels.shape, chunks=chunks, dtype=pixels.dtype,
              zarr_format=z.metadata.zarr_format)
    try:
        out = zarr.create_array(**kw, compressors=z.compressors)
    except (TypeError, ValueError):  # the input's compressors do not fit: the defaults
        shutil.rmtree(tmp, ignore_errors=True)
        out = zarr.create_array(**kw)
    da.store(pixels.rechunk(chunks), out, lock=False)


def write_tiled_tiff(pic: files.Picture, tmp: Path) -> None:
    """A tiled BigTIFF, one band of tiles computed at a time (each band is one row of
    the result's chunks, so each input chunk is read once)."""
    import tifffile

    pix = pic.pixels
    h, w = pix.shape[:2]
    band = max(TILE, -(-pix.chunks[0][0] // TILE) * TILE)
    pix = pix.rechunk({0: band})

    def tiles():
        for block in range(pix.numblocks[0]):
            rows = np.asarray(pix.blocks[block].compute())
            # tifffile takes the tiles in row-major order, each TILE x TILE (the last
            # ones cropped): a band is several rows of tiles
            for y0 in range(0, rows.shape[0], TILE):
                for x0 in range(0, w, TILE):
                    yield rows[y0:y0 + TILE, x0:x0 + TILE]

    channels = 1 if pix.ndim == 2 else pix.shape[2]
    color = channels - (1 if pic.has_alpha else 0)
    kw = {"iccprofile": pic.icc} if pic.icc else {}
    kw.update(files.tiff_resolution_kw(pic.meta))
    extras = None
    if pic.has_alpha:
        kept = pic.meta.get("extrasamples") or (2,)
        extras = [kept[0] if kept[0] in (1, 2) else 2]
    tifffile.imwrite(tmp, tiles(), shape=pix.shape, dtype=pix.dtype, tile=(TILE, TILE),
                     bigtiff=True, photometric="rgb" if color == 3 else "minisblack",
                     extrasamples=extras, planarconfig="contig" if pix.ndim == 3 else None,
                     **kw, **files.tiff_codec_kw(pic.meta, pix.dtype))


def process_one(job: BigJob, process) -> None:
    """Read lazily, process, write under a temporary name, rename."""
    if job.kind not in ("zarr", "tiff", "ome-zarr"):
        raise files.ImageFileError(f"a large image is written as a tiled TIFF; --format "
                                   f"{job.kind} cannot be written tile by tile")
    if job.kind == "ome-zarr":
        tmp = _temporary(job.dst)
        try:
            omezarr.write(job, process, tmp)
            _replace(tmp, job.dst)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return
    from imgops import _dask

    pic = read_lazy(job)
    out = process(pic)
    if not _dask.is_dask_array(out.pixels):
        raise files.ImageFileError("this operation does not work chunk by chunk")
    tmp = _temporary(job.dst)
    try:
        if job.kind == "zarr":
            write_zarr(out.pixels, job.src, tmp)
        else:
            write_tiled_tiff(out, tmp)
        _replace(tmp, job.dst)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        raise


def run(jobs: list[BigJob], process, *, summary, client=None) -> None:
    """Every large image in turn, each chunk-parallel on the local threads or on the
    ``client``'s cluster; a failure is reported and the batch goes on. Dask is
    imported only when there is such an image: a plain install (no ``imgops[dask]``)
    never reaches it for ordinary files."""
    if not jobs:
        return
    try:
        import dask
    except ImportError:
        for job in jobs:
            reason = ("cannot process: large images (Zarr, TIFFs above --tile-above "
                      "pixels) need Dask: pip install 'imgops[dask]'")
            summary.fail(job.src, job.dst, reason)
            click.echo(f"{job.src}: {reason}", err=True)
        return
    t0 = time.perf_counter()
    scheduler = client if client is not None else "threads"
    try:
        for job in jobs:
            t1 = time.perf_counter()
            try:
                with dask.config.set(scheduler=scheduler):
                    process_one(job, process)
                summary.ok(job.src, job.dst, time.perf_counter() - t1)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:
                summary.fail(job.src, job.dst, f"cannot process: {exc}",
                             time.perf_counter() - t1)
                click.echo(f"{job.src}: cannot process: {exc}", err=True)
    except KeyboardInterrupt:
        summary.seconds += time.perf_counter() - t0
        summary.interrupted()
    summary.seconds += time.perf_counter() - t0
