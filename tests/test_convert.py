"""The generic conversion stage (`zoo.convert`): formats told by their files, hf:// downloads
from a real loopback server laid out as the hub, the errors, `zoo convert` / `zoo export
--format hf` round trips and `zoo.build(..., weights=)`. The family converters have their own
tests (tests/test_convert_<family>.py); here a committed Transformers fixture stands for any."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
from conftest import closed_port_url
from reference import FIXTURES

import zoo
from zoo import cli
from zoo.convert import ConversionError, sources

#: A committed Transformers fixture (made by scripts/reference/gpt2.py) that a family converts.
CASE = FIXTURES / "gpt2_model" / "source"
needs_case = pytest.mark.skipif(not (CASE / "model.safetensors").is_file(),
                                reason="the gpt2_model reference fixture is not there")


def _safetensors(path, **arrays):
    from safetensors.numpy import save_file

    save_file({k: np.asarray(v, "float32") for k, v in (arrays or {"w": [0.0]}).items()},
              str(path))


def _folder(tmp_path, files: dict):
    folder = tmp_path / "src"
    folder.mkdir()
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".safetensors"):
            _safetensors(path)
        elif isinstance(content, dict):
            path.write_text(json.dumps(content))
        else:
            path.write_bytes(content.encode() if isinstance(content, str) else content)
    return folder


# --- Formats, told by their files -----------------------------------------------------------

def test_transformers_layout(tmp_path):
    folder = _folder(tmp_path, {
        "config.json": {"model_type": "bert", "architectures": ["BertForMaskedLM"]},
        "model.safetensors": None, "vocab.txt": "[PAD]\n", "README.md": "x",
        "pytorch_model.bin": b"pickle"})
    source = sources.resolve(folder)
    assert (source.format, source.architecture) == ("transformers", "BertForMaskedLM")
    assert sorted(source.files) == ["config.json", "model.safetensors", "vocab.txt"]
    assert source.files["vocab.txt"] == hashlib.sha256(b"[PAD]\n").hexdigest()


def test_transformers_without_architectures_is_its_model_type(tmp_path):
    folder = _folder(tmp_path, {"config.json": {"model_type": "vit"}, "model.safetensors": None})
    assert sources.resolve(folder).architecture == "vit"


def test_sharded_transformers_reads_every_shard(tmp_path):
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors",
                            "b": "model-00002-of-00002.safetensors"}}
    folder = _folder(tmp_path, {
        "config.json": {"model_type": "gpt2", "architectures": ["GPT2Model"]},
        "model.safetensors.index.json": index, "model-00001-of-00002.safetensors": None,
        "model-00002-of-00002.safetensors": None})
    assert sorted(sources.resolve(folder).files) == [
        "config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
        "model.safetensors.index.json"]
    (folder / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(ConversionError, match="model-00002-of-00002.safetensors"):
        sources.resolve(folder)


def test_keras_hub_backbone_and_task_presets(tmp_path):
    folder = _folder(tmp_path, {
        "config.json": {"registered_name": "keras_hub>BertBackbone", "config": {}},
        "metadata.json": {"keras_version": "3"}, "model.weights.h5": b"h5",
        "tokenizer.json": {}, "assets/tokenizer/vocabulary.txt": "[PAD]\n"})
    source = sources.resolve(folder)
    assert (source.format, source.architecture) == ("keras_hub", "BertBackbone")
    assert "assets/tokenizer/vocabulary.txt" in source.files
    (folder / "task.json").write_text(json.dumps(
        {"registered_name": "keras_hub>BertTextClassifier"}))
    with pytest.raises(ConversionError, match="task.weights.h5"):
        sources.resolve(folder)
    (folder / "task.weights.h5").write_bytes(b"h5")
    assert sources.resolve(folder).architecture == "BertTextClassifier"


def test_original_bert_checkpoint(tmp_path):
    folder = _folder(tmp_path, {
        "bert_config.json": {"hidden_size": 32}, "bert_model.ckpt.index": b"i",
        "bert_model.ckpt.data-00000-of-00001": b"d", "vocab.txt": "[PAD]\n"})
    source = sources.resolve(folder)
    assert (source.format, source.architecture) == ("bert_original", "BertModel")
    assert source.config == {"hidden_size": 32}
    assert len(source.files) == 4


def test_timm_safetensors(tmp_path):
    folder = _folder(tmp_path, {
        "config.json": {"architecture": "vit_tiny_patch16_224", "pretrained_cfg": {}},
        "model.safetensors": None})
    source = sources.resolve(folder)
    assert (source.format, source.architecture) == ("timm", "vit_tiny_patch16_224")


# --- Errors --------------------------------------------------------------------------------

def test_unknown_layout_lists_what_each_format_needs(tmp_path):
    folder = _folder(tmp_path, {"README.md": "weights elsewhere", "weights.npy": b"x"})
    with pytest.raises(ConversionError) as caught:
        sources.resolve(folder)
    message = str(caught.value)
    assert "README.md" in message
    for fmt, need in sources.FORMATS.items():
        assert f"{fmt}: {need}" in message


@pytest.mark.parametrize("files", [
    {"config.json": {"model_type": "bert"}, "pytorch_model.bin": b"pickle"},
    {"pytorch_model.bin": b"pickle"},
])
def test_pickled_weights_are_refused(tmp_path, files):
    with pytest.raises(ConversionError, match=r"pytorch_model\.bin.*unpickling runs code"):
        sources.resolve(_folder(tmp_path, files))


def test_missing_folder_says_so(tmp_path):
    (tmp_path / "bert-base").mkdir()
    with pytest.raises(ConversionError, match=r"not a folder.*Did you mean.*bert-base"):
        zoo.convert.load(tmp_path / "bert-bse")


def test_architecture_no_family_converts_lists_the_supported(tmp_path):
    folder = _folder(tmp_path, {
        "config.json": {"model_type": "gpt2", "architectures": ["GPT2LMHeadModels"]},
        "model.safetensors": None})
    with pytest.raises(ConversionError) as caught:
        zoo.convert.load(folder)
    message = str(caught.value)
    assert "transformers checkpoint of GPT2LMHeadModels, which no zoo family converts" in message
    assert "Did you mean: 'GPT2LMHeadModel'" in message
    assert "GPT2LMHeadModel (gpt)" in message and "timm:" in message


@needs_case
def test_a_head_the_family_lacks(tmp_path):
    with pytest.raises(ConversionError, match="no such head.*Its heads: causal_lm"):
        zoo.convert.load(CASE, head="classifier")


@needs_case
@pytest.mark.parametrize(("call", "said"), [
    (lambda: zoo.convert.load(CASE, head="casual_lm"), "head='casual_lm'"),
    (lambda: zoo.build("gpt", task="casual_lm", weights=str(CASE)), "task='casual_lm'"),
])
def test_a_head_typo_is_named_as_the_caller_named_it(call, said):
    """Python callers were told "--head casual_lm", an option they never gave."""
    with pytest.raises(ConversionError) as caught:
        call()
    message = str(caught.value)
    assert message.startswith(f"{said}: the gpt family has no such head")
    assert "--head" not in message and "Did you mean: 'causal_lm'?" in message


@needs_case
@pytest.mark.parametrize(("name", "hint"), [
    ("afile", None),
    ("tiny.keras", "Did you mean: '{stem}'? (the entry folder; keras_file=True writes"),
])
@pytest.mark.parametrize("force", [False, True])
def test_writing_an_entry_over_a_file_says_it_is_a_file(tmp_path, name, hint, force):
    """A file where the entry folder should go was "exists and is not empty" (a folder's
    problem; --force would not help), and with force a traceback (a file renamed onto a
    folder)."""
    converted = zoo.convert.load(CASE)
    target = tmp_path / name
    target.write_text("mine\n")
    with pytest.raises(FileExistsError, match="is a file, not a folder") as caught:
        zoo.convert.write_entry(converted, target, force=force)
    message = str(caught.value)
    assert message.startswith(f"{target} is a file") and "force=True replaces folders" in message
    assert "not empty" not in message
    if hint:
        assert hint.format(stem=tmp_path / "tiny") in message
    assert target.read_text() == "mine\n" and sorted(tmp_path.iterdir()) == [target]


def test_an_entry_target_is_named_as_the_command_line_named_it(tmp_path):
    from zoo.convert import entry

    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(FileExistsError, match=r"^--to .*full exists and is not empty; .*"
                                              r"pass --force to replace it"):
        entry.check_target(tmp_path / "full", option="--to")
    (tmp_path / "afile").write_text("")
    with pytest.raises(FileExistsError, match=r"^--to .*afile is a file, not a folder: .*"
                                              r"--force replaces folders only"):
        entry.check_target(tmp_path / "afile", force=True, option="--to")
    entry.check_target(tmp_path / "full", force=True, option="--to")  # replaced: no error
    entry.check_target(tmp_path / "new", option="--to")


def test_a_shard_the_index_lists_is_named_with_the_index(tmp_path):
    """Read directly (`zoo.checkpoints.readers`), a missing shard was "<shard> is missing."
    with no word of the index that lists it or what to do."""
    from zoo.checkpoints.readers import safetensors_folder

    _safetensors(tmp_path / "model-00001-of-00002.safetensors", a=[1.0])
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
        "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}))
    with pytest.raises(ConversionError, match=r"model.safetensors.index.json lists the shard "
                                              r"model-00002-of-00002.safetensors, which .* does "
                                              r"not have. Download every shard"):
        safetensors_folder(tmp_path)


@needs_case
def test_a_preset_of_another_family_says_how_to_build_the_checkpoint():
    with pytest.raises(ConversionError, match=r"bert_tiny is a bert model, but .* is converted "
                                              r"by the gpt family: build it as 'gpt'"):
        zoo.build("bert_tiny", weights=str(CASE))


# --- hf:// from a server laid out as the hub ---------------------------------------------------

def _hub(root, repo, files: dict, revision="main", lfs=("model.safetensors",)):
    """Serves `files` (name -> bytes) under `root` as the hub does: the files at
    `REPO/resolve/REV/NAME`, the metadata at `api/models/REPO/revision/REV`."""
    siblings = []
    for name, data in files.items():
        path = root / repo / "resolve" / revision / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        entry = {"rfilename": name, "size": len(data), "blobId": blob}
        if name in lfs:
            entry["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            entry["blobId"] = "0" * 40  # the pointer's blob, not the file's
        siblings.append(entry)
    api = root / "api" / "models" / repo / "revision" / revision
    api.parent.mkdir(parents=True, exist_ok=True)
    api.write_text(json.dumps({"id": repo, "sha": "1" * 40, "siblings": siblings}))


@pytest.fixture
def hub(server, tmp_path, monkeypatch):
    root, url, hits = server
    monkeypatch.setenv("ZOO_HF_ENDPOINT", url)
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    return root, url, hits


@needs_case
def test_hf_download_is_verified_cached_and_works_offline(hub, monkeypatch):
    root, _, hits = hub
    files = {p.name: p.read_bytes() for p in CASE.iterdir()}
    _hub(root, "org/tiny-gpt2", {**files, "pytorch_model.bin": b"pickle", "README.md": b"hi"})
    source = sources.resolve("hf://org/tiny-gpt2", progress=False)
    assert source.format == "transformers" and source.location == "hf://org/tiny-gpt2"
    assert source.files == sources.detect(CASE).files  # the same bytes, sha256 recorded
    assert hits["/api/models/org/tiny-gpt2/revision/main?blobs=true"] == 1
    assert hits["/org/tiny-gpt2/resolve/main/model.safetensors"] == 1
    assert not any("pytorch_model" in p or "README" in p for p in hits)  # only what it reads
    sources.resolve("hf://org/tiny-gpt2", progress=False)  # the cache's copy: no download
    assert hits["/org/tiny-gpt2/resolve/main/model.safetensors"] == 1

    monkeypatch.setenv("ZOO_HF_ENDPOINT", closed_port_url())  # offline
    offline = zoo.convert.load("hf://org/tiny-gpt2", progress=False)
    local = zoo.convert.load(CASE)
    ids = np.array([[5, 7, 9, 11]])
    np.testing.assert_array_equal(np.asarray(offline.model(ids)), np.asarray(local.model(ids)))
    assert offline.source.files == source.files

    (source.folder / "config.json").write_text("{}")  # the cache changed since
    with pytest.raises(ConversionError, match="config.json has changed since it was downloaded"):
        sources.resolve("hf://org/tiny-gpt2", progress=False)


@needs_case
def test_hf_tampered_files_are_refused_and_not_kept(hub):
    root, _, _ = hub
    files = {p.name: p.read_bytes() for p in CASE.iterdir()}
    _hub(root, "org/tiny", files)
    weights = root / "org/tiny/resolve/main/model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    with pytest.raises(ConversionError, match=r"sha256 [0-9a-f]{64}, expected [0-9a-f]{64}"):
        sources.resolve("hf://org/tiny", progress=False)
    cached = zoo.datasets.sources.cache_dir() / "hf/org/tiny/main"
    assert not (cached / "model.safetensors").exists()

    _hub(root, "org/tiny2", files, revision="v1")
    (root / "org/tiny2/resolve/v1/config.json").write_text("{}")  # not its git blob
    with pytest.raises(ConversionError, match="git blob id"):
        sources.resolve("hf://org/tiny2@v1", progress=False)


def test_hf_unknown_repository_and_offline_without_cache(hub, monkeypatch):
    with pytest.raises(ConversionError, match="no public model repository org/none at "
                                              "revision main .HTTP 404"):
        sources.resolve("hf://org/none", progress=False)
    monkeypatch.setenv("ZOO_HF_ENDPOINT", closed_port_url())
    with pytest.raises(ConversionError, match="the cache holds no copy"):
        sources.resolve("hf://org/none", progress=False)
    with pytest.raises(ConversionError, match="expected hf://ORG/NAME"):
        sources.resolve("hf://a/b/c")


# --- zoo convert, zoo export --format hf, zoo.build(weights=) -------------------------------

def _outputs(model):
    return np.asarray(model(np.array([[3, 1, 4, 1, 5, 9, 2, 6]])))


@needs_case
def test_zoo_convert_writes_an_entry_folder_that_loads_equal(tmp_path, capsys):
    target = tmp_path / "converted" / "tiny-gpt2"
    assert cli.main(["convert", str(CASE), "--to", str(target), "--keras"]) == 0
    assert "converted" in capsys.readouterr().out
    record = json.loads((target / "conversion.json").read_text())
    assert record["location"] == str(CASE)
    assert (record["format"], record["architecture"]) == ("transformers", "GPT2Model")
    assert record["files"] == sources.detect(CASE).files and record["notes"]
    assert record["zoo_version"] == zoo.__version__
    info = json.loads((target / "run.json").read_text())
    assert info["status"] == "complete" and info["training_data"][0]["dataset"] is None
    expected = _outputs(zoo.convert.load(CASE).model)
    np.testing.assert_array_equal(_outputs(zoo.entries.load_folder(target)), expected)
    np.testing.assert_array_equal(_outputs(zoo.load_model(target / "model.keras")), expected)
    assert not list(target.parent.glob(".*"))  # no staging left

    assert cli.main(["convert", str(CASE), "--to", str(target)]) == 2
    assert "--force" in capsys.readouterr().err


@needs_case
def test_zoo_export_hf_round_trip(tmp_path, capsys):
    entry, out = tmp_path / "tiny-gpt2", tmp_path / "hf"
    zoo.convert.write_entry(zoo.convert.load(CASE), entry)
    assert cli.main(["export", str(entry), "--format", "hf", str(out)]) == 0
    assert {"config.json", "model.safetensors"} <= {p.name for p in out.iterdir()}
    back = zoo.convert.load(out)
    np.testing.assert_array_equal(_outputs(back.model), _outputs(zoo.entries.load_folder(entry)))
    assert cli.main(["export", str(entry), "--format", "hf", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert cli.main(["export", str(entry), "--format", "hf", str(out), "--force"]) == 0


def test_hf_export_of_a_family_without_one_names_those_with_one(tmp_path):
    from zoo.convert import hf_export

    with pytest.raises(ConversionError, match="lenet family has no export.*gpt"):
        hf_export.write(zoo.build("lenet5"), None, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@needs_case
def test_build_with_weights(tmp_path):
    by_family = zoo.build("gpt", weights=str(CASE))
    np.testing.assert_array_equal(_outputs(by_family), _outputs(zoo.convert.load(CASE).model))
    with pytest.raises(ConversionError, match=r"is not a gpt_tiny: .*hidden_dim: gpt_tiny has "):
        zoo.build("gpt_tiny", weights=str(CASE))
    with pytest.raises(ConversionError, match="bert_tiny is a bert model"):
        zoo.build("bert_tiny", weights=str(CASE))
    with pytest.raises(ConversionError, match="num_layers=3 would change the architecture"):
        zoo.build("gpt", weights=str(CASE), num_layers=3)
    rebuilt = zoo.build("gpt", weights=str(CASE), dropout=0.3)
    assert rebuilt.get_config()["dropout"] == 0.3
    np.testing.assert_array_equal(_outputs(rebuilt), _outputs(by_family))


@needs_case
def test_a_copy_of_the_case_converts_as_the_case(tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(CASE, copy)
    assert zoo.convert.resolve(copy).files == zoo.convert.resolve(CASE).files


# --- A converted entry works like any entry: scored, exported, fine-tuned -------------------

#: A Transformers BERT classifier (labels negative, neutral, positive) with its WordPiece files.
BERT_CLASSIFIER = FIXTURES / "bert_transformers_classifier" / "source"

MOOD_TSV = ("text\tlabel\nthe cat sat on the mat\tpositive\nhello world\tnegative\n"
            "playing played\tneutral\nthe dog ran\tpositive\n")
MOOD_BENCHMARK = """
id = "mood"
version = 1
task = "text_classification"
description = "negative, neutral or positive"
dataset = "files"
split = "test"
labels = ["negative", "neutral", "positive"]
metrics = ["accuracy"]
main_metric = "accuracy"

