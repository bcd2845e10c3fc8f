"""GPT-2 reference cases: Transformers' `GPT2Model` and `GPT2LMHeadModel` (tiny, random,
`torch.manual_seed(0)`), saved with `save_pretrained` (config.json + model.safetensors), run on
fixed token ids; zoo's `gpt` family converts them (`zoo.models.gpt.convert`).

Expected outputs: the last hidden state (`GPT2Model`) or the logits (`GPT2LMHeadModel`) of a
batch without padding and of a left-padded batch (Transformers given the positions its
`generate` computes from the attention mask, `cumsum - 1`, which zoo's model counts the same
way; padded positions are not compared), and the greedy tokens of `generate(do_sample=False)`
for left-padded prompts of different lengths, with Transformers' defaults: a row ends after
the end of text (`eos_token_id`) and is padded with it (the converted model's `end_id` and
`pad_id`; zoo's `generate` stops there by default too). Each LM case also converts the saved checkpoint
with zoo, exports it back with `zoo.models.gpt.convert.to_transformers`, loads that folder with
Transformers and records the largest logit difference (must be within the tolerance).

`CANONICAL["gpt2_small"]`: GPT-2 small (`GPT2Config()` defaults, random) against zoo's
conversion: logits of a 2 x 32 batch, 8 greedy tokens, and the parameter count against
`zoo.describe("gpt2_small")`.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from scripts.reference.common import TOLERANCE, case_folder, versions, write_case

#: The tiny configuration of every case (vocabulary 100, the last id the end of text).
TINY = {"n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 64, "vocab_size": 100,
        "bos_token_id": 99, "eos_token_id": 99}
#: Tokens generated per prompt.
NEW_TOKENS = 10


def _libraries():
    import torch
    import transformers

    return torch, transformers


def _positions(mask):
    """Positions counted from each row's first real token (0 at padding), as Transformers'
    `generate` and zoo's GPT compute them."""
    return np.maximum(np.cumsum(mask.astype(np.int64), axis=1) - 1, 0)


def _left_padded(rows, pad_id):
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, width - len(row):] = row
        mask[i, width - len(row):] = 1
    return ids, mask


def _inputs(vocab, eos):
    """Fixed ids: a 2 x 16 batch and six prompts of 12, 7, 3, 1, 2 and 3 tokens, left-padded
    (in `gpt2_lm_untied` some rows generate the end of text first, one after four tokens,
    others never)."""
    rng = np.random.default_rng(0)
    token_ids = rng.integers(0, vocab - 1, size=(2, 16))
    prompts = [rng.integers(0, vocab - 1, size=n) for n in (12, 7, 3, 1, 2, 3)]
    prompt_ids, prompt_mask = _left_padded(prompts, eos)
    return {"token_ids": token_ids, "prompt_ids": prompt_ids, "prompt_mask": prompt_mask}


def _run(model, torch, ids, mask=None):
    """The model's main output (last hidden state or logits) as float32 numpy."""
    with torch.no_grad():
        kwargs = {}
        if mask is not None:
            kwargs = {"attention_mask": torch.tensor(mask),
                      "position_ids": torch.tensor(_positions(mask))}
        out = model(torch.tensor(ids), **kwargs)
    value = out.logits if hasattr(out, "logits") else out.last_hidden_state
    return value.numpy().astype("float32")


def _greedy(model, torch, ids, mask, new_tokens, eos):
    """Transformers' greedy tokens after left-padded prompts: `[batch, new_tokens]`.

    Transformers' defaults: a row that generates the end of text (`eos`, the config's
    `eos_token_id`) ends there and is padded with `eos` (GPT-2's pad); when every row has
    ended, `generate` returns fewer columns, padded here with `eos` to `new_tokens`."""
    with torch.no_grad():
        out = model.generate(torch.tensor(ids), attention_mask=torch.tensor(mask),
                             do_sample=False, max_new_tokens=new_tokens, pad_token_id=eos)
    new = out[:, ids.shape[1]:].numpy().astype("int32")
    return np.pad(new, ((0, 0), (0, new_tokens - new.shape[1])), constant_values=eos)


