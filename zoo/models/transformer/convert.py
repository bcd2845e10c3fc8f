"""Transformers' `MarianMTModel` checkpoints into zoo's `TransformerSeq2Seq`, with Marian's
SentencePiece tokenizer.

Marian (Junczys-Dowmunt et al., 2018, https://aclanthology.org/P18-4020) as Transformers
computes it (`transformers/models/marian/modeling_marian.py`) is the paper's post-LN
encoder-decoder with these choices, each mapped to a constructor option of zoo's model:
- sinusoidal positions laid out `[sin | cos]` (`sinusoidal_layout="concatenated"`), not saved
  in the checkpoint;
- token embeddings times `sqrt(d_model)` only with `scale_embedding`
  (`scale_embeddings`);
- `final_logits_bias` added to the logits (`output_bias=True` when the output projection is
  tied; the bias of the untied projection otherwise);
- the decoder starts from the pad id (`start_id == pad_id`; zoo then never masks the
  decoder's position 0), layer norms with epsilon 1e-5, one feed-forward activation
  (`relu`, exact `gelu`, `swish`/`silu`).
Settings zoo's model cannot represent (different encoder and decoder widths, a pre-LN or
normalised-embedding Marian, learned positions, ...) raise `ConversionError` naming the field.

Dropout: zoo has one rate for attention, activations and residuals; Marian's `dropout` is
taken and a differing `attention_dropout` / `activation_dropout` is reported in the notes
(outputs are unaffected; fine-tuning regularises differently).
"""

from __future__ import annotations

import json

import numpy as np

from zoo.checkpoints import fields
from zoo.checkpoints.converted import Converted
from zoo.checkpoints.errors import ConversionError
from zoo.checkpoints.weights import assign, built

#: Marian's `activation_function` -> zoo's feed-forward activation (Transformers' ACT2FN:
#: "gelu" is the exact erf form, "swish" and "silu" are x * sigmoid(x)).
ACTIVATIONS = {"relu": "relu", "gelu": "gelu", "swish": "silu", "silu": "silu"}
#: Legacy fields of older Marian configs, with the value zoo's (and Transformers') model
#: computes; another value describes a model neither computes.
_LEGACY = {"normalize_before": False, "normalize_embedding": False,
           "add_final_layer_norm": False, "static_position_embeddings": True,
           "add_bias_logits": False}
#: nn.LayerNorm's default, which Marian's layers use.
LAYER_NORM_EPSILON = 1e-5
_ATTENTION = {"q_proj": "query", "k_proj": "key", "v_proj": "value",
              "out_proj": "attention_output"}


def load_transformers(source, head=None) -> Converted:
    """A Transformers `MarianMTModel` folder (`config.json`, `model.safetensors`, and the
    tokenizer files `source.spm`, `target.spm`, `vocab.json` when present) as a zoo
    `TransformerSeq2Seq` with a `zoo.text.sentencepiece.SentencePieceTokenizer`.

    Raises:
        ConversionError: another head than "seq2seq", a config field zoo cannot represent
            (named), a missing, left-over or misshapen tensor, or tokenizer files that do not
            match the config's special ids.
    """
    from zoo.checkpoints.readers import safetensors_folder

    if head not in (None, "seq2seq"):
        raise ConversionError(f"{source.describe()}: zoo's Transformer has the head "
                              f"'seq2seq' only; got head={head!r}.")
    config, notes = zoo_config(source)
    tensors = safetensors_folder(source.folder)
    values, unused = _values(source, config, tensors)
    from zoo.models import catalog

    model = built(catalog.model_class("transformer", "seq2seq"), config, source.describe(), "zoo's Transformer")
    notes += assign(model, values, source.describe(), unused)
    tokenizer = marian_tokenizer(source, config)
    if tokenizer is None:
        notes.append("no tokenizer: the folder lacks source.spm / vocab.json")
    return Converted(model=model, family="transformer", head="seq2seq", tokenizer=tokenizer,
                     notes=notes, source=source)


