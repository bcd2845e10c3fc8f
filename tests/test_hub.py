"""TF Hub: exports that plain TensorFlow loads with the native outputs, handles over real HTTP
on 127.0.0.1 with a cache, fine-tuning a hub-loaded encoder (also mirrored), errors."""

import http.server
import io
import json
import os
import re
import socket
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo import entries
from zoo.hub import HubError, HubLayer, export
from zoo.models.vae.export import sample_latents
from zoo.safety import UnsafeCodeError
from zoo.text import WordPieceTokenizer, features
from zoo.training import Recipe
from zoo.training.train import train

QUIET = {"log": lambda *_: None}
TEXTS = ["the film was a delight", "a dull and tired movie", "el perro come pan",
         "la casa es grande", "what a fine cast", "no me gusta nada"]


def _tokenizer():
    return WordPieceTokenizer.train(TEXTS * 10, vocabulary_size=120)


def _publish(model, tokenizer, root, entry, recipe):
    """A real entry folder through `entries.publish`, from a run folder as `zoo train` writes."""
    run = root / "runs" / entry
    run.mkdir(parents=True)
    model.save(run / "model.keras")
    if tokenizer is not None:
        tokenizer.save(run / "tokenizer")
    (run / "run.json").write_text(json.dumps({"entry": entry, "status": "complete"}))
    (run / "recipe.json").write_text(json.dumps(dict(recipe, entry=entry)))
    return entries.publish(run, dest_root=root / "entries", precision="float32")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Tiny models of every family, published as entries and exported in TF Hub's format."""
    root = tmp_path_factory.mktemp("hub")
    tokenizer = _tokenizer()
    keras.utils.set_random_seed(7)
    vocab = tokenizer.vocabulary_size
    models = {
        "t.bert-mlm": zoo.build("bert_tiny", task="masked_lm", vocabulary_size=vocab,
                                max_sequence_length=32, normalize_first=True, dropout=0.0),
        "t.bert-clf": zoo.build("bert_tiny", task="classifier", num_classes=2,
                                vocabulary_size=vocab, max_sequence_length=32),
        "t.vit": zoo.build("vit_tiny_patch2_8", num_classes=10, num_layers=2),
        "t.mt": zoo.build("transformer_tiny", vocabulary_size=vocab, max_sequence_length=32),
        "t.vae": zoo.build("vae_tiny", image_size=8),
    }
    recipes = {"t.bert-mlm": {"max_length": 32, "dataset": "sst2"},
               "t.bert-clf": {"max_length": 32, "dataset": "sst2"},
               "t.vit": {"dataset": "digits"},
               "t.mt": {"max_length": 32, "dataset": "tatoeba-en-es-sample",
                        "decoding": {"beam_width": 2, "max_length": 12}},
               "t.vae": {"dataset": "digits"}}
    out = {}
    for entry, model in models.items():
        text = entry.startswith(("t.bert", "t.mt"))
        folder = _publish(model, tokenizer if text else None, root, entry, recipes[entry])
        export.export_entry(folder, root / "export" / entry, tar=entry == "t.vit")
        out[entry] = entries.load_folder(folder)
    return {"root": root, "models": out, "tokenizer": tokenizer, "export": root / "export"}


# --- Round trips in plain TensorFlow -----------------------------------------------------------

PLAIN_LOADER = r"""
import json, sys
import numpy as np, tensorflow as tf, tensorflow_hub as hub, tensorflow_text  # noqa: F401
export, inputs_file, out_file = sys.argv[1:]
x = dict(np.load(inputs_file, allow_pickle=False))
texts = tf.constant([t.encode() for t in x["texts"]])
out = {}
pre = hub.load(f"{export}/t.bert-clf/preprocessor")
enc = hub.load(f"{export}/t.bert-clf/encoder")
packed = pre(texts)
encoded = enc(packed, training=False)
out["bert_word_ids"] = packed["input_word_ids"].numpy()
out["bert_pooled"] = encoded["pooled_output"].numpy()
out["bert_sequence"] = encoded["sequence_output"].numpy()
out["bert_layers"] = len(encoded["encoder_outputs"])
out["bert_logits"] = hub.load(f"{export}/t.bert-clf/classifier")(texts)["logits"].numpy()
mlm_enc = hub.load(f"{export}/t.bert-mlm/encoder")
out["mlm_pooled"] = mlm_enc(hub.load(f"{export}/t.bert-mlm/preprocessor")(texts))["pooled_output"].numpy()
out["vit_logits"] = hub.load(f"{export}/t.vit/classifier")(x["images"]).numpy()
out["vit_features"] = hub.load(f"{export}/t.vit/feature_vector")(x["images"]).numpy()
out["vit_signature"] = hub.load(f"{export}/t.vit/classifier").signatures["serving_default"](
    images=tf.constant(x["images"]))["logits"].numpy()
out["translations"] = np.array([t.decode() for t in
                               hub.load(f"{export}/t.mt/translator")(texts).numpy()])
vae = hub.load(f"{export}/t.vae/vae")
codes = vae.encode(x["vae_images"])
out["vae_z_mean"] = codes["z_mean"].numpy()
out["vae_decoded"] = vae.decode(x["z"])["images"].numpy()
out["vae_sampled"] = vae.sample(tf.constant(3), tf.constant(5, tf.int64))["images"].numpy()
out["trainable"] = len(enc.trainable_variables)
out["zoo_imported"] = any(name == "zoo" or name.startswith("zoo.") for name in sys.modules)
np.savez(out_file, **out)
"""


