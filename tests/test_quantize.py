"""int8 quantization of zoo's models and `zoo quantize` entries (issue 26, "Quantization").

Keras' `model.quantize("int8")` must reach zoo's own layers: the Dense layers zoo's attention
and feed-forward project with (tests/test_keras_features.py), and the token tables with their
tied output projection (zoo's `ReversibleEmbedding`, which Keras' type check used to skip: it
stayed float32, a third to two thirds of a text model). A quantized entry is an entry folder
that loads by name and scores with the harness beside its float entry.
"""

import gc
import json
import warnings

import keras
import numpy as np
import pytest
from helpers import MODEL_CASES, as_numpy, build_case, example_inputs

import zoo
from zoo import cli, entries, quantize, records
from zoo.layers import ReversibleEmbedding
from zoo.layers.quantization import QuantizationError, requantize
from zoo.registry import UnknownNameError

#: Keras layers `model.quantize("int8")` turns into int8 ones, zoo's subclass among them.
QUANTIZABLE = (keras.layers.Dense, keras.layers.Embedding)
FAMILY_CASES = []
for _case in MODEL_CASES:  # the first case of each model and task
    if _case[:2] not in {c[:2] for c in FAMILY_CASES}:
        FAMILY_CASES.append(_case)


def _quantize(model):
    gc.freeze()  # Keras collects garbage per layer it quantizes: not the test process's heap
    try:
        with warnings.catch_warnings():  # zoo's norms and position tables have no int8 form
            warnings.simplefilter("ignore")
            model.quantize("int8")
    finally:
        gc.unfreeze()


def _outputs(model, x):
    out = as_numpy(model(x, training=False))
    return out if isinstance(out, dict) else {"output": out}


@pytest.mark.parametrize("case", FAMILY_CASES, ids=lambda c: f"{c[0]}-{c[1] or 'default'}")
def test_every_family_quantizes_its_dense_layers_and_token_tables_to_int8(case):
    """Every Dense and token table (the tied output projection included) holds int8 after
    `model.quantize("int8")`, and the outputs stay within 6% of the float model's largest
    output. Tolerance: each int8 factor of a matmul is rounded to within 1/254 of its row's
    largest magnitude (0.4%); a random tiny model's outputs are small sums that partly cancel,
    so its relative error is larger than a trained one's (1.4-1.6%, test_keras_features):
    seed 0 moves the nine models by 0.8-2.8%, other seeds up to 4.6%."""
    keras.utils.set_random_seed(0)
    model = build_case(case)
    x = example_inputs(model, batch=4, seed=0)
    before = _outputs(model, x)
    _quantize(model)
    layers = [layer for layer in model._flatten_layers() if isinstance(layer, QUANTIZABLE)]
    assert layers
    assert [layer.path for layer in layers if layer.quantization_mode != "int8"] == []
    after = _outputs(model, x)
    for key in before:
        scale = np.abs(before[key]).max()
        assert np.abs(after[key] - before[key]).max() <= 0.06 * scale, key