[files]
kind = "text_classification"
path = "mood.tsv"
"""


def _convert_to(source, folder):
    assert cli.main(["convert", str(source), "--to", str(folder)]) == 0
    return folder


@pytest.fixture
def converted_classifier(tmp_path, monkeypatch):
    """The BERT classifier fixture converted by `zoo convert` into an entries folder on
    $ZOO_ENTRIES_PATH, and a user benchmark with its labels on $ZOO_BENCHMARKS_PATH."""
    (tmp_path / "mood.tsv").write_text(MOOD_TSV, encoding="utf-8")
    (tmp_path / "mood.toml").write_text(MOOD_BENCHMARK, encoding="utf-8")
    monkeypatch.setenv("ZOO_BENCHMARKS_PATH", str(tmp_path))
    monkeypatch.setenv("ZOO_ENTRIES_PATH", str(tmp_path / "entries"))
    return _convert_to(BERT_CLASSIFIER, tmp_path / "entries" / "tiny.bert-mood")


def test_a_converted_entry_says_what_it_does_not_what_trained_it(converted_classifier):
    record = json.loads((converted_classifier / "conversion.json").read_text())
    assert (record["task"], record["model"], record["head"]) == (
        "text_classification", "bert", "classifier")
    assert not (converted_classifier / "recipe.json").exists()  # not trained here
    assert zoo.entries.task_of(converted_classifier) == "text_classification"
    assert zoo.entries.model_name_of(converted_classifier) == "bert"
    assert zoo.entries.recipe(converted_classifier) == {}
    assert zoo.entries.expected_input("tiny.bert-mood") == "strings (raw text)"  # `zoo list`
    copies = converted_classifier / "source_tokenizer"
    assert sorted(p.name for p in copies.iterdir()) == ["tokenizer_config.json", "vocab.txt"]
    for name in ("tokenizer_config.json", "vocab.txt"):
        assert (copies / name).read_bytes() == (BERT_CLASSIFIER / name).read_bytes()
        assert record["files"][name] == hashlib.sha256((copies / name).read_bytes()).hexdigest()


def test_a_converted_classifier_is_benchmarked_by_entry_name(converted_classifier, tmp_path,
                                                             capsys):
    from zoo import records

    assert cli.main(["bench", "run", "--entry", "tiny.bert-mood", "--benchmark", "mood",
                     "--results", str(tmp_path / "r")]) == 0
    record = records.read(next((tmp_path / "r").glob("mood/*.json")))
    model = record["model"]
    assert (model["name"], model["family"], model["entry"]) == ("bert", "bert", "tiny.bert-mood")
    assert model["recipe"] is None and model["config"]["vocabulary_size"] == 208
    assert "pretrained elsewhere" in model["training_data"][0]["note"]
    assert record["evaluation"]["labels"]["source"] == "labels in its run.json"
    assert not record["flags"]["untrained"]
    assert record["benchmark"]["examples"]["evaluated"] == 4


def test_a_converted_backbone_on_a_classification_benchmark_is_refused_up_front(
        converted_classifier, tmp_path, capsys):
    """A BERT backbone (`BertModel`, hidden states only) scored on a classification benchmark:
    refused before any data or model loads, naming its head, the head the benchmark needs and
    the `zoo convert --head` that gives it (and init_from, which BERT can start from)."""
    backbone = _convert_to(FIXTURES / "bert_transformers_model" / "source",
                           tmp_path / "entries" / "tiny.bert-backbone")
    capsys.readouterr()
    assert cli.main(["bench", "run", "--entry", "tiny.bert-backbone", "--benchmark", "mood",
                     "--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "warning" not in err  # nothing ran before the refusal
    assert ("tiny.bert-backbone is a converted bert checkpoint (BertModel from "
            f"{FIXTURES / 'bert_transformers_model' / 'source'}): its 'backbone' head outputs "
            "features (hidden states), which no benchmark task scores, but benchmark 'mood' "
            "(task text_classification) needs a 'classifier' head") in err
    assert "zoo convert SOURCE --to DIR --head classifier" in err
    assert 'init_from = "tiny.bert-backbone"' in err
    assert not (tmp_path / "r").exists()
    assert json.loads((backbone / "conversion.json").read_text())["task"] is None


def test_a_vit_without_classes_on_an_image_benchmark_is_refused_up_front(tmp_path, capsys):
    """A ViT converted from `ViTModel` has no classes (num_classes 0: it outputs features);
    its entry serves no task and an image classification benchmark refuses it before its
    data is read."""
    from reference import case

    entry = _convert_to(case("vit_hf_model")[0], tmp_path / "tiny-vit-features")
    assert json.loads((entry / "conversion.json").read_text())["task"] is None
    capsys.readouterr()
    assert cli.main(["bench", "run", "--weights", str(entry), "--model", "vit",
                     "--benchmark", "digits", "--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert ("its 'classifier' head without classes (ViTClassifier with num_classes 0) "
            "outputs features") in err
    assert "needs a 'classifier' head" in err and "--head classifier" in err
    assert "init_from" not in err  # ViT models cannot start from a trained model


def test_a_family_name_without_weights_is_refused(converted_classifier, tmp_path, capsys):
    assert cli.main(["bench", "run", "--model", "bert", "--benchmark", "mood",
                     "--results", str(tmp_path / "r")]) != 0
    assert "'bert' is a family" in capsys.readouterr().err


@pytest.mark.slow
def test_a_converted_bert_classifier_exports_to_tf_hub(converted_classifier, tmp_path):
    import tensorflow as tf

    from zoo.text import features, tokenizers

    out = tmp_path / "hub"
    assert cli.main(["export", "tiny.bert-mood", str(out)]) == 0
    card = json.loads((out / "model_card.json").read_text())
    assert card["converted_from"]["location"] == str(BERT_CLASSIFIER)
    assert card["recipe"] == {} and "converted from" in card["data_licence"]
    texts = ["the cat sat on the mat", "hello [PAD] world", "playing"]
    model = zoo.entries.load_folder(converted_classifier)
    tokenizer = tokenizers.load(converted_classifier / "tokenizer")
    want = model(features.bert_inputs(tokenizer, tf.constant(texts), 64), training=False)
    got = tf.saved_model.load(str(out / "classifier"))(tf.constant(texts))["logits"]
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_a_converted_vit_classifier_exports_to_tf_hub(tmp_path):
    import tensorflow as tf
    from reference import case

    source, inputs, expected, meta = case("vit_hf_classifier")
    entry = _convert_to(source, tmp_path / "tiny-vit")
    assert cli.main(["export", str(entry), str(tmp_path / "hub")]) == 0
    logits = tf.saved_model.load(str(tmp_path / "hub" / "classifier"))(inputs["images"])
    np.testing.assert_allclose(logits, expected["logits"], atol=meta["tolerance"])


def test_a_converted_entry_publishes_in_float16_keeping_its_record(converted_classifier,
                                                                   tmp_path):
    published = zoo.entries.publish(converted_classifier, tmp_path / "pub", precision="float16")
    assert not (published / "recipe.json").exists()
    for name in ("conversion.json", "source_tokenizer/vocab.txt", "tokenizer/tokenizer.json"):
        assert (published / name).read_bytes() == (converted_classifier / name).read_bytes()
    info = json.loads((published / "run.json").read_text())
    assert info["published"]["narrowed_from"] == "float32"
    assert zoo.entries.task_of(published) == "text_classification"


def test_hf_export_gives_back_the_class_names(converted_classifier, tmp_path):
    assert cli.main(["export", str(converted_classifier), "--format", "hf",
                     str(tmp_path / "hf")]) == 0
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    source = json.loads((BERT_CLASSIFIER / "config.json").read_text())
    assert config["id2label"] == source["id2label"] and config["label2id"] == source["label2id"]


#: GPT-2's tokenizer files as Transformers saves them (zoo has no tokenizer for its byte-level
#: BPE: the files travel with the entry unread, so any bytes stand for them here).
GPT2_TOKENIZER = {
    "vocab.json": json.dumps({"!": 0, "\"": 1, "<|endoftext|>": 99}),
    "merges.txt": "#version: 0.2\nĠ t\nĠ a\n",
    "tokenizer_config.json": json.dumps({"tokenizer_class": "GPT2Tokenizer",
                                         "eos_token": "<|endoftext|>"}),
    "special_tokens_map.json": json.dumps({"eos_token": "<|endoftext|>"}),
}


def test_export_back_keeps_the_source_tokenizer_files(tmp_path):
    source = tmp_path / "gpt2"
    shutil.copytree(FIXTURES / "gpt2_lm" / "source", source)
    for name, text in GPT2_TOKENIZER.items():
        (source / name).write_text(text, encoding="utf-8")
    entry = _convert_to(source, tmp_path / "tiny-gpt2")
    assert not (entry / "tokenizer").exists()
    assert sorted(p.name for p in (entry / "source_tokenizer").iterdir()) == sorted(
        GPT2_TOKENIZER)
    assert cli.main(["export", str(entry), "--format", "hf", str(tmp_path / "hf")]) == 0
    for name in GPT2_TOKENIZER:
        assert (tmp_path / "hf" / name).read_bytes() == (source / name).read_bytes(), name
    again = zoo.convert.load(tmp_path / "hf")
    np.testing.assert_array_equal(_outputs(again.model), _outputs(zoo.convert.load(source).model))


SPAM_TSV = ("text\tlabel\nwin a free phone now\tspam\nsee you at lunch\tham\n"
            "cheap pills, click here\tspam\nthe meeting moved to friday\tham\n")


def _converted(model, tokenizer, extra=None):
    """A `Converted` as a family's loader returns it (the generic stage is under test here,
    not a family's mapping)."""
    from zoo.checkpoints.converted import Converted, Source

    source = Source(folder=CASE, format="transformers", architecture="BertModel", config={},
                    location="hf://org/tiny-bert", files={"config.json": "0" * 64})
    family, head = zoo.models.catalog.head_of(model)
    return Converted(model=model, family=family.name, head=head, tokenizer=tokenizer,
                     notes=["a note"], source=source, extra=extra or {})


