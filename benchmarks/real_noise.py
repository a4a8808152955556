"""How well ``estimate_noise_model`` reads noise: (1) synthetic noise of known model on
skimage.data photographs and textures (relative error of the equivalent sigma and of the
low / high DCT band levels against the measured truth, and the kind "auto" picks); (2)
clean images (what is read where there is no noise added, next to Immerkaer's
``imgops.estimate_noise``); (3) timing; (4) PolyU real-noise crops (read by path from
``--polyu``, never copied): the model's opponent-channel bands against the ground-truth
noise (noisy minus mean), and the rule's sigma for ``imgops.bm3d(noisy, s,
profile="fast")`` against the best of a sweep. The camera-pipeline cases are in
``benchmarks/noise_pipelines.py``.

``--true-noise`` adds, per PolyU crop, BM3D fast given the noise measured against the
ground truth (noisy minus mean), as a model (its per-coefficient covariance, channels
included) and as a PSD (each channel's periodogram, smoothed over 5 x 5 frequencies),
each at the measured level and at twice it: what an exact noise estimate could reach.
``--strength 1.5 2`` adds ``imgops.denoise(noisy, strength=S)`` for each S.

    python benchmarks/real_noise.py [--polyu DIR] [--every 4] [--no-bm3d] [--skip-synthetic]
        [--normal-sigma 16] [--picture OUT.png] [--true-noise] [--strength S ...]
"""

from __future__ import annotations

import argparse
import glob
import os
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
import noise_synth as S  # noqa: E402
from noise_pipelines import interp_psnr, psnr, rule_sigma, rule_sigmas  # noqa: E402

import imgops  # noqa: E402
from imgops._noise import estimate_noise_model  # noqa: E402

PHOTOS = ["astronaut", "coffee", "chelsea", "camera", "rocket", "immunohistochemistry"]
TEXTURES = ["grass", "gravel", "brick"]
POLYU_SWEEP = (6, 8, 10, 12, 14, 16, 20, 24)


def _image(name: str) -> np.ndarray:
    from skimage import data
    img = getattr(data, name)()
    return (img[..., :3] if img.ndim == 3 else img).astype(np.float64)


def _configs():
    """(label, expected kind, function clean, seed -> noisy)."""
    out = []
    for s in (2, 5, 10, 20, 40):
        out.append((f"white {s}", "white", lambda c, k, s=s: S.white(c, s, k)))
    for b in (0.5, 1.0, 1.5):
        out.append((f"gauss {b} px x10", "correlated",
                    lambda c, k, b=b: S.correlated(c, 10.0, S.gaussian_kernel(b), k)))
    out.append(("line 1x5 x10", "correlated",
                lambda c, k: S.correlated(c, 10.0, S.line_kernel(5), k)))
    out.append(("per channel 4/10/20", "white",
                lambda c, k: S.white(c, [4.0, 10.0, 20.0][:c.shape[2]] if c.ndim == 3
                                     else 10.0, k)))
    out.append(("colour rho 0.6 5/8/10", "white",
                lambda c, k: S.colour_correlated(c, [5.0, 8.0, 10.0], 0.6, k)
                if c.ndim == 3 else S.white(c, 8.0, k)))
    out.append(("sqrt intensity k=0.8", "poisson_gaussian",
                lambda c, k: S.signal_dependent(c, 0.8, k)))
    for peak in (1, 10, 120):
        out.append((f"Poisson-Gauss peak {peak}", "poisson_gaussian",
                    lambda c, k, p=peak: S.poisson_gaussian(c, p, k)))
    out.append(("white 30, uint8 clipped", "white",
                lambda c, k: S.to_uint8(S.white(c, 30.0, k))))
    return out


def synthetic() -> None:
    print("## (1) Synthetic noise of known model\n")
    print("Relative error of the estimate against the measured truth (noisy minus clean),"
          " mean over channels, then mean |error| [worst signed] over the 9 images; "
          "kind: how many of 9 'auto' got right.\n")
    print("| noise | sigma | low band | high band | kind right |")
    print("|---|---:|---:|---:|---:|")
    for label, kind, make in _configs():
        errs = {"sigma": [], "low": [], "high": []}
        right = 0
        for i, name in enumerate(PHOTOS + TEXTURES):
            clean = _image(name)
            noisy = make(clean, 100 + i)
            if isinstance(noisy, tuple):  # Poisson-Gaussian: (z, clean in its units)
                noisy, clean = noisy
            m = estimate_noise_model(noisy)
            est, tru = S.bands(m.cov), S.bands(S.true_cov(noisy.astype(np.float64) - clean))
            for band in errs:
                errs[band].append(float(np.mean(est[band] / np.maximum(tru[band], 1e-12) - 1)))
            right += m.kind == kind
        cells = [f"{np.mean(np.abs(e)):.0%} [{e[int(np.argmax(np.abs(e)))]:+.0%}]"
                 for e in errs.values()]
        print(f"| {label} | " + " | ".join(cells) + f" | {right}/9 ({kind}) |", flush=True)


