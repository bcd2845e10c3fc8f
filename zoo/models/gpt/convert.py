"""GPT-2 checkpoints of Transformers (`GPT2LMHeadModel`, `GPT2Model`) as zoo's `GPTCausalLM`,
and back.

GPT-2 (Radford et al., 2019; Transformers' `models/gpt2`) is the architecture of zoo's `gpt`
family: learned token and position embeddings, pre-LN blocks of causal self-attention and a
feed-forward network, a final layer norm and an output projection tied to the token
embedding. Its checkpoint names map one to one, with two reshapings:

- Transformers' GPT-2 uses `Conv1D` layers whose weights are already `[in, out]`, as Keras
  kernels: they are copied, not transposed;
- `attn.c_attn` is the query, key and value projections fused, `[n_embd, 3 * n_embd]` (and a
  `[3 * n_embd]` bias): split in three along the last axis, in that order.

| Transformers (`transformer.` prefix of `GPT2LMHeadModel` optional) | zoo |
|---|---|
| `wte.weight` `[vocab, n_embd]` | `token_embedding/embeddings` |
| `wpe.weight` `[n_positions, n_embd]` | `position_embedding/embeddings` |
| `h.{i}.ln_1.{weight,bias}` | `block_{i}/self_attention_norm/{gamma,beta}` |
| `h.{i}.attn.c_attn.{weight,bias}` | `block_{i}/self_attention/{query,key,value}/{kernel,bias}` |
| `h.{i}.attn.c_proj.{weight,bias}` | `block_{i}/self_attention/attention_output/{kernel,bias}` |
| `h.{i}.ln_2.{weight,bias}` | `block_{i}/feed_forward_norm/{gamma,beta}` |
| `h.{i}.mlp.c_fc.{weight,bias}` | `block_{i}/feed_forward/intermediate/{kernel,bias}` |
| `h.{i}.mlp.c_proj.{weight,bias}` | `block_{i}/feed_forward/output/{kernel,bias}` |
| `ln_f.{weight,bias}` | `final_norm/{gamma,beta}` |
| `lm_head.weight` `[vocab, n_embd]` (untied only) | `output_projection/kernel` (transposed) |

GPT-2's byte-level BPE tokenizer has no TensorFlow op zoo can put in a graph, so a converted
model reads and writes token ids: `Converted.tokenizer` is None (the source's tokenizer files
are kept in `Converted.extra["hf_tokenizer_files"]`, file names only, for the record).

Prompts and the end of text: zoo's `GPTCausalLM.generate` counts positions from each row's
first real token, as Transformers' `generate` does from the attention mask (`cumsum - 1`), so
left-padded batches give the same tokens. The converted model's `end_id` is the config's
`eos_token_id` (`<|endoftext|>`, 50256), so `generate` without `stop_ids` ends a row after it,
as Transformers' `generate` does by default. GPT-2 has no padding token: the converted model's
`pad_id` is the config's `pad_token_id`, else `eos_token_id` (Transformers' `generate` pads
finished rows with it too). zoo generates its `pad_id` only as a stop id, so with
`stop_ids=()` (no end of text) the end of text is never chosen, where Transformers would
choose it and stop.
"""

from __future__ import annotations

import numpy as np

from zoo.checkpoints import fields
from zoo.checkpoints.converted import Converted, Source
from zoo.checkpoints.errors import ConversionError

#: Transformers' `GPT2Config` defaults: a config.json without a field means this value.
GPT2_DEFAULTS = {
    "vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12,
    "n_inner": None, "activation_function": "gelu_new", "resid_pdrop": 0.1,
    "embd_pdrop": 0.1, "attn_pdrop": 0.1, "layer_norm_epsilon": 1e-5,
    "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False,
    "reorder_and_upcast_attn": False, "add_cross_attention": False,
    "tie_word_embeddings": True, "bos_token_id": 50256, "eos_token_id": 50256,
    "pad_token_id": None,
}

#: Transformers' activation names (`transformers.activations.ACT2FN`) zoo's feed-forward
#: computes exactly -> zoo's name. The three tanh forms are one formula, `0.5 x (1 + tanh(
#: sqrt(2 / pi) (x + 0.044715 x^3)))`.
ACTIVATIONS = {
    "gelu_new": "gelu_approximate",
    "gelu_pytorch_tanh": "gelu_approximate",
    "gelu_fast": "gelu_approximate",
    "gelu": "gelu",
    "relu": "relu",
    "silu": "silu",
    "swish": "silu",
}

