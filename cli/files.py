"""Reading and writing image files without losing bit depth, alpha or color profile.

Pillow reads and writes 8-bit PNG, JPEG, BMP and WebP (palette images become
RGB/RGBA, JPEG EXIF orientation is applied so outputs look upright); imagecodecs
reads and writes 16-bit PNG (Pillow cannot hold 16-bit color); tifffile reads
and writes TIFF (8/16-bit, float32/64; palette TIFF becomes RGB, the alpha's
associated/unassociated kind is kept). Multi-frame files (animated PNG/WebP) are
refused: writing their first frame alone would lose the rest; multi-page TIFFs go
through ``stacks`` instead, and :func:`check_single_tiff` refuses any other TIFF that
is not one plain image; so is CMYK (JPEG, TIFF), whose colours need its print
profile to convert.
ICC profiles are carried over where the output format can hold one (PNG, JPEG,
WebP, TIFF), and so are the resolution (dpi: PNG, JPEG, BMP, TIFF) and the EXIF of
JPEG, PNG and WebP inputs (into JPEG, PNG and WebP outputs; JPEG's with the
orientation reset, as the pixels were turned upright).

Writes are atomic: a temporary file in the output folder, then ``os.replace``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import socket
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

EXTENSIONS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".tif": "tiff", ".tiff": "tiff",
              ".bmp": "bmp", ".webp": "webp"}
FORMATS = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "tiff": ".tif", "tif": ".tif",
           "bmp": ".bmp", "webp": ".webp"}
JPEG_QUALITY = 95  # with 4:4:4 chroma: visually lossless for photographs
FLOAT_SLACK = 0.25  # float results this far outside [0, 1] (a denoiser's or sharpening
# filter's overshoot) are clipped when stored as integers; farther, the data is not on
# that scale (0-255, counts): refused
_JPEG_MARKER_MAX = 65533  # bytes in one JPEG APP marker: the most EXIF a JPEG holds
MAX_PIXELS = 89_478_485  # Pillow's decompression-bomb limit, applied to every format
TMP_PREFIX = ".imgops-tmp-"
# Temporaries are named TMP_PREFIX + host tag + pid + random part, so that a later run can
# tell its own kind left behind by a dead run (SIGKILL, power loss) from a live one's.
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]
_TMP_NAME = re.compile(re.escape(TMP_PREFIX) + r"(?:([0-9a-f]{8})-(\d+)-)?")
STALE_ELSEWHERE_S = 24 * 3600  # another host's temporary: stale after a day untouched
_TIFF_PHOTOMETRIC = (0, 1, 2, 3)  # min-is-white, min-is-black, RGB, palette
_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once at import: outputs get the usual 0o666 & ~umask mode


class ImageFileError(Exception):
    """A file that cannot be read or written as an image; the message says why."""


@dataclass
class Picture:
    """Pixels plus what must survive the round trip."""

    pixels: np.ndarray  # (H, W) or (H, W, C), uint8 | uint16 | float32 | float64
    has_alpha: bool = False
    icc: bytes | None = None
    exif: bytes | None = None
    meta: dict = field(default_factory=dict)

    @property
    def color(self) -> np.ndarray:
        return self.pixels[..., :-1] if self.has_alpha else self.pixels

    @property
    def alpha(self) -> np.ndarray | None:
        return self.pixels[..., -1:] if self.has_alpha else None


def kind_of(path: Path) -> str | None:
    return EXTENSIONS.get(path.suffix.lower())


def _check_size(h: int, w: int, path: Path) -> None:
    if h * w > MAX_PIXELS:
        raise ImageFileError(f"{h}x{w} pixels exceeds the limit of {MAX_PIXELS} "
                             "(possible decompression bomb)")


# ----------------------------------------------------------------------------- reading
def read(path: Path) -> Picture:
    kind = kind_of(path)
    try:
        if path.stat().st_size == 0:
            raise ImageFileError("empty file")
        if kind == "tiff":
            return _read_tiff(path)
        return _read_pillow(path, kind)
    except ImageFileError:
        raise
    except MemoryError as exc:
        raise ImageFileError("not enough memory to decode") from exc
    except Exception as exc:  # any decoder failure becomes a per-file report
        raise ImageFileError(f"cannot read as an image: {exc}") from exc


def _png_depth(path: Path) -> int:
    with open(path, "rb") as f:
        head = f.read(26)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return 8
    return head[24]


# EXIF orientation -> the view that turns the decoded pixels upright (Pillow's
# ImageOps.exif_transpose: 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM,
# 5 TRANSPOSE, 6 ROTATE_270, 7 TRANSVERSE, 8 ROTATE_90)
_UPRIGHT = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
            5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1),
            7: lambda a: np.rot90(a, 2).swapaxes(0, 1), 8: lambda a: np.rot90(a, 1)}


def _read_jpeg_turbo(path: Path, im) -> tuple[np.ndarray, bytes | None] | None:
    """A gray or RGB JPEG's pixels decoded by libjpeg-turbo straight into an array
    (simplejpeg: about a third of Pillow's decode and copy time on 12-megapixel
    photographs, the same pixels) and turned upright, with its EXIF as Pillow's
    ``exif_transpose`` leaves it (the orientation removed); ``im`` is the file opened
    by Pillow, whose header gave the mode and metadata. None when simplejpeg is
    missing or refuses the file: Pillow decodes it then."""
    try:
        import simplejpeg
    except ImportError:
        return None
    try:
        pix = simplejpeg.decode_jpeg(path.read_bytes(),
                                     colorspace="GRAY" if im.mode == "L" else "RGB")
    except (ValueError, RuntimeError, OSError):
        return None
    if pix.shape[:2] != (im.height, im.width):
        return None
    if im.mode == "L":
        pix = pix[..., 0]
    exif = im.getexif()
    upright = _UPRIGHT.get(exif.get(0x0112, 1))
    if upright is not None:
        pix = np.ascontiguousarray(upright(pix))
        del exif[0x0112]
    return pix, (exif.tobytes() if exif else None)


def _read_pillow(path: Path, kind: str) -> Picture:
    from PIL import Image, ImageOps

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(path)
        except Image.DecompressionBombError as exc:
            raise ImageFileError(f"possible decompression bomb: {exc}") from exc
        except Image.DecompressionBombWarning as exc:
            raise ImageFileError(f"possible decompression bomb: {exc}") from exc
        with im:
            _check_size(im.height, im.width, path)
            frames = getattr(im, "n_frames", 1)
            if frames > 1:  # writing frame 1 alone would silently drop the others
                raise ImageFileError(f"{frames} frames (animated or multi-page): only "
                                     "single images are supported")
            icc = im.info.get("icc_profile")
            meta = _dpi_meta(im.info.get("dpi"))  # read before any convert drops it
            if kind == "png":
                meta.update(_png_colour(path))
            if kind == "jpeg" and im.mode in ("L", "RGB") and \
                    (fast := _read_jpeg_turbo(path, im)) is not None:
                pix, exif = fast
                return Picture(pix, icc=icc, exif=exif, meta=meta)
            if kind == "jpeg":
                im = ImageOps.exif_transpose(im)  # outputs look upright
            deep_png = kind == "png" and _png_depth(path) == 16
            data = path.read_bytes() if deep_png else None
            # Pillow's getexif() on a PNG decodes the whole image to look for an eXIf
            # chunk after the pixels: a 16-bit PNG (decoded below by imagecodecs) has
            # none to find when the chunk name appears nowhere in the file
            if deep_png and b"eXIf" not in data:
                exif = None
            else:
                exif = im.getexif().tobytes() if im.getexif() else None  # PNG, WebP: as is
            if deep_png:  # imagecodecs: tRNS -> alpha too
                import imagecodecs

                pix = imagecodecs.png_decode(data)
                return Picture(pix, has_alpha=pix.ndim == 3 and pix.shape[2] in (2, 4),
                               icc=icc, exif=exif, meta=meta)
            mode = im.mode
            if kind == "png" and mode in ("1", "L") and "transparency" in im.info and \
                    (depth := _png_depth(path)) < 8:
                # a 1-, 2- or 4-bit gray color key: Pillow scales the pixels to 0-255,
                # a 2- or 4-bit key not (so convert("LA") would match nothing), and
                # drops a 1-bit image's key in convert("L")
                gray = np.asarray(im.convert("L"))
                t = int(im.info["transparency"])
                key = (255 if t else 0) if mode == "1" else t * 255 // (2 ** depth - 1)
                alpha = np.where(gray == key, 0, 255).astype(np.uint8)
                return Picture(np.dstack([gray, alpha]), has_alpha=True, icc=icc,
                               exif=exif, meta=meta)
            if mode == "P" or mode == "PA":
                im = im.convert("RGBA" if ("transparency" in im.info or mode == "PA")
                                else "RGB")
            elif mode in ("L", "RGB") and "transparency" in im.info:
                im = im.convert(mode[0] + "A" if mode == "L" else "RGBA")  # color key -> alpha
            elif mode == "1":
                im = im.convert("L")
            elif mode == "CMYK":  # Pillow's CMYK -> RGB ignores the print profile
                raise ImageFileError("unsupported color space CMYK (gray, RGB and palette "
                                     "are read; convert it with its ICC profile first)")
            elif mode == "YCbCr":
                im = im.convert("RGB")
            elif mode not in ("L", "LA", "RGB", "RGBA"):
                raise ImageFileError(f"unsupported image mode {mode!r}")
            im.load()
            pix = np.asarray(im)
            return Picture(pix.copy(), has_alpha=im.mode in ("LA", "RGBA"), icc=icc, exif=exif,
                           meta=meta)


def check_single_tiff(tf) -> None:
    """Refuse (:class:`ImageFileError`, with the reason) a TIFF that is not one plain
    image: one page, one series, no reduced-resolution levels, axes ``YX``, ``YXS`` or
    ``SYX``, and separate sample planes only for gray or RGB without extra samples.

    Anything else would be cut down to its first page or have its planes taken for
    colour channels: a page sequence (``TiffWriter.write`` per page), a z-stack, an
    ImageJ hyperstack, an OME-TIFF (the batch hands those to ``stacks``), a pyramid, a
    (4, H, W) array that tifffile stores as "RGB plus an extra sample" in separate
    planes. ``tf`` is an open ``tifffile.TiffFile``.
    """
    pages = len(tf.pages)
    if pages == 0:
        raise ImageFileError("no image in this TIFF (empty or unreadable)")
    if pages > 1:  # writing page 1 alone would silently drop the others
        kind = "an ImageJ hyperstack" if tf.is_imagej else "an OME-TIFF" if tf.is_ome \
            else f"{len(tf.series)} series" if len(tf.series) > 1 else "a stack"
        raise ImageFileError(f"multi-page TIFF ({pages} pages, {kind}): only single "
                             "images are supported")
    if len(tf.series) != 1:
        raise ImageFileError(f"TIFF with {len(tf.series)} series: only single images are "
                             "supported")
    series = tf.series[0]
    if len(series.levels) > 1:
        raise ImageFileError(f"pyramidal TIFF ({len(series.levels)} levels): only single "
                             "images are supported")
    page = tf.pages[0]
    if getattr(page, "subifds", None):
        raise ImageFileError("TIFF with sub-images (SubIFDs): only single images are "
                             "supported")
    if series.axes not in ("YX", "YXS", "SYX"):
        raise ImageFileError(f"TIFF image with axes {series.axes} {tuple(series.shape)}: "
                             "only single (Y, X) or (Y, X, samples) images are supported")
    if page.planarconfig == 2 and len(page.shape) == 3:
        samples, extras = int(page.samplesperpixel), tuple(page.extrasamples or ())
        if extras or samples not in (1, 3):
            raise ImageFileError(f"TIFF with {samples} separate sample planes "
                                 f"{tuple(page.shape)}: a stack of planes or an image "
                                 "with extra samples, which only interleaved samples "
                                 "tell apart; save it interleaved (samples last)")


def _read_tiff(path: Path) -> Picture:
    import tifffile

    with tifffile.TiffFile(path) as tf:
        check_single_tiff(tf)
        return page_picture(tf.pages[0], path)


def page_picture(page, path: Path) -> Picture:
    """One TIFF page (an open ``tifffile.TiffPage``) as a Picture: gray, RGB or palette
    (made RGB), samples last, min-is-white made min-is-black, the alpha's kind, ICC
    profile and resolution kept; :class:`ImageFileError` for what is not supported."""
    photometric = int(page.photometric)
    if photometric not in _TIFF_PHOTOMETRIC:  # YCbCr would decode as raw Y, Cb, Cr
        name = getattr(page.photometric, "name", photometric)
        raise ImageFileError(f"unsupported TIFF color space {name} (gray, RGB and "
                             "palette are read)")
    shape = page.shape
    h, w = (shape[0], shape[1]) if page.planarconfig != 2 or len(shape) < 3 \
        else (shape[1], shape[2])
    _check_size(h, w, path)
    pix = page.asarray()
    icc = page.tags.get("InterColorProfile")
    icc = bytes(icc.value) if icc is not None else None
    extras = tuple(int(e) for e in (page.extrasamples or ()))
    colormap = page.colormap if photometric == 3 else None
    if pix.ndim == 3 and page.planarconfig == 2:  # separate planes -> channels last
        pix = np.moveaxis(pix, 0, -1)
    if colormap is not None:  # palette -> RGB through the 16-bit color map (as Pillow's P)
        if pix.ndim != 2:
            raise ImageFileError(f"unsupported palette TIFF layout {pix.shape}")
        cmap = np.asarray(colormap).astype(np.uint16)
        # 8-bit palettes stored in the 16-bit map: scaled by 257 (tifffile), by 256
        # (Pillow, libtiff's writers) or not at all (old files, as libtiff reads them)
        for scale in (257, 256):
            if not (cmap % scale).any():
                cmap = (cmap // scale).astype(np.uint8)
                break
        else:
            if cmap.max() < 256:
                cmap = cmap.astype(np.uint8)
        pix = np.moveaxis(cmap[:, pix], 0, -1)
    if pix.dtype.newbyteorder("=") not in (np.uint8, np.uint16, np.float32, np.float64):
        raise ImageFileError(f"unsupported TIFF sample type {pix.dtype}")
    if colormap is None:
        check_tiff_samples(page, pix.dtype)
    if pix.ndim not in (2, 3):
        raise ImageFileError(f"unsupported TIFF layout {pix.shape}")
    if photometric == 0:  # min-is-white: store as min-is-black
        if pix.dtype.kind != "u":
            raise ImageFileError("unsupported min-is-white floating-point TIFF")
        pix = np.iinfo(pix.dtype).max - pix
    pix = np.ascontiguousarray(pix, dtype=pix.dtype.newbyteorder("="))
    meta = tiff_resolution(page)
    meta.update(tiff_codec(page, pix.dtype))
    if extras:
        meta["extrasamples"] = extras
    return Picture(pix, has_alpha=len(extras) > 0 and pix.ndim == 3, icc=icc, meta=meta)


#: TIFF compressions a result is written with again when its input had them, all
#: lossless: none, LZW, Deflate (both codes), PackBits, LZMA, Zstandard. Others become
#: Deflate ("zlib"), as TIFFs from other formats do: lossy ones (JPEG, WebP, JPEG 2000:
#: the result would lose more; tifffile writes JPEG RGB as YCbCr, which other readers
#: may not take), CCITT and vendors' codecs.
TIFF_CODECS = frozenset({1, 5, 8, 32773, 32946, 34925, 50000})


def tiff_codec(page, dtype) -> dict:
    """A TIFF page's compression as a Picture's meta, ``{"tiff_codec": (compression,
    predictor, dtype)}`` (TIFF codes; ``dtype`` the decoded samples'), for
    :func:`tiff_codec_kw`."""
    return {"tiff_codec": (int(page.compression), int(page.predictor or 1),
                           np.dtype(dtype).str)}


def tiff_codec_kw(meta: dict, dtype) -> dict:
    """``tifffile.imwrite``'s compression keywords for a result of samples ``dtype``: its
    input's (:func:`tiff_codec`) where :data:`TIFF_CODECS` holds it, with its predictor
    where the dtype is unchanged; otherwise Deflate (``"zlib"``)."""
    code, predictor, before = meta.get("tiff_codec", (None, 1, None))
    if code not in TIFF_CODECS:
        return {"compression": "zlib"}
    if code == 1:  # uncompressed
        return {}
    kw: dict = {"compression": code}
    if predictor > 1 and np.dtype(dtype) == np.dtype(before):
        kw["predictor"] = predictor
    return kw


def check_tiff_samples(page, dtype: np.dtype) -> None:
    """:class:`ImageFileError` for samples that would come back changed: a bit depth
    other than the decoded dtype's (4 or 12 bits, decoded to uint8 or uint16, would be
    written back in that dtype, the same values then meaning another brightness), and
    extra samples of unspecified meaning (neither alpha nor colour)."""
    bits = int(page.bitspersample)
    if bits != 8 * np.dtype(dtype).itemsize:
        raise ImageFileError(f"unsupported {bits}-bit TIFF samples (8, 16, 32 and 64 "
                             "bits are read)")
    if 0 in tuple(int(e) for e in (page.extrasamples or ())):
        raise ImageFileError("TIFF with an unspecified extra sample (neither alpha nor "
                             "color): not supported")


#: A PNG's colour chunks carried over to a PNG written from it (the pixels keep their
#: encoding, so their meaning holds): gamma, primaries, sRGB intent, coding-independent
#: code points (HDR). Not sBIT or tIME, which the output's pixels and time change.
PNG_COLOUR = (b"gAMA", b"cHRM", b"sRGB", b"cICP")


def _png_colour(path: Path) -> dict:
    """``{"png_colour": [(type, data), ...]}``: the :data:`PNG_COLOUR` chunks of the PNG
    at `path` as they are, in file order, read up to its first image data; ``{}`` for
    none."""
    import png

    found = []
    try:
        with open(path, "rb") as fh:
            reader = png.Reader(file=fh)
            while True:
                kind, data = reader.chunk(lenient=True)
                if kind in (b"IDAT", b"IEND"):
                    break
                if kind in PNG_COLOUR:
                    found.append((kind, bytes(data)))
    except (png.Error, OSError, ValueError):
        return {}  # Pillow decoded it: pixels matter more than these chunks
    return {"png_colour": found} if found else {}


def _dpi_meta(dpi) -> dict:
    """{"dpi": (x, y)} for a positive, finite resolution in pixels per inch, else {}."""
    try:
        x, y = (float(v) for v in dpi)
    except (TypeError, ValueError):
        return {}
    return {"dpi": (x, y)} if 0 < x < 1e6 and 0 < y < 1e6 else {}


def tiff_resolution(page) -> dict:
    """A TIFF page's resolution as a Picture's meta: ``{"dpi": (x, y)}`` in pixels per
    inch (centimetres converted), ``{"resolution": (x, y)}`` for ResolutionUnit NONE
    (a pixel aspect ratio, or a calibration kept elsewhere: carried over as it is),
    else {}."""
    tags = page.tags
    if "XResolution" not in tags or "YResolution" not in tags:
        return {}
    unit = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 2
    if unit not in (1, 2, 3):
        return {}
    x, y = (tags[k].value for k in ("XResolution", "YResolution"))
    try:
        x, y = x[0] / x[1], y[0] / y[1]
    except (TypeError, IndexError, ZeroDivisionError):
        return {}
    if unit == 1:
        return {"resolution": (x, y)} if 0 < x < 1e9 and 0 < y < 1e9 else {}
    per_inch = 2.54 if unit == 3 else 1.0
    return _dpi_meta((x * per_inch, y * per_inch))


def tiff_resolution_kw(meta: dict) -> dict:
    """tifffile's ``resolution`` and ``resolutionunit`` for a Picture's meta."""
    if "dpi" in meta:
        return {"resolution": meta["dpi"], "resolutionunit": "INCH"}
    if "resolution" in meta:
        return {"resolution": meta["resolution"], "resolutionunit": "NONE"}
    return {}


# ----------------------------------------------------------------------------- writing
def _to_depth(pix: np.ndarray, allowed: tuple) -> np.ndarray:
    """Convert pixels to a bit depth the format can hold (documented in the CLI help)."""
    if pix.dtype in allowed:
        return pix
    if pix.dtype.kind == "f":  # floats in [0, 1] -> the deepest integer the format holds
        if np.isnan(pix).any():
            raise ImageFileError("float samples with NaN: an integer format cannot hold "
                                 "them; write TIFF")
        lo, hi = (float(pix.min()), float(pix.max())) if pix.size else (0.0, 0.0)
        if not (lo >= -FLOAT_SLACK and hi <= 1.0 + FLOAT_SLACK):
            raise ImageFileError(f"float samples from {lo:g} to {hi:g}: only [0, 1] "
                                 "converts to an integer format; write TIFF")
        target = np.uint16 if np.uint16 in allowed else np.uint8
        return np.rint(np.clip(pix, 0.0, 1.0) * np.iinfo(target).max).astype(target)
    if pix.dtype == np.uint16 and np.uint8 in allowed:
        return np.rint(pix / 257.0).astype(np.uint8)
    raise ImageFileError(f"cannot store {pix.dtype} pixels in this format")


def encode(pic: Picture, kind: str, fileobj) -> None:
    """Write ``pic`` in format ``kind`` to an open binary file."""
    pix = pic.pixels
    if kind == "tiff":
        import tifffile

        channels = 1 if pix.ndim == 2 else pix.shape[2]
        color = channels - (1 if pic.has_alpha else 0)
        photometric = "rgb" if color == 3 else "minisblack"
        extras = None
        if pic.has_alpha:  # the input's kind (associated alpha stays associated)
            kept = pic.meta.get("extrasamples") or (2,)
            extras = [kept[0] if kept[0] in (1, 2) else 2]
        kw = {"iccprofile": pic.icc} if pic.icc else {}
        kw.update(tiff_resolution_kw(pic.meta))
        buf = io.BytesIO()  # tifffile wants a named file or a seekable buffer
        kw.update(tiff_codec_kw(pic.meta, pix.dtype))  # the input's compression
        tifffile.imwrite(buf, pix, photometric=photometric, extrasamples=extras,
                         planarconfig="contig" if pix.ndim == 3 else None, **kw)
        fileobj.write(buf.getbuffer())
        return
    if kind == "png" and pix.dtype != np.uint8:
        pix = _to_depth(pix, (np.uint8, np.uint16))
        if pix.dtype == np.uint16:
            import imagecodecs

            data = imagecodecs.png_encode(np.ascontiguousarray(pix), level=6)
            if pic.icc or pic.exif or "dpi" in pic.meta or "png_colour" in pic.meta:
                _png_with_meta(data, pic, fileobj)
            else:
                fileobj.write(data)
            return
    from PIL import Image

    if kind in ("jpeg",) and pic.has_alpha:  # JPEG holds no alpha: drop it
        pix = pix[..., :-1]
    pix = _to_depth(pix, (np.uint8,))
    if pix.ndim == 3 and pix.shape[2] == 1:
        pix = pix[..., 0]
    mode = {2: "L", 3: None}.get(pix.ndim)
    if pix.ndim == 3:
        mode = {2: "LA", 3: "RGB", 4: "RGBA"}.get(pix.shape[2])
    if mode is None:
        raise ImageFileError(f"cannot store {pix.shape} pixels as {kind}")
    if kind == "jpeg" and mode == "LA":
        pix, mode = pix[..., 0], "L"
    im = Image.fromarray(np.ascontiguousarray(pix), mode=mode)
    kw = {}
    if pic.icc and kind in ("png", "jpeg", "webp"):
        kw["icc_profile"] = pic.icc
    if "dpi" in pic.meta and kind in ("png", "jpeg", "bmp"):
        kw["dpi"] = pic.meta["dpi"]
    if pic.exif and kind in ("jpeg", "png", "webp"):
        if kind != "jpeg" or len(pic.exif) <= _JPEG_MARKER_MAX:  # else left out, not a
            kw["exif"] = pic.exif  # failed file: a PNG's EXIF may exceed a JPEG marker
    if kind == "jpeg":
        kw.update(quality=JPEG_QUALITY, subsampling=0)
    elif kind == "webp":
        kw.update(lossless=True, exact=True)  # exact: keep the color under alpha 0
    elif kind == "png":
        kw.update(compress_level=6)
        if pic.meta.get("png_colour"):
            from PIL import PngImagePlugin

            kw["pnginfo"] = info = PngImagePlugin.PngInfo()
            for chunk in pic.meta["png_colour"]:  # Pillow writes these before the pixels
                info.add(*chunk)  # (sRGB not next to an ICC profile, as the format asks)
    im.save(fileobj, format={"jpeg": "JPEG", "png": "PNG", "bmp": "BMP", "webp": "WEBP"}[kind],
            **kw)


def _png_with_meta(data: bytes, pic: Picture, fileobj) -> None:
    """Write the PNG ``data`` with ``pic``'s colour chunks (:data:`PNG_COLOUR`), ICC
    profile (iCCP), resolution (pHYs) and EXIF (eXIf) added after its header, as Pillow
    writes them for 8-bit PNG (imagecodecs writes none of them); pypng re-frames the
    chunks."""
    import zlib

    import png

    extra = [c for c in pic.meta.get("png_colour", ())
             if not (pic.icc and c[0] == b"sRGB")]  # sRGB or iCCP, as Pillow writes
    if pic.icc:
        extra.append((b"iCCP", b"ICC Profile\0\0" + zlib.compress(pic.icc)))
    if "dpi" in pic.meta:
        x, y = (int(v / 0.0254 + 0.5) for v in pic.meta["dpi"])  # pixels per metre
        extra.append((b"pHYs", x.to_bytes(4, "big") + y.to_bytes(4, "big") + b"\x01"))
    if pic.exif:  # the TIFF structure, without the JPEG APP1 "Exif" prefix
        exif = pic.exif[6:] if pic.exif.startswith(b"Exif\0\0") else pic.exif
        extra.append((b"eXIf", exif))
    chunks = list(png.Reader(bytes=data).chunks())
    png.write_chunks(fileobj, chunks[:1] + extra + chunks[1:])  # IHDR comes first


def tmp_prefix() -> str:
    """The prefix of this process's temporary names."""
    return f"{TMP_PREFIX}{_HOST}-{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, another user's
        return True
    return True


