"""Multi-page TIFFs: z-stacks, time-lapses, ImageJ hyperstacks, OME-TIFF, page sequences.

Every page is one 2-D plane (gray, RGB, with or without alpha) and goes through the
command's processing on its own, in file order; the output is written page for page
as the same TIFF: the same number and order of pages (so the same series and axes),
the same ImageJ or OME-XML or tifffile description, ImageJ's private metadata
(labels, ranges, LUTs), resolution, ICC profile, compression, tiling, planar layout
and new-subfile types. Resampling changes each plane's size: the resolution tags,
OME's ``SizeX``/``SizeY``/``PhysicalSizeX``/``PhysicalSizeY`` and tifffile's shape
follow it. Only one plane is in memory at a time, whatever the stack's size.

What is refused as a per-file failure, with the reason: pyramids (SubIFDs or
reduced-resolution series levels), volumetric tiles, an ImageJ file of more planes
than it has pages (ImageJ's contiguous form beyond 4 GB), planes that are not gray or
RGB, and an output format other than TIFF (the pages would not fit).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from . import files

# page tags carried over as they are (strings); ImageJ's private 50838/50839 are
# re-encoded from their decoded value
_CARRIED = {315: "Artist", 316: "HostComputer", 33432: "Copyright"}


@dataclass
class StackJob:
    src: Path
    dst: Path
    kind: str


def is_stack(path: Path, to_tiff: bool = True) -> bool:
    """A TIFF of more than one page, of one page whose series is more than a plane
    (tifffile's shape (1, H, W), volumetric tiles), or, written as TIFF (``to_tiff``),
    an ImageJ or OME-TIFF of one plane (whose calibration lives in the description this
    path carries over); False if it cannot be parsed (the in-memory path reports it)."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tf:
            n = len(tf.pages)
            return n > 1 or (n == 1 and to_tiff and (tf.is_imagej or tf.is_ome)) or (
                n == 1 and len(tf.series) == 1 and
                tf.series[0].axes not in ("YX", "YXS", "SYX"))
    except Exception:
        return False


def take_stacks(jobs: list) -> tuple[list[StackJob], list]:
    """Split the batch's jobs: TIFF stacks (:func:`is_stack`) become stack jobs."""
    stacks, rest = [], []
    for job in jobs:
        if files.kind_of(job.src) == "tiff" and is_stack(job.src, job.kind == "tiff"):
            stacks.append(StackJob(job.src, job.dst, job.kind))
        else:
            rest.append(job)
    return stacks, rest


def check_stack(tf, pages: list | None = None) -> None:
    """:class:`files.ImageFileError` (with the reason) unless every page of the open
    ``tifffile.TiffFile`` is a plane that can be processed and written back. ``pages``:
    its full pages, read before anything parsed the series (an OME series caches the
    pages as frames, without their tags); default ``tf.pages``."""
    for series in tf.series:
        if len(series.levels) > 1:
            raise files.ImageFileError(f"pyramidal TIFF ({len(series.levels)} levels): "
                                       "not supported")
    if tf.is_imagej:
        planes = int(np.prod(tf.series[0].shape)) // int(
            np.prod(tf.pages[0].shape))
        if planes > len(tf.pages):
            raise files.ImageFileError(f"ImageJ hyperstack of {planes} planes stored "
                                       f"with {len(tf.pages)} page(s) (its contiguous "
                                       "form): not supported")
    for i, page in enumerate(tf.pages if pages is None else pages):
        if getattr(page, "subifds", None):
            raise files.ImageFileError("TIFF with sub-images (SubIFDs): not supported")
        if int(getattr(page, "imagedepth", 1)) > 1:
            raise files.ImageFileError("volumetric TIFF tiles: not supported")
        shape = page.shape
        if len(shape) == 3 and page.planarconfig == 2:
            samples = int(page.samplesperpixel)
            if page.extrasamples or samples not in (1, 3):
                raise files.ImageFileError(
                    f"page {i}: {samples} separate sample planes {tuple(shape)}: only "
                    "gray or RGB planes are supported")
        elif len(shape) not in (2, 3):
            raise files.ImageFileError(f"page {i}: unsupported layout {tuple(shape)}")