def clean() -> None:
    print("\n## (2) Clean images (no noise added)\n")
    print("| image | equivalent sigma (mean over channels) | low band | high band | kind | "
          "Immerkaer |")
    print("|---|---:|---:|---:|---|---:|")
    for name in PHOTOS + TEXTURES:
        img = _image(name).astype(np.uint8)
        m = estimate_noise_model(img)
        b = S.bands(m.cov)
        print(f"| {name} | {b['sigma'].mean():.2f} | {b['low'].mean():.2f} | "
              f"{b['high'].mean():.2f} | {m.kind} | {imgops.estimate_noise(img):.2f} |")


def timing() -> None:
    print("\n## (3) Timing (best of 7 / of 3, this machine)\n")
    rng = np.random.default_rng(0)
    from skimage import data
    small = np.ascontiguousarray(data.astronaut()[:512, :512])
    big = np.clip(rng.normal(128, 20, (3000, 4000, 3)), 0, 255).astype(np.uint8)
    for label, img, reps in (("512x512x3 uint8", small, 7), ("3000x4000x3 uint8", big, 3),
                             ("512x512x3 float32", small.astype(np.float32), 7)):
        estimate_noise_model(img)
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            estimate_noise_model(img)
            ts.append(time.perf_counter() - t)
        print(f"- {label}: {min(ts) * 1e3:.1f} ms (median {np.median(ts) * 1e3:.1f} ms)")


def _picture(path: str, noisy: np.ndarray, gt: np.ndarray, model) -> None:
    """noisy | blind default | bm3d under the estimated model | ground truth, side by
    side (256x256 centre), as a PNG at `path` (outside the repository: PolyU's licence)."""
    import imageio.v3 as iio
    h, w = noisy.shape[:2]
    y0, x0 = (h - 256) // 2, (w - 256) // 2
    panels = [noisy, imgops.denoise(noisy), imgops.bm3d(noisy, model, profile="fast"), gt]
    iio.imwrite(path, np.concatenate([p[y0:y0 + 256, x0:x0 + 256] for p in panels], axis=1))
    print(f"(picture: {path})")


def _measured_psd(noise: np.ndarray) -> np.ndarray:
    """The ``(M, N, C)`` PSD (``imgops.bm3d``'s convention) of a measured noise: each
    channel's periodogram, its mean removed, smoothed over 5 x 5 frequencies."""
    from scipy.ndimage import uniform_filter
    return np.stack([uniform_filter(np.abs(np.fft.fft2(ch - ch.mean())) ** 2, 5,
                                    mode="wrap") for ch in np.moveaxis(noise, -1, 0)], -1)


TRUE_ROWS = {"true_model": "bm3d under the measured noise's model, fast",
             "true_model2": "bm3d under the measured noise's model x2 sigma, fast",
             "true_psd": "bm3d under the measured noise's PSD, fast",
             "true_psd2": "bm3d under the measured noise's PSD x2 sigma, fast"}


