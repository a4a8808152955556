"""Batch throughput of the command line next to OpenCV, libvips and the codecs alone.

    python benchmarks/throughput.py [--rounds 3] [--keep DIR]

Eight 12-megapixel JPEGs (3000 x 4000 x 3, quality 92, made from ``skimage.data``
photographs upscaled, with a little noise) and eight 16-bit PNG and TIFF files of
3000 x 4000 x 3 are written to a temporary folder; each job runs ``--rounds`` times and
the best wall time is printed (these machines are noisy: compare within one run).

- imgops: the command line in a fresh process (kernels loaded from Numba's cache:
  one warm-up run first), as a user runs it.
- OpenCV, 1 process: ``cv2.imread`` / ``GaussianBlur`` (imgops's 17 taps for sigma 2) or
  ``resize(INTER_AREA)`` / ``imwrite`` (JPEG quality 95, 4:4:4) in a loop.
- libvips, one process per core: ``pyvips`` (``pip install "pyvips[binary]"``),
  ``gaussblur(2)`` or ``shrink(2, 2)``, saved as JPEG Q95 without chroma subsampling.
- codec floor: decoding and encoding alone, no filtering, one process per core
  (libjpeg-turbo through simplejpeg for JPEG; imagecodecs' PNG and tifffile's zlib
  TIFF for 16-bit), on the job's output size.
- codec floor on the output: the same codecs decoding each input and encoding the
  pixels imgops wrote for it (decoded beforehand, outside the timing), timed file by
  file in one process per core and summed over the cores. The plain floor encodes the
  input again, whose content is not the output's: a blurred image costs zlib more
  (16-bit PNG at level 6: 5.3 s against 3.1 s for its noisy input) and libjpeg less.
- denoise: ``imgops denoise`` (BM3D, the noise estimated per file) over 1000 x 1500
  crops of the JPEGs, against its kernels alone: ``imgops.denoise`` on the decoded
  images, one process per core with one thread each, nothing read or written.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

N_FILES = 8
SHAPE = (3000, 4000)
CORES = os.cpu_count() or 1


def make_inputs(folder: Path) -> dict[str, Path]:
    from PIL import Image
    from skimage import data, transform

    rng = np.random.default_rng(0)
    srcs = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(),
            data.immunohistochemistry(), data.hubble_deep_field(),
            np.stack([data.camera()] * 3, -1), data.retina()]
    dirs = {k: folder / k for k in ("jpeg", "png16", "tiff16")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    import imagecodecs
    import tifffile

    for i, s in enumerate(srcs[:N_FILES]):
        big = transform.resize(s, SHAPE, order=3, anti_aliasing=False)
        noisy = np.clip(big + rng.normal(0, 3 / 255, big.shape), 0, 1)
        Image.fromarray((noisy * 255).round().astype(np.uint8)).save(
            dirs["jpeg"] / f"p{i}.jpg", quality=92)
        u16 = (noisy * 65535).round().astype(np.uint16)
        (dirs["png16"] / f"p{i}.png").write_bytes(imagecodecs.png_encode(u16, level=6))
        tifffile.imwrite(dirs["tiff16"] / f"p{i}.tif", u16, photometric="rgb",
                         compression="zlib")
    return dirs


def best(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def imgops_cli(args: list[str], src: Path, out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "imgops.cli.main", *args, "-q", str(src),
                    str(out)], check=True)


# ----------------------------------------------------------------------------- peers
def _cv_one(path: str, out: str, job: str) -> None:
    import cv2

    cv2.setNumThreads(1)
    a = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if job == "blur":
        b = cv2.GaussianBlur(a, (17, 17), 2.0, borderType=cv2.BORDER_REFLECT)
    else:
        b = cv2.resize(a, (a.shape[1] // 2, a.shape[0] // 2), interpolation=cv2.INTER_AREA)
    params = [cv2.IMWRITE_JPEG_QUALITY, 95, cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
              cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444] if out.endswith(".jpg") else []
    cv2.imwrite(out, b, params)


def opencv_loop(files: list[Path], out: Path, job: str) -> None:
    out.mkdir(exist_ok=True)
    for f in files:
        _cv_one(str(f), str(out / f.name), job)


def _vips_one(path: str, out: str, job: str) -> None:
    import pyvips

    a = pyvips.Image.new_from_file(path, access="sequential")
    b = a.gaussblur(2.0) if job == "blur" else a.shrink(2, 2)
    if out.endswith(".jpg"):
        b.jpegsave(out, Q=95, subsample_mode="off")
    else:
        b.write_to_file(out)


def _pool(fn, files: list[Path], out: Path, job: str) -> None:
    out.mkdir(exist_ok=True)
    with ProcessPoolExecutor(CORES) as ex:
        list(ex.map(fn, [str(f) for f in files], [str(out / f.name) for f in files],
                    [job] * len(files)))


def _floor_one(path: str, out: str, job: str) -> None:
    """Decode and encode only (at the job's output size: a strided view for 2x)."""
    a = _decode(path)
    if job == "downsample":
        a = a[::2, ::2]
    Path(out).write_bytes(_encode(a, out))


def _decode(path: str):
    if path.endswith(".jpg"):
        import simplejpeg

        return simplejpeg.decode_jpeg(Path(path).read_bytes())
    if path.endswith(".png"):
        import imagecodecs

        return imagecodecs.png_decode(Path(path).read_bytes())
    import tifffile

    return tifffile.imread(path)


def _encode(a: np.ndarray, path: str) -> bytes:
    if path.endswith(".jpg"):
        import simplejpeg

        return simplejpeg.encode_jpeg(np.ascontiguousarray(a), quality=95,
                                      colorsubsampling="444")
    if path.endswith(".png"):
        import imagecodecs

        return imagecodecs.png_encode(np.ascontiguousarray(a), level=6)
    import io

    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, a, photometric="rgb", compression="zlib")
    return buf.getvalue()