def test_quantized_tied_projection_is_the_int8_arithmetic():
    """`embedding(h, reverse=True)` on an int8 table: h quantized per row (round(h * 127 /
    max|h|)), an integer matmul with the int8 table, divided by both scales; the lookup is
    Keras' own (row / scale); the float projection before quantization is `h @ E.T` exactly."""
    rng = np.random.default_rng(0)
    embedding = ReversibleEmbedding(12, 8)
    embedding.build((None,))
    table = rng.normal(size=(12, 8)).astype("float32")
    embedding.embeddings.assign(table)
    hidden = rng.normal(size=(2, 3, 8)).astype("float32")
    np.testing.assert_array_equal(embedding(hidden, reverse=True),
                                  np.asarray(keras.ops.matmul(hidden, table.T)))
    _quantize(embedding)
    assert embedding.quantization_mode == "int8"
    q_table = np.asarray(embedding._embeddings).astype("float32")
    table_scale = np.asarray(embedding.embeddings_scale)
    h_scale = 127.0 / (np.abs(hidden).max(-1, keepdims=True) + keras.backend.epsilon())
    q_hidden = np.clip(np.round(hidden * h_scale), -127, 127)
    expected = (q_hidden @ q_table.T) / (h_scale * table_scale)
    np.testing.assert_allclose(embedding(hidden, reverse=True), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(embedding(np.array([[3, 5]])), (q_table / table_scale[:, None])[
        [[3, 5]]], rtol=1e-6)
    assert np.abs(np.asarray(embedding(hidden, reverse=True)) - hidden @ table.T).max() <= (
        0.02 * np.abs(hidden @ table.T).max())


def test_reversible_embedding_refuses_other_modes_by_name():
    embedding = ReversibleEmbedding(4, 2, name="tokens")
    embedding.build((None,))
    with pytest.raises(NotImplementedError, match="'tokens' quantizes to int8 only"):
        embedding.quantize("int4")


# --- zoo quantize ----------------------------------------------------------------------------

FLOAT_ENTRY = "vit_tiny_patch2_8.digits"  # the smallest published entry (262 KB)


@pytest.fixture(scope="module")
def quantized(tmp_path_factory):
    """The int8 and int8-weights copies of FLOAT_ENTRY, in one folder (it stores float16: a
    float16 copy is refused, test_a_copy_that_would_be_the_same_model_or_larger_is_refused)."""
    root = tmp_path_factory.mktemp("entries")
    return {mode: quantize.quantize_entry(FLOAT_ENTRY, mode, to=root)
            for mode in ("int8", "int8-weights")}


def test_quantized_entries_load_with_the_quantized_model_and_record_what_was_done(quantized):
    floats = entries.load(FLOAT_ENTRY)
    x = example_inputs(floats, batch=16)
    expected = np.asarray(floats(x))
    reference = entries.load(FLOAT_ENTRY)
    _quantize(reference)  # what `zoo quantize` computed, in memory
    int8 = entries.load_folder(quantized["int8"])
    assert all(d.quantization_mode == "int8" for d in int8._flatten_layers()
               if isinstance(d, keras.layers.Dense))
    for saved, loaded in zip(reference.get_weights(), int8.get_weights()):
        np.testing.assert_array_equal(saved, loaded)  # int8 values, scales, float weights
    np.testing.assert_array_equal(np.asarray(int8(x)), np.asarray(reference(x)))
    scale = np.abs(expected).max()
    assert np.abs(np.asarray(int8(x)) - expected).max() <= 0.03 * scale
    weights8 = np.asarray(entries.load_folder(quantized["int8-weights"])(x))
    assert np.abs(weights8 - expected).max() <= 0.03 * scale
    source = entries.folder(FLOAT_ENTRY)
    for mode, folder in quantized.items():
        assert folder.name == f"{FLOAT_ENTRY}.{mode}"
        info = json.loads((folder / entries.QUANTIZATION).read_text())
        assert info["mode"] == mode and info["from_entry"] == FLOAT_ENTRY
        assert info["from_storage"] == "float16"
        assert info["from_weights_sha256"] == json.loads(
            (source / entries.MANIFEST).read_text())["sha256"]
        assert info["weights_bytes"] == (folder / entries.WEIGHTS).stat().st_size
        assert info["float32_bytes"] == 4 * floats.count_params()
        assert json.loads((folder / "run.json").read_text())["entry"] == folder.name
        assert (folder / "recipe.json").read_bytes() == (source / "recipe.json").read_bytes()
    info8 = json.loads((quantized["int8"] / entries.QUANTIZATION).read_text())
    assert "patch_embedding" in info8["float_layers"]  # Keras quantizes no convolution
    assert info8["quantized_layers"]["head"] == "int8"
    assert info8["size_bytes"] < info8["from_size_bytes"]


def test_an_int8_entry_loads_by_name_from_the_search_path(quantized, monkeypatch):
    monkeypatch.setenv("ZOO_ENTRIES_PATH", str(quantized["int8"].parent))
    model = zoo.entries.load(f"{FLOAT_ENTRY}.int8")
    assert model.get_layer("head").quantization_mode == "int8"


def test_quantize_refuses_bad_requests_by_name(quantized, tmp_path):
    with pytest.raises(quantize.QuantizeError, match="'int9'.*int8, int8-weights, float16.*"
                       "Did you mean: 'int8'"):
        quantize.quantize_entry(FLOAT_ENTRY, "int9", to=tmp_path)
    with pytest.raises(UnknownNameError, match="vit_tiny_patch2_8.digits"):
        quantize.quantize_entry("vit_tiny_patch2_8.digit", "int8", to=tmp_path)
    with pytest.raises(quantize.QuantizeError, match="nowhere does not exist; give an entry"):
        quantize.quantize_entry(tmp_path / "nowhere", "int8", to=tmp_path)
    with pytest.raises(quantize.QuantizeError, match="is not an entry folder"):
        quantize.quantize_entry(tmp_path, "int8", to=tmp_path)
    with pytest.raises(quantize.QuantizeError, match="already quantized \\(int8"):
        quantize.quantize_entry(quantized["int8"], "int8", to=tmp_path)
    with pytest.raises(quantize.QuantizeError, match="exists.*--force"):
        quantize.quantize_entry(FLOAT_ENTRY, "int8-weights", to=quantized["int8"].parent)
    convolutional = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3)])
    with pytest.raises(quantize.QuantizeError, match="no layer of Sequential.*Conv2D.*"
                       "int8-weights"):
        quantize._quantize_int8(convolutional)
    with pytest.raises(QuantizationError, match="no layer at 'nowhere'"):
        requantize(entries.load(FLOAT_ENTRY), {"nowhere": "int8"})