def test_init_from_a_converted_backbone(tmp_path, monkeypatch):
    from zoo import datasets
    from zoo.text import tokenizers
    from zoo.training.recipes import Recipe
    from zoo.training.train import _model_builder, locate_entry

    recipe = Recipe(entry="t.bert", model="bert_tiny", task="text_classification",
                    dataset="tatoeba-langid-sample", max_length=16, steps=1, batch_size=4,
                    tokenizer={"vocabulary_size": 300}, init_from="t.converted-bert",
                    model_overrides={"num_layers": 1})
    examples = datasets.load(recipe.dataset, recipe.split)
    tokenizer = tokenizers.train(SPAM_TSV.split("\n"), vocabulary_size=60)  # the checkpoint's
    backbone = zoo.build("bert_tiny", num_layers=1, vocabulary_size=tokenizer.vocabulary_size,
                         max_sequence_length=16)
    zoo.convert.write_entry(_converted(backbone, tokenizer), tmp_path / "t.converted-bert")
    monkeypatch.setenv("ZOO_ENTRIES_PATH", str(tmp_path))
    init_dir = locate_entry("t.converted-bert")
    model = _model_builder(recipe, examples, tokenizers.load(init_dir / "tokenizer"),
                           init_dir)()
    got, want = model.backbone.get_weights(), backbone.get_weights()
    assert len(got) == len(want) and all(np.array_equal(a, b) for a, b in zip(got, want))


