"""File layouts a new user's folders hold, each once written back wrong with exit 0 (or
refused with an internal error): low-bit PNG color keys, lossless WebP under alpha 0,
4- and 12-bit TIFF samples, unspecified TIFF extra samples, RGB OME stacks, the
resolution of resampled images, single-plane ImageJ and OME calibration, stack
descriptions, floats that do not fit an integer format."""

import json
import warnings

import numpy as np
import png
import pytest
import tifffile
from click.testing import CliRunner
from PIL import Image

import imgops
from imgops.cli.main import main


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def gray_ramp(levels: int) -> np.ndarray:
    return (np.arange(64).reshape(8, 8) % levels).astype(np.uint8)


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_low_bit_gray_png_color_key_becomes_alpha(tmp_path, depth):
    """A 1-, 2- or 4-bit gray PNG's tRNS key: its pixels transparent in the output (it
    was dropped: Pillow scales the pixels to 0-255 but not a 2- or 4-bit key)."""
    src = tmp_path / "in"
    src.mkdir()
    top = 2 ** depth - 1
    v = gray_ramp(top + 1)
    with open(src / "g.png", "wb") as f:
        png.Writer(8, 8, greyscale=True, bitdepth=depth, transparent=top).write(
            f, v.tolist())
    r = invoke("blur", "--sigma", "1.5", src, tmp_path / "out")
    assert r.exit_code == 0, r.output
    out = pixels(tmp_path / "out" / "g.png")
    assert out.shape == (8, 8, 2)
    np.testing.assert_array_equal(out[..., 1], np.where(v == top, 0, 255))
    gray = (v.astype(np.int32) * 255 // top).astype(np.uint8)
    np.testing.assert_array_equal(out[..., 0], imgops.gaussian(gray, 1.5))


def test_lossless_webp_keeps_the_color_under_transparent_pixels(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    a = np.random.default_rng(0).integers(0, 256, (16, 16, 4), dtype=np.uint8)
    a[:8, :, 3] = 0
    Image.fromarray(a).save(src / "t.webp", lossless=True, exact=True)
    r = invoke("blur", "--sigma", "0", src, tmp_path / "out")
    assert r.exit_code == 0, r.output
    np.testing.assert_array_equal(pixels(tmp_path / "out" / "t.webp"), a)


@pytest.mark.parametrize("bits, dtype, pages", [(4, np.uint8, 1), (12, np.uint16, 1),
                                                 (4, np.uint8, 2)])
def test_tiff_samples_of_other_bit_depths_are_refused(tmp_path, bits, dtype, pages):
    """4- and 12-bit samples decode to uint8 / uint16 and were written back at that
    depth with the same values (a 4-bit white of 15 became a near-black 8-bit 15)."""
    src = tmp_path / "in"
    src.mkdir()
    g = (np.arange(256).reshape(16, 16) % 2 ** bits).astype(dtype)
    data = g if pages == 1 else np.stack([g] * pages)
    tifffile.imwrite(src / "g.tif", data, bitspersample=bits, photometric="minisblack")
    r = CliRunner().invoke(main, ["blur", str(src), str(tmp_path / "out")])
    assert r.exit_code == 1
    assert f"unsupported {bits}-bit TIFF samples" in r.output
    assert not (tmp_path / "out" / "g.tif").exists()


def test_tiff_with_an_unspecified_extra_sample_is_refused(tmp_path):
    """It was taken for alpha, left unfiltered and relabelled as unassociated alpha."""
    src = tmp_path / "in"
    src.mkdir()
    tifffile.imwrite(src / "x.tif", np.zeros((8, 8, 4), np.uint8), photometric="rgb",
                     extrasamples=["unspecified"])
    r = CliRunner().invoke(main, ["blur", str(src), str(tmp_path / "out")])
    assert r.exit_code == 1 and "unspecified extra sample" in r.output


def test_rgb_ome_stack_is_processed_plane_by_plane(tmp_path):
    """It was refused: 'TiffFrame' object has no attribute 'planarconfig'."""
    src = tmp_path / "in"
    src.mkdir()
    z = np.random.default_rng(1).integers(0, 256, (2, 16, 20, 3), dtype=np.uint8)
    tifffile.imwrite(src / "s.ome.tif", z, ome=True, photometric="rgb",
                     metadata={"axes": "ZYXS"})
    r = invoke("blur", "--sigma", "1.5", src, tmp_path / "out")
    assert r.exit_code == 0, r.output
    got = tifffile.imread(tmp_path / "out" / "s.ome.tif")
    np.testing.assert_array_equal(got, np.stack([imgops.gaussian(p, 1.5) for p in z]))


def test_resampling_scales_the_resolution_of_single_images(tmp_path):
    """A 2x downsample keeps the physical size: 300 dpi becomes 150 (a stack's did;
    single images kept 300, halving their printed size)."""
    src = tmp_path / "in"
    src.mkdir()
    g = np.zeros((64, 48), np.uint8)
    tifffile.imwrite(src / "t.tif", g, resolution=(300, 200), resolutionunit="INCH",
                     photometric="minisblack")
    Image.fromarray(g).save(src / "p.png", dpi=(300, 200))
    Image.fromarray(g).save(src / "j.jpg", dpi=(300, 200))
    r = invoke("downsample", "--factor", "2", src, tmp_path / "out")
    assert r.exit_code == 0, r.output
    with tifffile.TiffFile(tmp_path / "out" / "t.tif") as tf:
        tags = tf.pages[0].tags
        assert tags["XResolution"].value == (150, 1)
        assert tags["YResolution"].value == (100, 1)
    for name in ("p.png", "j.jpg"):
        with Image.open(tmp_path / "out" / name) as im:
            x, y = im.info["dpi"]
        assert abs(x - 150) < 0.1 and abs(y - 100) < 0.1, name


def test_single_plane_imagej_and_ome_keep_their_calibration(tmp_path):
    """They went through the single-image path, which writes no description and
    dropped the ImageJ unit and the OME physical size; as PNG they still convert."""
    src = tmp_path / "in"
    src.mkdir()
    g = np.random.default_rng(2).integers(0, 256, (32, 32), dtype=np.uint8)
    tifffile.imwrite(src / "ij.tif", g, imagej=True, resolution=(2.0, 2.0),
                     metadata={"unit": "um"})
    tifffile.imwrite(src / "o.ome.tif", g, ome=True,
                     metadata={"axes": "YX", "PhysicalSizeX": 0.25, "PhysicalSizeY": 0.25})
    r = invoke("blur", "--sigma", "1", src, tmp_path / "out")
    assert r.exit_code == 0, r.output
    with tifffile.TiffFile(tmp_path / "out" / "ij.tif") as tf:
        assert tf.imagej_metadata["unit"] == "um"
        assert tf.pages[0].tags["XResolution"].value == (2, 1)
        np.testing.assert_array_equal(tf.asarray(), imgops.gaussian(g, 1.0))
    with tifffile.TiffFile(tmp_path / "out" / "o.ome.tif") as tf:
        assert 'PhysicalSizeX="0.25"' in tf.ome_metadata
    r = invoke("blur", "--sigma", "1", "--format", "png", src, tmp_path / "png")
    assert r.exit_code == 0, r.output
    np.testing.assert_array_equal(pixels(tmp_path / "png" / "ij.png"),
                                  imgops.gaussian(g, 1.0))


@pytest.mark.parametrize("layout", ["planar", "palette"])
def test_stack_description_states_the_written_shape(tmp_path, layout):
    """tifffile's JSON shape was the samples-last array (planar pages are (3, H, W)) or
    the palette's (pages now RGB): every later read warned of a mismatch."""
    src = tmp_path / "in"
    src.mkdir()
    if layout == "planar":
        tifffile.imwrite(src / "s.tif", np.zeros((2, 3, 32, 32), np.uint8),
                         photometric="rgb", planarconfig="separate")
        args = ["downsample", "--factor", "2"]
    else:
        cmap = np.tile(np.arange(256, dtype=np.uint16) * 257, (3, 1))
        tifffile.imwrite(src / "s.tif", np.zeros((2, 32, 32), np.uint8),
                         photometric="palette", colormap=cmap)
        args = ["blur"]
    r = invoke(*args, src, tmp_path / "out")
    assert r.exit_code == 0, r.output
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tifffile warns (logs) of a mismatched shape
        with tifffile.TiffFile(tmp_path / "out" / "s.tif") as tf:
            stated = json.loads(tf.pages[0].description)["shape"]
            assert tuple(stated) == tf.series[0].shape


def test_floats_outside_0_1_or_nan_are_not_squeezed_into_integer_formats(tmp_path):
    """A float TIFF of 0-1000 came out almost all white as PNG (clipped to [0, 1]), and
    NaN leaked a RuntimeWarning; an overshoot (a denoiser's, up to 0.25) is still
    clipped and written."""
    src = tmp_path / "in"
    src.mkdir()
    tifffile.imwrite(src / "big.tif", np.linspace(0, 1000, 1024, dtype=np.float32
                                                  ).reshape(32, 32))
    n = np.full((32, 32), 0.5, np.float32)
    n[0, 0] = np.nan
    tifffile.imwrite(src / "nan.tif", n)
    ok = np.linspace(-0.2, 1.2, 1024, dtype=np.float32).reshape(32, 32)
    tifffile.imwrite(src / "ok.tif", ok)
    r = CliRunner().invoke(main, ["blur", "--sigma", "0", "--format", "png", str(src),
                                  str(tmp_path / "out")])
    assert r.exit_code == 1
    assert "big.tif" in r.output and "from 0 to 1000" in r.output
    assert "nan.tif" in r.output and "NaN" in r.output
    assert "RuntimeWarning" not in r.output
    out = pixels(tmp_path / "out" / "ok.png")
    np.testing.assert_array_equal(out, np.rint(np.clip(ok, 0, 1) * 65535).astype(np.uint16))
    assert not (tmp_path / "out" / "big.png").exists()


def test_palette_tiff_written_by_pillow_reads_as_8_bit(tmp_path):
    """Pillow stores an 8-bit palette as value x 256: it came out as 16-bit RGB whose
    white was 65280."""
    src = tmp_path / "in"
    src.mkdir()
    idx = np.random.default_rng(3).integers(0, 4, (16, 16), dtype=np.uint8)
    im = Image.fromarray(idx, mode="P")
    pal = [0, 0, 0, 255, 255, 255, 200, 10, 10, 10, 200, 10]
    im.putpalette(pal + [0] * (768 - len(pal)))
    im.save(src / "p.tif")
    r = invoke("blur", "--sigma", "0", src, tmp_path / "out")
    assert r.exit_code == 0, r.output
    got = tifffile.imread(tmp_path / "out" / "p.tif")
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, np.asarray(pal, np.uint8).reshape(-1, 3)[idx])


def test_tiff_resolution_without_a_unit_is_kept_and_scaled(tmp_path):
    """ResolutionUnit NONE (a pixel aspect, or a calibration kept elsewhere) was
    dropped by single images; now written back, and scaled by resampling."""
    src = tmp_path / "in"
    src.mkdir()
    tifffile.imwrite(src / "n.tif", np.zeros((32, 32), np.uint8), resolution=(4, 2),
                     resolutionunit="NONE", photometric="minisblack")
    for args, want in ((["blur"], ((4, 1), (2, 1))),
                       (["downsample", "--factor", "2"], ((2, 1), (1, 1)))):
        out = tmp_path / args[0]
        r = invoke(*args, src, out)
        assert r.exit_code == 0, r.output
        with tifffile.TiffFile(out / "n.tif") as tf:
            tags = tf.pages[0].tags
            assert int(tags["ResolutionUnit"].value) == 1
            assert (tags["XResolution"].value, tags["YResolution"].value) == want


def test_single_tiff_keeps_its_compression(tmp_path):
    """A one-page TIFF's result is compressed as its input was (it was always written
    with Deflate: an uncompressed microscope TIFF came back compressed, an LZW one as
    Deflate), the predictor kept where the samples' type is; lossy codecs (JPEG) and
    TIFFs from other formats become Deflate. The same for the tiled path of large
    images."""
    rng = np.random.default_rng(4)
    gray16 = rng.integers(0, 65536, (40, 50), dtype=np.uint16)
    rgb8 = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    cases = {"none.tif": (gray16, {}), "lzw.tif": (gray16, {"compression": "lzw",
                                                           "predictor": 2}),
             "pack.tif": (rgb8, {"compression": "packbits"}),
             "zstd.tif": (rgb8, {"compression": "zstd"}),
             "deflate.tif": (gray16, {"compression": "zlib", "predictor": 2}),
             "jpeg.tif": (rgb8[..., 0], {"compression": "jpeg"})}
    src = tmp_path / "in"
    src.mkdir()
    for name, (a, kw) in cases.items():
        tifffile.imwrite(src / name, a, photometric="rgb" if a.ndim == 3 else None, **kw)
    Image.fromarray(rgb8).save(src / "from_png.png")
    # in memory, and tiled (each image is above 1000 pixels)
    for i, opts in enumerate(([], ["--tile-above", "1000"])):
        out = tmp_path / f"out{i}"
        r = invoke("blur", *opts, src, out)
        assert r.exit_code == 0, r.output
        for name in cases:
            with tifffile.TiffFile(src / name) as tin, tifffile.TiffFile(out / name) as tout:
                pin, pout = tin.pages[0], tout.pages[0]
                want = (8, 1) if name == "jpeg.tif" else (pin.compression, pin.predictor)
                assert (pout.compression, pout.predictor) == want, name
                got = pout.asarray()
            with tifffile.TiffFile(src / name) as tin:
                want = imgops.gaussian(tin.pages[0].asarray(), 1.0)
            np.testing.assert_array_equal(got, want, err_msg=name)
    r = invoke("blur", "--format", "tiff", src / "from_png.png", tmp_path / "conv")
    assert r.exit_code == 0, r.output
    with tifffile.TiffFile(tmp_path / "conv" / "from_png.tif") as tf:
        assert tf.pages[0].compression == 8  # Deflate (ADOBE_DEFLATE)
