"""``imgops``: batch-process folders of images.

    imgops denoise photos/ clean/            # BM3D, strength from the noise estimate
    imgops blur --sigma 2 a.png b.jpg out/
    imgops edges --method canny -r scans/ edges/
    imgops downsample --factor 2 --method area in/ small/
    imgops info

Exit status: 0 all succeeded, 1 some files failed, 2 usage errors (nothing written).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
from pathlib import Path

import click
import numpy as np

# Numba warns on every CUDA launch of fewer blocks than the GPU has multiprocessors,
# which a small image always is: noise in a batch run, not advice the user can act on.
os.environ.setdefault("NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS", "0")

from imgops import _warmup  # noqa: E402  (the children's targets: see that module)

from . import batch, bigimage, cluster, files, stacks  # noqa: E402
from .options import batch_options, positive  # noqa: E402


def _choices(kind: str) -> list[str]:
    """The library's choices for ``kind`` (``imgops.METHODS``), spelled with hyphens."""
    import imgops

    return [m.replace("_", "-") for m in imgops.METHODS[kind]]


EDGE_METHODS = _choices("edges")
# What the first run of the default denoise spends compiling on a 2-core machine
# (benchmarks/cold_start.py), said before it starts.
FIRST_COMPILE_S = 13

# Largest |response| of each edge filter to a step of height 1: dividing by it maps
# the strongest possible edge to full scale at the input's bit depth.
EDGE_GAIN = {"sobel": 4 * np.sqrt(2), "prewitt": 3 * np.sqrt(2), "scharr": 16 * np.sqrt(2),
             "laplace": 4.0}


def _execute(inputs, output, process, *, recursive, glob, fmt, overwrite, skip_existing,
             backend, workers, quiet, raw_tiff=False, scheduler=None,
             tile_above=bigimage.TILE_ABOVE, prime=None, log=None, processes=0):
    import imgops

    if backend == "cuda":
        cuda = imgops.backends()["cuda"]
        if not cuda["available"]:
            raise click.UsageError(f"backend='cuda' needs a usable GPU: {cuda['reason']}")
    # Zarr arrays are images of their own; TIFFs above tile_above go tiled (bigimage)
    zarrs, inputs = bigimage.split_inputs(inputs)
    big, big_skipped, big_refused = bigimage.plan_zarr(zarrs, output, overwrite=overwrite,
                                                       skip_existing=skip_existing)
    jobs, skipped, refused = batch.plan(inputs, output, recursive=recursive, glob=glob,
                                        fmt=fmt, overwrite=overwrite,
                                        skip_existing=skip_existing, raw_tiff=raw_tiff)
    stack_jobs, jobs = stacks.take_stacks(jobs)  # multi-page TIFFs: page by page
    large, jobs = bigimage.take_large(jobs, tile_above)
    client = cluster.connect(scheduler) if scheduler else None  # before anything is written
    summary = batch.Summary(skipped=len(skipped) + len(big_skipped),
                            command=click.get_current_context().info_name or "")
    try:
        if log is not None:
            try:
                summary.log = open(log, "a", encoding="utf-8")  # closed below
            except OSError as exc:
                raise click.UsageError(f"cannot open --log {log}: {exc}") from None
        for job in skipped + big_skipped:
            summary.skip(job.src, job.dst)
        for src, reason in refused + big_refused:
            summary.fail(src, None, reason)
            click.echo(f"{src}: {reason}", err=True)
        if jobs or large or big or stack_jobs:
            try:
                output.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise click.UsageError(f"cannot create OUTPUT folder {output}: {exc}") \
                    from None
        # temporaries that a killed run left where this one writes (only imgops's own)
        folders = {output} | {j.dst.parent for j in jobs + large} | \
            {j.dst.parent for j in big + stack_jobs}
        stale = files.remove_stale(folders)
        if stale and not quiet:
            click.echo(f"removed {len(stale)} temporary file(s) left by an interrupted run",
                       err=True)
        cold = bool(jobs or large or big or stack_jobs) and client is None and \
            imgops.backends(cuda=False)["cpu"]["cache"]["kernels"] == 0
        if cold and not quiet and sys.stderr.isatty():
            click.echo(f"compiling kernels for first use (once, about {FIRST_COMPILE_S} s; "
                       "`imgops warmup` does it ahead of time)", err=True)
        if cold and prime and backend != "cuda" and (os.cpu_count() or 1) > 1:
            # Numba compiles on one core: a second process compiles the kernels this one
            # reaches last, and this one loads them from the cache when it gets there
            import multiprocessing

            helper = multiprocessing.get_context("spawn").Process(
                target=_warmup.prime, args=(prime,), daemon=True)
            helper.start()
        procs = processes or batch.default_processes()
        if client is not None:
            cluster.run(client, jobs, process, quiet=quiet, summary=summary)
        elif procs > 1 and len(jobs) > 1 and not cold and backend != "cuda" and \
                batch.can_fork():
            batch.run_processes(jobs, process, processes=min(procs, len(jobs)),
                                quiet=quiet, summary=summary)
        else:
            batch.run(jobs, process, workers=workers, quiet=quiet, summary=summary)
        stacks.run(stack_jobs, process, summary=summary)  # in this process, cluster or not
        bigimage.run(large + big, process, summary=summary, client=client)
    finally:
        if client is not None:
            client.close()
        if summary.log is not None:
            summary.log.close()
    if not quiet:
        click.echo(summary.line())
    sys.exit(1 if summary.failed else 0)


