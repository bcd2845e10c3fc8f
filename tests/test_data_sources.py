"""Dataset files: the real formats, verified downloads from a loopback server, clear refusals."""

import dataclasses
import gzip
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA, closed_port_url

from zoo import atomic, datasets
from zoo.datasets import DataFormatError, DatasetError, catalog, formats, sources

DATA = Path(SHARED_DATA)
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="needs ../shared/data")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)


@needs_data
def test_real_files_in_their_original_formats():
    mnist = datasets.load("mnist", "test", data_dir=DATA)
    assert mnist.inputs.shape == (10000, 28, 28, 1) and mnist.inputs.dtype == np.float32
    assert 0 <= mnist.inputs.min() and mnist.inputs.max() == 1.0
    assert sorted(set(mnist.targets.tolist())) == list(range(10))
    assert ("mnist/t10k-images-idx3-ubyte.gz",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6") in mnist.files
    assert datasets.load("fashion-mnist", "test", data_dir=DATA).label_names[0] == "T-shirt/top"
    sst2 = datasets.load("sst2", "dev", data_dir=DATA)
    assert len(sst2) == 872 and set(sst2.targets.tolist()) == {0, 1}
    trec = datasets.load("trec-6", "train", data_dir=DATA)
    assert len(trec) == 5452 and "ð" in trec.inputs[65]  # line 66 holds ISO-8859-1 byte 0xF0
    assert len(datasets.load("trec-6", "test", data_dir=DATA)) == 500
    m30k = datasets.load("multi30k-en-de", "test", data_dir=DATA)
    assert len(m30k.inputs) == len(m30k.targets) == 1000


@needs_data
def test_spa_eng_split_is_the_published_one():
    for split, size in formats.SPA_ENG_SIZES.items():
        examples = datasets.load("spa-eng", split, data_dir=DATA)
        assert len(examples) == size
    sources_, targets = formats.read_parallel_tsv(DATA / "spa-eng" / "test.tsv.gz")
    assert (examples.inputs, examples.targets) == (sources_, targets)


def test_embedded_data_needs_no_files_and_no_network():
    train, test = datasets.load("digits", "train"), datasets.load("digits", "test")
    assert (len(train), len(test)) == (1437, 360)
    share = np.bincount(test.targets) / len(test)
    assert np.all(np.abs(share - 0.1) < 0.02)  # stratified
    assert np.array_equal(test.inputs, datasets.load("digits", "test").inputs)
    assert len(datasets.load("tatoeba-en-es-sample", "train")) == 4000
    assert datasets.load("tatoeba-langid-sample", "test").label_names == ("en", "es")


@needs_data
def test_download_is_verified_cached_and_atomic(server):
    root, url, hits = server
    shutil.copy(DATA / "trec" / "TREC_10.label", root / "TREC_10.label")
    file = sources.RemoteFile("trec/TREC_10.label", url + "TREC_10.label",
                              catalog.TREC_FILES["test"].sha256)
    first = sources.fetch(file, progress=False)
    assert first == sources.cache_dir() / "trec" / "TREC_10.label"
    assert sources.sha256_of(first) == file.sha256
    assert sources.fetch(file, progress=False) == first and hits == {"/TREC_10.label": 1}


def test_wrong_bytes_leave_nothing_behind(server):
    root, url, _ = server
    (root / "f.bin").write_bytes(b"not the published file")
    file = sources.RemoteFile("x/f.bin", url + "f.bin", "0" * 64)
    with pytest.raises(DatasetError, match="sha256") as error:
        sources.fetch(file, progress=False)
    assert "Offline?" in str(error.value) or "Put f.bin" in str(error.value)
    folder = sources.cache_dir() / "x"
    assert not (folder / "f.bin").exists() and atomic.leftovers(folder) == []


@pytest.mark.parametrize("where", ["missing", "closed port"])
def test_unreachable_file_says_what_to_put_where(server, where):
    _, url, _ = server
    if where == "closed port":
        url = closed_port_url()
    file = sources.RemoteFile("mnist/t10k-labels-idx1-ubyte.gz", url + "nothing.gz", "a" * 64)
    with pytest.raises(DatasetError) as error:
        sources.fetch(file, progress=False)
    message = str(error.value)
    assert "Offline?" in message and "t10k-labels-idx1-ubyte.gz" in message
    assert str(sources.cache_dir() / "mnist" / "t10k-labels-idx1-ubyte.gz") in message
    assert "ZOO_DATA_DIR" in message


@needs_data
def test_zip_member_download_and_named_dataset_over_http(server, monkeypatch):
    root, url, _ = server
    with zipfile.ZipFile(root / "SST-2.zip", "w") as zf:
        zf.write(DATA / "sst2" / "dev.tsv", "SST-2/dev.tsv")
    monkeypatch.setitem(catalog.SST2_FILES, "dev",
                        dataclasses.replace(catalog.SST2_FILES["dev"], url=url + "SST-2.zip"))
    assert len(datasets.load("sst2", "dev", progress=False)) == 872
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(DATA / "mnist" / name, root / name)
    monkeypatch.setattr(catalog, "_IDX_URLS", {**catalog._IDX_URLS, "mnist": url})
    assert len(datasets.load("mnist", "test", progress=False)) == 10000


@needs_data
def test_a_corrupt_copy_in_the_data_dir_is_refused(tmp_path):
    (tmp_path / "trec").mkdir()
    (tmp_path / "trec" / "TREC_10.label").write_text("DESC:def What is it ?\n")
    with pytest.raises(DatasetError, match=r"TREC_10.label has sha256 .* expected"):
        datasets.load("trec-6", "test", data_dir=tmp_path)


def _gz(path, data):
    path.write_bytes(gzip.compress(data))
    return path


@pytest.mark.parametrize("case", ["idx size", "truncated gzip", "ragged parallel",
                                  "empty parallel line", "tsv fields", "label set", "utf-8",
                                  "trec line", "idx magic"])
def test_malformed_files_are_refused_with_file_line_and_format(case, tmp_path):
    if case == "idx size":
        labels = (2049).to_bytes(4, "big") + (10).to_bytes(4, "big") + bytes(7)
        path = _gz(tmp_path / "labels.gz", labels)
        with pytest.raises(DataFormatError, match=r"labels.gz: expected 10 bytes of data .* got 7"):
            formats.read_idx(path)
    elif case == "idx magic":
        path = _gz(tmp_path / "x.gz", (1234).to_bytes(4, "big") + bytes(12))
        with pytest.raises(DataFormatError, match="magic number 2051"):
            formats.read_idx(path)
    elif case == "truncated gzip":
        whole = gzip.compress(b"hello world\n" * 1000)
        path = tmp_path / "cut.gz"
        path.write_bytes(whole[: len(whole) // 2])
        with pytest.raises(DataFormatError, match=r"cut.gz: expected a complete gzip file"):
            formats.read_lines(path)
    elif case == "ragged parallel":
        (tmp_path / "a.en").write_text("one\ntwo\nthree\n")
        (tmp_path / "a.de").write_text("eins\nzwei\n")
        with pytest.raises(DataFormatError, match=r"a.en: expected as many lines as .*a.de \(2\)"):
            formats.read_parallel(tmp_path / "a.en", tmp_path / "a.de")
    elif case == "empty parallel line":
        (tmp_path / "a.en").write_text("one\n\nthree\n")
        (tmp_path / "a.de").write_text("eins\nzwei\ndrei\n")
        with pytest.raises(DataFormatError, match=r"a.en, line 2: expected a non-empty sentence"):
            formats.read_parallel(tmp_path / "a.en", tmp_path / "a.de")
    elif case == "tsv fields":
        (tmp_path / "t.tsv").write_text("sentence\tlabel\ngood\t1\nbad\t0\textra\n")
        with pytest.raises(DataFormatError, match=r"t.tsv, line 3: expected 2 tab-separated"):
            formats.read_labeled_text(tmp_path / "t.tsv", "sentence", "label")
    elif case == "label set":
        (tmp_path / "t.csv").write_text('text,label\n"hello, you",greeting\nbye,farewell\n')
        with pytest.raises(DataFormatError, match=r"t.csv, line 3: expected a label in"):
            datasets.load_files("text_classification", labels=["greeting"],
                                path=tmp_path / "t.csv")
    elif case == "utf-8":
        (tmp_path / "u.txt").write_bytes(b"fine\nalso fine\nbad \xff byte\n")
        with pytest.raises(DataFormatError, match=r"u.txt, line 3: expected text encoded as utf-8"):
            formats.read_lines(tmp_path / "u.txt")
    elif case == "trec line":
        (tmp_path / "q.label").write_bytes(b"DESC:def What is it ?\nno label here\n")
        with pytest.raises(DataFormatError, match=r"q.label, line 2: expected 'COARSE:fine"):
            formats.read_trec(tmp_path / "q.label")


def test_your_own_files_without_code(tmp_path):
    (tmp_path / "t.csv").write_text('text,label\n"hello, you",greeting\nbye,farewell\n')
    texts = datasets.load_files("text_classification", labels=["farewell", "greeting"],
                                path=tmp_path / "t.csv")
    assert texts.inputs == ["hello, you", "bye"] and texts.targets.tolist() == [1, 0]
    (tmp_path / "p.tsv").write_text("hi\thola\nbye\tadiós\n")
    pairs = datasets.load_files("translation", path=tmp_path / "p.tsv")
    assert pairs.targets == ["hola", "adiós"]
    images = np.random.default_rng(0).integers(0, 256, (5, 6, 6), dtype=np.uint8)
    np.savez(tmp_path / "i.npz", images=images, labels=np.array(["a", "b", "a", "b", "a"]))
    loaded = datasets.load_files("npz", labels=["a", "b"], path=tmp_path / "i.npz")
    assert loaded.inputs.shape == (5, 6, 6, 1) and loaded.targets.tolist() == [0, 1, 0, 1, 0]
    np.savez(tmp_path / "f.npz", images=np.full((2, 4, 4), 3.0), labels=np.array([0, 1]))
    with pytest.raises(DataFormatError, match="uint8 pixels or floats in"):
        datasets.load_files("npz", path=tmp_path / "f.npz")
    with pytest.raises(DatasetError, match="text_classification, translation, image_folder"):
        datasets.load_files("audio", path=tmp_path / "t.csv")


def test_image_folder(tmp_path):
    image_module = pytest.importorskip("PIL.Image")
    for label in ("cats", "dogs"):
        (tmp_path / label).mkdir()
        for i in range(2):
            image_module.fromarray(np.full((5, 5), 40 * i, np.uint8)).save(
                tmp_path / label / f"{i}.png")
    loaded = datasets.load_files("image_folder", path=tmp_path)
    assert loaded.inputs.shape == (4, 5, 5, 1) and loaded.label_names == ("cats", "dogs")


def test_unknown_names_suggest_the_closest():
    with pytest.raises(DatasetError, match="Did you mean: 'mnist'"):
        datasets.load("mnst", "test")
    with pytest.raises(DatasetError, match="splits: train, test"):
        datasets.load("mnist", "dev")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_images_that_are_not_finite_are_refused_with_file_and_index(tmp_path, bad):
    images = np.random.default_rng(0).random((6, 4, 4)).astype("float32")
    images[4, 1, 2] = bad
    images[5, 0, 0] = bad
    np.savez(tmp_path / "x.npz", images=images, labels=np.array([0, 1, 0, 1, 0, 1]))
    with pytest.raises(DataFormatError, match=r"x.npz: expected finite pixel values \(no NaN or "
                                              r"infinity\), got -?(nan|inf) in image 4 .*2 image"):
        datasets.load_files("npz", path=tmp_path / "x.npz")
    images[4, 1, 2] = images[5, 0, 0] = 1.5
    np.savez(tmp_path / "x.npz", images=images, labels=np.array([0, 1, 0, 1, 0, 1]))
    with pytest.raises(DataFormatError, match=r"expected uint8 pixels or floats in \[0, 1\], got "
                                              r"1.5 in image 4"):
        datasets.load_files("npz", path=tmp_path / "x.npz")


def test_files_without_examples_are_refused(tmp_path):
    (tmp_path / "h.tsv").write_text("text\tlabel\n")
    with pytest.raises(DataFormatError, match=r"h.tsv: expected at least one labeled text, got "
                                              "none"):
        datasets.load_files("text_classification", path=tmp_path / "h.tsv")
    (tmp_path / "a.en").write_text("")
    (tmp_path / "a.de").write_text("")
    with pytest.raises(DataFormatError, match=r"a.en: expected at least one sentence pair"):
        datasets.load_files("translation", source_path=tmp_path / "a.en",
                            target_path=tmp_path / "a.de")


def test_an_empty_npz_has_no_examples_like_every_other_empty_input(tmp_path):
    """Was numpy's "cannot reshape array of size 0" (or a shape complaint about 0 images)."""
    for i, images in enumerate((np.zeros((0, 4, 4), np.uint8), np.zeros((0,), np.float32),
                                np.zeros((0, 4, 4, 3), np.float32))):
        np.savez(tmp_path / f"e{i}.npz", images=images, labels=np.zeros((0,), np.int64))
        with pytest.raises(DataFormatError, match=rf"e{i}.npz: expected at least one image, "
                                                  "got none"):
            datasets.load_files("npz", path=tmp_path / f"e{i}.npz")


def _folder_of(tmp_path, make):
    """A one-class image folder holding the (name, image, format) `make(Image)` returns."""
    image_module = pytest.importorskip("PIL.Image")
    root = tmp_path / "images"
    (root / "a").mkdir(parents=True, exist_ok=True)
    for name, image, format in make(image_module):
        image.save(root / "a" / name, format=format)
    return root


def test_16_bit_and_32_bit_grey_images_are_scaled_to_0_1_not_clipped(tmp_path):
    """A 16-bit PNG (Pillow mode I;16) of a 0..65535 gradient read as [0, 1, 1, ...] (clipped
    to 8 bits); it is divided by 65535, as is a 32-bit integer image in 0..65535."""
    gradient = np.linspace(0, 65535, 64).astype(np.uint16).reshape(8, 8)
    root = _folder_of(tmp_path, lambda image: [
        ("g16.png", image.fromarray(gradient), "PNG"),
        ("i32.png", image.fromarray(gradient.astype(np.int32), mode="I"), "TIFF"),
        ("L.png", image.fromarray((gradient // 257).astype(np.uint8)), "PNG")])
    from PIL import Image

    assert Image.open(root / "a" / "g16.png").mode == "I;16"
    pixels = datasets.load_files("image_folder", path=root).inputs
    expected = gradient.astype("float32") / 65535.0
    assert pixels.dtype == np.float32 and pixels.shape == (3, 8, 8, 1)
    assert np.array_equal(pixels[1, ..., 0], expected)  # g16.png (files in sorted order)
    assert np.array_equal(pixels[2, ..., 0], expected)  # i32.png (a TIFF)
    assert np.allclose(pixels[0, ..., 0], expected, atol=1 / 255)  # the same in 8 bits
    (root / "a" / "L.png").unlink()
    Image.fromarray(np.full((8, 8), 70000, np.int32), mode="I").save(root / "a" / "i32.png",
                                                                       format="TIFF")
    with pytest.raises(DataFormatError, match=r"i32.png: expected 32-bit integer pixels in "
                                              r"0..65535 .*got 70000 at pixel \(row 0, column 0\)"):
        datasets.load_files("image_folder", path=root)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1.5])
def test_float_images_must_be_finite_and_in_0_1(tmp_path, bad):
    """A float32 TIFF named .png (mode F) with NaN or infinity was read as 0 or 1, silently."""
    values = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    root = _folder_of(tmp_path, lambda image: [("f.png", image.fromarray(values, mode="F"), "TIFF")])
    read = datasets.load_files("image_folder", path=root).inputs
    assert np.array_equal(read[0, ..., 0], values)  # kept as they are
    values[2, 3] = bad
    _folder_of(tmp_path, lambda image: [("f.png", image.fromarray(values, mode="F"), "TIFF")])
    expected = ("finite pixel values" if not np.isfinite(bad)
                else r"floating-point pixels in \[0, 1\]")
    with pytest.raises(DataFormatError, match=rf"f.png: expected {expected}.*got -?(nan|inf|1.5) "
                                              r"at pixel \(row 2, column 3\)"):
        datasets.load_files("image_folder", path=root)


def test_every_pillow_mode_has_a_defined_reading(tmp_path):
    """Every mode Pillow has is read by a stated rule (see formats._image_pixels); 8-bit ones as
    before (grey: one channel; others RGB, alpha dropped), exactly."""
    from zoo.datasets.formats import _image_pixels

    image_module = pytest.importorskip("PIL.Image")
    rgb = np.random.default_rng(0).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    base = image_module.fromarray(rgb)
    for mode, channels in (("1", 1), ("L", 1), ("LA", 1), ("La", 1), ("P", 3), ("PA", 3),
                           ("RGB", 3), ("RGBA", 3), ("RGBX", 3), ("RGBa", 3), ("CMYK", 3),
                           ("YCbCr", 3), ("LAB", 3), ("HSV", 3), ("I;16", 1), ("I", 1),
                           ("F", 1)):
        grey = base.convert("LA" if mode == "La" else "L")
        image = grey.convert(mode) if channels == 1 else base.convert(mode)
        if mode == "F":  # floats are read as they are: in [0, 1]
            image = image_module.fromarray(np.asarray(grey, np.float32) / 255, mode="F")
        pixels = _image_pixels(image, tmp_path / f"x.{mode}")
        assert pixels.shape[:2] == (4, 4) and (pixels.ndim == 2) == (channels == 1), mode
        assert pixels.dtype == (np.float32 if mode in ("I;16", "I", "F") else np.uint8), mode
        if mode in ("RGB", "RGBA", "RGBX"):
            assert np.array_equal(pixels, rgb)
    assert set(image_module.MODES) <= set(formats._GREY_8BIT + formats._COLOUR_8BIT
                                          + formats._GREY_16BIT + ("I", "F"))


def test_a_byte_order_mark_is_dropped_by_every_text_reader(tmp_path):
    bom = "\ufeff"
    (tmp_path / "a.en").write_text(bom + "Hello there.\nBye.\n", encoding="utf-8")
    (tmp_path / "a.es").write_text(bom + "Hola.\nAdiós.\n", encoding="utf-8")
    _gz(tmp_path / "a.en.gz", (bom + "Hello there.\n").encode("utf-8"))
    (tmp_path / "p.tsv").write_text(bom + "Hello there.\tHola.\n", encoding="utf-8")
    (tmp_path / "t.tsv").write_text(bom + "text\tlabel\nHello there.\tgreeting\n",
                                    encoding="utf-8")
    assert formats.read_lines(tmp_path / "a.en")[0] == "Hello there."
    assert formats.read_lines(tmp_path / "a.en.gz") == ["Hello there."]
    assert formats.read_parallel(tmp_path / "a.en", tmp_path / "a.es") == (
        ["Hello there.", "Bye."], ["Hola.", "Adiós."])
    assert formats.read_parallel_tsv(tmp_path / "p.tsv") == (["Hello there."], ["Hola."])
    pairs = datasets.load_files("translation", source_path=tmp_path / "a.en",
                                target_path=tmp_path / "a.es")
    assert pairs.inputs[0] == "Hello there." and pairs.targets[0] == "Hola."
    texts = datasets.load_files("text_classification", path=tmp_path / "t.tsv")  # header found
    assert texts.inputs == ["Hello there."] and texts.label_names == ("greeting",)


def _corrupt_zip(path, member, payload):
    """A zip whose deflated `member` has a damaged stream (zlib.error when read, not
    BadZipFile)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member, payload)
    data = bytearray(path.read_bytes())
    data[40:100] = b"\xff" * 60
    path.write_bytes(bytes(data))
    return path


def test_a_cut_or_corrupt_archive_is_a_dataset_error(server, tmp_path):
    """A downloaded zip whose member's deflate stream is damaged, or one cut short, and a
    corrupt compressed .npz: a DatasetError naming the file, never a zlib.error traceback."""
    root, url, _ = server
    payload = np.random.default_rng(0).integers(0, 4, 50_000).astype("uint8").tobytes()
    _corrupt_zip(root / "corrupt.zip", "d/x.txt", payload)
    with zipfile.ZipFile(root / "whole.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("d/x.txt", payload)
    whole = (root / "whole.zip").read_bytes()
    (root / "cut.zip").write_bytes(whole[: len(whole) // 2])
    for name in ("corrupt.zip", "cut.zip"):
        file = sources.RemoteFile("x/x.txt", url + name, "0" * 64, member="d/x.txt")
        with pytest.raises(DatasetError, match=rf"Downloaded {url}{name} but could not extract "
                                               r"d/x.txt"):
            sources.fetch(file, progress=False)
        assert not list((sources.cache_dir() / "x").glob("*"))
    images = np.random.default_rng(0).integers(0, 4, (100, 8, 8)).astype("uint8")
    np.savez_compressed(tmp_path / "d.npz", images=images, labels=np.zeros(100, "int64"))
    data = bytearray((tmp_path / "d.npz").read_bytes())
    data[200:260] = b"\xff" * 60
    (tmp_path / "d.npz").write_bytes(bytes(data))
    with pytest.raises(DataFormatError, match=r"d.npz: expected a NumPy .npz file"):
        formats.read_npz(tmp_path / "d.npz")