# --- A recipe fine-tunes from a converted checkpoint (`init_from`) ------------------------------

#: The architecture of the committed BERT fixtures (scripts/reference/bert.py TINY: hidden 32,
#: 2 layers, 4 heads, intermediate 64, 64 positions, 2 segment types; their config.json) as
#: `model_overrides` of `bert_tiny`. The vocabulary is not among them: it is the checkpoint's.
TINY_BERT = {"hidden_dim": 32, "num_layers": 2, "num_heads": 4, "intermediate_dim": 64,
             "max_sequence_length": 64, "num_segments": 2}


def _converted_bert(tmp_path, monkeypatch, case="bert_transformers_model", tokens=None,
                    drop=(), extra=()):
    """A committed BERT fixture, copied (its vocab.txt cut to its first `tokens` lines, the
    tokens `extra` appended, the files in `drop` left out), converted by `zoo convert` into
    `tiny-bert` on $ZOO_ENTRIES_PATH; a four-line TSV beside it. Returns the entry folder."""
    source = tmp_path / "source"
    shutil.copytree(FIXTURES / case / "source", source)
    for name in drop:
        (source / name).unlink()
    if tokens is not None:
        lines = (source / "vocab.txt").read_text(encoding="utf-8").splitlines()[:tokens]
        (source / "vocab.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if extra:
        with open(source / "vocab.txt", "a", encoding="utf-8") as vocab:
            vocab.write("".join(f"{token}\n" for token in extra))
    (tmp_path / "spam.tsv").write_text(SPAM_TSV, encoding="utf-8")
    monkeypatch.setenv("ZOO_ENTRIES_PATH", str(tmp_path / "entries"))
    return _convert_to(source, tmp_path / "entries" / "tiny-bert")


def _fine_tune(tmp_path, **fields):
    from zoo.training.recipes import Recipe

    return Recipe.from_dict({
        "entry": "t.spam", "model": "bert_tiny", "task": "text_classification",
        "dataset": "files", "files": {"kind": "text_classification",
                                      "path": str(tmp_path / "spam.tsv")},
        "steps": 2, "batch_size": 4, "max_length": 16, "checkpoint_every": 2, "log_every": 1,
        "init_from": "tiny-bert", "model_overrides": TINY_BERT, **fields})


def test_a_recipe_fine_tunes_from_a_converted_transformers_checkpoint(tmp_path, monkeypatch):
    """`bert_tiny` with the fixture's sizes, `init_from` its `zoo convert` entry: the run reads
    text with the checkpoint's tokenizer (not one learned from the TSV), its model has the
    checkpoint's 208 token embeddings although the tokenizer has 190 tokens (a vocabulary
    shorter than the embedding, as checkpoints padded to a round size have), and its backbone
    starts equal to the converted one, then trains."""
    from zoo.text import tokenizers
    from zoo.training import sources
    from zoo.training.train import _model_builder, locate_entry

    entry = _converted_bert(tmp_path, monkeypatch, tokens=190)
    recipe = _fine_tune(tmp_path)
    converted = zoo.entries.load_folder(entry)
    init_dir = locate_entry("tiny-bert")
    tokenizer = tokenizers.load(init_dir / "tokenizer")
    assert (tokenizer.vocabulary_size, converted.vocabulary_size) == (190, 208)
    examples = sources.load(recipe, log=lambda *_: None).examples
    start = _model_builder(recipe, examples, tokenizer, init_dir)()
    got, want = start.backbone.get_weights(), converted.get_weights()
    assert len(got) == len(want) and all(np.array_equal(a, b) for a, b in zip(got, want))

    result = zoo.train(recipe, out=tmp_path / "run", log=lambda *_: None)
    run = result["run_dir"]
    assert (run / "tokenizer" / "vocab.txt").read_bytes() == (
        entry / "tokenizer" / "vocab.txt").read_bytes()
    assert json.loads((run / "run.json").read_text())["init_from"] == "tiny-bert"
    trained = zoo.load_model(run / "model.keras")
    assert trained.backbone.vocabulary_size == 208


def test_a_checkpoint_whose_tokenizer_outruns_its_embeddings_is_refused(tmp_path, monkeypatch):
    """A vocab.txt of 209 tokens for 208 token embeddings: id 208 ("zebra") would look up no
    embedding. A fine-tune from it is refused naming both counts."""
    from zoo.training.errors import RecipeError

    _converted_bert(tmp_path, monkeypatch, extra=["zebra"])
    with pytest.raises(RecipeError, match=r"init_from 'tiny-bert': its tokenizer has 209 "
                                          r"tokens, more than the 208 token embeddings"):
        zoo.train(_fine_tune(tmp_path), out=tmp_path / "run", log=lambda *_: None)


def test_a_recipe_of_another_architecture_is_refused_naming_the_overrides(tmp_path,
                                                                          monkeypatch):
    """`bert_tiny` as it is (hidden 128), and with the sizes right but exact GELU for a
    checkpoint of tanh GELU (`hidden_act` "gelu_new"): each difference named, with the
    `model_overrides` that make the recipe's model the checkpoint's."""
    from zoo.training.errors import RecipeError

    _converted_bert(tmp_path, monkeypatch, tokens=200)
    with pytest.raises(RecipeError) as caught:
        zoo.train(_fine_tune(tmp_path, model_overrides={}), out=tmp_path / "run",
                  log=lambda *_: None)
    message = str(caught.value)
    assert "init_from 'tiny-bert': its backbone differs from the recipe's" in message
    assert "hidden_dim 32 (the recipe's 128)" in message
    assert "model_overrides = {" in message and "hidden_dim = 32" in message
    shutil.rmtree(tmp_path / "entries")
    shutil.rmtree(tmp_path / "source")
    _converted_bert(tmp_path, monkeypatch, case="bert_transformers_gelu_new", tokens=200)
    with pytest.raises(RecipeError, match=r"activation 'gelu_approximate' \(the recipe's "
                                          r"'gelu'\).*activation = \"gelu_approximate\""):
        zoo.train(_fine_tune(tmp_path), out=tmp_path / "run2", log=lambda *_: None)


def test_a_converted_checkpoint_without_a_tokenizer_is_refused(tmp_path, monkeypatch):
    """A checkpoint converted without tokenizer files (weights only): its token embeddings
    are indexed by ids of a tokenizer zoo does not have, so a fine-tune that learned its own
    tokenizer would read text with unrelated ids. Refused, naming the fix."""
    from zoo.training.errors import RecipeError

    entry = _converted_bert(tmp_path, monkeypatch, drop=("vocab.txt", "tokenizer_config.json"))
    assert not (entry / "tokenizer").exists()
    with pytest.raises(RecipeError, match=r"init_from 'tiny-bert' is a converted checkpoint "
                                          r"without a tokenizer zoo reads"):
        zoo.train(_fine_tune(tmp_path), out=tmp_path / "run", log=lambda *_: None)
    assert not (tmp_path / "run" / "tokenizer").exists()


# --- BERT's padding mask is the real lengths --------------------------------------------------

def test_padding_mask_attends_to_a_pad_token_in_the_text():
    """Transformers' attention mask is 1 on every token the text gives, "[PAD]" written in it
    included (the tokenizer fixture has such a text), and 0 on the padding only."""
    import tensorflow as tf
    from reference import case

    from zoo.models.bert import convert as bert_convert
    from zoo.text import features

    source, inputs, expected, meta = case("bert_tokenizer_uncased")
    tokenizer, _ = bert_convert.transformers_tokenizer(source, str(source))
    texts = [str(t) for t in inputs["texts"]]
    assert any("[PAD]" in text for text in texts)
    ids = expected["ids"]
    packed = features.bert_inputs(tokenizer, tf.constant(texts), ids.shape[1])
    np.testing.assert_array_equal(packed["padding_mask"].numpy(),
                                  (ids != meta["padding"]).astype("int32"))
    short = features.bert_inputs(tokenizer, tf.constant(texts), 8, pad_to_multiple=4)
    np.testing.assert_array_equal(short["padding_mask"].numpy(),
                                  (ids[:, :8] != meta["padding"]).astype("int32"))


# --- Every committed fixture through `zoo convert` and back -----------------------------------

def _model_cases():
    from reference import case

    return [d.name for d in sorted(FIXTURES.iterdir())
            if not case(d.name)[3]["architecture"].endswith("Tokenizer")]


def _call(model, inputs):
    """The model on a fixture's inputs, those it takes by name (GPT: the token ids)."""
    names = [x.name for x in getattr(model, "inputs", None) or []]
    if not names:
        return np.asarray(model(inputs["token_ids"].astype("int32"), training=False))
    given = {name: inputs[name] for name in names}
    out = model(given if len(given) > 1 else given[names[0]], training=False)
    return {k: np.asarray(v) for k, v in out.items()} if isinstance(out, dict) else np.asarray(out)


@pytest.mark.slow
@pytest.mark.parametrize("name", _model_cases())
def test_every_fixture_converts_into_an_entry_that_loads_equal(name, tmp_path):
    from reference import case

    from zoo.text import tokenizers

    source, inputs, _, _ = case(name)
    direct = zoo.convert.load(source)
    entry = _convert_to(source, tmp_path / name)
    loaded = zoo.entries.load_folder(entry)
    assert type(loaded) is type(direct.model)
    want, got = _call(direct.model, inputs), _call(loaded, inputs)
    for key in want if isinstance(want, dict) else [None]:
        np.testing.assert_array_equal(got[key] if key else got, want[key] if key else want)
    assert (entry / "tokenizer").is_dir() == (direct.tokenizer is not None)
    if direct.tokenizer is not None:
        again = tokenizers.load(entry / "tokenizer")
        assert type(again) is type(direct.tokenizer)
        texts = ["The cat sat on the mat.", "Hello, world!"]
        assert again.tokenize(texts).to_list() == direct.tokenizer.tokenize(texts).to_list()


def test_a_converted_marian_tokenizer_loads_from_the_entry(tmp_path):
    from reference import case

    from zoo.text import SentencePieceTokenizer, tokenizers

    source, _, expected, meta = case("marian_separate")
    entry = _convert_to(source, tmp_path / "marian")
    tokenizer = tokenizers.load(entry / "tokenizer")
    assert isinstance(tokenizer, SentencePieceTokenizer)
    for side, texts, tokenize in (("source", meta["test_source"], tokenizer.tokenize),
                                  ("target", meta["test_target"], tokenizer.tokenize_target)):
        flat, lengths = expected[f"{side}_ids_flat"], expected[f"{side}_ids_lengths"]
        want = [row.tolist() for row in np.split(flat, np.cumsum(lengths)[:-1])]
        assert [row + [tokenizer.end_id] for row in tokenize(texts).to_list()] == want, side


# --- A converted GPT-2 may end at its end of text ---------------------------------------------

def test_a_converted_gpt2_ends_at_its_end_of_text_when_it_is_a_stop_id():
    """GPT-2's end of text is its pad_id in zoo; as a stop id (given, or by default: it is the
    converted model's end_id), zoo generates it where Transformers' greedy `generate` does
    (the fixture's logits put it first after 5 tokens of the second row) and pads the row
    with it after, as Transformers does (pad = eos)."""
    from reference import case

    source, inputs, expected, meta = case("gpt2_lm_untied")
    model = zoo.convert.load(source).model
    eos = meta["config"]["eos_token_id"]
    assert model.pad_id == eos
    prompt = inputs["token_ids"][1:2, :5].astype("int32")
    assert int(np.argmax(expected["logits"][1, 4])) == eos
    ended = np.asarray(model.generate(prompt, max_new_tokens=3, stop_ids=[eos]))
    assert ended.tolist() == [[eos, eos, eos]]
    assert np.asarray(model.generate(prompt, max_new_tokens=3)).tolist() == ended.tolist()
    runner_up = int(np.argsort(expected["logits"][1, 4])[-2])  # no stop ids: never generated
    assert np.asarray(model.generate(prompt, max_new_tokens=1, stop_ids=())).tolist() == [
        [runner_up]]


def test_zoo_convert_names_a_file_target_and_a_misspelt_head_as_the_command_line_does(
        tmp_path, capsys):
    """`--to` an existing file is named as a file (not "not empty"), and a misspelt `--head`
    is named as the option with the closest head; neither writes anything."""
    source = FIXTURES / "bert_transformers_model" / "source"
    (tmp_path / "afile").write_text("x")
    assert cli.main(["convert", str(source), "--to", str(tmp_path / "afile")]) == 2
    assert "--to " + str(tmp_path / "afile") + " is a file, not a folder" in capsys.readouterr().err
    assert cli.main(["convert", str(source), "--to", str(tmp_path / "new"),
                     "--head", "clasifier"]) == 2
    err = capsys.readouterr().err
    assert "--head clasifier" in err and "Did you mean: 'classifier'?" in err
    assert not (tmp_path / "new").exists() and (tmp_path / "afile").read_text() == "x"


def test_a_shard_missing_from_a_folder_is_named_with_the_folder_and_the_fix(tmp_path):
    """Through `zoo.convert.load` the layout check sees the missing shard first: its message
    named neither the checkpoint nor what to do."""
    import zoo.convert

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert",
                                                      "architectures": ["BertModel"]}))
    _safetensors(tmp_path / "model-00001-of-00002.safetensors", a=[1.0])
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
        "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}))
    with pytest.raises(ConversionError, match=rf"{tmp_path}: model.safetensors.index.json "
                                              r"lists model-00002-of-00002.safetensors, which "
                                              r"it does not have: copy every shard"):
        zoo.convert.load(str(tmp_path))