#: zoo activation -> the name `to_transformers` writes.
_EXPORTED_ACTIVATIONS = {"gelu_approximate": "gelu_new", "gelu": "gelu", "relu": "relu",
                         "silu": "silu"}

#: Settings zoo's GPT cannot represent: field -> (the only value zoo computes, why).
_FIXED = {
    "scale_attn_weights": (True, "zoo's attention always divides the scores by "
                                 "sqrt(head_dim)"),
    "scale_attn_by_inverse_layer_idx": (False, "zoo's attention does not scale block i's "
                                               "scores by 1 / (i + 1)"),
    "reorder_and_upcast_attn": (False, "zoo's attention does not scale the keys before "
                                       "the product in an upcast dtype"),
    "add_cross_attention": (False, "zoo's GPT blocks have no cross-attention"),
}

#: Buffers older Transformers saved with each block: left out, with why.
_BUFFERS = {
    "attn.bias": "the causal mask Transformers stored as a buffer; zoo builds its own",
    "attn.masked_bias": "the masking constant Transformers stored as a buffer; zoo masks "
                        "with its own",
}


def load_transformers(source: Source, head=None) -> Converted:
    """A Transformers GPT-2 checkpoint (`GPT2LMHeadModel`, `GPT2Model`, or a config naming
    only `model_type` "gpt2") as a `GPTCausalLM`.

    Args:
        source: a resolved "transformers" source (config.json + model.safetensors).
        head: None or "causal_lm" (the family's only head; a `GPT2Model` checkpoint has no
            head of its own and gets GPT-2's tied one).

    Returns:
        `Converted` with the float32 model, `tokenizer=None` (see the module docstring) and
        notes: the settings mapped and each tensor left out with why.

    Raises:
        ConversionError: a setting zoo's GPT cannot represent (naming the config field, its
            value and what zoo computes), an activation zoo has not, a missing, unknown or
            misshapen tensor (naming it), or an `lm_head.weight` that differs from `wte`
            while the config ties them.
    """
    from zoo.checkpoints.readers import safetensors_folder
    from zoo.checkpoints.weights import assign
    from zoo.models import catalog

    if head not in (None, "causal_lm"):
        raise ConversionError(f"{source.describe()}: the gpt family builds head 'causal_lm' "
                              f"only, not '{head}'.")
    config, notes = model_config(source)
    tensors = _without_prefix(safetensors_folder(source.folder))
    values, unused = _values(tensors, config, source)
    model = catalog.model_class("gpt", "causal_lm")(dtype="float32", **config)
    notes += assign(model, values, source=str(source.folder), unused=unused)
    if source.architecture == "GPT2Model":
        notes.append("GPT2Model has no language-model head: the output projection is the "
                     "token embedding, tied as in GPT2LMHeadModel")
    files = sorted(p.name for p in source.folder.iterdir() if p.name in _TOKENIZER_FILES)
    notes.append("tokenizer: none. GPT-2's byte-level BPE has no TensorFlow op zoo can put in "
                 "a graph; the model reads and writes token ids (tokenize with the source's "
                 f"tokenizer{', ' + ', '.join(files) if files else ''}).")
    return Converted(model=model, family="gpt", head="causal_lm", tokenizer=None, notes=notes,
                     source=source, extra={"hf_tokenizer_files": files})


#: The tokenizer files of a Transformers GPT-2 folder.
_TOKENIZER_FILES = ("vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json",
                    "special_tokens_map.json", "added_tokens.json")


