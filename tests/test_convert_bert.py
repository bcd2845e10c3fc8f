"""BERT checkpoints of Transformers, Google's original release and KerasHub, converted by zoo,
give the reference libraries' outputs (committed fixtures: scripts/reference/bert.py), and
zoo's BERT exports back to Transformers' tensors. No torch, transformers or keras_hub here."""

import json
import shutil

import numpy as np
import pytest

from tests.reference import case, max_difference
from zoo.checkpoints.converted import Source
from zoo.checkpoints.errors import ConversionError
from zoo.checkpoints.readers import safetensors_folder
from zoo.models.bert import convert

_FORMATS = {"bert_original": "bert_original", "bert_keras_hub_backbone": "keras_hub",
            "bert_keras_hub_classifier": "keras_hub"}
_LOADERS = {"transformers": convert.load_transformers, "bert_original": convert.load_bert_original,
            "keras_hub": convert.load_keras_hub}


def _source(folder, name, config=None):
    fmt = _FORMATS.get(name, "transformers")
    config_file = folder / ("bert_config.json" if fmt == "bert_original" else "config.json")
    config = json.loads(config_file.read_text()) if config is None else config
    if fmt == "bert_original":
        architecture = "BertModel"
    elif fmt == "keras_hub":
        task = folder / "task.json"
        architecture = json.loads(task.read_text())["class_name"] if task.is_file() else \
            config["class_name"]
    else:
        architecture = config["architectures"][0]
    return Source(folder, fmt, architecture, config, str(folder))


def _convert(name, head=None, folder=None, config=None):
    source_dir, inputs, expected, meta = case(name)
    source = _source(folder or source_dir, name, config)
    return _LOADERS[source.format](source, head), inputs, expected, meta


def _outputs(converted, inputs):
    x = {k: inputs[k] for k in ("token_ids", "segment_ids", "padding_mask")}
    if converted.head == "masked_lm":
        x["mask_positions"] = inputs["mask_positions"]
    out = converted.model(x)
    return out if isinstance(out, dict) else {"logits": out}


@pytest.mark.parametrize("name", [
    "bert_transformers_model", "bert_transformers_masked_lm", "bert_transformers_classifier",
    "bert_transformers_gelu_new", "bert_original", "bert_keras_hub_backbone",
    "bert_keras_hub_classifier"])
def test_converted_model_matches_the_reference(name):
    converted, inputs, expected, meta = _convert(name)
    out = _outputs(converted, inputs)
    for key, value in expected.items():
        if key not in out:  # Google's checkpoint: the backbone's outputs, read below
            continue
        assert max_difference(out[key], value) <= meta["tolerance"], key
    if name == "bert_original":  # one checkpoint, both heads: masked-LM and its backbone
        backbone = convert.load_bert_original(converted.source, "backbone").model
        out = backbone({k: inputs[k] for k in ("token_ids", "segment_ids", "padding_mask")})
        for key in ("sequence_output", "pooled_output"):
            assert max_difference(out[key], expected[key]) <= meta["tolerance"], key
        assert any("next-sentence" in note for note in converted.notes)


def test_heads_labels_and_notes():
    converted, *_ = _convert("bert_transformers_classifier")
    assert converted.head == "classifier"
    assert converted.extra["labels"] == ["negative", "neutral", "positive"]
    masked, *_ = _convert("bert_transformers_masked_lm")
    assert masked.head == "masked_lm"
    assert any("no pooler" in note for note in masked.notes)
    backbone, *_ = _convert("bert_transformers_masked_lm", head="backbone")
    assert backbone.head == "backbone"
    assert any("cls.predictions" in note for note in backbone.notes)
    with pytest.raises(ConversionError, match="no masked-LM head"):
        _convert("bert_transformers_model", head="masked_lm")
    with pytest.raises(ConversionError, match="unknown head 'tagger'"):
        _convert("bert_transformers_model", head="tagger")
    gelu_new, *_ = _convert("bert_transformers_gelu_new")
    assert gelu_new.model.activation == "gelu_approximate"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("position_embedding_type", "relative_key", "position_embedding_type is 'relative_key'"),
    ("hidden_act", "relu", "hidden_act is 'relu'"),
    ("is_decoder", True, "is_decoder is true"),
    ("add_cross_attention", True, "add_cross_attention is true"),
    ("problem_type", "regression", "problem_type is 'regression'"),
    ("model_type", "roberta", "model_type is 'roberta'"),
])
def test_unsupported_settings_are_refused(field, value, message):
    source_dir, *_ = case("bert_transformers_classifier")
    config = json.loads((source_dir / "config.json").read_text())
    with pytest.raises(ConversionError, match=message):
        _convert("bert_transformers_classifier", config={**config, field: value})