def _true_noise(noisy: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """PSNR of BM3D fast given the noise measured against the ground truth (TRUE_ROWS)."""
    from imgops import NoiseModel
    noise = noisy.astype(np.float64) - gt
    model = NoiseModel("correlated", S.true_cov(noise))
    psd = _measured_psd(noise)
    given = {"true_model": model, "true_model2": model.scaled(2.0), "true_psd": psd,
             "true_psd2": 4.0 * psd}
    return {k: psnr(imgops.bm3d(noisy, v, profile="fast"), gt) for k, v in given.items()}


def polyu(root: str, every: int, bm3d: bool, normal_sigma: float = 0.0,
          picture: str = "", true_noise: bool = False, strengths=()) -> None:
    from PIL import Image
    if not root:
        print("\n(PolyU skipped: give --polyu FOLDER or set IMGOPS_POLYU)")
        return
    files = sorted(glob.glob(os.path.join(root, "*_real.JPG")))[::every]
    if not files:
        print(f"\n(no PolyU crops under {root})")
        return
    print(f"\n## (4) PolyU: {len(files)} crops (every {every})\n")
    print("| crop | Y low est/true | Y high est/true | U low est/true | V low est/true | "
          "kind | rule s | best s | PSNR noisy / rule / best |")
    print("|---|---:|---:|---:|---:|---|---:|---:|---:|")
    rows = []
    for f in files:
        noisy = np.asarray(Image.open(f).convert("RGB"))
        gt = np.asarray(Image.open(f.replace("_real", "_mean")).convert("RGB"))
        m = estimate_noise_model(noisy)
        est = S.bands(m.cov, S.OPP)
        tru = S.bands(S.true_cov(noisy.astype(np.float64) - gt), S.OPP)
        row = {"est": est, "tru": tru, "rules": rule_sigmas(m), "rule": rule_sigma(m)}
        tail = " | | "
        if bm3d:
            curve = {s: psnr(imgops.bm3d(noisy, float(s), profile="fast"), gt)
                     for s in POLYU_SWEEP}
            best = max(curve, key=curve.get)
            row.update(curve=curve, best=best, noisy=psnr(noisy, gt),
                       default=psnr(imgops.denoise(noisy), gt),
                       strength={k: psnr(imgops.denoise(noisy, strength=k), gt)
                                 for k in strengths},
                       model=psnr(imgops.bm3d(noisy, m, profile="fast"), gt))
            if normal_sigma:
                row["normal"] = psnr(imgops.bm3d(noisy, normal_sigma, profile="normal"), gt)
            if true_noise:
                row.update(_true_noise(noisy, gt))
            if picture and len(rows) == 0:
                _picture(picture, noisy, gt, m)
            tail = (f" {best} | {row['noisy']:.2f} / {interp_psnr(curve, row['rule']):.2f} / "
                    f"{curve[best]:.2f} |")
        rows.append(row)
        print(f"| {os.path.basename(f)[:-9]} | {est['low'][0]:.2f}/{tru['low'][0]:.2f} | "
              f"{est['high'][0]:.2f}/{tru['high'][0]:.2f} | {est['low'][1]:.2f}/"
              f"{tru['low'][1]:.2f} | {est['low'][2]:.2f}/{tru['low'][2]:.2f} | {m.kind} | "
              f"{row['rule']:.1f} |" + tail, flush=True)
    print()
    for band in ("sigma", "low", "high"):
        cells = []
        for ch, cname in enumerate("YUV"):
            r = np.array([x["est"][band][ch] / x["tru"][band][ch] for x in rows])
            cells.append(f"{cname} x{np.median(r):.2f} [{r.min():.2f}, {r.max():.2f}]")
        print(f"- {band} band, estimate / truth, median [min, max]: " + "; ".join(cells))
    if bm3d:
        print("\n| input or method | mean PSNR (dB) | crops below their noisy input |")
        print("|---|---:|---:|")
        base = np.array([x["noisy"] for x in rows])
        table = [("noisy input", base),
                 ("imgops.denoise (blind default)", [x["default"] for x in rows]),
                 *((f"imgops.denoise, strength {k:g}", [x["strength"][k] for x in rows])
                   for k in strengths),
                 ("bm3d under estimate_noise_model, fast", [x["model"] for x in rows])]
        if normal_sigma:
            table.append((f"bm3d sigma {normal_sigma:g}, normal", [x["normal"] for x in rows]))
        if true_noise:
            table += [(label, [x[k] for x in rows]) for k, label in TRUE_ROWS.items()]
        fixed_best = max(POLYU_SWEEP, key=lambda s: np.mean([x["curve"][s] for x in rows]))
        table.append((f"bm3d best single sigma ({fixed_best}), fast",
                      [x["curve"][fixed_best] for x in rows]))
        table.append(("bm3d best sigma per crop (oracle), fast",
                      [max(x["curve"].values()) for x in rows]))
        for label, vals in table:
            vals = np.array(vals)
            print(f"| {label} | {vals.mean():.2f} | {int((vals < base - 1e-9).sum())} |")
        print()
        mean_noisy = np.mean([x["noisy"] for x in rows])
        fixed = {s: np.mean([x["curve"][s] for x in rows]) for s in POLYU_SWEEP}
        oracle = np.mean([max(x["curve"].values()) for x in rows])
        print(f"- mean PSNR: noisy {mean_noisy:.2f}; fixed sigma " + ", ".join(
            f"{s}: {v:.2f}" for s, v in fixed.items()) + f"; per-crop oracle {oracle:.2f}")
        for name in rows[0]["rules"]:
            got = [interp_psnr(x["curve"], x["rules"][name]) for x in rows]
            ratio = [x["rules"][name] / x["best"] for x in rows]
            print(f"- rule {name}: mean PSNR {np.mean(got):.2f} (interpolated on the sweep, "
                  f"sigma clamped to 6-24), sigma / best x{np.median(ratio):.2f} "
                  f"[{min(ratio):.2f}, {max(ratio):.2f}]")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # the PolyU real-noise crops (non-commercial licence: never copied here) are read
    # from where they are kept, given by --polyu or IMGOPS_POLYU
    ap.add_argument("--polyu", default=os.environ.get("IMGOPS_POLYU"),
                    help="folder of PolyU *_real.JPG / *_mean.JPG pairs")
    ap.add_argument("--every", type=int, default=4)
    ap.add_argument("--no-bm3d", action="store_true")
    ap.add_argument("--skip-synthetic", action="store_true")
    ap.add_argument("--normal-sigma", type=float, default=0.0,
                    help="also bm3d(profile='normal') at this one sigma on every crop")
    ap.add_argument("--picture", default="",
                    help="write noisy | default | model | truth of the first crop here")
    ap.add_argument("--true-noise", action="store_true",
                    help="also bm3d given the noise measured against the ground truth")
    ap.add_argument("--strength", type=float, nargs="*", default=[],
                    help="also imgops.denoise(z, strength=S) for each S given")
    args = ap.parse_args()
    if not args.skip_synthetic:
        synthetic()
        clean()
        timing()
    polyu(args.polyu, args.every, not args.no_bm3d, args.normal_sigma, args.picture,
          args.true_noise, args.strength)


if __name__ == "__main__":
    main()