def model_config(source: Source) -> tuple[dict, list[str]]:
    """The `GPTCausalLM` arguments of a GPT-2 config.json, and notes on what was mapped.

    Each field is read with its JSON type checked (`zoo.checkpoints.fields`); an absent field
    means Transformers' `GPT2Config` default (`GPT2_DEFAULTS`).

    Raises:
        ConversionError: naming the field for a setting zoo's GPT cannot represent, or for a
            value of the wrong type ("two" or 32.5 layers, a null epsilon, "false" for a flag).
    """
    raw = {**GPT2_DEFAULTS, **source.config}
    where = f"{source.location}/config.json"
    for field, (value, why) in _FIXED.items():
        if fields.flag(raw, field, where) != value:
            raise ConversionError(f"{where}: {field}={raw[field]!r} is not supported: {why}. "
                                  f"zoo converts GPT-2 checkpoints with {field}={value!r}.")
    activation = raw["activation_function"]
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ConversionError(f"{where}: activation_function={activation!r} is not one zoo's "
                              f"GPT computes; it converts {', '.join(sorted(ACTIVATIONS))}.")
    width = fields.integer(raw, "n_embd", where, minimum=1)
    vocab = fields.integer(raw, "vocab_size", where, minimum=1)
    dropouts = {k: fields.number(raw, k, where, minimum=0.0, maximum=1.0)
                for k in ("resid_pdrop", "embd_pdrop", "attn_pdrop")}
    notes = [f"activation_function {activation!r} -> {ACTIVATIONS[activation]!r}"]
    if len(set(dropouts.values())) > 1:
        notes.append(f"dropout {dropouts['resid_pdrop']} for every sublayer (zoo has one "
                     f"rate; the source has {dropouts}): training only, outputs unchanged")
    pad_id, pad_field = _pad_id(raw, where, vocab)
    if pad_id is None or not 0 <= pad_id < vocab:
        raise ConversionError(f"{where}: no token id in the vocabulary of {vocab} "
                              "to use as zoo's pad_id (pad_token_id, eos_token_id and "
                              "bos_token_id are missing or outside it); set pad_token_id.")
    notes.append(f"pad_id {pad_id} (the config's {pad_field}: GPT-2 has no padding token)")
    end_id = _end_id(raw, where, vocab)
    notes.append(f"end_id {end_id} (the config's eos_token_id): generation ends a row after "
                 "it by default" if end_id is not None else
                 "end_id none (the config's eos_token_id is null): generation ends no row "
                 "unless given stop_ids")
    config = {
        "vocabulary_size": vocab,
        "max_sequence_length": fields.integer(raw, "n_positions", where, minimum=1),
        "num_layers": fields.integer(raw, "n_layer", where, minimum=1),
        "num_heads": fields.integer(raw, "n_head", where, minimum=1),
        "hidden_dim": width,
        "intermediate_dim": (4 * width if raw["n_inner"] is None
                             else fields.integer(raw, "n_inner", where, minimum=1)),
        "dropout": dropouts["resid_pdrop"],
        "activation": ACTIVATIONS[activation],
        "layer_norm_epsilon": fields.number(raw, "layer_norm_epsilon", where, minimum=0.0),
        "tie_embeddings": fields.flag(raw, "tie_word_embeddings", where),
        "pad_id": pad_id,
        "end_id": end_id,
    }
    if width % config["num_heads"]:
        raise ConversionError(f"{where}: n_embd={width} is not divisible by "
                              f"n_head={config['num_heads']}; GPT-2's heads split the width "
                              "evenly (n_embd / n_head each).")
    return config, notes


def _pad_id(raw, where, vocab):
    """`(id, field)`: the first of pad_token_id, eos_token_id, bos_token_id that is set (a
    list counts as its first id); `(None, None)` when none is.

    Raises:
        ConversionError: one of them set to something other than a token id (a string, a
            boolean, a number with a fraction), which would otherwise be passed over silently.
    """
    for field in ("pad_token_id", "eos_token_id", "bos_token_id"):
        value = raw.get(field)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConversionError(f"{where}: {field}={value!r} is not a token id (a JSON "
                                  "integer, a list of them, or null); set it to an id of the "
                                  f"vocabulary of {vocab} (vocab_size), or null.")
        return value, field
    return None, None


def _end_id(raw, where, vocab) -> int | None:
    """The config's `eos_token_id` as zoo's `end_id` (None when null).

    Raises:
        ConversionError: several distinct ids (zoo's GPT has one end of text), or an id
            outside the vocabulary.
    """
    value = raw.get("eos_token_id")
    if isinstance(value, list):
        if len(set(value)) > 1:
            raise ConversionError(f"{where}: eos_token_id={value!r} names several end-of-text "
                                  "tokens; zoo's GPT has one (end_id). Keep one in "
                                  "config.json (and pass the others as stop_ids).")
        value = value[0] if value else None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < vocab:
        raise ConversionError(f"{where}: eos_token_id={value!r} is not a token id of the "
                              f"vocabulary of {vocab} (vocab_size); set it to the "
                              "end-of-text id, or null.")
    return value