@pytest.mark.slow
@pytest.mark.multiprocess
def test_every_family_round_trips_through_plain_tensorflow(exported, tmp_path):
    models, tokenizer = exported["models"], exported["tokenizer"]
    rng = np.random.default_rng(0)
    texts = ["the film was a delight", "la casa es grande y bonita", "what"]
    images = rng.random((3, 8, 8, 1)).astype("float32")
    vae_images = (rng.random((2, 8, 8, 1)) > 0.5).astype("float32")
    z = rng.normal(size=(2, models["t.vae"].latent_dim)).astype("float32")
    np.savez(tmp_path / "inputs.npz", texts=np.array(texts), images=images,
             vae_images=vae_images, z=z)
    script = tmp_path / "load.py"
    script.write_text(PLAIN_LOADER)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ZOO_CPU_DEVICES")}
    subprocess.run([sys.executable, str(script), str(exported["export"]),
                    str(tmp_path / "inputs.npz"), str(tmp_path / "out.npz")],
                   check=True, env=env, cwd=tmp_path, timeout=300)
    got = dict(np.load(tmp_path / "out.npz"))
    assert not got["zoo_imported"]

    clf = models["t.bert-clf"]
    x = features.bert_inputs(tokenizer, tf.constant(texts), 32)
    np.testing.assert_array_equal(got["bert_word_ids"], x["token_ids"].numpy())
    native = clf.backbone(x, training=False)
    np.testing.assert_allclose(got["bert_pooled"], native["pooled_output"], atol=1e-5)
    np.testing.assert_allclose(got["bert_sequence"], native["sequence_output"], atol=1e-5)
    assert int(got["bert_layers"]) == clf.backbone.num_layers
    assert int(got["trainable"]) == len(clf.backbone.trainable_weights)
    np.testing.assert_allclose(got["bert_logits"], clf(x, training=False), atol=1e-5)
    mlm = models["t.bert-mlm"].backbone(x, training=False)
    np.testing.assert_allclose(got["mlm_pooled"], mlm["pooled_output"], atol=1e-5)

    vit = models["t.vit"]
    np.testing.assert_allclose(got["vit_logits"], vit(images, training=False), atol=1e-5)
    np.testing.assert_allclose(got["vit_signature"], got["vit_logits"], atol=1e-6)
    features_model = keras.Model(vit.input, vit.get_layer("head_dropout").input)
    np.testing.assert_allclose(got["vit_features"], features_model(images), atol=1e-5)
    assert got["vit_features"].shape == (3, vit.hidden_dim)

    mt = models["t.mt"]
    ids = features.sequence_ids(tokenizer, tf.constant(texts), 32)
    native_mt = tokenizer.detokenize(mt.generate(ids, max_length=12, beam_width=2))
    assert got["translations"].tolist() == [t.decode() for t in native_mt.numpy()]

    vae = models["t.vae"]
    z_mean, _ = vae.encode(vae_images)
    np.testing.assert_allclose(got["vae_z_mean"], z_mean, atol=1e-5)
    np.testing.assert_allclose(got["vae_decoded"], vae.decode(z), atol=1e-5)
    z_sampled = sample_latents(3, vae.latent_dim, 5)
    np.testing.assert_allclose(got["vae_sampled"], vae.decode(z_sampled), atol=1e-5)


@pytest.mark.slow
def test_exports_carry_a_model_card(exported):
    folder = exported["export"] / "t.bert-clf"
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == [
        "classifier", "encoder", "preprocessor"]
    card = json.loads((folder / "encoder" / "assets.extra" / "model_card.json").read_text())
    assert card["entry"] == "t.bert-clf" and card["part"] == "encoder"
    assert card["config"]["num_classes"] == 2 and card["recipe"]["max_length"] == 32
    assert "sst2" in card["data_licence"]
    text = (folder / "MODEL_CARD.md").read_text()
    assert "t.bert-clf" in text and "`classifier/`" in text


