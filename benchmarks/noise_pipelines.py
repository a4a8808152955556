"""The noise model on a synthetic camera pipeline with ground truth (Brooks et al. 2019,
generators in ``tests/noise_synth.py``): (a) uint8 sRGB out of the pipeline, (b) the
same through JPEG at quality 75-95. For each case: the estimated model against the
measured truth (noisy minus clean) in the opponent channels' DCT bands, and the best
single sigma for ``imgops.bm3d(noisy, s, profile="fast")`` against the sigmas that the
candidate rules derive from the model (see `rule_sigmas`).

    python benchmarks/noise_pipelines.py [--seeds 6] [--size 192] [--no-bm3d] [--picture OUT]
        [--strength S ...]      # also imgops.denoise(noisy, strength=S) for each S

Six seeds span the recipe's shot-noise range (1.1e-4 to 7.5e-3); two stay at its quiet end.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
import noise_synth as S  # noqa: E402

from imgops._noise import NoiseModel, estimate_noise_model  # noqa: E402

IMAGES = ["astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry"]
SWEEP = (2, 3, 4, 6, 8, 10, 12, 14, 16, 20, 24)
#: The rule: sigma = SCALE * sqrt(3) * (mean_q var_Y(q)^p)^(1 / 2p) over the 64
#: coefficients of the luminance Y = (R + G + B) / 3 (sqrt(3): CBM3D gives Y the sigma
#: sigma / sqrt(3)); for white noise every p gives the per-channel sigma. p and SCALE
#: were chosen on these synthetic pipelines, not on PolyU.
RULE_P, RULE_SCALE = 1.0, 1.0


def y_variances(model: NoiseModel) -> np.ndarray:
    """The luminance's noise variance per DCT coefficient (8, 8) (the channels' mean for
    colour, the only channel otherwise)."""
    c = model.channels
    w = np.full(c, 1 / c)
    return np.maximum(np.einsum("c,d,cduv->uv", w, w, model.cov), 0)  # rounding below 0


def rule_sigma(model: NoiseModel, p: float = RULE_P, scale: float = RULE_SCALE) -> float:
    """A single white sigma for ``imgops.bm3d`` from the model (see RULE_P)."""
    v = y_variances(model)
    k = np.sqrt(model.channels) if model.channels > 1 else 1.0
    if np.isinf(p):
        return float(scale * k * np.sqrt(v.max()))
    return float(scale * k * np.mean(v ** p) ** (1 / (2 * p)))


def rule_sigmas(model: NoiseModel) -> dict[str, float]:
    """The candidate rules: p = 1 (the equivalent white sigma of Y), 2, 4, infinity."""
    return {f"p={p:g}": rule_sigma(model, p) for p in (1.0, 2.0, 4.0, np.inf)}


def psnr(a: np.ndarray, ref: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - ref.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-12)))


def sweep(noisy: np.ndarray, clean: np.ndarray, sigmas=SWEEP) -> dict[float, float]:
    """PSNR of ``imgops.bm3d(noisy, s, profile="fast")`` for each s."""
    import imgops
    return {s: psnr(imgops.bm3d(noisy, float(s), profile="fast"), clean) for s in sigmas}


def interp_psnr(curve: dict[float, float], s: float) -> float:
    """The PSNR at sigma s, interpolated on the sweep (linear in log sigma)."""
    xs = np.log(np.array(sorted(curve)))
    ys = np.array([curve[k] for k in sorted(curve)])
    return float(np.interp(np.log(max(s, 1e-3)), xs, ys))


def cases(seeds: int, size: int):
    from skimage import data
    for name in IMAGES:
        img = getattr(data, name)()[..., :3]
        h, w = img.shape[:2]
        y0, x0 = (h - min(h, size)) // 2, (w - min(w, size)) // 2
        crop = np.ascontiguousarray(img[y0:y0 + size, x0:x0 + size])
        for seed in range(seeds):
            for compress in (False, True):
                yield name, seed, compress, S.camera(crop, 1000 * seed + 17, compress=compress)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--picture", default="",
                    help="write noisy | default | model | clean of the noisiest JPEG case")
    ap.add_argument("--no-bm3d", action="store_true")
    ap.add_argument("--strength", type=float, nargs="*", default=[],
                    help="also imgops.denoise(z, strength=S) for each S given")
    args = ap.parse_args()
    rows = []
    print("| image | seed | JPEG q | shot | read | Y sigma est/true | Y low est/true | "
          "Y high est/true | U low est/true | V low est/true | kind | best s (PSNR) | "
          "rule s (PSNR) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for name, seed, compress, case in cases(args.seeds, args.size):
        m = estimate_noise_model(case["noisy"])
        est, tru = S.bands(m.cov, S.OPP), S.bands(case["truth"], S.OPP)
        p = case["params"]
        row = {"name": name, "jpeg": compress, "est": est, "tru": tru,
               "rules": rule_sigmas(m)}
        best = rule = ""
        if not args.no_bm3d:
            import imgops
            curve = sweep(case["noisy"], case["clean"])
            sb = max(curve, key=curve.get)
            row.update(curve=curve, best=sb, noisy=psnr(case["noisy"], case["clean"]),
                       default=psnr(imgops.denoise(case["noisy"]), case["clean"]),
                       model=psnr(imgops.bm3d(case["noisy"], m, profile="fast"),
                                  case["clean"]),
                       case=case, shot=p["shot"],
                       strength={k: psnr(imgops.denoise(case["noisy"], strength=k),
                                         case["clean"]) for k in args.strength})
            best = f"{sb} ({curve[sb]:.2f})"
            r = rule_sigma(m)
            rule = f"{r:.1f} ({interp_psnr(curve, r):.2f})"
        rows.append(row)
        q = p["quality"] if compress else "-"
        print(f"| {name} | {seed} | {q} | {p['shot']:.1e} | {p['read']:.1e} | "
              f"{est['sigma'][0]:.2f}/{tru['sigma'][0]:.2f} | {est['low'][0]:.2f}/"
              f"{tru['low'][0]:.2f} | {est['high'][0]:.2f}/{tru['high'][0]:.2f} | "
              f"{est['low'][1]:.2f}/{tru['low'][1]:.2f} | {est['low'][2]:.2f}/"
              f"{tru['low'][2]:.2f} | {m.kind} | {best} | {rule} |", flush=True)
    summarize(rows)
    if args.picture and not args.no_bm3d:
        picture(args.picture, rows)


def picture(path: str, rows: list[dict]) -> None:
    """noisy | blind default | bm3d under the estimated model | clean, side by side, for
    the JPEG case with the most shot noise (ties: the first)."""
    import imageio.v3 as iio

    import imgops
    row = max((r for r in rows if r["jpeg"]), key=lambda r: r["shot"])
    case = row["case"]
    model = estimate_noise_model(case["noisy"])
    panels = [case["noisy"], imgops.denoise(case["noisy"]),
              imgops.bm3d(case["noisy"], model, profile="fast"), case["clean"]]
    iio.imwrite(path, np.concatenate([np.asarray(p, np.uint8) for p in panels], axis=1))
    print(f"(picture: {path}: {row['name']}, JPEG; PSNR noisy {row['noisy']:.2f}, default "
          f"{row['default']:.2f}, model {row['model']:.2f} dB)")


def summarize(rows: list[dict]) -> None:
    """Median |log ratio| of the bands, and each rule's PSNR loss against the oracle."""
    print()
    for jpeg in (False, True):
        sub = [r for r in rows if r["jpeg"] == jpeg]
        if not sub:
            continue
        label = "(b) JPEG" if jpeg else "(a) uint8"
        cells = []
        for band in ("sigma", "low", "high"):
            for ch, cname in enumerate("YUV"):
                ratio = [r["est"][band][ch] / r["tru"][band][ch] for r in sub]
                cells.append(f"{cname} {band} x{np.median(ratio):.2f} "
                             f"[{min(ratio):.2f}, {max(ratio):.2f}]")
        print(f"{label}: estimate / truth, median [min, max]: " + "; ".join(cells))
        if "curve" in sub[0]:
            for rule in sub[0]["rules"]:
                loss = [max(r["curve"].values()) - interp_psnr(r["curve"], r["rules"][rule])
                        for r in sub]
                ratio = [r["rules"][rule] / r["best"] for r in sub]
                print(f"  rule {rule}: sigma / best x{np.median(ratio):.2f}, PSNR loss to the "
                      f"sweep's best: mean {np.mean(loss):.2f} dB, worst {max(loss):.2f} dB")
            gain = [max(r["curve"].values()) - r["noisy"] for r in sub]
            print(f"  sweep's best over noisy: mean +{np.mean(gain):.2f} dB")
            noisy = np.array([r["noisy"] for r in sub])
            fixed = max(SWEEP, key=lambda s: np.mean([r["curve"][s] for r in sub]))
            for label, vals in (
                    ("noisy input", noisy),
                    ("imgops.denoise (blind default)", [r["default"] for r in sub]),
                    *((f"imgops.denoise, strength {k:g}", [r["strength"][k] for r in sub])
                      for k in sub[0]["strength"]),
                    ("bm3d under estimate_noise_model, fast", [r["model"] for r in sub]),
                    (f"bm3d best single sigma ({fixed}), fast",
                     [r["curve"][fixed] for r in sub]),
                    ("bm3d best sigma per case (oracle), fast",
                     [max(r["curve"].values()) for r in sub])):
                vals = np.array(vals)
                print(f"  | {label} | {vals.mean():.2f} | "
                      f"{int((vals < noisy - 1e-9).sum())} below noisy |")


if __name__ == "__main__":
    main()