def _without_prefix(tensors: dict) -> dict:
    """Names without `GPT2LMHeadModel`'s "transformer." (checkpoints exist both ways)."""
    return {name.removeprefix("transformer."): value for name, value in tensors.items()}


def _values(tensors: dict, config: dict, source: Source) -> tuple[dict, dict]:
    """`({zoo variable path: array}, {source tensor: why left out})`."""
    where = source.location
    width = config["hidden_dim"]
    taken, unused = set(), {}

    def take(name, shape):
        if name not in tensors:
            raise ConversionError(f"{where}: the checkpoint has no tensor {name}, which a "
                                  f"GPT-2 of {config['num_layers']} layers has (config.json "
                                  "n_layer); the file is incomplete or not GPT-2's layout.")
        value = tensors[name]
        if tuple(value.shape) != tuple(shape):
            raise ConversionError(f"{where}: tensor {name} has shape {tuple(value.shape)}; "
                                  f"config.json's sizes make it {tuple(shape)}.")
        taken.add(name)
        return value

    vocab = config["vocabulary_size"]
    values = {"token_embedding/embeddings": take("wte.weight", (vocab, width)),
              "position_embedding/embeddings": take(
                  "wpe.weight", (config["max_sequence_length"], width))}
    inner = config["intermediate_dim"]
    for i in range(config["num_layers"]):
        h, b = f"h.{i}.", f"block_{i}/"
        qkv = take(h + "attn.c_attn.weight", (width, 3 * width))
        qkv_bias = take(h + "attn.c_attn.bias", (3 * width,))
        for part, kernel, bias in zip(("query", "key", "value"), np.split(qkv, 3, axis=1),
                                      np.split(qkv_bias, 3)):
            values[f"{b}self_attention/{part}/kernel"] = kernel
            values[f"{b}self_attention/{part}/bias"] = bias
        for name, path, shape in (
                ("attn.c_proj", "self_attention/attention_output", (width, width)),
                ("mlp.c_fc", "feed_forward/intermediate", (width, inner)),
                ("mlp.c_proj", "feed_forward/output", (inner, width))):
            values[f"{b}{path}/kernel"] = take(f"{h}{name}.weight", shape)
            values[f"{b}{path}/bias"] = take(f"{h}{name}.bias", shape[1:])
        for name, path in (("ln_1", "self_attention_norm"), ("ln_2", "feed_forward_norm")):
            values[f"{b}{path}/gamma"] = take(f"{h}{name}.weight", (width,))
            values[f"{b}{path}/beta"] = take(f"{h}{name}.bias", (width,))
        for buffer, why in _BUFFERS.items():
            if h + buffer in tensors:
                taken.add(h + buffer)
                unused[h + buffer] = why
    values["final_norm/gamma"] = take("ln_f.weight", (width,))
    values["final_norm/beta"] = take("ln_f.bias", (width,))
    _output(tensors, values, config, where, taken, unused)
    left = sorted(set(tensors) - taken)
    if left:
        raise ConversionError(f"{where}: tensors that are not part of GPT-2's layout zoo "
                              f"converts: {', '.join(left[:5])}{' ...' if len(left) > 5 else ''}"
                              " (a head zoo's gpt family does not have?).")
    return values, unused


def _output(tensors, values, config, where, taken, unused):
    """The output projection: tied to `wte` (nothing to set; an `lm_head.weight` equal to it
    left out), or untied `lm_head.weight` transposed."""
    head = tensors.get("lm_head.weight")
    if not config["tie_embeddings"]:
        if head is None:
            raise ConversionError(f"{where}: config.json has tie_word_embeddings=false but the "
                                  "checkpoint has no lm_head.weight.")
        shape = (config["vocabulary_size"], config["hidden_dim"])
        if tuple(head.shape) != shape:
            raise ConversionError(f"{where}: tensor lm_head.weight has shape "
                                  f"{tuple(head.shape)}; config.json's sizes make it {shape}.")
        values["output_projection/kernel"] = head.T
        taken.add("lm_head.weight")
        return
    if head is not None:
        if not np.array_equal(head, tensors["wte.weight"]):
            raise ConversionError(
                f"{where}: lm_head.weight differs from wte.weight, but config.json has "
                "tie_word_embeddings=true, so Transformers would replace it with wte.weight. "
                "Set tie_word_embeddings to false in config.json to convert the separate "
                "output projection, or remove lm_head.weight.")
        taken.add("lm_head.weight")
        unused["lm_head.weight"] = "a copy of wte.weight (the output projection is tied to it)"