@pytest.mark.parametrize("entry,part", [("t.bert-clf", "encoder"), ("t.bert-clf", "classifier"),
                                        ("t.vit", "classifier"), ("t.mt", "translator"),
                                        ("t.vae", "vae")])
@pytest.mark.slow
def test_each_weight_is_stored_once(exported, entry, part):
    """The SavedModel's checkpoint holds every variable once: a second tracked path to the same
    weights (the Keras wrapper beside its tf.Variable) would double the download."""
    reader = tf.train.load_checkpoint(str(exported["export"] / entry / part / "variables"
                                          / "variables"))
    saved = [name for name in reader.get_variable_to_shape_map()
             if name.endswith("VARIABLE_VALUE")]
    stored = sum(int(np.prod(reader.get_variable_to_shape_map()[name])) for name in saved)
    model = exported["models"][entry]
    model = model.backbone if part == "encoder" else model
    assert stored == sum(int(np.prod(v.shape)) for v in model.variables), saved


@pytest.fixture(scope="module")
def compact(exported, tmp_path_factory):
    """The same runs published with int8 weights (the VAE with float16) and exported with the
    weights as stored: inference-only parts for the leaderboard's downloads."""
    root = tmp_path_factory.mktemp("compact")
    models = {}
    for entry in exported["models"]:
        precision = "float16" if entry == "t.vae" else "int8"
        folder = entries.publish(exported["root"] / "runs" / entry, dest_root=root / "entries",
                                 precision=precision)
        export.export_entry(folder, root / "export" / entry, weights="stored")
        models[entry] = entries.load_folder(folder)
    return {"export": root / "export", "models": models}


@pytest.mark.slow
def test_compact_exports_compute_what_the_stored_entry_computes(exported, compact):
    models, tokenizer = compact["models"], exported["tokenizer"]
    texts = ["the film was a delight", "la casa es grande y bonita", "what"]
    x = features.bert_inputs(tokenizer, tf.constant(texts), 32)
    folder = compact["export"] / "t.bert-clf"
    classifier = tf.saved_model.load(str(folder / "classifier"))
    np.testing.assert_allclose(classifier(tf.constant(texts))["logits"],
                               models["t.bert-clf"](x, training=False), atol=1e-5)
    encoder = tf.saved_model.load(str(folder / "encoder"))
    pooled = encoder({"input_word_ids": x["token_ids"], "input_mask": x["padding_mask"],
                      "input_type_ids": x["segment_ids"]})["pooled_output"]
    np.testing.assert_allclose(
        pooled, models["t.bert-clf"].backbone(x, training=False)["pooled_output"], atol=1e-5)
    assert not encoder.trainable_variables
    assert {v.dtype for v in encoder.variables} >= {tf.int8, tf.float32, tf.float16}
    # Quantization really happened: the float32 entry's logits differ.
    assert not np.allclose(classifier(tf.constant(texts))["logits"],
                           exported["models"]["t.bert-clf"](x, training=False), atol=1e-6)

    images = np.random.default_rng(0).random((3, 8, 8, 1)).astype("float32")
    vit = tf.saved_model.load(str(compact["export"] / "t.vit" / "classifier"))
    np.testing.assert_allclose(vit(images), models["t.vit"](images, training=False), atol=1e-5)

    mt = tf.saved_model.load(str(compact["export"] / "t.mt" / "translator"))
    ids = features.sequence_ids(tokenizer, tf.constant(texts), 32)
    want = tokenizer.detokenize(models["t.mt"].generate(ids, max_length=12, beam_width=2))
    assert mt(tf.constant(texts)).numpy().tolist() == want.numpy().tolist()

    vae = tf.saved_model.load(str(compact["export"] / "t.vae" / "vae"))
    z = np.random.default_rng(1).normal(size=(2, models["t.vae"].latent_dim)).astype("float32")
    np.testing.assert_allclose(vae.decode(z)["images"], models["t.vae"].decode(z), atol=1e-5)
    assert {v.dtype for v in vae.variables if v.shape.rank >= 2} == {tf.float16}