def test_wrong_shapes_and_missing_tensors_are_refused(tmp_path):
    source_dir, *_ = case("bert_transformers_model")
    config = json.loads((source_dir / "config.json").read_text())
    with pytest.raises(ConversionError, match="shape"):
        _convert("bert_transformers_model", config={**config, "intermediate_size": 48})
    with pytest.raises(ConversionError, match="no value for"):
        _convert("bert_transformers_model", config={**config, "num_hidden_layers": 3})
    folder = tmp_path / "bin"
    folder.mkdir()
    shutil.copy(source_dir / "config.json", folder)
    (folder / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(ConversionError, match="pickled"):
        _convert("bert_transformers_model", folder=folder)


@pytest.mark.parametrize("name", ["bert_transformers_model", "bert_transformers_masked_lm",
                                  "bert_transformers_classifier",
                                  "bert_transformers_gelu_new"])
def test_export_gives_back_the_checkpoint(name):
    converted, *_ = _convert(name)
    source_dir = converted.source.folder
    config, tensors, files = convert.to_transformers(converted.model, converted.tokenizer,
                                                     converted.extra.get("labels"))
    original = safetensors_folder(source_dir)
    assert sorted(tensors) == sorted(original)
    for key, value in original.items():
        assert np.array_equal(tensors[key], value), key
    reference = json.loads((source_dir / "config.json").read_text())
    for field in ("architectures", "model_type", "vocab_size", "hidden_size",
                  "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act",
                  "max_position_embeddings", "type_vocab_size", "layer_norm_eps",
                  "pad_token_id", "id2label", "label2id"):
        if field in reference:
            assert config[field] == reference[field], field
    assert files["vocab.txt"] == (source_dir / "vocab.txt").read_text("utf-8")
    assert json.loads(files["tokenizer_config.json"])["do_lower_case"] is True


@pytest.mark.parametrize("name", ["bert_tokenizer_uncased", "bert_tokenizer_cased"])
def test_tokenizer_gives_the_reference_ids(name):
    import tensorflow as tf

    from zoo.text import features

    source_dir, inputs, expected, meta = case(name)
    tokenizer, notes = convert.transformers_tokenizer(source_dir, str(source_dir))
    assert tokenizer.lowercase is meta["do_lower_case"] and tokenizer.rules == "bert"
    assert (tokenizer.pad_id, tokenizer.unk_id, tokenizer.cls_id, tokenizer.sep_id,
            tokenizer.mask_id, tokenizer.start_id) == (0, 100, 101, 102, 103, None)
    texts = [str(t) for t in inputs["texts"]]
    packed = features.bert_inputs(tokenizer, tf.constant(texts), expected["ids"].shape[1])
    ids = packed["token_ids"].numpy()
    want = expected["ids"]
    for i, text in enumerate(texts):
        row = want[i][want[i] != meta["padding"]]
        assert ids[i][: len(row)].tolist() == row.tolist(), repr(text)
        assert (ids[i][len(row):] == tokenizer.pad_id).all()


def test_tokenizer_settings_zoo_cannot_follow_are_refused(tmp_path):
    source_dir, *_ = case("bert_tokenizer_uncased")
    shutil.copy(source_dir / "vocab.txt", tmp_path)
    settings = json.loads((source_dir / "tokenizer_config.json").read_text())
    for key, value, message in (("strip_accents", False, "strip_accents"),
                                ("tokenize_chinese_chars", False, "tokenize_chinese_chars"),
                                ("mask_token", "<mask>", "mask_token")):
        (tmp_path / "tokenizer_config.json").write_text(json.dumps({**settings, key: value}))
        with pytest.raises(ConversionError, match=message):
            convert.transformers_tokenizer(tmp_path, str(tmp_path))