def zoo_config(source) -> tuple[dict, list]:
    """`(TransformerSeq2Seq arguments, notes)` of a Marian `config.json`.

    Raises:
        ConversionError: naming the first field zoo's Transformer cannot represent.
    """
    c, where = source.config, f"{source.describe()}: config.json"

    def refuse(field, why):
        raise ConversionError(f"{where} {field}={c.get(field)!r}: {why}")

    if c.get("model_type") != "marian":
        refuse("model_type", "this converter reads Marian checkpoints (model_type 'marian').")
    for field, computed in _LEGACY.items():
        if field in c and c[field] is not None and c[field] != computed:
            refuse(field, f"zoo's Transformer (like Transformers' MarianMTModel) computes "
                          f"{field}={computed}; a checkpoint trained otherwise would give "
                          "different outputs.")
    for a, b in (("encoder_layers", None), ("decoder_layers", None), ("d_model", None),
                 ("encoder_attention_heads", "decoder_attention_heads"),
                 ("encoder_ffn_dim", "decoder_ffn_dim")):
        if not isinstance(c.get(a), int) or c[a] <= 0:
            refuse(a, "must be a positive integer.")
        if b is not None and c.get(b) != c[a]:
            refuse(b, f"zoo's Transformer has one value for encoder and decoder, and "
                      f"{a}={c[a]}.")
    activation = c.get("activation_function", "gelu")
    if activation not in ACTIVATIONS:
        refuse("activation_function", f"zoo maps {', '.join(ACTIVATIONS)}; convert a model "
                                      "with one of them.")
    for field in ("pad_token_id", "decoder_start_token_id", "eos_token_id"):
        if isinstance(c.get(field), list) and len(c[field]) == 1:
            c = {**c, field: c[field][0]}
        if not isinstance(c.get(field), int) or c[field] < 0:
            refuse(field, "zoo needs one non-negative token id.")
    file = f"{source.location}/config.json"
    share = fields.flag(c, "share_encoder_decoder_embeddings", file, True)
    vocab = fields.integer(c, "vocab_size", file, minimum=1)
    target_vocab = (vocab if c.get("decoder_vocab_size") is None
                    else fields.integer(c, "decoder_vocab_size", file, minimum=1))
    if share and target_vocab != vocab:
        refuse("decoder_vocab_size", f"with share_encoder_decoder_embeddings the decoder "
                                     f"reads the shared {vocab} embeddings.")
    tie = fields.flag(c, "tie_word_embeddings", file, True)
    config = {
        "vocabulary_size": vocab,
        "target_vocabulary_size": None if target_vocab == vocab else target_vocab,
        "share_embeddings": share and tie,  # Transformers 5 unties them without tying
        "tie_output_embeddings": tie,
        "output_bias": tie,
        "num_encoder_layers": c["encoder_layers"], "num_decoder_layers": c["decoder_layers"],
        "hidden_dim": c["d_model"], "num_heads": c["encoder_attention_heads"],
        "intermediate_dim": c["encoder_ffn_dim"],
        "dropout": fields.number(c, "dropout", file, 0.1, 0.0, 1.0),
        "max_sequence_length": fields.integer(c, "max_position_embeddings", file, 1024,
                                              minimum=1),
        "position_embedding": "sinusoidal", "sinusoidal_layout": "concatenated",
        "normalize_first": False, "layer_norm_epsilon": LAYER_NORM_EPSILON,
        "activation": ACTIVATIONS[activation],
        "scale_embeddings": fields.flag(c, "scale_embedding", file, False),
        "pad_id": c["pad_token_id"], "start_id": c["decoder_start_token_id"],
        "end_id": c["eos_token_id"],
    }
    if config["hidden_dim"] % config["num_heads"]:
        refuse("encoder_attention_heads", f"must divide d_model={config['hidden_dim']}.")
    notes = [f"activation_function {activation!r} -> {config['activation']!r}"]
    for field in ("attention_dropout", "activation_dropout"):
        if fields.number(c, field, file, 0.0, 0.0, 1.0) != config["dropout"]:
            notes.append(f"{field}={c.get(field, 0.0)} differs from dropout="
                         f"{config['dropout']}: zoo trains with one rate, dropout.")
    for field in ("encoder_layerdrop", "decoder_layerdrop"):
        if fields.number(c, field, file, 0.0, 0.0, 1.0):
            notes.append(f"{field}={c[field]}: zoo has no layer drop (training only).")
    if c.get("forced_eos_token_id") is not None:
        notes.append("forced_eos_token_id: Transformers forces the end token at the last "
                     "generated position; zoo's generate does not.")
    return config, notes