def test_cli_quantize_says_what_it_wrote_and_refuses_an_unknown_mode(tmp_path, capsys):
    assert cli.main(["quantize", FLOAT_ENTRY, "--mode", "int8-weights", "--to",
                     str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path / (FLOAT_ENTRY + '.int8-weights')} (int8-weights:" in out
    assert cli.main(["quantize", FLOAT_ENTRY, "--mode", "int4", "--to", str(tmp_path)]) == 2
    assert "Unknown quantization mode 'int4'" in capsys.readouterr().err


# --- the harness ------------------------------------------------------------------------------


def test_bench_run_of_a_quantized_entry_records_size_mode_and_the_paired_difference(
        quantized, tmp_path):
    from zoo.harness import runner

    folder = quantized["int8"]
    _, float_path = runner.run("vit_tiny_patch2_8", "digits", weights=entries.folder(FLOAT_ENTRY),
                               limit=60, results_dir=tmp_path, progress=False)
    record, path = runner.run("vit_tiny_patch2_8", "digits", weights=folder, limit=60,
                              results_dir=tmp_path, progress=False)
    table = records.read(path)["compression"]
    info = json.loads((folder / entries.QUANTIZATION).read_text())
    assert table["mode"] == "int8" and table["size_bytes"] == info["size_bytes"]
    assert table["from_entry"] == FLOAT_ENTRY and record["model"]["entry"] == folder.name
    against = table["against_float"]
    assert against["record"] == float_path.name
    assert against["value"] == record["main_metric"]["value"]
    assert against["value_float"] == records.read(float_path)["main_metric"]["value"]
    assert against["low"] <= against["delta"] <= against["high"]
    assert "compression" not in records.read(float_path)  # a float entry's record is as before


def test_records_declare_the_compression_table_and_old_records_still_read():
    table = {"mode": "int8", "size_bytes": 10, "weights_bytes": 8, "float32_bytes": 40,
             "from_entry": "a.b", "from_weights_sha256": "0" * 64, "from_size_bytes": 20,
             "from_weights_bytes": 16, "against_float": None}
    records.validate(records.example(compression=table))
    records.validate(records.example())  # without it: every record before it
    with pytest.raises(records.RecordError, match="modee"):
        records.validate(records.example(compression={**table, "modee": "int8"}))


# --- what a demanding user met (each failed before its fix) ----------------------------------


def test_layers_that_share_a_name_in_two_submodels_quantize_and_reload():
    """The VAE's encoder and decoder each have a Dense named `hidden` (Keras gives both the
    path 'hidden'): the record keys them by where they sit in the model (`encoder/hidden`,
    `decoder/hidden`), so `zoo quantize vae_base.mnist --mode int8` works and reloads."""
    from zoo.layers.quantization import float_layers, quantized_layers

    model = zoo.build("vae_tiny")
    _quantize(model)
    layers = quantized_layers(model)
    assert {"encoder/hidden", "decoder/hidden", "expand", "z_mean"} <= set(layers)
    assert None not in float_layers(model) and "conv_0" in float_layers(model)
    fresh = zoo.build("vae_tiny")
    requantize(fresh, layers)
    fresh.set_weights(model.get_weights())
    x = np.random.default_rng(0).uniform(size=(2, 28, 28, 1)).astype("float32")
    keras.utils.set_random_seed(0)
    expected = as_numpy(model(x, training=False))
    keras.utils.set_random_seed(0)
    got = as_numpy(fresh(x, training=False))
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key])