@pytest.mark.slow
def test_compact_exports_are_a_fraction_of_float32_and_say_so(exported, compact):
    def size(folder):
        return sum(p.stat().st_size for p in folder.rglob("variables.data-*"))

    for entry, part in [("t.bert-clf", "encoder"), ("t.mt", "translator")]:
        ratio = size(compact["export"] / entry / part) / size(exported["export"] / entry / part)
        assert ratio < 0.4, (entry, ratio)
    card = (compact["export"] / "t.mt" / "MODEL_CARD.md").read_text()
    assert "stored as int8" in card and "no trainable variables" in card
    assert "fine-tunable" in (exported["export"] / "t.mt" / "MODEL_CARD.md").read_text()
    with pytest.raises(ValueError, match="Unknown export weights 'int4'"):
        export.export_model(compact["models"]["t.vit"], compact["export"] / "x", weights="int4")


@pytest.mark.slow
def test_a_classifier_on_hub_layers_exports_as_one_string_to_logits_savedmodel(exported,
                                                                               tmp_path):
    from zoo.models.hub.classifier import HubTextClassifier

    folder = exported["export"] / "t.bert-mlm"
    keras.utils.set_random_seed(2)
    model = HubTextClassifier(str(folder / "encoder"), str(folder / "preprocessor"),
                              num_classes=3)
    texts = tf.constant(["the film was a delight", "no me gusta nada"])
    export.export_model(model, tmp_path / "out")
    loaded = tf.saved_model.load(str(tmp_path / "out" / "classifier"))
    np.testing.assert_allclose(loaded(texts)["logits"], model(texts, training=False),
                               atol=1e-5)
    assert len(loaded.trainable_variables) == len(model.trainable_weights)
    with pytest.raises(ValueError, match="Only a classifier on a zoo entry's encoder .* "
                                         "Other encoders export with --weights float32"):
        export.export_model(model, tmp_path / "compact", weights="int8")


@pytest.mark.slow
def test_a_classifier_on_a_zoo_encoder_exports_compactly_as_the_zoo_classifier_it_equals(
        exported, tmp_path, monkeypatch):
    from zoo.models.hub.classifier import HubTextClassifier
    from zoo.models.hub.export import as_bert_classifier

    monkeypatch.setenv("ZOO_ENTRIES_PATH", str(exported["root"] / "entries"))
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
    keras.utils.set_random_seed(3)
    model = HubTextClassifier("zoo:t.bert-mlm/encoder", "zoo:t.bert-mlm/preprocessor",
                              num_classes=3)
    encoder = model.get_layer("encoder")
    for v in encoder.trainable_weights:  # as fine-tuning would: the export must follow
        v.assign(v + np.random.default_rng(0).normal(0, 0.02, v.shape).astype("float32"))
    # Longer than the preprocessor's 32 tokens, so truncation must agree too.
    texts = tf.constant(["the film was a delight", "no me gusta nada",
                         " ".join(["la casa es grande y el perro come pan"] * 6)])
    converted, _, length = as_bert_classifier(model, export.entry_source)
    assert length == 32 and type(converted).__name__ == "BertClassifier"

    run = tmp_path / "runs" / "t.hub-clf"
    run.mkdir(parents=True)
    model.save(run / "model.keras")
    (run / "run.json").write_text(json.dumps({"entry": "t.hub-clf", "status": "complete"}))
    (run / "recipe.json").write_text(json.dumps({"entry": "t.hub-clf", "dataset": "sst2"}))
    folder = entries.publish(run, dest_root=tmp_path / "entries", precision="int8")
    stored = entries.load_folder(folder)
    export.export_entry(folder, tmp_path / "out", weights="stored")
    loaded = tf.saved_model.load(str(tmp_path / "out" / "classifier"))
    np.testing.assert_allclose(loaded(texts)["logits"], stored(texts, training=False),
                               atol=1e-4)
    assert not loaded.trainable_variables
    assert tf.int8 in {v.dtype for v in loaded.variables}
    card = json.loads((tmp_path / "out" / "model_card.json").read_text())
    assert card["weights"] == "int8" and card["parts"] == ["classifier"]


# --- Handles -----------------------------------------------------------------------------------


class _CountingServer:
    """A real HTTP server on 127.0.0.1 serving a folder, counting GET requests."""

    def __init__(self, folder):
        self.requests = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(folder), **kwargs)

            def do_GET(self):  # noqa: N802
                server.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.slow