def _output_floor_one(src: str, produced: str) -> float:
    """Seconds to decode ``src`` and encode the pixels of ``produced`` (imgops's output
    for it, decoded first, untimed) with the floor's codecs."""
    pixels = _decode(produced)
    t = time.perf_counter()
    _decode(src)
    _encode(pixels, produced)
    return time.perf_counter() - t


def output_floor(files: list[Path], produced: Path, rounds: int) -> float:
    """The files' codec seconds on imgops's outputs, summed and divided by the cores
    (each file's best of ``rounds``): the floor for writing these very outputs."""
    with ProcessPoolExecutor(CORES) as ex:
        per_file = [min(ex.map(_output_floor_one, [str(f)] * rounds,
                               [str(produced / f.name)] * rounds)) for f in files]
    return sum(per_file) / CORES


# ----------------------------------------------------------------------- denoise batch
DENOISE_CROP = (slice(1000, 2000), slice(1250, 2750))  # 1000 x 1500 of each 12-MP JPEG
_KERNEL_IMAGES: dict = {}


def make_denoise_inputs(jpegs: list[Path], folder: Path) -> list[Path]:
    """1000 x 1500 centre crops of the JPEGs, saved again at quality 92."""
    import simplejpeg
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for f in jpegs:
        Image.fromarray(simplejpeg.decode_jpeg(f.read_bytes())[DENOISE_CROP]).save(
            folder / f.name, quality=92)
    return sorted(folder.iterdir())


def _kernel_init(paths: list[str]) -> None:
    """A kernels-alone worker: one Numba thread, the images decoded beforehand, BM3D's
    kernels loaded."""
    import numba
    from PIL import Image

    import imgops

    numba.set_num_threads(1)
    for p in paths:
        with Image.open(p) as im:
            _KERNEL_IMAGES[p] = np.asarray(im)
    imgops.denoise(_KERNEL_IMAGES[paths[0]][:64, :64])


