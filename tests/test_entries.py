"""Entry folders: how `publish` stores weights (float32, float16, int8) and what loads back."""

import json
import shutil

import keras
import numpy as np
import pytest
from conftest import closed_port_url

import zoo
from zoo import entries
from zoo.cli import main


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A finished run folder as `zoo train` writes it, around a tiny Transformer."""
    run = tmp_path_factory.mktemp("run")
    keras.utils.set_random_seed(3)
    model = zoo.build("transformer_tiny", vocabulary_size=300, max_sequence_length=16)
    model({"encoder_token_ids": np.ones((1, 4), "int32"),
           "decoder_token_ids": np.ones((1, 4), "int32")})
    model.save(run / "model.keras")
    (run / "run.json").write_text(json.dumps({"entry": "t.mt", "status": "complete"}))
    (run / "recipe.json").write_text(json.dumps({"entry": "t.mt"}))
    return run, model


def test_int8_stores_each_row_within_half_a_step_in_less_room_than_float16(run_folder,
                                                                          tmp_path):
    run, model = run_folder
    sizes = {}
    for precision in entries.STORAGE_PRECISIONS:
        folder = entries.publish(run, dest_root=tmp_path / precision, precision=precision)
        sizes[precision] = (folder / "weights.npz").stat().st_size
        assert json.loads((folder / "weights.json").read_text()) == entries.manifest(
            folder / "weights.npz")  # what an installed zoo downloads the weights with
        info = json.loads((folder / "run.json").read_text())
        assert info["published"]["weights_precision"] == precision
        loaded = entries.load_folder(folder)
        for got, want in zip(loaded.get_weights(), model.get_weights()):
            assert got.dtype == want.dtype and got.shape == want.shape
            if precision == "float32" or want.dtype.kind != "f":
                np.testing.assert_array_equal(got, want)
            elif precision == "float16" or want.ndim < 2:
                np.testing.assert_array_equal(got, want.astype("float16").astype(want.dtype))
            else:
                rows = want.reshape(-1, want.shape[-1])
                step = np.abs(rows).max(axis=1, keepdims=True) / 127
                error = np.abs(got.reshape(rows.shape) - rows)
                assert np.all(error <= step / 2 + 1e-7)
                assert np.any(error > 0)  # really quantized
    assert sizes["int8"] < 0.65 * sizes["float16"] and sizes["float16"] < 0.55 * sizes["float32"]
    # The int8 model still computes what the float32 one does, to within rounding.
    x = {"encoder_token_ids": np.arange(1, 9, dtype="int32")[None],
         "decoder_token_ids": np.arange(2, 10, dtype="int32")[None]}
    quantized = entries.load_folder(tmp_path / "int8" / "t.mt")
    np.testing.assert_allclose(quantized(x), model(x), atol=0.05)


def test_unknown_precision_is_refused_before_anything_is_written(run_folder, tmp_path):
    run, _ = run_folder
    with pytest.raises(ValueError, match="Unknown weights precision 'int4'; use one of"):
        entries.publish(run, dest_root=tmp_path / "e", precision="int4")
    assert not (tmp_path / "e").exists()
    assert main(["publish", str(run), "--dest", str(tmp_path / "cli"), "--precision",
                 "int8"]) == 0
    assert (tmp_path / "cli" / "t.mt" / "weights.npz").is_file()


def test_an_entry_is_narrowed_to_int8_from_its_own_folder_but_never_widened(run_folder,
                                                                            tmp_path):
    run, _ = run_folder
    half = entries.publish(run, dest_root=tmp_path / "f16", precision="float16")
    assert main(["publish", str(half), "--dest", str(tmp_path / "i8"), "--precision",
                 "int8"]) == 0
    narrowed = tmp_path / "i8" / "t.mt"
    info = json.loads((narrowed / "run.json").read_text())
    assert info["published"] == {"weights_precision": "int8", "from_run": str(run),
                                 "narrowed_from": "float16"}
    # The int8 weights of publishing the run itself, but where float16 rounding moved a weight
    # across a rounding boundary: there, one quantization step apart.
    direct = entries.publish(run, dest_root=tmp_path / "direct", precision="int8")
    moved = 0
    for got, want in zip(entries.load_folder(narrowed).get_weights(),
                         entries.load_folder(direct).get_weights()):
        if want.ndim < 2:
            np.testing.assert_array_equal(got, want)
            continue
        rows = want.reshape(-1, want.shape[-1])
        step = np.abs(rows).max(axis=1, keepdims=True) / 127
        error = np.abs(got.reshape(rows.shape) - rows)
        assert np.all(error <= step * 1.1)  # plus the float16-rounded row maximum's share
        moved += np.count_nonzero(error > step / 2)
    assert moved < 0.02 * sum(w.size for w in model_weights(direct))
    assert (narrowed / "recipe.json").read_text() == (half / "recipe.json").read_text()
    with pytest.raises(ValueError, match=r"stores float16 weights; re-publishing it can only "
                                         r"narrow them \(--precision int8\)"):
        entries.publish(half, dest_root=tmp_path / "wide", precision="float32")
    assert main(["publish", str(tmp_path / "nothing")]) == 2


def test_publish_copies_the_training_history_and_the_package_ships_it(run_folder, tmp_path):
    """The run's history.jsonl goes into the entry as it is (`zoo bench run` draws the
    entry's training curve from it), and again when the entry is re-published; every file
    `publish` writes but the weights matches the package data of pyproject.toml, so an
    installed zoo has it too."""
    import tomllib
    from pathlib import PurePosixPath

    run, _ = run_folder
    copy = shutil.copytree(run, tmp_path / "run")
    history = '{"loss": 2.5, "seconds": 1.0, "step": 1}\n{"loss": 2.0, "seconds": 2.0, "step": 2}\n'
    (copy / "history.jsonl").write_text(history)
    entry = entries.publish(copy, dest_root=tmp_path / "entries")
    assert (entry / "history.jsonl").read_text() == history
    again = entries.publish(entry, dest_root=tmp_path / "again", precision="int8")
    assert (again / "history.jsonl").read_text() == history
    assert not (entries.publish(run, dest_root=tmp_path / "none") / "history.jsonl").exists()

    pyproject = tomllib.loads((entries.ENTRIES_DIR.parents[1] / "pyproject.toml").read_text())
    shipped = pyproject["tool"]["setuptools"]["package-data"]["zoo"]
    for name in _files(entry):
        if name != entries.WEIGHTS:
            path = PurePosixPath("entries", entry.name, name)  # `*` within one folder
            assert any(path.match(pattern) for pattern in shipped), \
                f"{name} is not in the package data {shipped}"


def model_weights(folder):
    return entries.load_folder(folder).get_weights()


# --- Weights: the entry's folder, else the cache, else a verified download ---------------------

SMALL = "vit_tiny_patch2_8.digits"  # 0.3 MB of weights


def test_every_published_entry_ships_the_sha256_and_size_of_its_weights():
    for name in sorted(p.name for p in entries.ENTRIES_DIR.iterdir() if p.is_dir()):
        folder = entries.ENTRIES_DIR / name
        listed = json.loads((folder / "weights.json").read_text())
        assert listed == entries.manifest(folder / "weights.npz"), name


def _installed(tmp_path, monkeypatch, name="t.digits"):
    """A published entry as an installed zoo holds it (every file but weights.npz), found on
    $ZOO_ENTRIES_PATH as `name`, with a private cache; returns its folder and the checkout's
    weights."""
    source = entries.ENTRIES_DIR / SMALL
    folder = tmp_path / "entries" / name
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("weights.npz"))
    monkeypatch.setenv("ZOO_ENTRIES_PATH", str(tmp_path / "entries"))
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    return folder, source / "weights.npz"


def _files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_an_entry_without_weights_downloads_them_once_verified_with_progress(
        server, tmp_path, monkeypatch, capfd):
    root, url, hits = server
    folder, weights = _installed(tmp_path, monkeypatch)
    (root / "t.digits").mkdir()
    shutil.copy(weights, root / "t.digits" / "weights.npz")
    monkeypatch.setenv("ZOO_WEIGHTS_URL", url.rstrip("/"))  # with or without the last slash
    assert entries.size("t.digits") == entries.size(SMALL)  # counted before the download
    model = zoo.load("t.digits")
    assert hits == {"/t.digits/weights.npz": 1}
    assert "Downloading" in capfd.readouterr().err
    cache = tmp_path / "cache"
    assert _files(cache) == ["entries/t.digits/weights.npz"]  # no partial file left
    assert (cache / "entries" / "t.digits" / "weights.npz").read_bytes() == weights.read_bytes()
    for got, want in zip(model.get_weights(), entries.load(SMALL).get_weights()):
        np.testing.assert_array_equal(got, want)
    # Offline now: the cached copy (sha256 checked) serves, nothing is requested.
    monkeypatch.setenv("ZOO_WEIGHTS_URL", closed_port_url())
    assert zoo.load("t.digits").count_params() == model.count_params()
    assert hits == {"/t.digits/weights.npz": 1}
    assert not (folder / "weights.npz").exists()  # the package's folder is never written


def test_downloaded_weights_with_other_bytes_are_refused_and_nothing_is_kept(
        server, tmp_path, monkeypatch):
    root, url, _ = server
    folder, weights = _installed(tmp_path, monkeypatch)
    (root / "t.digits").mkdir()
    (root / "t.digits" / "weights.npz").write_bytes(weights.read_bytes()[:-8] + b"8 bytes!")
    monkeypatch.setenv("ZOO_WEIGHTS_URL", url)
    expected = json.loads((folder / "weights.json").read_text())["sha256"]
    with pytest.raises(entries.WeightsError, match=f"expected {expected}; nothing was saved"):
        zoo.load("t.digits")
    assert _files(tmp_path / "cache") == []
    # A cached copy with other bytes is not used either: it is downloaded again.
    cached = tmp_path / "cache" / "entries" / "t.digits" / "weights.npz"
    cached.write_bytes(b"not the weights")
    shutil.copy(weights, root / "t.digits" / "weights.npz")
    assert zoo.load("t.digits") is not None and cached.read_bytes() == weights.read_bytes()


def test_offline_without_a_cached_copy_says_what_to_download_where_and_what_to_set(
        tmp_path, monkeypatch):
    folder, _ = _installed(tmp_path, monkeypatch)
    offline = closed_port_url()
    monkeypatch.setenv("ZOO_WEIGHTS_URL", offline)
    with pytest.raises(entries.WeightsError) as error:
        zoo.load("t.digits")
    message = str(error.value)
    listed = json.loads((folder / "weights.json").read_text())
    for needed in (f"{offline}t.digits/weights.npz", listed["sha256"], "ZOO_WEIGHTS_URL",
                   str(tmp_path / "cache" / "entries" / "t.digits" / "weights.npz"),
                   "ZOO_CACHE_DIR"):
        assert needed in message, needed
    assert _files(tmp_path / "cache") == []
    # Without a weights.json there is nothing to download with: said so, naming the folder.
    (folder / "weights.json").write_text('{"sha256": 3}')
    with pytest.raises(entries.WeightsError, match=r"weights.json: expected .*sha256.*zoo publish"):
        zoo.load("t.digits")
    (folder / "weights.json").unlink()
    assert not entries.is_entry_folder(folder)
    with pytest.raises(entries.WeightsError, match="has neither weights.npz nor weights.json"):
        entries.weights_file(folder)


def test_an_entry_reusing_a_shipped_name_is_refused_naming_both_folders(tmp_path, monkeypatch,
                                                                        capsys):
    """The one rule recipes and benchmarks follow too (`zoo.schema.scan`); a user's entry
    folder of a shipped name replaced the shipped entry silently before."""
    shipped = entries.ENTRIES_DIR / "vit_tiny_patch2_8.digits"
    mine = tmp_path / "vit_tiny_patch2_8.digits"
    shutil.copytree(shipped, mine)
    monkeypatch.setenv("ZOO_ENTRIES_PATH", str(tmp_path))
    assert "vit_tiny_patch2_8.digits" not in entries.list_entries()
    with pytest.raises(entries.EntryError) as info:
        entries.folder("vit_tiny_patch2_8.digits")
    assert str(info.value) == (
        f"{mine}: the entry 'vit_tiny_patch2_8.digits' is also shipped with zoo ({shipped}); an "
        "entry name must be unique on the search path, so neither is used. Rename yours (its "
        "folder).")
    assert main(["entries", "vit_tiny*"]) == 0
    assert f"warning: skipped {mine}: the entry" in capsys.readouterr().err
    assert main(["bench", "run", "--entry", "vit_tiny_patch2_8.digits", "--benchmark",
                 "digits"]) == 2
    assert "Rename yours (its folder)" in capsys.readouterr().err
    mine.rename(tmp_path / "mine.digits")
    assert entries.folder("mine.digits") == tmp_path / "mine.digits"
    assert entries.folder("vit_tiny_patch2_8.digits") == shipped
    monkeypatch.setenv("ZOO_ENTRIES_PATH", str(entries.ENTRIES_DIR))  # the shipped folder again
    assert entries.folder("vit_tiny_patch2_8.digits") == shipped
