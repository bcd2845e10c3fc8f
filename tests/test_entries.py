"""Entry folders: how `publish` stores weights (float32, float16, int8) and what loads back."""

import json

import keras
import numpy as np
import pytest

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
    for precision in entries.PRECISIONS:
        folder = entries.publish(run, dest_root=tmp_path / precision, precision=precision)
        sizes[precision] = (folder / "weights.npz").stat().st_size
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


def model_weights(folder):
    return entries.load_folder(folder).get_weights()