def test_tar_gz_over_http_is_downloaded_once_then_read_from_the_cache(exported, tmp_path,
                                                                       monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
    server = _CountingServer(exported["export"] / "t.vit")
    try:
        url = f"{server.url}/classifier.tar.gz"
        images = np.random.default_rng(1).random((2, 8, 8, 1)).astype("float32")
        first = HubLayer(url)
        assert len(server.requests) == 1
        np.testing.assert_allclose(first(images), exported["models"]["t.vit"](images),
                                   atol=1e-5)
        second = HubLayer(url)
        assert len(server.requests) == 1, "the second load must read the cache"
        np.testing.assert_allclose(second(images), first(images), atol=0)
        assert any((tmp_path / "cache").iterdir())
    finally:
        server.close()


def test_an_unreachable_handle_says_what_to_download_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/models/encoder.tar.gz"
    with pytest.raises(HubError) as error:
        zoo.hub.load(url)
    message = str(error.value)
    assert url in message and "download" in message and str(tmp_path / "cache") in message
    assert not any(p.is_dir() for p in (tmp_path / "cache").glob("*")), "no half download"


def _archive_with(folder, kind, outside):
    """A .tar.gz of a (fake) SavedModel plus one member of `kind` reaching `outside`; returns
    the archive and that member's name."""
    members = {"dotdot": ("../evil", tarfile.REGTYPE, ""),
               "absolute": (str(outside / "evil"), tarfile.REGTYPE, ""),
               "symlink": ("variables", tarfile.SYMTYPE, str(outside)),
               "hardlink": ("variables.index", tarfile.LNKTYPE, "/etc/passwd"),
               "fifo": ("pipe", tarfile.FIFOTYPE, "")}
    name, type_, link = members[kind]
    archive = folder / f"{kind}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for member, data in (("saved_model.pb", b"a graph"), (name, b"evil")):
            info = tarfile.TarInfo(member)
            if member == name:
                info.type, info.linkname = type_, link
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return archive, name


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "hardlink", "fifo"])
def test_an_archive_fetched_over_http_and_refused_says_so_and_names_the_member(
        tmp_path, monkeypatch, kind):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "www").mkdir()
    archive, member = _archive_with(tmp_path / "www", kind, tmp_path / "outside")
    server = _CountingServer(tmp_path / "www")
    try:
        url = f"{server.url}/{archive.name}"
        with pytest.raises(HubError) as error:
            zoo.hub.load(url)
        assert len(server.requests) == 1
    finally:
        server.close()
    message = str(error.value)
    assert message.startswith(f"Fetched {url} (") and f"refused it: its member {member!r}" in message
    assert "Could not fetch" not in message and "Without network" not in message
    assert not (tmp_path / "outside").exists() and not list(tmp_path.rglob("evil"))
    assert not [p for p in (tmp_path / "cache").rglob("*") if not p.is_dir()], "nothing unpacked"
    # The same archive as a local file is refused in the same words.
    with pytest.raises(HubError, match=f"refused it: its member {re.escape(repr(member))}"):
        zoo.hub.load(archive)
    assert not (tmp_path / "outside").exists() and not list(tmp_path.rglob("evil"))


def test_a_fetched_file_that_is_no_archive_and_a_missing_one_say_what_happened(
        tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "page.tar.gz").write_text("<html>a login page</html>")
    server = _CountingServer(tmp_path / "www")
    try:
        with pytest.raises(HubError, match=r"Fetched .*page.tar.gz .* but it is not a readable "
                                           r"\.tar\.gz of a SavedModel"):
            zoo.hub.load(f"{server.url}/page.tar.gz")
        with pytest.raises(HubError, match=r"Could not fetch .*missing.tar.gz: the server "
                                           r"answered HTTP 404"):
            zoo.hub.load(f"{server.url}/missing.tar.gz")
    finally:
        server.close()


@pytest.mark.slow
def test_bad_handles_and_signatures_are_explained(exported, tmp_path):
    with pytest.raises(HubError, match="does not exist"):
        HubLayer(tmp_path / "missing")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "weights.bin").write_bytes(b"x")
    with pytest.raises(HubError, match="not a SavedModel.*weights.bin"):
        HubLayer(tmp_path / "folder")
    (tmp_path / "junk.tar.gz").write_bytes(b"not an archive")
    with pytest.raises(HubError, match="not a readable .tar.gz"):
        HubLayer(tmp_path / "junk.tar.gz")
    with pytest.raises(HubError, match="no signature 'predict'.*decode, encode, sample"):
        HubLayer(exported["export"] / "t.vae" / "vae", signature="predict")
    with pytest.raises(HubError, match="no output 'logits'"):
        HubLayer(exported["export"] / "t.bert-clf" / "encoder", output_key="logits")(
            {"input_word_ids": np.ones((1, 4), "int32"), "input_mask": np.ones((1, 4), "int32"),
             "input_type_ids": np.zeros((1, 4), "int32")})