def _values(source, config, tensors) -> tuple[dict, dict]:
    """`({zoo variable path: array}, {left-out tensor: why})`."""
    taken, values, unused = set(), {}, {}

    def take(*names):
        for name in names:
            if name in tensors:
                taken.add(name)
                return np.asarray(tensors[name], "float32")
        raise ConversionError(f"{source.describe()}: tensor {names[0]} is missing; the "
                              "checkpoint is not the MarianMTModel layout its config "
                              "describes.")

    shared = ("model.shared.weight",)
    encoder_embedding = take("model.encoder.embed_tokens.weight", *shared)
    decoder_embedding = take("model.decoder.embed_tokens.weight", *shared)
    if config["share_embeddings"]:
        values["shared_embedding/embeddings"] = take(*shared, "model.encoder.embed_tokens.weight")
        for name, matrix in (("model.encoder.embed_tokens.weight", encoder_embedding),
                             ("model.decoder.embed_tokens.weight", decoder_embedding)):
            if name in tensors and not np.array_equal(matrix, values[
                    "shared_embedding/embeddings"]):
                raise ConversionError(
                    f"{source.describe()}: {name} differs from model.shared.weight, but "
                    "config.json says share_encoder_decoder_embeddings and "
                    "tie_word_embeddings (one matrix).")
    else:
        values["source_embedding/embeddings"] = encoder_embedding
        values["target_embedding/embeddings"] = decoder_embedding
        if "model.shared.weight" in tensors and "model.shared.weight" not in taken:
            taken.add("model.shared.weight")
            unused["model.shared.weight"] = (
                "Transformers' encoder and decoder read their own embed_tokens here "
                "(share_encoder_decoder_embeddings or tie_word_embeddings is false)")
    bias = take("final_logits_bias").reshape(-1)
    if config["tie_output_embeddings"]:
        values["output_bias/bias"] = bias
        if "lm_head.weight" in tensors:
            lm_head = take("lm_head.weight")
            if not np.array_equal(lm_head, decoder_embedding):
                raise ConversionError(
                    f"{source.describe()}: lm_head.weight differs from the decoder's "
                    "embeddings, but config.json says tie_word_embeddings: the output layer "
                    "is a matrix of its own. Set \"tie_word_embeddings\": false in config.json "
                    "(as the model was trained) and convert again.")
            unused["lm_head.weight"] = "a copy of the tied decoder embeddings"
    else:
        values["output_projection/kernel"] = take("lm_head.weight").T
        values["output_projection/bias"] = bias
    dim = config["hidden_dim"]
    for side in ("encoder", "decoder"):
        name = f"model.{side}.embed_positions.weight"
        if name in tensors:  # older saves kept the (fixed) table
            _check_positions(source, name, take(name), dim)
            unused[name] = "the sinusoidal table, which zoo computes (checked equal)"
    for i in range(config["num_encoder_layers"]):
        _layer(values, take, f"model.encoder.layers.{i}.", f"encoder_block_{i}/",
               {"self_attn": "self_attention"})
    for i in range(config["num_decoder_layers"]):
        _layer(values, take, f"model.decoder.layers.{i}.", f"decoder_block_{i}/",
               {"self_attn": "self_attention", "encoder_attn": "cross_attention"})
    left = sorted(set(tensors) - taken)
    if left:
        raise ConversionError(
            f"{source.describe()}: tensors zoo's Transformer has no place for: "
            f"{', '.join(left[:5])}{' ...' if len(left) > 5 else ''}; the checkpoint is not "
            "the MarianMTModel its config describes.")
    return values, unused


