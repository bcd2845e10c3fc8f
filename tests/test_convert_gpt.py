"""GPT-2 checkpoints of Transformers converted into zoo's `gpt` family, against the committed
reference outputs (`scripts/reference/gpt2.py`), and exported back."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.reference import case, max_difference
from zoo.checkpoints.converted import Source
from zoo.checkpoints.errors import ConversionError
from zoo.checkpoints.readers import safetensors_folder
from zoo.models.gpt.convert import load_transformers, to_transformers

LM_CASES = ("gpt2_lm", "gpt2_lm_untied")


def _source(folder) -> Source:
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    return Source(folder=folder, format="transformers", architecture=config["architectures"][0],
                  config=config, location=str(folder))


@pytest.fixture(scope="module")
def converted():
    """Each case's conversion, made once."""
    return {name: load_transformers(_source(case(name)[0]))
            for name in ("gpt2_model", *LM_CASES)}


def _masked(a, mask):
    """`a` `[batch, length, ...]` at the real (unpadded) positions only."""
    return np.asarray(a)[np.asarray(mask, bool)]


def test_gpt2_model_hidden_states_equal_the_reference(converted):
    _, inputs, expected, meta = case("gpt2_model")
    model = converted["gpt2_model"].model
    states = model._states(inputs["token_ids"].astype("int32"), training=False)
    assert max_difference(states, expected["last_hidden_state"]) <= meta["tolerance"]
    mask = inputs["prompt_mask"].astype(bool)
    padded = model._states(inputs["prompt_ids"].astype("int32"), mask, training=False)
    assert max_difference(_masked(padded, mask),
                          _masked(expected["padded_last_hidden_state"], mask)) <= meta["tolerance"]


@pytest.mark.parametrize("name", LM_CASES)
def test_gpt2_lm_logits_and_greedy_tokens_equal_the_reference(converted, name):
    _, inputs, expected, meta = case(name)
    model = converted[name].model
    logits = model(inputs["token_ids"].astype("int32"))
    assert max_difference(logits, expected["logits"]) <= meta["tolerance"]
    mask = inputs["prompt_mask"].astype(bool)
    padded = model({"token_ids": inputs["prompt_ids"].astype("int32"), "padding_mask": mask})
    assert max_difference(_masked(padded, mask),
                          _masked(expected["padded_logits"], mask)) <= meta["tolerance"]
    # No stop_ids: the converted model's end_id (eos_token_id) ends a row, as Transformers'
    # generate does by default, and the row is padded with it after (gpt2_lm_untied's rows
    # 0, 2, 3 end at once, row 5 after four tokens).
    generated = model.generate(inputs["prompt_ids"].astype("int32"), mask,
                               max_new_tokens=meta["max_new_tokens"])
    np.testing.assert_array_equal(np.asarray(generated), expected["generated"])


def test_converted_gpt2_ends_rows_at_the_end_of_text_only_by_default(converted):
    """The untied fixture's greedy rows that end at the end of text (99) end there because
    it is the default stop id; asked for no stop ids, zoo never generates its pad (also 99)."""
    _, inputs, expected, meta = case("gpt2_lm_untied")
    model = converted["gpt2_lm_untied"].model
    assert (model.end_id, model.pad_id) == (99, 99)
    assert (expected["generated"] == 99).any(axis=1).tolist() == [True, False, True, True,
                                                                 False, True]
    prompts = inputs["prompt_ids"].astype("int32"), inputs["prompt_mask"].astype(bool)
    explicit = model.generate(*prompts, max_new_tokens=meta["max_new_tokens"], stop_ids=[99])
    np.testing.assert_array_equal(np.asarray(explicit), expected["generated"])
    endless = np.asarray(model.generate(*prompts, max_new_tokens=meta["max_new_tokens"],
                                        stop_ids=()))
    assert not (endless == 99).any()
    np.testing.assert_array_equal(endless[[1, 4]], expected["generated"][[1, 4]])


def test_converted_records_the_mapping(converted):
    result = converted["gpt2_lm_untied"]
    config = result.model.get_config()
    assert (result.family, result.head, result.tokenizer) == ("gpt", "causal_lm", None)
    assert config["activation"] == "gelu" and config["layer_norm_epsilon"] == 1e-6
    assert config["intermediate_dim"] == 48 and config["tie_embeddings"] is False
    assert config["pad_id"] == 99  # the end of text: GPT-2 has no padding token
    assert config["end_id"] == 99  # eos_token_id: generation stops there by default
    assert any("tokenizer: none" in note for note in result.notes)
    tied = converted["gpt2_lm"].model.get_config()
    assert tied["activation"] == "gelu_approximate" and tied["tie_embeddings"] is True
    assert tied["intermediate_dim"] == 128  # n_inner null: 4 * n_embd