def _tag(page, code_or_name):
    tag = page.tags.get(code_or_name)
    return None if tag is None else tag.value


def _resolution(page, sy: float, sx: float) -> dict:
    """The page's resolution tags, scaled by the plane's size change."""
    xr, yr = _tag(page, "XResolution"), _tag(page, "YResolution")
    if xr is None or yr is None:
        return {}
    try:
        x = xr[0] / xr[1] if isinstance(xr, tuple) else float(xr)
        y = yr[0] / yr[1] if isinstance(yr, tuple) else float(yr)
    except (TypeError, ZeroDivisionError):
        return {}
    if not (x > 0 and y > 0):
        return {}
    return {"resolution": (x * sx, y * sy), "resolutionunit": int(page.resolutionunit)}


def _description(text: str, old_hw: tuple, new_hw: tuple, old_page: tuple,
                 new_page: tuple) -> str:
    """The page's description with the plane changed where it states it: OME-XML
    (SizeX, SizeY, PhysicalSizeX, PhysicalSizeY) or tifffile's JSON shape, whose last
    dimensions are the page's as stored (``old_page``, e.g. (3, H, W) for separate
    planes) and become the written page's (``new_page``)."""
    (h0, w0), (h1, w1) = old_hw, new_hw
    if text.lstrip().startswith("<") and "OME" in text[:2000]:
        if old_hw == new_hw:
            return text
        def pixels(m: re.Match) -> str:
            tag = m.group(0)

            def attr(t, name, fn):
                return re.sub(rf'({name}=")([^"]*)(")',
                              lambda a: a.group(1) + fn(a.group(2)) + a.group(3), t)
            tag = attr(tag, "SizeX", lambda v: str(w1) if v == str(w0) else v)
            tag = attr(tag, "SizeY", lambda v: str(h1) if v == str(h0) else v)
            tag = attr(tag, "PhysicalSizeX", lambda v: repr(float(v) * w0 / w1))
            return attr(tag, "PhysicalSizeY", lambda v: repr(float(v) * h0 / h1))
        return re.sub(r"<(\w+:)?Pixels\b[^>]*>", pixels, text)
    if text.lstrip().startswith("{"):
        try:
            meta = json.loads(text)
        except ValueError:
            return text
        shape = meta.get("shape")
        if old_page != new_page and isinstance(shape, list) and \
                list(shape[len(shape) - len(old_page):]) == list(old_page):
            meta["shape"] = shape[:len(shape) - len(old_page)] + list(new_page)
            return json.dumps(meta)
    return text


