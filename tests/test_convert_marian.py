"""Transformers' MarianMTModel (and MarianTokenizer) into zoo's Transformer, against the
committed reference fixtures of `scripts/reference/marian.py` (no torch here)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.reference import case, max_difference
from zoo.checkpoints.converted import Source
from zoo.checkpoints.errors import ConversionError
from zoo.models.transformer.convert import load_transformers

CASES = ("marian_shared", "marian_separate")


def _source(folder):
    config = json.loads((folder / "config.json").read_text())
    return Source(folder, "transformers", config["architectures"][0], config, str(folder))


@pytest.fixture(scope="module", params=CASES)
def converted(request):
    folder, inputs, expected, meta = case(request.param)
    return load_transformers(_source(folder)), inputs, expected, meta


def test_teacher_forcing_logits_match(converted):
    result, inputs, expected, meta = converted
    # zoo masks by the pad id; the fixture's attention mask is the tokenizer's, the same.
    np.testing.assert_array_equal(inputs["attention_mask"],
                                  inputs["encoder_token_ids"] != result.model.pad_id)
    logits = result.model({"encoder_token_ids": inputs["encoder_token_ids"],
                           "decoder_token_ids": inputs["decoder_token_ids"]})
    assert max_difference(logits, expected["logits"]) <= meta["tolerance"]


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_generation_matches(converted, use_cache):
    result, inputs, expected, meta = converted
    ids = result.model.generate(inputs["encoder_token_ids"], max_length=meta["max_new_tokens"],
                                use_cache=use_cache, jit_compile=False)
    np.testing.assert_array_equal(np.asarray(ids), expected["generated"])


def _rows(expected, name):
    flat, lengths = expected[f"{name}_flat"], expected[f"{name}_lengths"]
    return [row.tolist() for row in np.split(flat, np.cumsum(lengths)[:-1])]


def test_tokenizer_ids_match(converted):
    result, _, expected, meta = converted
    tokenizer = result.tokenizer
    source = [row + [tokenizer.end_id] for row in tokenizer.tokenize(meta["test_source"]).to_list()]
    assert source == _rows(expected, "source_ids")
    target = [row + [tokenizer.end_id]
              for row in tokenizer.tokenize_target(meta["test_target"]).to_list()]
    assert target == _rows(expected, "target_ids")


def test_tokenizer_decodes_as_transformers(converted):
    result, _, expected, meta = converted
    tokenizer = result.tokenizer
    decoded = tokenizer.detokenize(_rows(expected, "target_ids")).numpy()
    assert [t.decode("utf-8") for t in decoded] == meta["decoded"]
    generated = tokenizer.detokenize(expected["generated"]).numpy()
    assert [t.decode("utf-8") for t in generated] == meta["decoded_generated"]


def test_tokenizer_saves_and_loads_by_kind(converted, tmp_path):
    from zoo.text import tokenizers

    result, _, _, meta = converted
    result.tokenizer.save(tmp_path)
    again = tokenizers.load(tmp_path)
    assert tokenizers.kind_of(again) == "sentencepiece"
    texts = meta["test_source"]
    assert again.tokenize(texts).to_list() == result.tokenizer.tokenize(texts).to_list()
    assert (again.start_id, again.end_id, again.pad_id) == (
        result.model.start_id, result.model.end_id, result.model.pad_id)


def _copy(tmp_path, name="marian_shared"):
    folder, *_ = case(name)
    target = tmp_path / "source"
    shutil.copytree(folder, target)
    return target


def _edit_config(folder, **changes):
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))
    return _source(folder)


@pytest.mark.parametrize("changes, field", [
    ({"activation_function": "tanh"}, "activation_function"),
    ({"normalize_before": True}, "normalize_before"),
    ({"normalize_embedding": True}, "normalize_embedding"),
    ({"static_position_embeddings": False}, "static_position_embeddings"),
    ({"add_bias_logits": True}, "add_bias_logits"),
    ({"decoder_attention_heads": 2}, "decoder_attention_heads"),
    ({"decoder_ffn_dim": 32}, "decoder_ffn_dim"),
    ({"decoder_vocab_size": 7}, "decoder_vocab_size"),
    ({"model_type": "bart"}, "model_type"),
])
def test_unrepresentable_settings_are_refused(tmp_path, changes, field):
    source = _edit_config(_copy(tmp_path), **changes)
    with pytest.raises(ConversionError, match=field):
        load_transformers(source)


def test_wrong_shape_and_missing_tensors_are_refused(tmp_path):
    from safetensors.numpy import load_file, save_file

    folder = _copy(tmp_path)
    tensors = load_file(folder / "model.safetensors")
    name = "model.encoder.layers.0.fc1.weight"
    tensors[name] = tensors[name][:, :-1]
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(ConversionError, match=r"feed_forward/intermediate/kernel.*shape"):
        load_transformers(_source(folder))
    del tensors[name]
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(ConversionError, match=name.replace(".", r"\.")):
        load_transformers(_source(folder))


def test_tokenizer_not_matching_the_config_is_refused(tmp_path):
    folder = _copy(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    source = _edit_config(folder, eos_token_id=1, forced_eos_token_id=1)
    assert config["eos_token_id"] == 0
    with pytest.raises(ConversionError, match="eos_token_id=1"):
        load_transformers(source)


def test_other_heads_are_refused():
    folder, *_ = case("marian_shared")
    with pytest.raises(ConversionError, match="seq2seq"):
        load_transformers(_source(folder), head="classifier")


@pytest.mark.parametrize("name", CASES)
def test_the_fixture_records_the_libraries_that_made_it(name):
    """As every other reference module's meta.json: `library` holds the versions of the
    libraries whose outputs are the expected ones (the tokenizer's ids are SentencePiece's);
    Marian's had torch and Transformers loose at the top level and no SentencePiece."""
    meta = case(name)[3]
    assert set(meta["library"]) == {"torch", "transformers", "sentencepiece"}
    assert all(isinstance(v, str) and v[0].isdigit() for v in meta["library"].values())