@pytest.mark.parametrize("name", ("gpt2_model", *LM_CASES))
def test_export_gives_back_the_source_tensors_and_config(converted, name):
    source, _, _, _ = case(name)
    config, tensors, files = to_transformers(converted[name].model, None)
    original = {k if k.startswith(("transformer.", "lm_head.")) else "transformer." + k: v
                for k, v in safetensors_folder(source).items()}
    assert sorted(tensors) == sorted(original)
    for key, value in original.items():
        np.testing.assert_array_equal(tensors[key], value, err_msg=key)
    source_config = json.loads((source / "config.json").read_text())
    for field in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head",
                  "layer_norm_epsilon", "activation_function", "tie_word_embeddings",
                  "eos_token_id", "bos_token_id"):
        assert config[field] == source_config[field], field
    assert config["n_inner"] == (source_config["n_inner"] or 4 * source_config["n_embd"])
    assert config["architectures"] == ["GPT2LMHeadModel"] and files == {}


def _copy(tmp_path, name="gpt2_lm"):
    folder = tmp_path / name
    shutil.copytree(case(name)[0], folder)
    return folder


def _edit_config(folder, **fields):
    path = folder / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))
    return _source(folder)


def _edit_tensors(folder, edit):
    import safetensors.numpy

    tensors = edit(safetensors_folder(folder))
    safetensors.numpy.save_file(tensors, str(folder / "model.safetensors"))
    return _source(folder)


def test_openai_layout_without_prefix_and_with_buffers_converts(tmp_path):
    """openai-community/gpt2's file: no "transformer." prefix, each block's `attn.bias` and
    `attn.masked_bias` buffers and `lm_head.weight` saved beside a tied config."""

    def openai(tensors):
        out = {k.removeprefix("transformer."): v for k, v in tensors.items()}
        for i in range(2):
            out[f"h.{i}.attn.bias"] = np.tril(np.ones((64, 64), "float32"))[None, None]
            out[f"h.{i}.attn.masked_bias"] = np.array(-1e4, "float32")
        out["lm_head.weight"] = out["wte.weight"].copy()
        return out

    _, inputs, expected, meta = case("gpt2_lm")
    result = load_transformers(_edit_tensors(_copy(tmp_path), openai))
    logits = result.model(inputs["token_ids"].astype("int32"))
    assert max_difference(logits, expected["logits"]) <= meta["tolerance"]
    left_out = [note for note in result.notes if note.startswith("left out")]
    assert len(left_out) == 5 and any("h.1.attn.masked_bias" in n for n in left_out)
    assert any("lm_head.weight: a copy of wte.weight" in n for n in left_out)


@pytest.mark.parametrize("field, value", [
    ("scale_attn_by_inverse_layer_idx", True),
    ("reorder_and_upcast_attn", True),
    ("add_cross_attention", True),
    ("scale_attn_weights", False),
    ("activation_function", "quick_gelu"),
])
def test_settings_zoo_cannot_represent_are_refused_by_name(tmp_path, field, value):
    source = _edit_config(_copy(tmp_path), **{field: value})
    with pytest.raises(ConversionError, match=f"{field}={value!r}"):
        load_transformers(source)


@pytest.mark.parametrize("value, message", [
    ([98, 99], r"eos_token_id=\[98, 99\] names several end-of-text tokens"),
    (100, r"eos_token_id=100 is not a token id of the vocabulary of 100"),
])
def test_an_end_of_text_zoo_cannot_stop_at_is_refused(tmp_path, value, message):
    source = _edit_config(_copy(tmp_path), eos_token_id=value, pad_token_id=99)
    with pytest.raises(ConversionError, match=message):
        load_transformers(source)


