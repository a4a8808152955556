"""Run every public operation on photographs and save or compare the results.

Used to check that a refactoring keeps every CPU result bit-identical::

    PYTHONPATH=/path/to/old/checkout python tools/bitcheck.py save old.npz
    python tools/bitcheck.py compare old.npz

The calls cover each operation with every dtype and border mode on crops of
scikit-image's photographs (gray, colour, a batch).
"""

from __future__ import annotations

import sys

import numpy as np
from skimage import data

MODES = ("reflect", "mirror", "nearest", "constant", "wrap")


def images() -> dict[str, np.ndarray]:
    astro = data.astronaut()[100:197, 150:281]  # odd sizes
    camera = data.camera()[200:301, 100:229]
    out = {}
    for name, img in (("astro", astro), ("camera", camera)):
        out[f"{name}_u8"] = img
        out[f"{name}_u16"] = (img.astype(np.uint16) * 257)
        out[f"{name}_f32"] = (img / 255.0).astype(np.float32)
        out[f"{name}_f64"] = img / 255.0
    out["batch_u8"] = np.stack([astro, astro[::-1]])
    nan = out["camera_f32"].copy()
    nan[40, 50] = np.nan
    out["camera_nan_f32"] = nan
    return out


def calls(imgops):
    k5 = np.random.default_rng(5).random((5, 4))
    yield "correlate", lambda a, m: imgops.correlate(a, k5, mode=m, cval=0.3)
    yield "correlate_valid", lambda a, m: imgops.correlate(a, k5, mode="valid")
    yield "convolve", lambda a, m: imgops.convolve(a, k5, mode=m, cval=0.3)
    yield "gaussian", lambda a, m: imgops.gaussian(a, (1.5, 2.5), mode=m, cval=0.2)
    yield "box3", lambda a, m: imgops.box(a, 3, mode=m)
    yield "box11", lambda a, m: imgops.box(a, (11, 4), mode=m)
    for k in (3, 5, 7, 9):
        yield f"median{k}", lambda a, m, k=k: imgops.median(a, k, mode=m)
    for f in ("sobel", "prewitt", "scharr"):
        yield f, lambda a, m, f=f: getattr(imgops, f)(a, mode=m)
        yield f + "_0", lambda a, m, f=f: getattr(imgops, f)(a, axis=0, mode=m)
    yield "laplace", lambda a, m: imgops.laplace(a, mode=m)
    yield "gaussian_laplace", lambda a, m: imgops.gaussian_laplace(a, 1.7, mode=m)
    yield "bilateral", lambda a, m: imgops.bilateral(a, 0.1 * _range(a), 2.0, mode=m)
    yield "nl_means", lambda a, m: imgops.nl_means(a, 0.08 * _range(a), patch_size=5,
                                                   patch_distance=4)
    yield "denoise", lambda a, m: imgops.denoise(a)
    yield "estimate_noise", lambda a, m: np.float64(imgops.estimate_noise(a))
    yield "canny", lambda a, m: imgops.canny(a, 1.5) if a.ndim == 2 else None
    yield "max_pool", lambda a, m: imgops.max_pool(a, 3, stride=2, padding=1)
    yield "avg_pool", lambda a, m: imgops.avg_pool(a, 3, stride=2, padding=1, ceil_mode=True)
    yield "max_pool2", lambda a, m: imgops.max_pool(a, 2)
    yield "avg_pool2", lambda a, m: imgops.avg_pool(a, 2)
    for meth in ("nearest", "nearest-exact", "bilinear", "area"):
        yield f"resize_{meth}", lambda a, m, meth=meth: imgops.resize(a, (61, 83), method=meth)
    yield "resize_up_ac", lambda a, m: imgops.resize(a, (150, 201), align_corners=True)
    for meth in ("area", "max", "avg", "nearest", "bilinear"):
        yield f"down_{meth}", lambda a, m, meth=meth: imgops.downsample(a, 3, method=meth)
    for meth in ("nearest", "bilinear", "transposed"):
        yield f"up_{meth}", lambda a, m, meth=meth: imgops.upsample(a, 2, method=meth)
    yield "conv_transpose", lambda a, m: imgops.conv_transpose(a, k5, stride=2, padding=1)


def _range(a):
    return 255.0 if a.dtype == np.uint8 else 65535.0 if a.dtype == np.uint16 else 1.0


MODAL = {"correlate", "convolve", "gaussian", "box3", "box11", "median3", "median5",
         "median7", "median9", "sobel", "sobel_0", "prewitt", "prewitt_0", "scharr",
         "scharr_0", "laplace", "gaussian_laplace", "bilateral"}


def run() -> dict[str, np.ndarray]:
    import imgops

    results = {}
    for iname, img in images().items():
        for name, fn in calls(imgops):
            for m in MODES if name in MODAL else ("reflect",):
                key = f"{name}|{iname}|{m}"
                try:
                    r = fn(img, m)
                except Exception as exc:  # the error is part of the behaviour
                    r = np.array(f"{type(exc).__name__}: {exc}")
                if r is not None:
                    results[key] = np.asarray(r)
    return results


def main() -> int:
    what, path = sys.argv[1], sys.argv[2]
    results = run()
    if what == "save":
        np.savez_compressed(path, **results)
        print(f"saved {len(results)} results to {path}")
        return 0
    old = np.load(path)
    bad = 0
    for key in sorted(set(old.files) | set(results)):
        a, b = old.get(key) if key in old.files else None, results.get(key)
        if a is None or b is None:
            print(f"MISSING {key}: old={a is not None} new={b is not None}")
            bad += 1
        elif a.dtype != b.dtype or a.shape != b.shape or not np.array_equal(
                a, b, equal_nan=a.dtype.kind == "f"):
            diff = "" if a.dtype.kind in "US" or a.shape != b.shape else \
                f" max|diff|={np.nanmax(np.abs(a.astype(float) - b.astype(float)))}"
            print(f"DIFFERS {key}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}{diff}")
            bad += 1
    print(f"{len(results)} results compared, {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