@pytest.mark.slow
def test_each_part_as_a_layer_gives_what_the_parts_table_says(exported):
    """README's parts table: a single-output part gives its tensor (a classifier: strings ->
    logits, not {"logits": ...}); a part with several outputs gives them by name."""
    export_dir, models = exported["export"], exported["models"]
    strings = tf.constant(["the film was a delight", "no me gusta"])
    logits = HubLayer(export_dir / "t.bert-clf" / "classifier")(strings)
    raw = tf.saved_model.load(str(export_dir / "t.bert-clf" / "classifier"))(strings)
    assert not isinstance(logits, dict) and logits.shape == raw["logits"].shape
    np.testing.assert_allclose(logits, raw["logits"], atol=1e-6)
    packed = HubLayer(export_dir / "t.bert-clf" / "preprocessor")(strings)
    assert sorted(packed) == ["input_mask", "input_type_ids", "input_word_ids"]
    encoded = HubLayer(export_dir / "t.bert-clf" / "encoder")(packed)
    assert {"pooled_output", "sequence_output"} <= set(encoded)
    pooled = HubLayer(export_dir / "t.bert-clf" / "encoder", output_key="pooled_output")(packed)
    np.testing.assert_allclose(pooled, encoded["pooled_output"], atol=1e-6)
    images = np.random.default_rng(0).random((2, 8, 8, 1)).astype("float32")
    for part in ("classifier", "feature_vector"):
        out = HubLayer(export_dir / "t.vit" / part)(images)
        assert not isinstance(out, dict) and out.shape[0] == 2
    for signature in (None, "serving_default"):  # __call__ and the one-output signature alike
        out = HubLayer(export_dir / "t.vit" / "classifier", signature=signature)(images)
        np.testing.assert_allclose(out, models["t.vit"](images, training=False), atol=1e-5)
    translated = HubLayer(export_dir / "t.mt" / "translator")(strings)
    assert translated.dtype == tf.string and translated.shape == (2,)
    codes = HubLayer(export_dir / "t.vae" / "vae")(images)  # serving_default: encode
    assert sorted(codes) == ["z_log_var", "z_mean"]
    z = np.zeros((1, models["t.vae"].latent_dim), "float32")
    decoded = HubLayer(export_dir / "t.vae" / "vae", signature="decode")(z)
    np.testing.assert_allclose(decoded, models["t.vae"].decode(z), atol=1e-5)


@pytest.mark.slow
def test_named_inputs_signatures_and_string_preprocessing(exported):
    folder = exported["export"] / "t.bert-clf"
    text = keras.Input(shape=(), dtype="string")
    packed = HubLayer(folder / "preprocessor")(text)
    outputs = HubLayer(folder / "encoder", signature="serving_default")(packed)
    model = keras.Model(text, outputs["pooled_output"])
    strings = np.array(["the film was a delight", "no me gusta"])
    x = features.bert_inputs(exported["tokenizer"], tf.constant(strings), 32)
    expected = exported["models"]["t.bert-clf"].backbone(x)["pooled_output"]
    np.testing.assert_allclose(model(tf.constant(strings)), expected, atol=1e-5)


@pytest.mark.slow
@pytest.mark.multiprocess
def test_a_text_preprocessor_loads_in_a_process_that_never_imported_tensorflow_text(exported):
    # tensorflow-text's ops are registered only once it is imported; zoo.hub imports it.
    code = ("import sys, tensorflow as tf; from zoo.hub import HubLayer; "
            "assert 'tensorflow_text' not in sys.modules; "
            "out = HubLayer(sys.argv[1])(tf.constant(['a delight'])); "
            "print(sorted(out))")
    folder = exported["export"] / "t.bert-clf" / "preprocessor"
    done = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "input_word_ids" in done.stdout