@pytest.mark.parametrize("field, value, message", [
    ("n_layer", "two", r"n_layer is 'two' \(a string\); expected a whole number"),
    ("n_layer", True, r"n_layer is True \(a boolean\); expected a whole number"),
    ("n_embd", 32.5, r"n_embd is 32.5 \(a number\); expected a whole number"),
    ("n_head", [4], r"n_head is \[4\] \(a list\)"),
    ("n_inner", 64.5, r"n_inner is 64.5 \(a number\); expected a whole number"),
    ("n_positions", "64", r"n_positions is '64' \(a string\)"),
    ("vocab_size", "100", r"vocab_size is '100' \(a string\)"),
    ("layer_norm_epsilon", None, r"layer_norm_epsilon is None \(null\); expected a number"),
    ("resid_pdrop", "0.1", r"resid_pdrop is '0.1' \(a string\); expected a number"),
    ("tie_word_embeddings", "false",
     r"tie_word_embeddings is 'false' \(a string\); expected true or false"),
    ("scale_attn_weights", "true", r"scale_attn_weights is 'true' \(a string\)"),
    ("add_cross_attention", 0, r"add_cross_attention is 0 \(a whole number\)"),
    ("pad_token_id", "99", r"pad_token_id='99' is not a token id"),
])
def test_a_config_of_wrong_types_names_the_field(tmp_path, field, value, message):
    """`int()`, `float()` and `bool()` on config.json's fields turned "two" into a traceback,
    32.5 into 32, a null epsilon into a TypeError and "false" into a tied output projection
    (bool("false") is True); a pad_token_id "99" was passed over for the eos id."""
    folder = _copy(tmp_path)
    with pytest.raises(ConversionError, match=message) as caught:
        load_transformers(_edit_config(folder, **{field: value}))
    assert f"{folder}/config.json" in str(caught.value)


def test_a_null_end_of_text_converts_without_a_default_stop(tmp_path):
    model = load_transformers(_edit_config(_copy(tmp_path), eos_token_id=None)).model
    assert (model.end_id, model.pad_id) == (None, 99)  # pad: bos_token_id


def test_an_lm_head_that_differs_from_a_tied_wte_is_refused(tmp_path):
    def differing(tensors):
        return {**tensors, "lm_head.weight": tensors["transformer.wte.weight"] + 1.0}

    with pytest.raises(ConversionError, match="lm_head.weight differs from wte.weight.*"
                                              "tie_word_embeddings"):
        load_transformers(_edit_tensors(_copy(tmp_path), differing))


def test_untied_config_without_lm_head_is_refused(tmp_path):
    source = _edit_config(_copy(tmp_path), tie_word_embeddings=False)
    with pytest.raises(ConversionError, match="tie_word_embeddings=false.*no lm_head.weight"):
        load_transformers(source)


@pytest.mark.parametrize("edit, message", [
    (lambda t: {k: v for k, v in t.items() if k != "transformer.h.1.mlp.c_fc.bias"},
     r"no tensor h.1.mlp.c_fc.bias"),
    (lambda t: {**t, "transformer.h.0.attn.c_attn.weight": np.zeros((32, 64), "float32")},
     r"h.0.attn.c_attn.weight has shape \(32, 64\); config.json's sizes make it \(32, 96\)"),
    (lambda t: {**t, "score.weight": np.zeros((2, 32), "float32")},
     r"not part of GPT-2's layout zoo converts: score.weight"),
])
def test_missing_misshapen_and_unknown_tensors_are_named(tmp_path, edit, message):
    with pytest.raises(ConversionError, match=message):
        load_transformers(_edit_tensors(_copy(tmp_path), edit))


def test_a_head_the_family_has_not_is_refused():
    with pytest.raises(ConversionError, match="causal_lm"):
        load_transformers(_source(case("gpt2_lm")[0]), head="classifier")


def test_the_family_declares_the_converter_and_the_export():
    from zoo.models import catalog
    from zoo.models.family import load

    family = catalog.family("gpt")
    (converter,) = family.converters
    assert converter.format == "transformers"
    assert {"GPT2LMHeadModel", "GPT2Model"} <= set(converter.architectures)
    assert load(converter.load) is load_transformers
    assert load(family.hf_export) is to_transformers


def test_zoo_convert_load_and_hf_export_write_round_trip(tmp_path):
    """Through zoo's conversion stage (format detection, the family claiming GPT2LMHeadModel)
    and its Transformers writer: the folder written holds the source's tensors."""
    import zoo.convert
    from zoo.convert import hf_export

    source, inputs, expected, meta = case("gpt2_lm")
    result = zoo.convert.load(str(source))
    assert (result.family, result.source.architecture) == ("gpt", "GPT2LMHeadModel")
    logits = result.model(inputs["token_ids"].astype("int32"))
    assert max_difference(logits, expected["logits"]) <= meta["tolerance"]
    hf_export.write(result.model, None, tmp_path / "hf")
    written, original = safetensors_folder(tmp_path / "hf"), safetensors_folder(source)
    assert sorted(written) == sorted(original)
    for key, value in original.items():
        np.testing.assert_array_equal(written[key], value, err_msg=key)
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["model_type"] == "gpt2"