def _kernel_one(path: str) -> None:
    import imgops

    imgops.denoise(_KERNEL_IMAGES[path])


def denoise_kernels(files: list[Path], rounds: int) -> float:
    """The default denoiser over decoded images, one process per core with one thread
    each (as the command line runs it, and faster here than one process with every
    thread), no files read or written: the best of ``rounds``."""
    import multiprocessing

    paths = [str(f) for f in files]
    with ProcessPoolExecutor(CORES, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_kernel_init, initargs=(paths,)) as ex:
        list(ex.map(_kernel_one, paths[:CORES]))
        return best(lambda: list(ex.map(_kernel_one, paths)), rounds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="make or reuse the inputs in this folder")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    root = a.keep or tmp
    dirs = make_inputs(root) if not (root / "jpeg").is_dir() else \
        {k: root / k for k in ("jpeg", "png16", "tiff16")}
    try:
        import pyvips  # noqa: F401

        have_vips = True
    except (ImportError, OSError):
        have_vips = False
    rows = []
    jobs = [("blur σ 2", "blur", ["blur", "--sigma", "2"], "jpeg"),
            ("downsample 2x (area)", "downsample", ["downsample", "--factor", "2"], "jpeg"),
            ("blur σ 2, 16-bit PNG", "blur", ["blur", "--sigma", "2"], "png16"),
            ("blur σ 2, 16-bit TIFF", "blur", ["blur", "--sigma", "2"], "tiff16")]
    imgops_cli(["blur", "--sigma", "2"], dirs["jpeg"], tmp / "warm")  # compile once
    for name, job, args, kind in jobs:
        files = sorted(dirs[kind].iterdir())
        t_imgops = best(lambda a=args, k=kind: imgops_cli(a, dirs[k], tmp / "o"), a.rounds)
        t_floor = best(lambda f=files, j=job: _pool(_floor_one, f, tmp / "f", j), a.rounds)
        t_out = output_floor(files, tmp / "o", a.rounds)
        t_cv = t_vips = None
        if kind == "jpeg":
            t_cv = best(lambda f=files, j=job: opencv_loop(f, tmp / "c", j), a.rounds)
            if have_vips:
                t_vips = best(lambda f=files, j=job: _pool(_vips_one, f, tmp / "v", j),
                              a.rounds)
        rows.append((name, t_imgops, t_cv, t_vips, t_floor, t_out))
    dn = make_denoise_inputs(sorted(dirs["jpeg"].iterdir()), tmp / "dn")
    imgops_cli(["denoise"], tmp / "dn", tmp / "warm-dn")
    t_dn_cli = best(lambda: imgops_cli(["denoise"], tmp / "dn", tmp / "o-dn"), a.rounds)
    t_dn_kernels = denoise_kernels(dn, a.rounds)
    fmt = lambda t: "–" if t is None else f"{t:.2f} s"  # noqa: E731
    print(f"{N_FILES} files of {SHAPE[0]}x{SHAPE[1]}x3, best of {a.rounds}, {CORES} cores")
    print("| job | imgops CLI | OpenCV loop, 1 process | libvips, 1 process per core "
          "| codec floor | imgops / floor | codec floor on the output | imgops / it |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, ti, tc, tv, tf, to in rows:
        print(f"| {name} | {fmt(ti)} | {fmt(tc)} | {fmt(tv)} | {fmt(tf)} | {ti / tf:.2f} "
              f"| {fmt(to)} | {ti / to:.2f} |")
    print(f"\ndenoise (the default, BM3D), {len(dn)} JPEGs of 1000x1500x3: imgops CLI "
          f"{fmt(t_dn_cli)}, its kernels alone (decoded images, one process per core) "
          f"{fmt(t_dn_kernels)}: {t_dn_cli / t_dn_kernels:.2f}x")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