def test_int8_is_refused_when_most_parameters_would_stay_float():
    """A model whose weights sit mostly in layers Keras cannot quantize (a TF Hub encoder, a
    convolution stack) would be an 'int8' entry in name only: refused, naming those layers."""
    model = keras.Sequential([keras.Input((16, 16, 8)), keras.layers.Conv2D(64, 3, name="convs"),
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2, name="head")], name="convnet")
    with pytest.raises(quantize.QuantizeError, match="'convnet/head'.*130 of 4,802 parameters.*"
                       "'convnet/convs' \\(Conv2D, 4,672 parameters\\).*int8-weights"):
        quantize._quantize_int8(model)


def _float32_copy(root):
    """FLOAT_ENTRY with its weights stored in float32 (the values it stores in float16)."""
    import shutil

    from zoo.models.stored_weights import restore_weight

    folder = root / "digits32"
    shutil.copytree(entries.folder(FLOAT_ENTRY), folder)
    with np.load(folder / entries.WEIGHTS) as stored:
        arrays = {k: restore_weight(stored, k[1:]).astype("float32") for k in stored.files}
    np.savez_compressed(folder / entries.WEIGHTS, **arrays)
    (folder / entries.MANIFEST).write_text(json.dumps(entries.manifest(folder / entries.WEIGHTS)))
    return folder


def test_a_copy_that_would_be_the_same_model_or_larger_is_refused(tmp_path):
    """float16 of a float16 entry is the entry itself; float16 of an int8-stored entry
    (bert_mini.sst2) is larger and rounds again; int8-weights of it is the entry itself."""
    with pytest.raises(quantize.QuantizeError, match="already stores its weights as float16.*"
                       "same model"):
        quantize.quantize_entry(FLOAT_ENTRY, "float16", to=tmp_path)
    with pytest.raises(quantize.QuantizeError, match="bert_mini.sst2 stores its weight "
                       "matrices as int8.*larger"):
        quantize.quantize_entry("bert_mini.sst2", "float16", to=tmp_path)
    with pytest.raises(quantize.QuantizeError, match="bert_mini.sst2 stores its weight "
                       "matrices as int8.*same model.*--mode int8"):
        quantize.quantize_entry("bert_mini.sst2", "int8-weights", to=tmp_path)
    assert list(tmp_path.iterdir()) == []
    source = _float32_copy(tmp_path / "src")  # a float32 entry: float16 halves it, same outputs
    folder = quantize.quantize_entry(source, "float16", to=tmp_path / "out")
    x = example_inputs(entries.load_folder(source), batch=8)
    np.testing.assert_array_equal(entries.load_folder(folder)(x),
                                  entries.load_folder(source)(x))
    info = json.loads((folder / entries.QUANTIZATION).read_text())
    assert info["weights_bytes"] < info["from_weights_bytes"]
    with np.load(folder / entries.WEIGHTS) as stored:
        assert {stored[k].dtype.name for k in stored.files} == {"float16"}