def to_transformers(model, tokenizer=None) -> tuple[dict, dict, dict]:
    """A `GPTCausalLM` in Transformers' `GPT2LMHeadModel` layout.

    Args:
        model: a `GPTCausalLM` (pre-LN, as every zoo GPT is).
        tokenizer: None, or a dict file name -> str|bytes of tokenizer files to write along
            (e.g. a source's vocab.json and merges.txt). A zoo tokenizer object has no
            Transformers form: no files are written for it.

    Returns:
        `(config, tensors, files)`: config.json's fields (`model_type` "gpt2",
        `architectures` ["GPT2LMHeadModel"]); tensor name -> float32 numpy array
        (`transformer.`-prefixed, Conv1D weights `[in, out]`, the query, key and value fused
        into `attn.c_attn`; `lm_head.weight` only when the model's output is untied); file name
        -> contents. `end_id` is written as the bos and eos token id (else `pad_id`) and
        `pad_id` as the pad token id (for a converted GPT-2 both are `<|endoftext|>`).

    Raises:
        ConversionError: an activation Transformers' GPT-2 has no name for.
    """
    config = model.get_config()
    if config["activation"] not in _EXPORTED_ACTIVATIONS:
        raise ConversionError(f"activation {config['activation']!r} has no Transformers "
                              f"GPT-2 name; exportable: {', '.join(_EXPORTED_ACTIVATIONS)}.")
    weights = {w.path: np.asarray(w.numpy(), dtype="float32") for w in model.weights}
    t = "transformer."
    tensors = {t + "wte.weight": weights["token_embedding/embeddings"],
               t + "wpe.weight": weights["position_embedding/embeddings"],
               t + "ln_f.weight": weights["final_norm/gamma"],
               t + "ln_f.bias": weights["final_norm/beta"]}
    for i in range(config["num_layers"]):
        h, b = f"{t}h.{i}.", f"block_{i}/"
        parts = [f"{b}self_attention/{p}" for p in ("query", "key", "value")]
        tensors[h + "attn.c_attn.weight"] = np.concatenate(
            [weights[p + "/kernel"] for p in parts], axis=1)
        tensors[h + "attn.c_attn.bias"] = np.concatenate([weights[p + "/bias"] for p in parts])
        for name, path in (("attn.c_proj", "self_attention/attention_output"),
                           ("mlp.c_fc", "feed_forward/intermediate"),
                           ("mlp.c_proj", "feed_forward/output")):
            tensors[f"{h}{name}.weight"] = weights[f"{b}{path}/kernel"]
            tensors[f"{h}{name}.bias"] = weights[f"{b}{path}/bias"]
        for name, path in (("ln_1", "self_attention_norm"), ("ln_2", "feed_forward_norm")):
            tensors[f"{h}{name}.weight"] = weights[f"{b}{path}/gamma"]
            tensors[f"{h}{name}.bias"] = weights[f"{b}{path}/beta"]
    if not config["tie_embeddings"]:
        tensors["lm_head.weight"] = np.ascontiguousarray(weights["output_projection/kernel"].T)
    tensors = {name: np.ascontiguousarray(value) for name, value in tensors.items()}
    dropout = float(config["dropout"])
    end = config["pad_id"] if config.get("end_id") is None else config["end_id"]
    hf_config = {
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "vocab_size": config["vocabulary_size"],
        "n_positions": config["max_sequence_length"],
        "n_embd": config["hidden_dim"],
        "n_layer": config["num_layers"],
        "n_head": config["num_heads"],
        "n_inner": config["intermediate_dim"],
        "activation_function": _EXPORTED_ACTIVATIONS[config["activation"]],
        "layer_norm_epsilon": config["layer_norm_epsilon"],
        "resid_pdrop": dropout, "embd_pdrop": dropout, "attn_pdrop": dropout,
        "scale_attn_weights": True,
        "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False,
        "tie_word_embeddings": bool(config["tie_embeddings"]),
        "bos_token_id": end,
        "eos_token_id": end,
        "pad_token_id": config["pad_id"],
        "initializer_range": 0.02,
        "use_cache": True,
        "dtype": "float32",
    }
    files = dict(tokenizer) if isinstance(tokenizer, dict) else {}
    return hf_config, tensors, files