def _write_page(writer, page, out: files.Picture, byteorder: str, in_dtype) -> None:
    """``out`` as the next page, with ``page``'s tags (see the module)."""
    import tifffile

    pix = out.pixels
    h0, w0 = (page.shape[1], page.shape[2]) if page.planarconfig == 2 and \
        len(page.shape) == 3 else page.shape[:2]
    h1, w1 = pix.shape[:2]
    channels = 1 if pix.ndim == 2 else pix.shape[2]
    color = channels - (1 if out.has_alpha else 0)
    kw: dict = {"photometric": "rgb" if color == 3 else "minisblack",
                "subfiletype": int(page.subfiletype)}
    if out.has_alpha:
        kept = out.meta.get("extrasamples") or (2,)
        kw["extrasamples"] = [kept[0] if kept[0] in (1, 2) else 2]
    if pix.ndim == 3 and page.planarconfig == 2 and not out.has_alpha:
        pix, kw["planarconfig"] = np.moveaxis(pix, -1, 0), "separate"
    elif pix.ndim == 3:
        kw["planarconfig"] = "contig"
    if pix.ndim == 3 and pix.shape[-1] == 1 and "planarconfig" in kw:
        pix = pix[..., 0]
        del kw["planarconfig"]
    kw.update(files.tiff_codec_kw(files.tiff_codec(page, in_dtype), pix.dtype))
    if page.is_tiled:
        kw["tile"] = (int(page.tilelength), int(page.tilewidth))
    elif (h0, w0) == (h1, w1) and page.rowsperstrip:
        kw["rowsperstrip"] = int(page.rowsperstrip)
    kw.update(_resolution(page, h1 / h0, w1 / w0))
    if out.icc:
        kw["iccprofile"] = out.icc
    text = page.tags.get("ImageDescription")
    if text is not None:
        kw["description"] = _description(str(text.value), (h0, w0), (h1, w1),
                                         tuple(page.shape), tuple(pix.shape))
    software, stamp = _tag(page, "Software"), _tag(page, "DateTime")
    kw["software"] = software if isinstance(software, str) else None
    if isinstance(stamp, str):
        kw["datetime"] = stamp
    extratags = []
    for code in _CARRIED:
        value = _tag(page, code)
        if isinstance(value, str) and value:
            extratags.append((code, "s", 0, value, True))
    ij = _tag(page, 50839)
    if isinstance(ij, dict) and ij:
        with contextlib.suppress(Exception):  # an undecodable part is not carried
            extratags.extend(tifffile.imagej_metadata_tag(ij, byteorder))
    writer.write(np.ascontiguousarray(pix), metadata=None, extratags=extratags, **kw)


def process_stack(job: StackJob, process) -> None:
    """Read, process and write ``job``'s stack page by page, to a temporary name in the
    output folder, then rename it over the output."""
    import tifffile

    if job.kind != "tiff":
        raise files.ImageFileError(f"a multi-page TIFF is written as TIFF; --format "
                                   f"{job.kind} cannot hold its pages")
    job.dst.parent.mkdir(parents=True, exist_ok=True)
    with tifffile.TiffFile(job.src) as tf:
        # full pages before anything parses the series (OME's parsing caches the pages
        # as frames, without their tags)
        pages = [tf.pages[i] for i in range(len(tf.pages))]
        check_stack(tf, pages)
        prepare = getattr(process, "for_stack", None)
        if prepare is not None:  # e.g. one noise estimate for the whole stack
            process = prepare(files.page_picture(p, job.src) for p in pages)
        fd, tmp = tempfile.mkstemp(prefix=files.tmp_prefix(), suffix=job.dst.suffix,
                                   dir=job.dst.parent)
        os.close(fd)
        writer = None
        try:
            for i, page in enumerate(pages):
                pic = files.page_picture(page, job.src)
                try:
                    out = process(pic)
                except Exception as exc:
                    raise files.ImageFileError(f"page {i}: cannot process: {exc}") from None
                if writer is None:  # BigTIFF when the pages could pass 4 GiB
                    total = out.pixels.nbytes * len(pages)
                    writer = tifffile.TiffWriter(
                        tmp, bigtiff=tf.is_bigtiff or total > 2**32 - 2**25,
                        byteorder=tf.byteorder)
                _write_page(writer, page, out, tf.byteorder, pic.pixels.dtype)
            writer.close()
            writer = None
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~files._UMASK)
            os.replace(tmp, job.dst)
        except BaseException:
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


def run(jobs: list[StackJob], process, *, summary) -> None:
    """Every stack in turn (its planes' kernels on all cores); a failure is reported
    and the batch goes on."""
    if not jobs:
        return
    t0 = time.perf_counter()
    try:
        for job in jobs:
            t1 = time.perf_counter()
            try:
                process_stack(job, process)
                summary.ok(job.src, job.dst, time.perf_counter() - t1)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:
                reason = str(exc) if isinstance(exc, files.ImageFileError) else \
                    f"cannot process: {exc}"
                summary.fail(job.src, job.dst, reason, time.perf_counter() - t1)
                click.echo(f"{job.src}: {reason}", err=True)
    except KeyboardInterrupt:
        summary.seconds += time.perf_counter() - t0
        summary.interrupted()
    summary.seconds += time.perf_counter() - t0