def _layer(values, take, prefix, block, attentions):
    for theirs, ours in attentions.items():
        for projection, dense in _ATTENTION.items():
            values[f"{block}{ours}/{dense}/kernel"] = take(
                f"{prefix}{theirs}.{projection}.weight").T
            values[f"{block}{ours}/{dense}/bias"] = take(f"{prefix}{theirs}.{projection}.bias")
        values[f"{block}{ours}_norm/gamma"] = take(f"{prefix}{theirs}_layer_norm.weight")
        values[f"{block}{ours}_norm/beta"] = take(f"{prefix}{theirs}_layer_norm.bias")
    values[f"{block}feed_forward/intermediate/kernel"] = take(f"{prefix}fc1.weight").T
    values[f"{block}feed_forward/intermediate/bias"] = take(f"{prefix}fc1.bias")
    values[f"{block}feed_forward/output/kernel"] = take(f"{prefix}fc2.weight").T
    values[f"{block}feed_forward/output/bias"] = take(f"{prefix}fc2.bias")
    values[f"{block}feed_forward_norm/gamma"] = take(f"{prefix}final_layer_norm.weight")
    values[f"{block}feed_forward_norm/beta"] = take(f"{prefix}final_layer_norm.bias")


def _check_positions(source, name, table, dim):
    from zoo.layers import SinusoidalPositionEmbedding

    ours = np.asarray(SinusoidalPositionEmbedding(layout="concatenated").positions(
        table.shape[0], dim))
    if table.shape != ours.shape or np.max(np.abs(table - ours)) > 1e-6:
        raise ConversionError(f"{source.describe()}: {name} is not Marian's sinusoidal table "
                              "(learned positions?), which zoo's Transformer computes.")


def marian_tokenizer(source, config):
    """The `SentencePieceTokenizer` of a Marian folder's `source.spm`, `target.spm`,
    `vocab.json` (+ `target_vocab.json` with `separate_vocabs`) and
    `tokenizer_config.json`; None when the folder has no `source.spm` / `vocab.json`.

    Raises:
        ConversionError: a vocabulary whose `</s>` / `<pad>` ids are not the config's
            `eos_token_id` / `pad_token_id`, or files the tokenizer refuses.
    """
    from zoo.text.sentencepiece import SentencePieceTokenizer

    folder = source.folder
    if not (folder / "source.spm").is_file() or not (folder / "vocab.json").is_file():
        return None
    settings = _json(folder / "tokenizer_config.json") if (
        folder / "tokenizer_config.json").is_file() else {}
    separate = bool(settings.get("separate_vocabs", False))
    target_vocab = None
    if separate:
        if not (folder / "target_vocab.json").is_file():
            raise ConversionError(f"{folder / 'tokenizer_config.json'} says separate_vocabs, "
                                  "but the folder has no target_vocab.json: copy the "
                                  "repository's target_vocab.json beside it, or convert "
                                  "without the tokenizer files (token ids only).")
        target_vocab = _json(folder / "target_vocab.json")
    special = [_token(t) for t in settings.get("additional_special_tokens")
               or settings.get("extra_special_tokens") or []]
    target_model = folder / "target.spm"
    try:
        tokenizer = SentencePieceTokenizer(
            (folder / "source.spm").read_bytes(), _json(folder / "vocab.json"),
            target_model=target_model.read_bytes() if target_model.is_file() else None,
            target_vocabulary=target_vocab,
            unk_token=_token(settings.get("unk_token", "<unk>")),
            eos_token=_token(settings.get("eos_token", "</s>")),
            pad_token=_token(settings.get("pad_token", "<pad>")), special_tokens=special)
    except ValueError as e:
        raise ConversionError(f"{folder}: Marian's tokenizer files cannot be read ({e}).") \
            from None
    for field, ours, value in (("pad_token_id", "pad_id", tokenizer.pad_id),
                               ("eos_token_id", "end_id", tokenizer.end_id),
                               ("decoder_start_token_id", "start_id", tokenizer.start_id)):
        if value != config[ours]:
            raise ConversionError(
                f"{folder / 'vocab.json'}: its token for {ours} has id {value}, but "
                f"config.json {field}={config[ours]}; the tokenizer and model do not match.")
    return tokenizer


def _token(value):
    return value["content"] if isinstance(value, dict) else str(value)


def _json(file):
    try:
        return json.loads(file.read_text("utf-8"))
    except ValueError as e:
        raise ConversionError(f"{file}: not valid JSON ({e}).") from None
