"""The command line on real folders: pixels, formats, safety, failures, interruption."""

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile
from click.testing import CliRunner
from PIL import Image

import imgops
from imgops.cli import files
from imgops.cli.main import main


def rgb(h=24, w=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def save_png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    if arr.dtype == np.uint16:
        path.write_bytes(imagecodecs.png_encode(np.ascontiguousarray(arr)))
    else:
        Image.fromarray(arr).save(path)
    return path


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def load(path):
    return files.read(Path(path)).pixels


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "in"
    save_png(src / "a.png", rgb(seed=1))
    save_png(src / "b.png", rgb(seed=2)[..., 0])
    return src


def test_blur_pixels_equal_api(folder, tmp_path):
    out = tmp_path / "out"
    r = invoke("blur", "--sigma", "1.5", folder, out)
    assert r.exit_code == 0, r.output
    for name in ["a.png", "b.png"]:
        np.testing.assert_array_equal(load(out / name),
                                      imgops.gaussian(load(folder / name), 1.5))
    assert "processed 2, skipped 0, failed 0" in r.output


def test_denoise_default_equals_api(folder, tmp_path):
    r = invoke("denoise", folder / "a.png", tmp_path / "o")
    assert r.exit_code == 0, r.output
    np.testing.assert_array_equal(load(tmp_path / "o" / "a.png"),
                                  imgops.denoise(load(folder / "a.png")))


@pytest.mark.parametrize("args, fn", [
    (["--method", "nl-means", "--noise", "12", "--patch-size", "7"],
     lambda a: imgops.denoise(a, "nl_means", sigma=12.0, patch_size=7)),
    (["--profile", "normal", "--noise", "20"],
     lambda a: imgops.denoise(a, "bm3d", sigma=20.0, profile="normal")),
    (["--method", "gaussian", "--sigma", "2"], lambda a: imgops.denoise(a, "gaussian",
                                                                        sigma=2.0)),
    (["--strength", "2"], lambda a: imgops.denoise(a, strength=2.0)),
    (["--method", "nl-means", "--noise", "12", "--strength", "1.5"],
     lambda a: imgops.denoise(a, "nl_means", sigma=12.0, strength=1.5)),
    (["--method", "bilateral", "--strength", "0.5"],
     lambda a: imgops.denoise(a, "bilateral", strength=0.5)),
])
def test_denoise_options_equal_api(folder, tmp_path, args, fn):
    r = invoke("denoise", *args, folder / "a.png", tmp_path / "o")
    assert r.exit_code == 0, r.output
    np.testing.assert_array_equal(load(tmp_path / "o" / "a.png"), fn(load(folder / "a.png")))


@pytest.mark.parametrize("args", [["--profile", "fast", "--method", "median"],
                                  ["--h", "3", "--method", "bm3d"],
                                  ["--h", "3", "--method", "gaussian"]])
def test_denoise_options_of_another_method_are_refused(folder, tmp_path, args):
    r = invoke("denoise", *args, folder / "a.png", tmp_path / "o")
    assert r.exit_code == 2 and "do not apply" in r.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, msg", [
    (["--strength", "2", "--noise", "5"], "leave unused"),
    (["--method", "nl-means", "--strength", "2", "--noise", "5", "--h", "4"], "leave unused"),
    (["--method", "bilateral", "--strength", "2", "--sigma-color", "9"], "leave unused"),
    (["--method", "median", "--strength", "2"], "do not apply"),
    (["--strength", "0"], "must be > 0"),
])
def test_denoise_strength_refused_where_it_means_nothing(folder, tmp_path, args, msg):
    r = invoke("denoise", *args, folder / "a.png", tmp_path / "o")
    assert r.exit_code == 2 and msg in r.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, fn", [
    (["edges"], lambda a: np.clip(np.rint(imgops.sobel(a) / (4 * np.sqrt(2))), 0, 255)),
    (["downsample", "--factor", "3", "--method", "max"],
     lambda a: imgops.downsample(a, 3, method="max")),
    (["upsample", "--method", "nearest"], lambda a: imgops.upsample(a, 2, method="nearest")),
])
def test_commands_equal_api(folder, tmp_path, args, fn):
    out = tmp_path / "o"
    r = invoke(*args, folder / "a.png", out)
    assert r.exit_code == 0, r.output
    np.testing.assert_array_equal(load(out / "a.png"), fn(load(folder / "a.png")))


def test_convolve_kernel_files(folder, tmp_path):
    k = np.array([[0.0, 1.0, 0.0], [1.0, 2.0, 1.0], [0.0, 1.0, 0.0]]) / 6
    np.save(tmp_path / "k.npy", k)
    np.savetxt(tmp_path / "k.txt", k)
    for kf, out in [("k.npy", "o1"), ("k.txt", "o2")]:
        r = invoke("convolve", "--kernel", tmp_path / kf, folder, tmp_path / out)
        assert r.exit_code == 0, r.output
        np.testing.assert_array_equal(load(tmp_path / out / "a.png"),
                                      imgops.convolve(load(folder / "a.png"), k))
    (tmp_path / "bad.txt").write_text("1 2\n3\n")
    r = invoke("convolve", "--kernel", tmp_path / "bad.txt", folder, tmp_path / "o3")
    assert r.exit_code == 2


def test_recursive_keeps_relative_paths_and_unicode(tmp_path):
    src = tmp_path / "in"
    save_png(src / "x" / "deep dir" / "été photo.png", rgb(8, 9))
    save_png(src / "top.png", rgb(8, 9))
    out = tmp_path / "out"
    r = invoke("blur", "-r", src, out)
    assert r.exit_code == 0, r.output
    assert (out / "x" / "deep dir" / "été photo.png").is_file()
    assert (out / "top.png").is_file()
    r = invoke("blur", src, tmp_path / "flat")  # not recursive: top level only
    assert (tmp_path / "flat" / "top.png").is_file()
    assert not (tmp_path / "flat" / "x").exists()


def test_glob(tmp_path):
    src = tmp_path / "in"
    save_png(src / "keep_1.png", rgb(5, 5))
    save_png(src / "drop.png", rgb(5, 5))
    r = invoke("blur", "--glob", "keep_*", src, tmp_path / "o")
    assert r.exit_code == 0
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["keep_1.png"]


def test_16bit_png_and_tiff_round_trips(tmp_path):
    src = tmp_path / "in"
    a16 = np.random.default_rng(0).integers(0, 65536, (20, 22, 3), dtype=np.uint16)
    save_png(src / "c16.png", a16)
    save_png(src / "g16.png", a16[..., 0])
    tifffile.imwrite(src / "t16.tif", a16, photometric="rgb")
    tifffile.imwrite(src / "f32.tif", a16[..., 0].astype(np.float32) / 65535)
    import png  # a 16-bit gray PNG with a tRNS key: its transparency becomes alpha
    key = a16[..., 1].copy()
    key[:4] = 7
    with open(src / "k16.png", "wb") as f:
        png.Writer(22, 20, bitdepth=16, greyscale=True, transparent=7).write(f, key.tolist())
    out = tmp_path / "out"
    assert invoke("blur", src, out).exit_code == 0
    k = load(out / "k16.png")
    assert k.shape == (20, 22, 2) and k.dtype == np.uint16
    np.testing.assert_array_equal(k[..., 1], np.where(key == 7, 0, 65535))
    for name, ref in [("c16.png", a16), ("g16.png", a16[..., 0]), ("t16.tif", a16),
                      ("f32.tif", a16[..., 0].astype(np.float32) / 65535)]:
        got = load(out / name)
        assert got.dtype == ref.dtype, name
        np.testing.assert_array_equal(got, imgops.gaussian(ref, 1.0))