def _filter(fn):
    """Apply ``fn`` to the color channels; alpha is left unchanged."""
    def process(pic: files.Picture) -> files.Picture:
        color = fn(pic.color)
        pix = color if not pic.has_alpha else np.concatenate(
            [color.reshape(*color.shape[:2], -1), pic.alpha.astype(color.dtype)], axis=-1)
        return dataclasses.replace(pic, pixels=pix)  # icc, exif, meta carried over
    return process


def _resample(fn):
    """Apply ``fn`` to every channel, alpha included; the resolution (dpi, or a TIFF's
    unitless one) scales with the size, so the image keeps its physical size (as a
    stack's does)."""
    def process(pic: files.Picture) -> files.Picture:
        out = fn(pic.pixels)
        meta = dict(pic.meta)
        (h0, w0), (h1, w1) = pic.pixels.shape[:2], out.shape[:2]
        for key in ("dpi", "resolution"):
            if key in meta:
                meta[key] = (meta[key][0] * w1 / w0, meta[key][1] * h1 / h0)
        return dataclasses.replace(pic, pixels=out, meta=meta)
    return process


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="imgops")
def main():
    """Image filters, denoising and resampling compiled with Numba.

    Each command reads INPUT files or folders and writes results into the OUTPUT
    folder, keeping each file's format, bit depth and alpha. Existing outputs are
    never replaced unless --overwrite is given; every file is written to a
    temporary name and renamed, so an interrupted run leaves no partial file.
    """


@main.command()
@batch_options
@click.option("--method", type=click.Choice(_choices("denoise")),
              default="bm3d", show_default=True, help="Denoising method.")
@click.option("--profile", type=click.Choice(_choices("profile")),
              help="bm3d profile (default fast; normal: the full search, slower).")
@click.option("--h", "h", type=float, callback=positive("--h"),
              help="nl-means cut-off (default 0.8 x estimated noise).")
@click.option("--noise", type=float,
              help="bm3d / nl-means noise sigma, in the image's units (default: estimated).")
@click.option("--strength", type=float, callback=positive("--strength"),
              help="bm3d, nl-means, bilateral: multiply the noise estimated from each "
                   "image by this (default 1; above 1 smooths more: the default's reading "
                   "of a camera JPEG is often low, see the docs' real-photographs table).")
@click.option("--patch-size", type=click.IntRange(1, 101), help="nl-means patch (default 5).")
@click.option("--patch-distance", type=click.IntRange(0, 100),
              help="nl-means search radius (default 6).")
@click.option("--sigma-color", type=float, callback=positive("--sigma-color"),
              help="bilateral range sigma (default 2 x noise x sqrt(channels)).")
@click.option("--sigma-spatial", type=float, callback=positive("--sigma-spatial"),
              help="bilateral spatial sigma (default 1.5).")