@pytest.mark.slow
def test_zoo_handles_export_an_entry_on_first_use(exported, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_ENTRIES_PATH", str(exported["root"] / "entries"))
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
    layer = zoo.hub.load("zoo:t.vae/vae", signature="decode", output_key="images")
    z = np.zeros((1, exported["models"]["t.vae"].latent_dim), "float32")
    np.testing.assert_allclose(layer(z), exported["models"]["t.vae"].decode(z), atol=1e-5)
    with pytest.raises(HubError, match="exports the parts classifier, encoder, preprocessor"):
        zoo.hub.load("zoo:t.bert-clf/decoder")


@pytest.mark.slow
def test_zoo_export_command(exported, tmp_path, monkeypatch):
    from zoo.cli import main

    monkeypatch.setenv("ZOO_ENTRIES_PATH", str(exported["root"] / "entries"))
    assert main(["export", "t.vae", str(tmp_path / "out"), "--format", "tfhub", "--tar"]) == 0
    assert (tmp_path / "out" / "vae" / "saved_model.pb").is_file()
    assert (tmp_path / "out" / "vae.tar.gz").stat().st_size > 1000
    assert "t.vae" in (tmp_path / "out" / "MODEL_CARD.md").read_text()
    assert main(["export", "t.vea", str(tmp_path / "x")]) == 2


# --- Fine-tuning --------------------------------------------------------------------------------


def _hub_recipe(exported, **changes):
    folder = exported["export"] / "t.bert-mlm"
    base = dict(entry="t.hub", model="hub_bert_classifier", task="text_classification",
                dataset="tatoeba-langid-sample", steps=12, batch_size=16, learning_rate=2e-3,
                log_every=4, checkpoint_every=100,
                model_overrides={"encoder_handle": str(folder / "encoder"),
                                 "preprocessor_handle": str(folder / "preprocessor"),
                                 "classifier_dropout": 0.0})
    return Recipe(**{**base, **changes})


@pytest.mark.slow
def test_fine_tuning_a_hub_encoder_changes_it_and_lowers_the_loss(exported, tmp_path):
    result = train(_hub_recipe(exported), out=tmp_path / "run", strategy="default", **QUIET)
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").open()]
    assert history[-1]["loss"] < history[0]["loss"]
    model = zoo.load_model(tmp_path / "run" / "model.keras", safe_mode=False)
    encoder = model.get_layer("encoder")
    # Every backbone weight is a trainable weight of the hub layer (the pooler included).
    assert len(encoder.trainable_weights) == len(exported["models"]["t.bert-mlm"].backbone.weights)
    original = HubLayer(exported["export"] / "t.bert-mlm" / "encoder").trainable_weights
    assert not original, "trainable=False exposes no trainable weights"
    original = HubLayer(exported["export"] / "t.bert-mlm" / "encoder", trainable=True)
    changed = [not np.allclose(a.numpy(), b.numpy())
               for a, b in zip(original.trainable_weights, encoder.trainable_weights)]
    assert sum(changed) > len(changed) // 2
    assert result["steps"] == 12
    # Reloading a model whose hub layers run graphs from elsewhere (not zoo:ENTRY/PART):
    # refused in safe mode, naming the way to allow it; exact when allowed.
    with pytest.raises(UnsafeCodeError, match="safe_mode=False") as refused:
        zoo.load_model(tmp_path / "run" / "model.keras")
    assert "--unsafe-allow-code" in str(refused.value)
    strings = tf.constant(["the film was a delight", "la casa es grande"])
    again = zoo.load_model(tmp_path / "run" / "model.keras", safe_mode=False)
    np.testing.assert_allclose(again(strings), model(strings), atol=0)

    # Benchmarked like any zoo model: the harness feeds it raw text.
    from zoo.harness import runner

    record, _ = runner.run("hub_bert_classifier", "tatoeba-langid-sample",
                           weights=tmp_path / "run", results_dir=tmp_path / "results",
                           progress=False, limit=64, safe_mode=False)
    assert record["model"]["family"] == "hub" and record["model"]["class"] == "HubTextClassifier"
    assert record["benchmark"]["examples"]["evaluated"] == 64
    assert 0.0 <= record["metrics"]["accuracy"]["value"] <= 1.0


@pytest.mark.slow
def test_fine_tuning_a_hub_encoder_under_the_mirrored_strategy(exported, tmp_path):
    one = train(_hub_recipe(exported, steps=4), out=tmp_path / "one", strategy="one_device",
                devices=["/cpu:0"], **QUIET)
    two = train(_hub_recipe(exported, steps=4), out=tmp_path / "two", strategy="mirrored",
                devices=["/cpu:0", "/cpu:1"], **QUIET)
    assert (one["replicas"], two["replicas"]) == (1, 2)
    a = zoo.load_model(tmp_path / "one" / "model.keras", safe_mode=False)
    b = zoo.load_model(tmp_path / "two" / "model.keras", safe_mode=False)
    encoder_a = a.get_layer("encoder").trainable_weights
    encoder_b = b.get_layer("encoder").trainable_weights
    worst = max(float(np.max(np.abs(x.numpy() - y.numpy())))
                for x, y in zip(encoder_a, encoder_b))
    assert worst < 2e-4, f"largest encoder weight difference {worst}"
    start = HubLayer(exported["export"] / "t.bert-mlm" / "encoder", trainable=True)
    assert any(not np.allclose(x.numpy(), y.numpy())
               for x, y in zip(start.trainable_weights, encoder_b))


@pytest.mark.slow
def test_published_exports_load_by_url_from_the_served_leaderboard(tmp_path, monkeypatch):
    """Every TF Hub archive the leaderboard links gives its entry's outputs when loaded by URL
    from the served repository (the pages link each archive where it lies)."""
    import posixpath
    from urllib.parse import unquote

    root = Path(__file__).resolve().parents[1]
    linked = sorted({posixpath.normpath(f"leaderboard/entries/{unquote(href)}")
                     for page in (root / "leaderboard" / "entries").glob("*.html")
                     for href in re.findall(r'href="([^"]+\.tar\.gz)"', page.read_text())})
    archives = [path for path in linked if path.endswith("/classifier.tar.gz")]
    translators = [path for path in linked if path.endswith("/translator.tar.gz")]
    assert archives and translators, linked
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
    server = _CountingServer(root)
    try:
        for archive in archives:
            entry = archive.split("/")[-2]
            native = zoo.load(entry)
            layer = zoo.hub.load(f"{server.url}/{archive}")
            texts = tf.constant(["a moving, funny film", "what is the capital of peru ?"])
            if getattr(native, "takes_strings", False):  # a HubTextClassifier: strings in
                np.testing.assert_allclose(layer(texts), native(texts), atol=1e-4)
                continue
            if (zoo.entries.folder(entry) / "tokenizer").is_dir():  # raw strings in
                recipe = json.loads((zoo.entries.folder(entry) / "recipe.json").read_text())
                inputs = features.bert_inputs(zoo.entries.load_tokenizer(entry), texts,
                                              recipe["max_length"])
                np.testing.assert_allclose(layer(texts), native(inputs), atol=1e-4)
                continue
            images = np.random.default_rng(0).random(
                (2, *native.input.shape[1:])).astype("float32")
            np.testing.assert_allclose(layer(images), native(images), atol=1e-5)
        for archive in translators:  # gives the published benchmark's beam-search outputs
            entry = archive.split("/")[-2]
            predictions = sorted((root / "benchmarks" / "results").glob(
                f"*/*-{entry}-*.predictions.jsonl"))
            rows = [json.loads(line) for line in predictions[0].read_text().splitlines()[:3]]
            layer = zoo.hub.load(f"{server.url}/{archive}")
            got = layer(tf.constant([row["source"] for row in rows])).numpy()
            assert [t.decode() for t in got] == [row["hypothesis"] for row in rows]
    finally:
        server.close()


def _cut_archives(folder):
    """Archives of a (fake) SavedModel that are no longer whole: cut after 40 bytes, cut in
    the middle, a corrupt deflate stream, and an xz-compressed tar cut short."""
    import lzma

    payload = np.random.default_rng(0).bytes(20_000)
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        info = tarfile.TarInfo("saved_model.pb")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    whole = data.getvalue()
    corrupt = bytearray(whole)
    corrupt[30:60] = b"\xff" * 30
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w") as tar:
        tar.addfile(info, io.BytesIO(payload))
    xz = lzma.compress(plain.getvalue())
    archives = {"cut40": whole[:40], "half": whole[:len(whole) // 2], "corrupt": bytes(corrupt),
                "xz-cut": xz[:len(xz) // 2]}
    folder.mkdir(exist_ok=True)
    for name, blob in archives.items():
        (folder / f"{name}.tar.gz").write_bytes(blob)
    return sorted(archives)


def test_a_truncated_or_corrupt_archive_is_a_hub_error_over_http_and_on_disk(tmp_path,
                                                                              monkeypatch):
    """A cut .tar.gz was a bare EOFError ("Compressed file ended before the end-of-stream
    marker was reached") from resolve(); a corrupt one a zlib.error."""
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
    names = _cut_archives(tmp_path / "www")
    server = _CountingServer(tmp_path / "www")
    try:
        for name in names:
            url = f"{server.url}/{name}.tar.gz"
            with pytest.raises(HubError, match=rf"Fetched {re.escape(url)} \(.* bytes\) but it "
                                               r"is not a readable \.tar\.gz"):
                zoo.hub.resolve(url)
            local = tmp_path / "www" / f"{name}.tar.gz"
            with pytest.raises(HubError, match=rf"{re.escape(str(local))} is not a readable "
                                               r"\.tar\.gz"):
                zoo.hub.resolve(local)
    finally:
        server.close()
    assert not [p for p in (tmp_path / "cache").rglob("*") if not p.is_dir()], "nothing unpacked"