def test_alpha_kept_by_filters_and_resampled_by_resampling(tmp_path):
    src = tmp_path / "in"
    rgba = np.dstack([rgb(16, 18), np.linspace(0, 255, 16 * 18).reshape(16, 18).astype(np.uint8)])
    save_png(src / "a.png", rgba)
    la = rgba[..., [0, 3]]
    Image.fromarray(la, mode="LA").save(src / "la.png")
    assert invoke("blur", src, tmp_path / "f").exit_code == 0
    got = load(tmp_path / "f" / "a.png")
    np.testing.assert_array_equal(got[..., 3], rgba[..., 3])
    np.testing.assert_array_equal(got[..., :3], imgops.gaussian(rgba[..., :3], 1.0))
    np.testing.assert_array_equal(load(tmp_path / "f" / "la.png")[..., 1], la[..., 1])
    assert invoke("downsample", src, tmp_path / "d").exit_code == 0
    np.testing.assert_array_equal(load(tmp_path / "d" / "a.png"), imgops.downsample(rgba, 2))


def test_palette_png_becomes_rgb(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(rgb(10, 10)).convert("P").save(src / "p.png")
    assert invoke("blur", src, tmp_path / "o").exit_code == 0
    assert load(tmp_path / "o" / "p.png").shape == (10, 10, 3)


def test_multi_frame_files_refused_not_truncated(tmp_path):
    """Writing the first frame alone would silently lose the rest: a per-file failure
    instead, and the other files go on (a multi-page TIFF is a stack, processed page
    by page)."""
    src, out = tmp_path / "in", tmp_path / "out"
    a, b = rgb(seed=3), rgb(seed=4)
    src.mkdir()
    Image.fromarray(a).save(src / "anim.png", save_all=True, append_images=[Image.fromarray(b)])
    Image.fromarray(a).save(src / "anim.webp", save_all=True,
                            append_images=[Image.fromarray(b)], lossless=True)
    tifffile.imwrite(src / "pages.tif", np.stack([a, b]), photometric="rgb")
    save_png(src / "ok.png", a)
    r = invoke("blur", src, out)
    assert r.exit_code == 1
    assert "processed 2, skipped 0, failed 2" in r.output
    assert r.output.count("2 frames") == 2
    assert sorted(p.name for p in out.iterdir()) == ["ok.png", "pages.tif"]
    got = tifffile.imread(out / "pages.tif")
    np.testing.assert_array_equal(got, np.stack([imgops.gaussian(a, 1.0),
                                                 imgops.gaussian(b, 1.0)]))


def test_tiff_palette_cmyk_and_associated_alpha(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    idx = np.arange(24 * 32, dtype=np.uint8).reshape(24, 32) % 7
    cmap = (np.linspace(0, 65535, 256)[None] * np.array([[1.0], [0.5], [0.25]]))
    tifffile.imwrite(src / "pal.tif", idx, photometric="palette", colormap=cmap.astype(np.uint16))
    cmap8 = np.arange(256)[None].repeat(3, 0).astype(np.uint16) * 257
    tifffile.imwrite(src / "pal8.tif", idx, photometric="palette", colormap=cmap8)
    rgba = np.dstack([rgb(seed=5), np.full((24, 32), 200, np.uint8)])
    tifffile.imwrite(src / "assoc.tif", rgba, photometric="rgb", extrasamples=["assocalpha"])
    tifffile.imwrite(src / "cmyk.tif", rgba, photometric="separated")
    tifffile.imwrite(src / "ycc.tif", rgb(seed=5), photometric="ycbcr", compression="jpeg")
    assert load(src / "pal.tif").dtype == np.uint16  # the 16-bit color map, as RGB
    np.testing.assert_array_equal(load(src / "pal.tif")[..., 0],
                                  cmap.astype(np.uint16)[0][idx])
    np.testing.assert_array_equal(load(src / "pal8.tif"), np.dstack([idx] * 3))
    r = invoke("blur", src, out)
    assert r.exit_code == 1 and "processed 3, skipped 0, failed 2" in r.output
    assert "unsupported TIFF color space SEPARATED" in r.output
    assert "unsupported TIFF color space YCBCR" in r.output  # would read as raw Y, Cb, Cr
    with tifffile.TiffFile(out / "assoc.tif") as tf:
        assert [int(e) for e in tf.pages[0].extrasamples] == [1]  # still associated
    np.testing.assert_array_equal(load(out / "assoc.tif")[..., 3], 200)


def test_cmyk_jpeg_refused(tmp_path):
    """A CMYK JPEG would come out as a naively converted RGB JPEG (with its CMYK
    profile attached): reported as a failure, as CMYK TIFF is."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    cmyk = np.random.default_rng(9).integers(0, 256, (12, 16, 4), dtype=np.uint8)
    Image.fromarray(cmyk, mode="CMYK").save(src / "c.jpg", quality=95)
    save_png(src / "ok.png", rgb())
    r = invoke("blur", src, out)
    assert r.exit_code == 1 and "processed 1, skipped 0, failed 1" in r.output
    assert "unsupported color space CMYK" in r.output
    assert sorted(p.name for p in out.iterdir()) == ["ok.png"]


def test_png_color_key_becomes_alpha(tmp_path):
    """A tRNS color key would be lost by a plain RGB/L write: read as an alpha channel."""
    src = tmp_path / "in"
    src.mkdir()
    a = rgb(10, 12, seed=6)
    a[:3] = 0
    Image.fromarray(a).save(src / "key.png", transparency=(0, 0, 0))
    assert invoke("blur", src, tmp_path / "o").exit_code == 0
    out = load(tmp_path / "o" / "key.png")
    assert out.shape == (10, 12, 4)
    np.testing.assert_array_equal(out[..., 3], np.where((a == 0).all(-1), 0, 255))


def test_resolution_carried_over(tmp_path):
    """Scans carry their dpi: kept by the outputs, TIFF centimetres read as inches."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    a = rgb(seed=8)
    Image.fromarray(a).save(src / "s.png", dpi=(300, 300))
    Image.fromarray(a).save(src / "s.jpg", dpi=(600, 600))
    tifffile.imwrite(src / "s.tif", a, photometric="rgb", resolution=(118.11, 118.11),
                     resolutionunit="CENTIMETER")
    assert invoke("blur", src, out).exit_code == 0
    for name, dpi in [("s.png", 300), ("s.jpg", 600), ("s.tif", 300)]:
        np.testing.assert_allclose(files.read(out / name).meta["dpi"], (dpi, dpi), rtol=1e-3)
    assert invoke("blur", "--format", "png", src / "s.jpg", tmp_path / "o2").exit_code == 0
    np.testing.assert_allclose(files.read(tmp_path / "o2" / "s.png").meta["dpi"], (600, 600),
                               rtol=1e-3)


def test_jpeg_exif_orientation_applied(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    im = Image.fromarray(rgb(10, 30))
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    im.save(src / "r.jpg", exif=exif.tobytes(), quality=95)
    assert invoke("blur", src, tmp_path / "o").exit_code == 0
    out = load(tmp_path / "o" / "r.jpg")
    assert out.shape[:2] == (30, 10)  # upright
    with Image.open(tmp_path / "o" / "r.jpg") as im:
        assert im.getexif().get(0x0112, 1) == 1


def test_icc_profile_carried_over(tmp_path):
    from PIL import ImageCms
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(rgb(8, 8)).save(src / "p.png", icc_profile=icc)
    Image.fromarray(rgb(8, 8)).save(src / "j.jpg", icc_profile=icc)
    assert invoke("blur", src, tmp_path / "o").exit_code == 0
    for n in ["p.png", "j.jpg"]:
        with Image.open(tmp_path / "o" / n) as im:
            assert im.info.get("icc_profile") == icc


def test_icc_and_dpi_carried_over_in_16_bit_png(tmp_path):
    """imagecodecs writes 16-bit PNG without iCCP or pHYs: both are added back."""
    from PIL import ImageCms
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / "in"
    src.mkdir()
    a16 = np.random.default_rng(3).integers(0, 65536, (12, 14, 3), dtype=np.uint16)
    tifffile.imwrite(src / "s.tif", a16, photometric="rgb", iccprofile=icc,
                     resolution=(300, 300), resolutionunit="INCH")
    assert invoke("blur", "--format", "png", src, tmp_path / "o").exit_code == 0
    assert invoke("blur", tmp_path / "o", tmp_path / "o2").exit_code == 0  # PNG -> PNG
    for folder in ("o", "o2"):
        out = tmp_path / folder / "s.png"
        assert imagecodecs.png_decode(out.read_bytes()).dtype == np.uint16
        with Image.open(out) as im:
            assert im.info.get("icc_profile") == icc
            np.testing.assert_allclose(im.info["dpi"], (300, 300), rtol=1e-3)
    np.testing.assert_array_equal(load(tmp_path / "o" / "s.png"), imgops.gaussian(a16, 1.0))


def test_png_colour_chunks_carried_over(tmp_path):
    """A PNG's gamma (gAMA), primaries (cHRM) and sRGB intent come out as they went in,
    8- and 16-bit (they were dropped: a viewer then showed the output lighter or
    darker than the input); sRGB is left out next to an ICC profile, as the format
    asks."""
    import png
    from PIL import ImageCms, PngImagePlugin

    gama = (45455).to_bytes(4, "big")
    chrm = b"".join(v.to_bytes(4, "big") for v in (31270, 32900, 64000, 33000, 30000,
                                                    60000, 15000, 6000))
    src = tmp_path / "in"
    src.mkdir()
    info = PngImagePlugin.PngInfo()
    info.add(b"gAMA", gama)
    info.add(b"cHRM", chrm)
    Image.fromarray(rgb(9, 11)).save(src / "g.png", pnginfo=info)
    info = PngImagePlugin.PngInfo()
    info.add(b"sRGB", b"\x01")
    info.add(b"gAMA", gama)
    Image.fromarray(rgb(9, 11)[..., 0]).save(src / "s.png", pnginfo=info)
    chunks = list(png.Reader(bytes=imagecodecs.png_encode(
        np.full((6, 7, 3), 40000, np.uint16))).chunks())
    with open(src / "d.png", "wb") as f:
        png.write_chunks(f, chunks[:1] + [(b"gAMA", gama), (b"sRGB", b"\x00")] + chunks[1:])
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    info = PngImagePlugin.PngInfo()
    info.add(b"sRGB", b"\x00")
    Image.fromarray(rgb(9, 11)).save(src / "i.png", pnginfo=info)
    with open(src / "i16.png", "wb") as f:  # 16-bit with both an ICC profile and sRGB
        png.write_chunks(f, chunks[:1] + [(b"sRGB", b"\x00"), (b"iCCP", b"p\0\0" +
                                          __import__("zlib").compress(icc))] + chunks[1:])
    assert invoke("blur", src, tmp_path / "o").exit_code == 0

    def colour(path):
        chunks = png.Reader(bytes=path.read_bytes()).chunks()
        return {k: d for k, d in chunks if k in (b"gAMA", b"cHRM", b"sRGB", b"iCCP")}

    assert colour(tmp_path / "o" / "g.png") == {b"gAMA": gama, b"cHRM": chrm}
    assert colour(tmp_path / "o" / "s.png") == {b"gAMA": gama, b"sRGB": b"\x01"}
    assert colour(tmp_path / "o" / "d.png") == {b"gAMA": gama, b"sRGB": b"\x00"}
    assert colour(tmp_path / "o" / "i.png") == {b"sRGB": b"\x00"}
    out = colour(tmp_path / "o" / "i16.png")
    assert set(out) == {b"iCCP"}
    with Image.open(tmp_path / "o" / "i16.png") as im:
        assert im.info.get("icc_profile") == icc


def test_exif_carried_over(tmp_path):
    """Camera make, date and the like survive in JPEG, PNG (8 and 16-bit) and WebP."""
    import png
    exif = Image.Exif()
    exif[0x010F] = "imgops test camera"  # Make
    src = tmp_path / "in"
    src.mkdir()
    for name in ("e.jpg", "e.png", "e.webp"):
        Image.fromarray(rgb(8, 10)).save(src / name, exif=exif.tobytes())
    chunks = list(png.Reader(bytes=imagecodecs.png_encode(
        np.full((6, 7, 3), 40000, np.uint16))).chunks())
    with open(src / "e16.png", "wb") as f:
        png.write_chunks(f, chunks[:1] + [(b"eXIf", exif.tobytes()[6:])] + chunks[1:])
    assert invoke("blur", src, tmp_path / "o").exit_code == 0
    assert invoke("blur", "--format", "png", src / "e.jpg", tmp_path / "o2").exit_code == 0
    for out in [tmp_path / "o" / n for n in ("e.jpg", "e.png", "e.webp", "e16.png")] + [
            tmp_path / "o2" / "e.png"]:
        with Image.open(out) as im:
            assert im.getexif().get(0x010F) == "imgops test camera", out.name
    big = Image.Exif()
    big[0x010E] = "x" * 70000  # ImageDescription: more than a JPEG marker holds
    Image.fromarray(rgb(8, 10)).save(tmp_path / "big.png", exif=big.tobytes())
    r = invoke("blur", "--format", "jpg", tmp_path / "big.png", tmp_path / "o3")
    assert r.exit_code == 0 and (tmp_path / "o3" / "big.jpg").exists()  # pixels kept


def test_format_option(folder, tmp_path):
    r = invoke("blur", "--format", "tiff", folder, tmp_path / "o")
    assert r.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a.tif", "b.tif"]
    np.testing.assert_array_equal(load(tmp_path / "o" / "a.tif"),
                                  imgops.gaussian(load(folder / "a.png"), 1.0))


def test_existing_outputs_refused_then_overwrite_or_skip(folder, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "a.png").write_bytes(b"precious")
    r = invoke("blur", folder, out)
    assert r.exit_code == 2 and "a.png" in r.output
    assert (out / "a.png").read_bytes() == b"precious"
    assert not (out / "b.png").exists()  # nothing touched
    r = invoke("blur", "--skip-existing", folder, out)
    assert r.exit_code == 0 and "skipped 1" in r.output
    assert (out / "a.png").read_bytes() == b"precious"
    r = invoke("blur", "--overwrite", folder, out)
    assert r.exit_code == 0
    assert load(out / "a.png").shape == (24, 32, 3)


def test_output_inside_input_refused(folder):
    for out in [folder, folder / "sub"]:
        r = invoke("blur", folder, out)
        assert r.exit_code == 2 and "inside" in r.output
    assert not (folder / "sub").exists()


def test_input_file_never_overwritten_by_its_output(folder):
    before = (folder / "a.png").read_bytes()
    r = invoke("blur", "--overwrite", folder / "a.png", folder)
    assert r.exit_code == 2 and "own output" in r.output
    assert (folder / "a.png").read_bytes() == before


def test_name_collisions_reported(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    save_png(a / "same.png", rgb(6, 6, 1))
    save_png(b / "same.png", rgb(6, 6, 2))
    r = invoke("blur", a, b, tmp_path / "o")
    assert r.exit_code == 1
    assert "would also be written" in r.output
    np.testing.assert_array_equal(load(tmp_path / "o" / "same.png"),
                                  imgops.gaussian(rgb(6, 6, 1), 1.0))


def test_bad_files_reported_rest_succeeds(tmp_path):
    src = tmp_path / "in"
    save_png(src / "good.png", rgb(8, 8))
    (src / "empty.png").write_bytes(b"")
    good = (src / "good.png").read_bytes()
    (src / "truncated.png").write_bytes(good[: len(good) // 2])
    (src / "text.jpg").write_text("not an image at all")
    Image.new("1", (10000, 9000)).save(src / "bomb.png")  # 90 Mpx of nothing
    tifffile.imwrite(src / "int32.tif", np.zeros((4, 4), np.int32))
    r = invoke("blur", src, tmp_path / "o")
    assert r.exit_code == 1, r.output
    for name in ["empty.png", "truncated.png", "text.jpg", "bomb.png", "int32.tif"]:
        assert name in r.output
    assert "decompression bomb" in r.output
    assert "processed 1, skipped 0, failed 5" in r.output
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["good.png"]


def test_unwritable_output(folder, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = invoke("blur", folder, blocker / "o")  # OUTPUT cannot be created
    assert r.exit_code == 2 and "cannot create OUTPUT" in r.output
    # one output's folder cannot be created: that file fails, the rest succeeds
    src = tmp_path / "tree"
    save_png(src / "sub" / "x.png", rgb(6, 6))
    save_png(src / "y.png", rgb(6, 6))
    out = tmp_path / "o"
    out.mkdir()
    (out / "sub").write_text("a file where a folder should go")
    r = invoke("blur", "-r", src, out)
    assert r.exit_code == 1 and "cannot write" in r.output
    assert (out / "y.png").is_file()
    assert not [p for p in out.rglob("*") if p.name.startswith(files.TMP_PREFIX)]
    if os.geteuid() != 0:  # a read-only folder stops everyone but root
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        r = invoke("blur", folder, ro)
        assert r.exit_code == 1 and "cannot write" in r.output


def test_usage_errors(folder, tmp_path):
    assert invoke("blur", folder).exit_code == 2
    assert invoke("blur", tmp_path / "missing", tmp_path / "o").exit_code == 2
    assert invoke("blur", "--overwrite", "--skip-existing", folder, tmp_path / "o"
                  ).exit_code == 2
    assert invoke("denoise", "--size", "3", folder, tmp_path / "o").exit_code == 2
    assert invoke("blur", "--backend", "cuda", folder, tmp_path / "o").exit_code == \
        (2 if not imgops.backends()["cuda"]["available"] else 0)


def test_edges_raw_and_canny(folder, tmp_path):
    r = invoke("edges", "--raw", folder / "a.png", tmp_path / "raw")
    assert r.exit_code == 0
    raw = load(tmp_path / "raw" / "a.tif")
    assert raw.dtype == np.float32
    np.testing.assert_allclose(raw, imgops.sobel(load(folder / "a.png")), rtol=1e-6)
    r = invoke("edges", "--method", "canny", folder / "b.png", tmp_path / "c")
    out = load(tmp_path / "c" / "b.png")
    assert set(np.unique(out)) <= {0, 255}


def test_warmup(monkeypatch):
    # The compiling children import their targets along this process's sys.path. Put the
    # repository's root first, as pytest's rootdir handling sometimes does: its imgops is
    # the source tree, without the command line (installed from cli/ as imgops.cli).
    # With the targets in imgops.cli, the children died there and warmup waited forever.
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))
    r = invoke("warmup", "--dtype", "float32")
    assert r.exit_code == 0 and "cached" in r.output, r.output


def test_info():
    r = invoke("info")
    assert r.exit_code == 0 and "cpu:" in r.output and "cuda:" in r.output
    r = invoke("info", "--json")
    assert '"threads"' in r.output


def _env():
    # the installed imgops, as users run it (cwd is tmp_path, not the source tree)
    return dict(os.environ, PYTHONUNBUFFERED="1")


def _batch_under_way(args, out, cwd, **popen):
    """Start ``imgops <args>`` in a subprocess and return it once at least two finished
    files are in ``out`` (or it ended, or 300 s passed)."""
    p = subprocess.Popen([sys.executable, "-m", "imgops.cli.main", *map(str, args)],
                         env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         cwd=cwd, **popen)
    deadline = time.time() + 300
    while time.time() < deadline and p.poll() is None:
        if out.exists() and sum(1 for q in out.iterdir() if not q.name.startswith(".")) >= 2:
            break
        time.sleep(0.01)
    return p


def test_subprocess_and_quiet(folder, tmp_path):
    r = subprocess.run([sys.executable, "-m", "imgops.cli.main", "blur", "-q", str(folder),
                        str(tmp_path / "o")], capture_output=True, text=True, env=_env(),
                       timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and r.stderr == ""


def test_sigint_leaves_only_complete_files(tmp_path):
    src = tmp_path / "in"
    n = 100
    for i in range(n):
        save_png(src / f"im{i:03d}.png", rgb(256, 256, i))
    out = tmp_path / "out"
    # a shell's background job (how CI may start us) ignores SIGINT, and so would the child:
    # give it the default disposition, as a terminal's Ctrl-C meets it
    p = _batch_under_way(["denoise", "--workers", "2", src, out], out, tmp_path, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    names = [q.name for q in out.iterdir()]
    assert not [n for n in names if n.startswith(files.TMP_PREFIX)]
    assert 0 < len(names) < n
    for name in names:
        assert load(out / name).shape == (256, 256, 3)


def test_killed_run_leaves_temporaries_that_the_next_run_removes(tmp_path):
    """SIGKILL gives no chance to clean up; the next run into the folder removes the
    temporaries of imgops's naming whose process is gone, and only those."""
    src = tmp_path / "in"
    n = 60
    for i in range(n):
        save_png(src / f"im{i:03d}.png", rgb(128, 128, i))
    out = tmp_path / "out"
    p = _batch_under_way(["blur", "--workers", "2", src, out], out, tmp_path)
    p.kill()
    p.communicate(timeout=60)
    # what a kill in the middle of a write leaves (made here, so that it surely exists)
    dead = out / f"{files.TMP_PREFIX}{files._HOST}-{p.pid}-x1y2.png"
    dead.write_bytes(b"half a png")
    legacy = out / f"{files.TMP_PREFIX}abcd1234.png"  # the naming before host and pid
    legacy.write_bytes(b"older")
    live = out / f"{files.tmp_prefix()}k3.png"  # a live process's (this one's): kept
    live.write_bytes(b"in progress")
    elsewhere = out / f"{files.TMP_PREFIX}0badc0de-77-z.png"  # another host's, fresh
    elsewhere.write_bytes(b"remote")
    old = out / f"{files.TMP_PREFIX}0badc0de-78-z.png"  # another host's, two days old
    old.write_bytes(b"remote, old")
    os.utime(old, (time.time() - 2 * 86400,) * 2)
    mine = out / ".imgops-tmp.png"  # not the pattern: a user's file
    mine.write_bytes(b"user")
    r = invoke("blur", "--skip-existing", src, out)
    assert r.exit_code == 0, r.output
    assert "removed" in r.output and "interrupted run" in r.output
    names = {q.name for q in out.iterdir()}
    assert dead.name not in names and legacy.name not in names and old.name not in names
    assert {live.name, elsewhere.name, mine.name} <= names
    assert len([q for q in names if q.endswith(".png") and not q.startswith(".")]) == n
    for i in range(n):
        assert load(out / f"im{i:03d}.png").shape == (128, 128, 3)


# --------------------------------------------------------------------------- TIFF layouts
def _pages(path, planes):
    with tifffile.TiffWriter(path) as w:  # one write per page: one series per page
        for plane in planes:
            w.write(plane)


def _pyramid(path, plane):
    with tifffile.TiffWriter(path) as w:
        w.write(plane, subifds=1)
        w.write(plane[::2, ::2], subfiletype=1)


_G = np.random.default_rng(7).integers(0, 256, (4, 40, 50), dtype=np.uint8)
_C = np.random.default_rng(8).integers(0, 65536, (3, 40, 50, 3), dtype=np.uint16)
# every layout tifffile writes that is not one plain image, and the reason's words
REFUSED_TIFFS = {
    # what tifffile.imwrite(path, (4, H, W) array) writes today (it warns that later
    # versions will write pages): RGB plus an extra sample, in separate planes
    "zstack_planar_samples": (lambda p: tifffile.imwrite(p, _G, photometric="rgb",
                                                         planarconfig="separate",
                                                         extrasamples=["unassalpha"]),
                              "separate sample planes"),
    "volumetric": (lambda p: tifffile.imwrite(p, _G, volumetric=True, tile=(16, 16),
                                              photometric="minisblack"), "volumetric"),
    "rgba_planar": (lambda p: tifffile.imwrite(p, _C[0].transpose(2, 0, 1)[[0, 1, 2, 0]],
                                               photometric="rgb", planarconfig="separate",
                                               extrasamples=["unassalpha"]),
                    "separate sample planes"),
    "pyramid": (lambda p: _pyramid(p, _G[0]), "levels"),
}


def _two_series_ome(path):
    with tifffile.TiffWriter(path, ome=True) as w:
        w.write(_G[0], metadata={"axes": "YX"})
        w.write(_G[1], metadata={"axes": "YX"})


@pytest.mark.parametrize("layout", sorted(REFUSED_TIFFS))
def test_tiffs_not_understood_are_refused(tmp_path, layout):
    """A TIFF whose planes cannot be told apart (separate sample planes with extra
    samples), volumetric tiles or a pyramid is a per-file failure with its reason:
    nothing cut down to its first page, no planes taken for colour channels; the
    in-memory and the tiled (``--tile-above``) paths alike."""
    write, reason = REFUSED_TIFFS[layout]
    src = tmp_path / "in"
    src.mkdir()
    write(src / "s.tif")
    save_png(src / "ok.png", rgb(seed=5))
    for extra in ([], ["--tile-above", "100"]):
        out = tmp_path / f"out{len(extra)}"
        r = invoke("blur", *extra, src, out)
        assert r.exit_code == 1, r.output
        assert "processed 1, skipped 0, failed 1" in r.output, r.output
        line = next(q for q in r.output.splitlines() if "s.tif" in q)
        assert any(words in line for words in (
            (reason,) if isinstance(reason, str) else reason)), line
        assert sorted(p.name for p in out.iterdir()) == ["ok.png"]


ACCEPTED_TIFFS = {
    "gray_u8": (lambda p: tifffile.imwrite(p, _G[0]), _G[0]),
    "gray_u16": (lambda p: tifffile.imwrite(p, _C[0, ..., 0]), _C[0, ..., 0]),
    "rgb": (lambda p: tifffile.imwrite(p, _C[0], photometric="rgb"), _C[0]),
    "rgb_planar": (lambda p: tifffile.imwrite(p, _C[0].transpose(2, 0, 1), photometric="rgb",
                                              planarconfig="separate"), _C[0]),
    "rgb_tiled": (lambda p: tifffile.imwrite(p, _C[0], photometric="rgb", tile=(16, 16)),
                  _C[0]),
    "imagej_one_plane": (lambda p: tifffile.imwrite(p, _G[0], imagej=True), _G[0]),
    "ome_one_plane": (lambda p: tifffile.imwrite(p, _G[0], ome=True), _G[0]),
}


@pytest.mark.parametrize("layout", sorted(ACCEPTED_TIFFS))
def test_single_image_tiffs_are_processed(tmp_path, layout):
    write, img = ACCEPTED_TIFFS[layout]
    src = tmp_path / "in"
    src.mkdir()
    write(src / "s.tif")
    r = invoke("blur", src, tmp_path / "out")
    assert r.exit_code == 0, r.output
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out" / "s.tif"),
                                  imgops.gaussian(img, 1.0))


# --------------------------------------------------------------- a plain install: no extras
# Importing the optional extras fails in the child, as on a plain `pip install .`
NO_EXTRAS = """\
import importlib.abc, sys
class _NoExtras(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("dask", "distributed", "zarr"):
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, _NoExtras())
"""

# every command of the command line, with arguments, on ordinary files
PLAIN_RUNS = {
    "denoise": [["denoise", "{in}", "{out}/d"],
                ["denoise", "--method", "nl-means", "{in}", "{out}/n"]],
    "blur": [["blur", "--sigma", "1.5", "{in}", "{out}/b"],
             ["blur", "--tile-above", "100", "{in}", "{out}/t", "EXPECT_FAIL"]],
    "edges": [["edges", "{in}", "{out}/e"]],
    "downsample": [["downsample", "{in}", "{out}/s"]],
    "upsample": [["upsample", "{in}", "{out}/u"]],
    "convolve": [["convolve", "--kernel", "{k}", "{in}", "{out}/c"]],
    "info": [["info"], ["info", "--json"]],
    "noise": [["noise", "{in}"], ["noise", "--json", "{in}"]],
    "warmup": [["warmup", "--dtype", "uint8"]],
}


def test_plain_runs_cover_every_command():
    assert set(PLAIN_RUNS) == set(main.commands)


@pytest.mark.parametrize("command", [
    pytest.param(c, marks=pytest.mark.slow) if c == "warmup" else c for c in sorted(PLAIN_RUNS)])
def test_every_command_runs_without_the_optional_extras(tmp_path, command):
    """The README's first command on a plain install printed a ModuleNotFoundError for
    dask after writing its outputs (exit 1). Each command in a child process in which
    dask, distributed and zarr cannot be imported: exit 0 and no traceback; only a large
    TIFF (above --tile-above), which needs Dask, fails, as a per-file failure that
    says so."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(NO_EXTRAS)
    src = tmp_path / "in"
    save_png(src / "a.png", rgb(40, 50, seed=1))
    Image.fromarray(rgb(40, 50, seed=2)).save(src / "b.jpg", quality=95)
    tifffile.imwrite(src / "c.tif", _C[0, ..., 0])
    kernel = tmp_path / "k.txt"
    kernel.write_text("0 1 0\n1 4 1\n0 1 0\n")
    env = dict(_env(), PYTHONPATH=os.pathsep.join(
        [str(hook)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    check = subprocess.run([sys.executable, "-c", "import dask"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)
    assert check.returncode != 0 and "No module named" in check.stderr  # the hook works
    for args in PLAIN_RUNS[command]:
        writes = any("{out}" in a for a in args)
        fail = args[-1] == "EXPECT_FAIL"
        args = [a.format(**{"in": src, "out": tmp_path / "out", "k": kernel})
                for a in args if a != "EXPECT_FAIL"]
        r = subprocess.run([sys.executable, "-m", "imgops.cli.main", *args], env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert "Traceback" not in r.stderr + r.stdout, r.stderr
        if fail:  # c.tif is above --tile-above: it would need Dask
            assert r.returncode == 1, r.stderr
            assert "c.tif" in r.stderr and "imgops[dask]" in r.stderr, r.stderr
            assert "processed 2, skipped 0, failed 1" in r.stdout
        else:
            assert r.returncode == 0, r.stderr
        if writes:
            out = Path(args[-1])
            assert sorted(p.name for p in out.iterdir()) == (
                ["a.png", "b.jpg"] if fail else ["a.png", "b.jpg", "c.tif"])


# --------------------------------------------------------------------------- --log
def test_log_has_one_json_object_per_input(tmp_path):
    """Every input gets one line: processed, failed (unreadable, refused up front) or
    skipped (its output exists), with the output path, its seconds and the reason."""
    import json

    src, out, log = tmp_path / "in", tmp_path / "out", tmp_path / "batch.jsonl"
    save_png(src / "a.png", rgb(seed=1))
    save_png(src / "b.png", rgb(seed=2))
    (src / "bad.png").write_bytes(b"not a png")
    save_png(src / "c.tif.png", rgb(seed=3))
    tifffile.imwrite(src / "planes.tif", _G, photometric="rgb", planarconfig="separate",
                     extrasamples=["unassalpha"])
    save_png(out / "b.png", rgb(seed=9))  # exists: skipped
    r = invoke("blur", "--skip-existing", "--log", log, src, out)
    assert r.exit_code == 1, r.output
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    by_src = {Path(e["source"]).name: e for e in entries}
    assert len(entries) == len(by_src) == 5
    assert {e["command"] for e in entries} == {"blur"}
    assert by_src["a.png"]["status"] == "ok" and by_src["a.png"]["error"] is None
    assert by_src["a.png"]["output"] == str(out / "a.png")
    assert by_src["a.png"]["seconds"] > 0
    assert by_src["b.png"]["status"] == "skipped"
    assert by_src["bad.png"]["status"] == "failed" and by_src["bad.png"]["error"]
    assert by_src["planes.tif"]["status"] == "failed"
    assert "separate sample planes" in by_src["planes.tif"]["error"]
    assert by_src["c.tif.png"]["status"] == "ok"
    r = invoke("blur", "--skip-existing", "--log", log, src, out)  # a resumed run appends
    lines = log.read_text().splitlines()
    assert len(lines) == 10
    assert sum(json.loads(q)["status"] == "skipped" for q in lines[5:]) == 3


def test_log_unwritable_is_a_usage_error(folder, tmp_path):
    r = invoke("blur", "--log", tmp_path / "no" / "such" / "dir" / "log.jsonl", folder,
               tmp_path / "out")
    assert r.exit_code == 2 and "--log" in r.output
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- stacks
def _ij(path, arr, axes, **kw):
    tifffile.imwrite(path, arr, imagej=True, metadata={"axes": axes, "spacing": 2.5,
                                                       "unit": "um", "Labels": ["a"] *
                                                       int(np.prod(arr.shape[:-2]))},
                     resolution=(5.0, 5.0), **kw)


_F = np.random.default_rng(9).random((2, 3, 20, 24)).astype(np.float32)
# every stack layout tifffile writes: (writer, page shape)
STACKS = {
    "pages": (lambda p: _pages(p, _G), (40, 50)),
    "zstack_minisblack": (lambda p: tifffile.imwrite(p, _G, photometric="minisblack"),
                          (40, 50)),
    "zstack_5": (lambda p: tifffile.imwrite(p, np.concatenate([_G, _G[:1]]),
                                            compression="zlib"), (40, 50)),
    "rgb_stack": (lambda p: tifffile.imwrite(p, _C, photometric="rgb", tile=(16, 16)),
                  (40, 50, 3)),
    "leading_singleton": (lambda p: tifffile.imwrite(p, _G[:1]), (40, 50)),
    "gray_two_samples_as_pages": (
        lambda p: tifffile.imwrite(p, _G[:2].transpose(1, 2, 0), photometric="minisblack"),
        (50, 2)),
    "imagej_zyx_u8": (lambda p: _ij(p, _G, "ZYX"), (40, 50)),
    "imagej_tzcyx_u16": (lambda p: _ij(p, np.random.default_rng(3).integers(
        0, 65536, (2, 2, 2, 20, 30), dtype=np.uint16), "TZCYX", compression="zlib"),
        (20, 30)),
    "imagej_rgb": (lambda p: tifffile.imwrite(p, (_C >> 8).astype(np.uint8), imagej=True,
                                              photometric="rgb", metadata={"axes": "ZYXS"}),
                   (40, 50, 3)),
    "ome_zcyx_f32": (lambda p: tifffile.imwrite(
        p, _F, ome=True, tile=(16, 16), compression="lzw",
        metadata={"axes": "ZCYX", "PhysicalSizeX": 0.3, "PhysicalSizeY": 0.4,
                  "Channel": {"Name": ["dapi", "gfp", "rfp"]}}), (20, 24)),
    "ome_two_series": (lambda p: _two_series_ome(p), (40, 50)),
}


def _planes(path):
    with tifffile.TiffFile(path) as tf:
        return [tf.pages[i].asarray() for i in range(len(tf.pages))]


@pytest.mark.parametrize("layout", sorted(STACKS))
def test_stacks_are_processed_plane_by_plane(tmp_path, layout):
    """Every page through the operation on its own, written back as the same file: the
    same series, axes, dtype, compression, tiling, resolution and ImageJ/OME metadata;
    resampling scales the plane size and what states it."""
    write, plane = STACKS[layout]
    src = tmp_path / "in"
    src.mkdir()
    write(src / "s.tif")
    r = invoke("blur", "--tile-above", 100, src, tmp_path / "out")  # a stack is never tiled
    assert r.exit_code == 0, r.output
    r = invoke("downsample", src, tmp_path / "small")
    assert r.exit_code == 0, r.output
    a, b, c = (tifffile.TiffFile(d / "s.tif") for d in (src, tmp_path / "out",
                                                         tmp_path / "small"))
    with a, b, c:
        assert [(s.axes, s.shape, s.dtype) for s in a.series] == \
            [(s.axes, s.shape, s.dtype) for s in b.series]
        assert [s.axes for s in a.series] == [s.axes for s in c.series]
        for sa, sc in zip(a.series, c.series, strict=True):
            half = tuple(-(-n // 2) for n in plane[:2])
            assert sc.shape == sa.shape[:sa.axes.index("Y")] + half + sa.shape[
                sa.axes.index("X") + 1:]
        pa, pb = a.pages[0], b.pages[0]
        assert pa.shape == plane and pb.shape == plane
        assert (pb.compression, pb.is_tiled, pb.photometric) == \
            (pa.compression, pa.is_tiled, pa.photometric)
        assert a.is_imagej == b.is_imagej == c.is_imagej and a.is_ome == b.is_ome
        if a.is_imagej:
            assert a.imagej_metadata == b.imagej_metadata
            assert pa.tags["XResolution"].value == pb.tags["XResolution"].value
            xa, xc = pa.tags["XResolution"].value, c.pages[0].tags["XResolution"].value
            assert xc[0] / xc[1] == pytest.approx(xa[0] / xa[1] / 2)
        if a.is_ome:
            assert a.ome_metadata == b.ome_metadata
            if "PhysicalSizeX" in a.ome_metadata:
                assert 'PhysicalSizeX="0.6' in c.ome_metadata
                assert 'Name="gfp"' in c.ome_metadata
    for got, page in zip(_planes(tmp_path / "out" / "s.tif"), _planes(src / "s.tif"),
                         strict=True):
        np.testing.assert_array_equal(got, imgops.gaussian(page, 1.0))
    for got, page in zip(_planes(tmp_path / "small" / "s.tif"), _planes(src / "s.tif"),
                         strict=True):
        np.testing.assert_array_equal(got, imgops.downsample(page, 2))


def test_stack_options(tmp_path):
    """--format other than TIFF is a per-file failure; --noise-per stack estimates once
    (the median of the planes' estimates) and denoises every plane with it."""
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(4)
    planes = np.clip(np.stack([80 + 40 * np.sin(np.arange(48) / 5)[None, :] +
                               rng.normal(0, s, (40, 48)) for s in (4, 8, 12)]), 0, 255
                     ).astype(np.uint8)
    tifffile.imwrite(src / "z.tif", planes, imagej=True, metadata={"axes": "ZYX"})
    r = invoke("blur", "--format", "png", src, tmp_path / "png")
    assert r.exit_code == 1 and "cannot hold its pages" in r.output
    r = invoke("denoise", "--method", "nl-means", "--noise-per", "stack", src,
               tmp_path / "one")
    assert r.exit_code == 0, r.output
    s = float(np.median([imgops.estimate_noise(p) for p in planes]))
    got = tifffile.imread(tmp_path / "one" / "z.tif")
    for g, p in zip(got, planes, strict=True):
        np.testing.assert_array_equal(g, imgops.denoise(p, "nl_means", sigma=s, h=0.8 * s))
    r = invoke("denoise", "--method", "nl-means", src, tmp_path / "each")
    got = tifffile.imread(tmp_path / "each" / "z.tif")
    for g, p in zip(got, planes, strict=True):
        np.testing.assert_array_equal(g, imgops.denoise(p, "nl_means"))


def test_stack_noise_per_stack_poisson_gaussian(tmp_path):
    """bm3d --noise-per stack on a stack of Poisson-Gaussian planes: one law for the
    stack, the median of the planes' (a, b), each plane through the Anscombe path; plane
    by plane (the default) each plane gets the blind default's own estimate."""
    from noise_synth import poisson_gaussian
    from skimage import data

    src = tmp_path / "in"
    src.mkdir()
    cam = data.camera().astype(np.float64)
    planes = np.stack([poisson_gaussian(cam[y:y + 160, 100:260], 20.0, y)[0]
                       for y in (40, 200, 330)]).astype(np.float32)
    tifffile.imwrite(src / "z.tif", planes, imagej=True, metadata={"axes": "ZYX"})
    models = [imgops.estimate_noise_model(p) for p in planes]
    assert all(m.kind == "poisson_gaussian" for m in models)
    a, b = np.median([[m.a, m.b] for m in models], axis=0)
    law = imgops.NoiseModel("poisson_gaussian", np.ones((8, 8)), a=float(a), b=float(b))
    r = invoke("denoise", "--noise-per", "stack", src, tmp_path / "one")
    assert r.exit_code == 0, r.output
    got = tifffile.imread(tmp_path / "one" / "z.tif")
    for g, p in zip(got, planes, strict=True):
        np.testing.assert_array_equal(g, imgops.bm3d(p, law, profile="fast"))
    r = invoke("denoise", src, tmp_path / "each")
    got = tifffile.imread(tmp_path / "each" / "z.tif")
    for g, p in zip(got, planes, strict=True):
        np.testing.assert_array_equal(g, imgops.denoise(p))


def test_stack_noise_per_stack_camera_noise(tmp_path):
    """bm3d --noise-per stack on RGB planes with camera-like noise: the median of the
    sigmas the blind default takes plane by plane (its pilot's reading), not of the white
    estimates (a review found 3.2 where each plane takes about 19)."""
    from noise_synth import camera_like

    from imgops.denoise import _blind_bm3d

    src = tmp_path / "in"
    src.mkdir()
    planes = np.stack([camera_like(size=192, seed=s)[1] for s in range(3)])
    tifffile.imwrite(src / "z.tif", planes, photometric="rgb")
    sigmas = [_blind_bm3d(p) for p in planes]
    assert min(sigmas) > 3 * max(imgops.estimate_noise(p) for p in planes)
    r = invoke("denoise", "--noise-per", "stack", src, tmp_path / "one")
    assert r.exit_code == 0, r.output
    got = tifffile.imread(tmp_path / "one" / "z.tif")
    s = float(np.median(sigmas))
    for g, p in zip(got, planes, strict=True):
        np.testing.assert_array_equal(g, imgops.bm3d(p, s, profile="fast"))
    r = invoke("denoise", "--noise-per", "stack", "--strength", "2", src, tmp_path / "two")
    assert r.exit_code == 0, r.output
    got = tifffile.imread(tmp_path / "two" / "z.tif")
    for g, p in zip(got, planes, strict=True):
        np.testing.assert_array_equal(g, imgops.bm3d(p, 2 * s, profile="fast"))


def test_noise_per_stack_and_noise_command_with_strong_colour_noise(tmp_path):
    """Planes whose blind default denoises under their correlated model (strong colour
    noise, independent between channels, that the pilot leaves nowhere flat): --noise-per
    stack denoises every plane under the model of the plane with the median luminance
    level (before: a Poisson-Gaussian law was assumed, and a model without one broke the
    stack's median); `imgops noise` says which model the default takes."""
    import json

    from noise_synth import correlated, gaussian_kernel
    from skimage import data

    from imgops._noise import luminance_level
    from imgops.denoise import _blind_bm3d

    src = tmp_path / "in"
    src.mkdir()
    clean = data.astronaut()[100:228, 100:228].astype(np.float64)
    planes = np.stack([np.clip(np.rint(correlated(clean, sigma, gaussian_kernel(1.0), s)),
                               0, 255).astype(np.uint8)
                       for s, sigma in enumerate((22.0, 25.0, 28.0))])
    tifffile.imwrite(src / "z.tif", planes, photometric="rgb")
    models = [_blind_bm3d(p) for p in planes]
    assert all(not isinstance(m, float) and m.kind == "correlated" for m in models)
    one = sorted(models, key=luminance_level)[1]
    assert one is models[1]  # the middle sigma
    r = invoke("denoise", "--noise-per", "stack", src, tmp_path / "one")
    assert r.exit_code == 0, r.output
    got = tifffile.imread(tmp_path / "one" / "z.tif")
    for g, p in zip(got, planes, strict=True):
        np.testing.assert_array_equal(g, imgops.bm3d(p, one, profile="fast"))
    save_png(tmp_path / "png" / "c.png", planes[0])
    entry = json.loads(invoke("noise", "--json", tmp_path / "png").output.strip())
    assert entry["default_model"] == "correlated" and entry["default_sigma"] is None
    assert "runs BM3D under the correlated model" in invoke("noise", tmp_path / "png").output
    assert invoke("denoise", tmp_path / "png", tmp_path / "out").exit_code == 0
    np.testing.assert_array_equal(load(tmp_path / "out" / "c.png"), imgops.denoise(planes[0]))


# --------------------------------------------------------------------------- speed paths
@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_jpeg_fast_decode_equals_pillow(tmp_path, mode):
    """JPEGs decode through libjpeg-turbo into an array (simplejpeg): the same pixels,
    EXIF (orientation removed) and metadata as Pillow with ImageOps.exif_transpose, for
    all eight orientations."""
    from PIL import ImageOps

    a = rgb(37, 53, seed=6)
    for o in range(1, 9):
        exif = Image.Exif()
        exif[0x0112], exif[0x010F] = o, "camera"
        p = tmp_path / f"o{o}.jpg"
        Image.fromarray(a if mode == "RGB" else a[..., 0]).save(
            p, quality=90, exif=exif.tobytes(), dpi=(300, 300), icc_profile=b"icc" * 40)
        got = files.read(p)
        with Image.open(p) as im:
            icc = im.info.get("icc_profile")
            im = ImageOps.exif_transpose(im)
            want_exif = im.getexif().tobytes() if im.getexif() else None
            want = np.asarray(im)
        np.testing.assert_array_equal(got.pixels, want)
        assert got.exif == want_exif and got.icc == icc
        assert got.meta == {"dpi": (300.0, 300.0)}


def test_worker_processes_write_the_same_files(tmp_path):
    """One process per core gives byte-identical outputs to the single-process pipeline
    (PNG 8/16-bit, JPEG, TIFF, alpha), and failures are reported the same way."""
    src = tmp_path / "in"
    for i in range(3):
        save_png(src / f"a{i}.png", rgb(60, 70, seed=i))
        Image.fromarray(rgb(60, 70, seed=10 + i)).save(src / f"j{i}.jpg", quality=90)
    save_png(src / "d16.png", np.random.default_rng(1).integers(0, 65536, (30, 40, 3),
                                                                 dtype=np.uint16))
    save_png(src / "alpha.png", np.dstack([rgb(30, 40, seed=5), rgb(30, 40, seed=6)[..., :1]]))
    tifffile.imwrite(src / "t.tif", rgb(30, 40, seed=7), photometric="rgb")
    (src / "bad.png").write_bytes(b"nope")
    runs = {}
    for n in ("1", "2"):
        r = subprocess.run([sys.executable, "-m", "imgops.cli.main", "blur", "--sigma", "1.5",
                            "--processes", n, str(src), str(tmp_path / f"p{n}")],
                           capture_output=True, text=True, env=_env(), timeout=600,
                           cwd=tmp_path)
        assert r.returncode == 1, r.stderr
        assert "bad.png" in r.stderr and "processed 9, skipped 0, failed 1" in r.stdout
        runs[n] = {q.name: q.read_bytes() for q in (tmp_path / f"p{n}").iterdir()}
    assert runs["1"] == runs["2"] and len(runs["1"]) == 9


FORK_CHECK = """
import sys, threading
from imgops.cli import batch, main
fresh = batch.can_fork()
hold = threading.Event()
t = threading.Thread(target=hold.wait)
t.start()
busy = batch.can_fork()
hold.set()
t.join()
print(fresh, busy)
"""


def test_worker_processes_are_forked_only_from_a_single_threaded_process(tmp_path):
    """A fresh command-line process forks its workers; with another thread running
    (a test session, an embedding program) it keeps one process: a lock that thread
    held at the fork would stay locked in the child, which would hang."""
    r = subprocess.run([sys.executable, "-c", FORK_CHECK], capture_output=True, text=True,
                       env=_env(), timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    expected = "True False" if sys.platform.startswith("linux") else "False False"
    assert r.stdout.split() == expected.split()


def test_noise_command_and_denoise_with_a_level_law(tmp_path):
    """Noise whose sigma grows with intensity (2 -> 30): the blind default denoises under
    the estimated white model with its law; `imgops noise` names it (it raised KeyError
    on a white model before), and `imgops denoise` writes imgops.denoise's result."""
    import json

    from noise_synth import level_law
    from skimage import data

    clean = data.camera()[128:384, 128:384].astype(np.float64)
    z, _ = level_law(clean, 2.0, 30.0, 5)
    img = np.clip(np.rint(z), 0, 255).astype(np.uint8)
    save_png(tmp_path / "in" / "law.png", img)
    r = invoke("noise", "--json", tmp_path / "in")
    assert r.exit_code == 0, r.output
    entry = json.loads(r.output.strip())
    assert entry["default_model"] == "white" and entry["default_sigma"] is None
    r = invoke("noise", tmp_path / "in")
    assert "runs BM3D under the white, intensity-dependent model" in r.output, r.output
    assert invoke("denoise", tmp_path / "in", tmp_path / "out").exit_code == 0
    np.testing.assert_array_equal(load(tmp_path / "out" / "law.png"), imgops.denoise(img))


def test_noise_command(tmp_path):
    """`imgops noise` prints each file's model: white noise of sigma 10 on a smooth
    image reads as white, about 10; --json gives one object per file, with the sigma
    that `imgops denoise` takes by default; an unreadable file is reported and the
    exit status is 1."""
    import json

    from imgops.denoise import _blind_bm3d, _camera_level

    rng = np.random.default_rng(3)
    ramp = np.linspace(60, 190, 96)[None, :, None] * np.ones((80, 1, 3))
    save_png(tmp_path / "in" / "n.png", np.clip(np.rint(ramp + rng.normal(0, 10, ramp.shape)),
                                                 0, 255).astype(np.uint8))
    r = invoke("noise", "--json", tmp_path / "in")
    assert r.exit_code == 0, r.output
    entry = json.loads(r.output.strip())
    assert entry["kind"] == "white" and len(entry["sigma"]) == 3
    assert all(8.5 < s < 11.5 for s in entry["sigma"]), entry
    assert entry["default_sigma"] == pytest.approx(entry["white_sigma"], abs=1e-3)
    assert entry["default_model"] is None
    r = invoke("noise", tmp_path / "in" / "n.png")
    assert r.exit_code == 0 and "white, sigma per channel" in r.output
    # camera-like noise (low-pass): the default's sigma is the pilot's reading, which
    # `imgops denoise` uses, several times the white estimate
    from noise_synth import camera_like

    _, z = camera_like(size=192)
    save_png(tmp_path / "cam" / "c.png", z)
    entry = json.loads(invoke("noise", "--json", tmp_path / "cam").output.strip())
    assert entry["default_sigma"] > 3 * entry["white_sigma"], entry
    assert invoke("denoise", tmp_path / "cam", tmp_path / "out").exit_code == 0
    np.testing.assert_array_equal(
        load(tmp_path / "out" / "c.png"),
        imgops.bm3d(z, _camera_level(z, "cpu"), profile="fast"))
    # a constant image: nothing to remove, and the output says so (before: "sigma 0")
    save_png(tmp_path / "flat" / "f.png", np.full((50, 50, 3), 77, np.uint8))
    entry = json.loads(invoke("noise", "--json", tmp_path / "flat").output.strip())
    assert entry["default_sigma"] == 0
    assert "leaves it unchanged" in invoke("noise", tmp_path / "flat").output
    # a float image with a NaN: the sigma the default takes (from the windows that
    # avoid it), not NaN, which is not JSON
    x = np.random.default_rng(0).normal(0.5, 0.05, (64, 64, 3)).astype(np.float32)
    x[10, 10, 1] = np.nan
    (tmp_path / "nan").mkdir()
    tifffile.imwrite(tmp_path / "nan" / "x.tif", x, photometric="rgb")
    entry = json.loads(invoke("noise", "--json", tmp_path / "nan").output.strip(),
                       parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert entry["default_sigma"] == pytest.approx(_blind_bm3d(x), abs=1e-6)
    assert 0.03 < entry["default_sigma"] < 0.07 and entry["white_sigma"] is None
    (tmp_path / "in" / "bad.png").write_bytes(b"no")
    r = invoke("noise", tmp_path / "in")
    assert r.exit_code == 1 and "bad.png" in r.output and "n.png: white" in r.output


def test_denoise_noise_model_option(tmp_path):
    """--noise-model denoises under the model estimated from each image: the same result
    as imgops.bm3d(image, imgops.estimate_noise_model(image, kind), profile="fast");
    with --noise it is a usage error."""
    from scipy import ndimage

    rng = np.random.default_rng(5)
    clean = np.linspace(40, 200, 64)[None, :, None] * np.ones((48, 1, 3))
    noise = ndimage.gaussian_filter(rng.normal(0, 1, clean.shape), (1, 1, 0))
    img = np.clip(np.rint(clean + 12 * noise / noise.std()), 0, 255).astype(np.uint8)
    save_png(tmp_path / "in" / "c.png", img)
    r = invoke("denoise", "--noise-model", "correlated", tmp_path / "in", tmp_path / "out")
    assert r.exit_code == 0, r.output
    model = imgops.estimate_noise_model(img, "correlated")
    want = imgops.bm3d(img, model, profile="fast")
    np.testing.assert_array_equal(load(tmp_path / "out" / "c.png"), want)
    r = invoke("denoise", "--noise-model", "correlated", "--strength", "1.5", tmp_path / "in",
               tmp_path / "out15")
    assert r.exit_code == 0, r.output
    louder = dataclasses.replace(model, cov=2.25 * model.cov)  # its levels and gain kept
    want = imgops.bm3d(img, louder, profile="fast")
    np.testing.assert_array_equal(load(tmp_path / "out15" / "c.png"), want)
    r = invoke("denoise", "--noise-model", "auto", "--noise", 5, tmp_path / "in",
               tmp_path / "o2")
    assert r.exit_code == 2 and "exclude" in r.output
    r = invoke("denoise", "--method", "nl-means", "--noise-model", "auto", tmp_path / "in",
               tmp_path / "o3")
    assert r.exit_code == 2


HEAP_CHECK = """
import ctypes, sys
import numpy as np
from imgops.cli import batch

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

if sys.argv[1] == "keep":
    batch._keep_heap(ctypes.CDLL(None))
a = np.ones(2**26 // 8)  # 64 MiB: above glibc's largest mmap threshold (32 MiB)
before = rss()
del a
print(before - rss() > 2**25)  # freed memory went back to the system
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_worker_heap_keeps_a_files_memory_for_the_next(tmp_path):
    """A worker's freed image arrays stay in its heap for the next file instead of
    being unmapped and page-faulted in again; a process that did not ask keeps glibc's
    default (a large array's memory goes back to the system when freed)."""
    got = []
    for arg in ("default", "keep"):
        r = subprocess.run([sys.executable, "-c", HEAP_CHECK, arg], capture_output=True,
                           text=True, env=_env(), timeout=300, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        got.append(r.stdout.strip())
    assert got == ["True", "False"]