@click.option("--size", type=click.IntRange(1, 101), help="median window (default 3).")
@click.option("--sigma", type=float, help="gaussian sigma (default 1.0).")
@click.option("--noise-model", type=click.Choice(["auto", "white", "correlated",
                                                  "poisson-gaussian"]),
              help="bm3d: denoise under the noise model estimated from each image "
                   "(imgops.estimate_noise_model; experimental) instead of one white "
                   "sigma from imgops.estimate_noise.")
@click.option("--noise-per", type=click.Choice(["plane", "stack"]), default="plane",
              show_default=True,
              help="Multi-page TIFFs (bm3d, nl-means): estimate the noise for each plane, "
                   "or once for the whole stack (the median of the planes' estimates; "
                   "bm3d: their median Poisson-Gaussian law where most planes have one).")
def denoise(inputs, output, method, profile, h, noise, strength, patch_size, patch_distance,
            sigma_color, sigma_spatial, size, sigma, noise_model, noise_per, backend, **kw):
    """Remove noise: the same result as imgops.denoise(image, method, ...)."""
    import imgops
    from imgops.denoise import _blind_bm3d, _strength, stronger

    given = {"profile": profile, "h": h, "noise": noise, "strength": strength,
             "noise_model": noise_model, "patch_size": patch_size,
             "patch_distance": patch_distance, "sigma_color": sigma_color,
             "sigma_spatial": sigma_spatial, "size": size, "sigma": sigma}
    given = {k: v for k, v in given.items() if v is not None}
    allowed = {"bm3d": {"noise", "strength", "noise_model", "profile"},
               "nl-means": {"h", "noise", "strength", "patch_size", "patch_distance"},
               "bilateral": {"sigma_color", "strength", "sigma_spatial"}, "median": {"size"},
               "gaussian": {"sigma"}}[method]
    extra = set(given) - allowed
    if extra:
        names = sorted("--" + k.replace("_", "-") for k in extra)
        raise click.UsageError(f"option(s) {names} do not apply to --method {method}")
    if noise is not None and noise_model is not None:
        raise click.UsageError("--noise (a white sigma) and --noise-model exclude each other")
    given.pop("noise_model", None)
    times = 1.0 if strength is None else strength
    # --noise is the denoisers' sigma (the noise level); --sigma is gaussian's width
    params = {("sigma" if k == "noise" else k): v for k, v in given.items()}
    lib_method = method.replace("-", "_")
    try:  # the API's own check of strength against the other parameters, before any file
        _strength(lib_method, dict(params))
    except ValueError as e:
        raise click.UsageError(f"--strength: {e}") from None
    process = _filter(lambda a: imgops.denoise(a, lib_method, backend=backend, **params))
    if noise_model is not None:
        kind = noise_model.replace("-", "_")
        prof = params.get("profile", "fast")
        process = _filter(lambda a: imgops.bm3d(
            a, stronger(imgops.estimate_noise_model(np.asarray(a), kind), times), profile=prof,
            backend=backend))
    if noise_per == "stack" and method in ("bm3d", "nl-means") and "sigma" not in params \
            and noise_model is None:
        def for_stack(pictures):
            """One noise estimate for every plane of a stack: the median of theirs (bm3d:
            the median Poisson-Gaussian law where most planes have one; where most
            take a model of their own (strong colour noise, a white level law), that
            of the plane whose luminance level is the median; else the median of the
            sigmas the blind default takes plane by plane; nl-means: the median white
            sigma)."""
            colors = (np.asarray(p.color) for p in pictures)
            if method != "bm3d":
                s = times * float(np.median([imgops.estimate_noise(c) for c in colors]))
            else:
                from imgops._noise import luminance_level

                laws, models, sigmas = [], [], []
                for c in colors:
                    # what the default takes per plane (--strength: `times` as strong)
                    noise = stronger(_blind_bm3d(c, backend), times)
                    if isinstance(noise, float):
                        sigmas.append(noise)
                    elif noise.kind == "poisson_gaussian":
                        laws.append((noise.a, noise.b))
                        sigmas.append(times * imgops.estimate_noise(c))
                    else:  # strong colour noise, a white level law: the plane's model
                        models.append(noise)
                        sigmas.append(times * imgops.estimate_noise(c))
                if 2 * len(models) > len(sigmas):
                    models.sort(key=luminance_level)
                    one = models[(len(models) - 1) // 2]
                    prof = params.get("profile", "fast")
                    return _filter(lambda arr: imgops.bm3d(arr, one, profile=prof,
                                                           backend=backend))
                if 2 * len(laws) > len(sigmas):
                    a, b = (float(v) for v in np.median(np.array(laws), axis=0))
                    law = imgops.NoiseModel("poisson_gaussian", np.ones((8, 8)), a=a, b=b)
                    prof = params.get("profile", "fast")
                    return _filter(lambda arr: imgops.bm3d(arr, law, profile=prof,
                                                           backend=backend))
                s = float(np.median(sigmas))
            fixed = {"sigma": s, **({"h": 0.8 * s} if method == "nl-means" else {}),
                     **params}
            fixed.pop("strength", None)  # in s already
            if s == 0.0:  # no noise found: the planes come back unchanged
                return _filter(lambda a: a.copy())
            return _filter(lambda a: imgops.denoise(a, lib_method, backend=backend,
                                                    **fixed))
        process.for_stack = for_stack
    _execute(inputs, output, process, backend=backend,
             prime="bm3d" if method == "bm3d" else None, **kw)


@main.command()
@batch_options
@click.option("--sigma", type=float, default=1.0, show_default=True,
              help="Gaussian sigma in pixels (gaussian method).")
@click.option("--method", type=click.Choice(_choices("blur")), default="gaussian",
              show_default=True)
@click.option("--size", type=click.IntRange(1, 101), default=3, show_default=True,
              help="Window for box and median.")
@click.option("--mode", type=click.Choice(_choices("mode")),
              default="reflect", show_default=True, help="Border mode.")
def blur(inputs, output, sigma, method, size, mode, backend, **kw):
    """Smooth: gaussian (default), box or median."""
    import imgops

    if sigma < 0:
        raise click.BadParameter("--sigma must be >= 0")
    fn = {"gaussian": lambda a: imgops.gaussian(a, sigma, mode=mode, backend=backend),
          "box": lambda a: imgops.box(a, size, mode=mode, backend=backend),
          "median": lambda a: imgops.median(a, size, mode=mode, backend=backend)}[method]
    _execute(inputs, output, _filter(fn), backend=backend, **kw)


def _edge_map(a: np.ndarray, method: str, sigma: float, backend: str, raw: bool) -> np.ndarray:
    import imgops

    if method == "canny":
        gray = a if a.ndim == 2 or a.shape[2] == 1 else _luminance(a)
        gray = gray.reshape(gray.shape[:2])
        edges = imgops.canny(gray, sigma)
        if raw or a.dtype.kind == "f":
            return edges.astype(np.float32)
        return edges.astype(a.dtype) * np.iinfo(a.dtype).max
    if method == "gaussian-laplace":
        e = imgops.gaussian_laplace(a, sigma, backend=backend)
        gain = 1.0 / (sigma * sigma)  # documented scale: 1 / sigma^2
    else:
        e = {"sobel": imgops.sobel, "prewitt": imgops.prewitt, "scharr": imgops.scharr,
             "laplace": imgops.laplace}[method](a, backend=backend)
        gain = EDGE_GAIN[method]
    if raw or a.dtype.kind == "f":
        return e.astype(np.float32)
    mag = np.abs(e) / gain
    info = np.iinfo(a.dtype)
    return np.clip(np.rint(mag), 0, info.max).astype(a.dtype)


def _luminance(a: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma (scikit-image's rgb2gray weights), in the image's dtype."""
    w = np.array([0.2125, 0.7154, 0.0721])
    y = a[..., :3].astype(np.float64) @ w
    if a.dtype.kind == "u":
        return np.rint(y).astype(a.dtype)
    return y.astype(a.dtype)


@main.command()
@batch_options
@click.option("--method", type=click.Choice(EDGE_METHODS), default="sobel", show_default=True)
@click.option("--sigma", type=float, default=1.0, show_default=True,
              help="Smoothing for canny and gaussian-laplace.")
@click.option("--raw", is_flag=True,
              help="Write the raw float32 responses as TIFF instead of a scaled image.")
def edges(inputs, output, method, sigma, raw, backend, **kw):
    """Edge maps. Integer images: |response| / gain at the input's bit depth, where
    gain is the filter's response to a full-scale step (sobel 4*sqrt(2), prewitt
    3*sqrt(2), scharr 16*sqrt(2), laplace 4, gaussian-laplace 1/sigma^2); canny
    writes 0 or the maximum. Float images, or --raw: float32 responses."""
    if sigma <= 0:
        raise click.BadParameter("--sigma must be > 0")
    _execute(inputs, output, _filter(lambda a: _edge_map(a, method, sigma, backend, raw)),
             backend=backend, raw_tiff=raw, **kw)


@main.command()
@batch_options
@click.option("--factor", type=click.IntRange(1, 1024), default=2, show_default=True)
@click.option("--method", type=click.Choice(_choices("downsample")),
              default="area", show_default=True)
def downsample(inputs, output, factor, method, backend, **kw):
    """Shrink by an integer factor to ceil(H/f) x ceil(W/f); alpha is resampled too."""
    import imgops

    _execute(inputs, output, _resample(lambda a: imgops.downsample(a, factor, method=method,
                                                                   backend=backend)),
             backend=backend, **kw)


@main.command()
@batch_options
@click.option("--factor", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option("--method", type=click.Choice(_choices("upsample")),
              default="bilinear", show_default=True)
def upsample(inputs, output, factor, method, backend, **kw):
    """Enlarge by an integer factor; alpha is resampled too."""
    import imgops

    _execute(inputs, output, _resample(lambda a: imgops.upsample(a, factor, method=method,
                                                                 backend=backend)),
             backend=backend, **kw)


def _load_kernel(path: Path) -> np.ndarray:
    try:
        k = np.load(path, allow_pickle=False) if path.suffix == ".npy" else \
            np.loadtxt(path, ndmin=2, delimiter=None)
    except Exception as exc:
        raise click.BadParameter(f"cannot read kernel {path}: {exc}") from None
    if k.ndim != 2 or k.size == 0 or not np.all(np.isfinite(k)):
        raise click.BadParameter(f"kernel {path} must be a finite 2-D array; got {k.shape}")
    return k


@main.command()
@batch_options
@click.option("--kernel", "kernel_path", type=click.Path(exists=True, dir_okay=False,
                                                         path_type=Path),
              required=True, help="2-D kernel: a .npy file or whitespace-separated text.")
@click.option("--mode", type=click.Choice(_choices("mode")),
              default="reflect", show_default=True, help="Border mode.")
def convolve(inputs, output, kernel_path, mode, backend, **kw):
    """Convolve with a kernel from a file (scipy.ndimage.convolve semantics)."""
    import imgops

    k = _load_kernel(kernel_path)
    _execute(inputs, output, _filter(lambda a: imgops.convolve(a, k, mode=mode,
                                                               backend=backend)),
             backend=backend, **kw)


@main.command()
@click.option("--dtype", "dtypes", multiple=True, default=["uint8", "uint16", "float32"],
              type=click.Choice(["uint8", "uint16", "float32", "float64"]), show_default=True)
def warmup(dtypes):
    """Compile and cache the kernels the commands' defaults use (denoise, blur, edges,
    downsample, upsample on gray and colour images of each dtype), so that later
    processes only load them from Numba's on-disk cache. Run it once in a container
    image or a CI job, after installing imgops."""
    import multiprocessing
    import os
    import time
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    t0 = time.perf_counter()
    # two groups compiled in parallel processes (Numba compiles on one core): the
    # denoiser's kernels, and the other commands'. An executor, not a Pool: a process
    # that dies makes an error here instead of a wait that never ends.
    groups = ["denoise", "others"]
    try:
        with ProcessPoolExecutor(min(len(groups), os.cpu_count() or 1),
                                 mp_context=multiprocessing.get_context("spawn")) as ex:
            list(ex.map(_warmup.warm, groups, [dtypes] * len(groups)))
    except BrokenProcessPool as exc:
        raise click.ClickException(f"a compiling process died: {exc}") from None
    click.echo(f"compiled and cached in {time.perf_counter() - t0:.1f} s")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-r", "--recursive", is_flag=True, help="Descend into folders.")
@click.option("--glob", metavar="PATTERN", help="Choose files by name pattern.")
@click.option("--model", type=click.Choice(["auto", "white", "correlated",
                                            "poisson-gaussian"]),
              default="auto", show_default=True, help="The kind of model to fit.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per file (a line each), for scripts.")
def noise(paths, recursive, glob, model, as_json):
    """Print each file's estimated noise model: its kind, an equivalent white sigma per
    channel (in the image's units), the white estimate imgops.estimate_noise gives,
    a Poisson-Gaussian fit var = a*y + b where one was made, and what `imgops
    denoise` assumes by default (the model where it is Poisson-Gaussian or shows strong
    colour noise that a pilot denoiser leaves nowhere flat in an image of 96 pixels or
    more a side, else one white sigma: the white estimate, or the level of a camera's
    sRGB noise read from the pilot where that is larger). FILES are files or folders.
    Exit status 1 if a file could not be read."""
    import imgops
    from imgops.denoise import _blind_bm3d

    found = batch.find_inputs(list(paths), recursive, glob)
    failed = 0
    for src, _ in found:
        try:
            pic = files.read(src)
            color = np.asarray(pic.color)
            m = imgops.estimate_noise_model(color, model.replace("-", "_"))
            white = float(imgops.estimate_noise(color))
            # what `imgops denoise` assumes (the auto model is the one just estimated)
            default = _blind_bm3d(color, model=m if model == "auto" else None)
            under = None  # the kind of model the default denoises under, if one
            # a Poisson-Gaussian law, a white level law, or strong colour noise
            if not isinstance(default, float):
                under, default = default.kind, None
        except Exception as exc:  # any file's failure is reported, the rest go on
            failed += 1
            click.echo(f"{src}: {exc}", err=True)
            continue
        entry = {"file": str(src), "kind": m.kind,
                 "sigma": [round(float(s), 4) for s in m.sigma],
                 "white_sigma": round(white, 4) if math.isfinite(white) else None,
                 "a": None if m.a is None else float(m.a),
                 "b": None if m.b is None else float(m.b),
                 "default_sigma": None if default is None else round(default, 6),
                 "default_model": under}
        if as_json:
            click.echo(json.dumps(entry))
            continue
        sig = ", ".join(f"{s:.3g}" for s in entry["sigma"])
        pg = f", var = {m.a:.4g}*y + {m.b:.4g}" if m.kind == "poisson_gaussian" else ""
        names = {"poisson_gaussian": "Poisson-Gaussian", "correlated": "correlated",
                 "white": "white, intensity-dependent"}
        dflt = f"runs BM3D under the {names[under]} model" if under else \
            "leaves it unchanged (no noise measured)" if default == 0 else \
            f"runs BM3D at sigma {default:.3g}"
        click.echo(f"{src}: {m.kind}, sigma per channel [{sig}] (white estimate "
                   f"{white:.3g}){pg}; imgops denoise {dflt}")
    sys.exit(1 if failed else 0)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info(as_json):
    """What imgops.backends() reports: CPU threads and layer, CUDA devices."""
    import imgops

    b = imgops.backends()
    if as_json:
        click.echo(json.dumps(b, indent=2, default=str))
        return
    cpu, cuda = b["cpu"], b["cuda"]
    click.echo(f"imgops {imgops.__version__} (numba {cpu['numba']})")
    click.echo(f"cpu: {cpu['threads']} threads, threading layer {cpu['threading_layer']}")
    if cuda["available"]:
        for d in cuda["devices"]:
            mem = f", {d['memory_bytes'] / 2**30:.1f} GiB" if d.get("memory_bytes") else ""
            click.echo(f"cuda: {d['name']}{mem}")
    else:
        click.echo(f"cuda: unavailable ({cuda['reason']})")


if __name__ == "__main__":  # pragma: no cover
    main()