def is_stale(path: Path, now: float | None = None) -> bool:
    """Whether ``path`` is a temporary of imgops's naming left by a run that is gone:
    made on this host by a process that no longer exists, made on another host and
    untouched for a day, or of the older naming without host and pid."""
    m = _TMP_NAME.match(path.name)
    if m is None:
        return False
    if m.group(1) is None:
        return True  # the naming before host and pid were recorded
    if m.group(1) == _HOST:
        return not _alive(int(m.group(2)))
    try:
        age = (time.time() if now is None else now) - path.lstat().st_mtime
    except FileNotFoundError:
        return False
    return age > STALE_ELSEWHERE_S


def folder_clock_ns(folders) -> int | None:
    """The time now by the clock that stamps files in ``folders`` (a file server's, on
    a shared folder): the modification time of a file made and removed in the first
    folder that can be written; None if none can. Outputs modified after it were
    written by this run (with coarse timestamps, some written in the same tick do not
    count: the safe side)."""
    for folder in sorted(set(folders)):
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=tmp_prefix(), dir=folder)
        except OSError:
            continue
        try:
            os.close(fd)
            return os.stat(tmp).st_mtime_ns
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return None


def remove_stale(folders) -> list[Path]:
    """Remove the stale temporaries (:func:`is_stale`) directly in ``folders``; nothing
    else is touched. Returns what was removed."""
    removed = []
    for folder in sorted(set(folders)):
        try:
            entries = [p for p in Path(folder).iterdir() if p.name.startswith(TMP_PREFIX)]
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for p in entries:
            if not is_stale(p):
                continue
            try:
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)  # an unfinished Zarr store
                else:
                    p.unlink()
                removed.append(p)
            except OSError:
                pass  # another run removed it, or it is not ours to remove
    return removed


def write_atomic(pic: Picture, path: Path, kind: str, tmp_registry: set | None = None) -> None:
    """Write to a temporary name in the destination folder, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=tmp_prefix(), suffix=path.suffix, dir=path.parent)
    if tmp_registry is not None:
        tmp_registry.add(tmp)
    try:
        with os.fdopen(fd, "wb") as f:
            encode(pic, kind, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    finally:
        if tmp_registry is not None:
            tmp_registry.discard(tmp)