def test_to_a_file_or_into_an_entry_folder_is_refused_before_any_work(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    source = entries.folder(FLOAT_ENTRY)
    before = sorted(p.name for p in source.iterdir())
    for to, said in ((afile, "is a file"), (source, "is an entry folder"),
                     (source / "tokenizer", "inside the entry folder")):
        assert cli.main(["quantize", FLOAT_ENTRY, "--mode", "int8", "--to", str(to)]) == 2
        assert said in capsys.readouterr().err
    assert sorted(p.name for p in source.iterdir()) == before
    assert afile.read_text() == "x"


def test_a_target_written_meanwhile_is_not_replaced_without_force(tmp_path, monkeypatch):
    """The target is checked before the model loads (seconds); another `zoo quantize` that
    writes it meanwhile keeps its folder: this one fails, naming it, and leaves no temporary."""
    target = tmp_path / f"{FLOAT_ENTRY}.int8-weights"
    real = entries.load_folder

    def load_while_another_writes(*args, **kwargs):
        target.mkdir()
        (target / "theirs").write_text("x")
        return real(*args, **kwargs)

    monkeypatch.setattr(entries, "load_folder", load_while_another_writes)
    with pytest.raises(quantize.QuantizeError, match="exists.*--force"):
        quantize.quantize_entry(FLOAT_ENTRY, "int8-weights", to=tmp_path)
    assert [p.name for p in target.iterdir()] == ["theirs"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_bench_run_says_how_the_quantized_entry_compares_or_why_it_cannot(quantized, tmp_path,
                                                                        monkeypatch, capsys):
    monkeypatch.setenv("ZOO_ENTRIES_PATH", str(quantized["int8"].parent))
    name = f"{FLOAT_ENTRY}.int8"
    run = ["bench", "run", "--benchmark", "digits", "--limit", "40", "--results", str(tmp_path)]
    assert cli.main([*run, "--entry", name]) == 0
    out = capsys.readouterr().out
    assert f"int8 copy of {FLOAT_ENTRY}:" in out and "% of its float32 weights" in out
    assert (f"against {FLOAT_ENTRY}: no record of it on these 40 examples" in out
            and f"zoo bench run --benchmark digits --limit 40 --results {tmp_path} --entry "
            f"{FLOAT_ENTRY}\n" in out)  # the command given, naming the float entry
    assert cli.main([*run, "--entry", FLOAT_ENTRY]) == 0
    capsys.readouterr()
    assert cli.main([*run, "--entry", name]) == 0
    out = capsys.readouterr().out
    assert f"against {FLOAT_ENTRY}: accuracy" in out and "paired bootstrap" in out


@pytest.mark.slow
def test_int8_of_the_tf_hub_classifier_is_refused_naming_the_hub_encoder(tmp_path):
    """hub_bert_classifier.sst2 wraps a TF Hub SavedModel: Keras quantizes its 2-unit head
    only, and the entry was 2.2x the float one (the hub weights widened to float32)."""
    with pytest.raises(quantize.QuantizeError, match="'classifier'.*'encoder' \\(HubLayer"):
        quantize.quantize_entry("hub_bert_classifier.sst2", "int8", to=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_float_record_from_before_examples_sha256_pairs_when_both_runs_are_whole(
        quantized, tmp_path):
    """Published records older than `examples_sha256` (all of benchmarks/results/ today) have
    it null: a whole run of the same data (data_sha256, every example) is the same examples,
    so the int8 run pairs with it; a limited run does not."""
    from zoo.harness import runner

    _, float_path = runner.run("vit_tiny_patch2_8", "digits", weights=entries.folder(FLOAT_ENTRY),
                               results_dir=tmp_path, progress=False)
    old = json.loads(float_path.read_text())
    old["benchmark"]["examples_sha256"] = None  # as a record written before the field
    float_path.write_text(json.dumps(old))
    record, _ = runner.run("vit_tiny_patch2_8", "digits", weights=quantized["int8"],
                           results_dir=tmp_path, progress=False)
    assert record["compression"]["against_float"]["record"] == float_path.name
    limited, _ = runner.run("vit_tiny_patch2_8", "digits", weights=quantized["int8"], limit=359,
                            results_dir=tmp_path, progress=False)
    assert limited["compression"]["against_float"] is None