def _randomized(model, torch):
    """Every parameter drawn again, larger than GPT-2's initialization (weights and biases
    N(0, 0.2), layer-norm scales N(1, 0.2) and shifts N(0, 0.2)): biases are no longer zero
    and activations reach where the exact and tanh GELUs differ, so a wrong mapping or
    activation shows above the tolerance."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            is_scale = ".ln_" in name or name.startswith(("ln_", "transformer.ln_"))
            parameter.normal_(1.0 if is_scale and name.endswith("weight") else 0.0, 0.2)
    return model


def _make(out, case, architecture, settings):
    torch, transformers = _libraries()
    torch.manual_seed(0)
    config = transformers.GPT2Config(**{**TINY, **settings})
    model = _randomized(getattr(transformers, architecture)(config).eval(), torch)
    source = case_folder(out, case)
    model.save_pretrained(source)
    inputs = _inputs(config.vocab_size, config.eos_token_id)
    key = "logits" if architecture == "GPT2LMHeadModel" else "last_hidden_state"
    expected = {key: _run(model, torch, inputs["token_ids"]),
                f"padded_{key}": _run(model, torch, inputs["prompt_ids"], inputs["prompt_mask"])}
    meta = {"library": versions(torch, transformers), "architecture": architecture,
            "config": {**TINY, **settings}, "outputs": sorted(expected)}
    if architecture == "GPT2LMHeadModel":
        expected["generated"] = _greedy(model, torch, inputs["prompt_ids"],
                                        inputs["prompt_mask"], NEW_TOKENS, config.eos_token_id)
        meta["max_new_tokens"] = NEW_TOKENS
        meta["generation"] = ("Transformers generate(do_sample=False, pad_token_id=eos) after "
                              "left-padded prompt_ids/prompt_mask: a row ends after eos, then "
                              "eos (padding) to max_new_tokens")
        meta["outputs"] = sorted(expected)
        meta["export_max_abs_diff"] = _export_check(source, model, inputs["token_ids"])
    write_case(out, case, inputs, expected, meta)


def _convert(folder):
    """zoo's conversion of a saved Transformers folder."""
    from zoo.checkpoints.converted import Source
    from zoo.models.gpt.convert import load_transformers

    config = json.loads((Path(folder) / "config.json").read_text())
    source = Source(folder=Path(folder), format="transformers",
                    architecture=config["architectures"][0], config=config,
                    location=str(folder))
    return load_transformers(source)


def _export_check(folder, reference, token_ids):
    """Converts `folder` with zoo, exports it back, loads the export with Transformers and
    returns the largest logit difference from `reference` (raises above the tolerance)."""
    import safetensors.numpy
    import torch
    import transformers

    from zoo.models.gpt.convert import to_transformers

    config, tensors, files = to_transformers(_convert(folder).model, None)
    with tempfile.TemporaryDirectory() as exported:
        (Path(exported) / "config.json").write_text(json.dumps(config))
        safetensors.numpy.save_file(tensors, str(Path(exported) / "model.safetensors"),
                                    metadata={"format": "pt"})
        loaded = transformers.GPT2LMHeadModel.from_pretrained(exported).eval()
        difference = float(np.max(np.abs(_run(loaded, torch, token_ids)
                                          - _run(reference, torch, token_ids))))
    if difference > TOLERANCE:
        raise RuntimeError(f"{folder}: Transformers on zoo's export differs by {difference}.")
    return difference


CASES = {
    "gpt2_model": lambda out: _make(out, "gpt2_model", "GPT2Model", {}),
    "gpt2_lm": lambda out: _make(out, "gpt2_lm", "GPT2LMHeadModel", {}),
    "gpt2_lm_untied": lambda out: _make(
        out, "gpt2_lm_untied", "GPT2LMHeadModel",
        {"tie_word_embeddings": False, "activation_function": "gelu",
         "layer_norm_epsilon": 1e-6, "n_inner": 48, "attn_pdrop": 0.0}),
}


def gpt2_small() -> dict:
    """GPT-2 small, random (seed 0), in Transformers and converted to zoo: the largest logit
    difference on a 2 x 32 batch, whether 8 greedy tokens after left-padded prompts (32 and 20
    tokens) agree, and the parameter counts."""
    import zoo

    torch, transformers = _libraries()
    torch.manual_seed(0)
    reference = transformers.GPT2LMHeadModel(transformers.GPT2Config()).eval()
    eos = reference.config.eos_token_id
    token_ids = np.random.default_rng(0).integers(0, eos, size=(2, 32))
    with tempfile.TemporaryDirectory() as folder:
        reference.save_pretrained(folder)
        model = _convert(folder).model
    expected = _run(reference, torch, token_ids)
    logits = np.asarray(model(token_ids.astype("int32")))
    prompt_ids, prompt_mask = _left_padded([token_ids[0], token_ids[1, 12:]], eos)
    hf_tokens = _greedy(reference, torch, prompt_ids, prompt_mask, 8, eos)
    zoo_tokens = np.asarray(model.generate(prompt_ids.astype("int32"), prompt_mask.astype(bool),
                                           max_new_tokens=8))
    return {"max_abs_diff_logits": float(np.max(np.abs(logits - expected))),
            "max_abs_logit": float(np.max(np.abs(expected))),
            "greedy_tokens_equal": bool(np.array_equal(hf_tokens, zoo_tokens)),
            "params_transformers": int(reference.num_parameters()),
            "params_zoo": int(model.count_params()),
            "params_described": int(zoo.describe("gpt2_small")["params"])}


CANONICAL = {"gpt2_small": gpt2_small}
