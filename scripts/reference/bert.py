"""BERT reference cases: Transformers' BertModel / BertForMaskedLM /
BertForSequenceClassification, Google's original checkpoint layout (written with TensorFlow
from Transformers' weights), KerasHub's BertBackbone / BertTextClassifier presets, and
Transformers' BertTokenizer (uncased and cased) on a test corpus.

Each Transformers case also converts its fixture with zoo, exports it back with
`zoo.models.bert.convert.to_transformers`, loads the export in Transformers and records the
largest difference in `meta.json` ("export_max_abs_diff").
"""

from __future__ import annotations

import json
import string
import tempfile
from pathlib import Path

import numpy as np

from scripts.reference.common import TOLERANCE, case_folder, versions, write_case

#: Tiny configs: Transformers' field names.
TINY = {"vocab_size": 208, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 64, "max_position_embeddings": 64, "type_vocab_size": 2,
        "layer_norm_eps": 1e-12}

CORPUS = [
    "The cat sat on the mat.",
    "Hello, world! Playing, played, unplayable.",
    "HeLLo WoRLD, THE CAT",
    "Café Müller naïve façade, ÉCOLE, Ñandú",
    "e\u0301 decomposed and composed é",
    "Straße ß ﬁ ligature ＡＢＣ full-width",
    "İstanbul ΣΟΦΟΣ Ǆ",
    "中文字 日本語 ひらがな カタカナ 한국어",
    "mixed中文text and 日本123",
    "(brackets) [square] {curly} <angle> \"quotes\" 'single' — dash … ¿qué? ¡sí!",
    "emoji 😀 snowman ☃ math ∑ currency €$£ ¥",
    "a" * 100 + " " + "b" * 101 + " " + "é" * 60,
    "unaffordable " + "cat" * 40,
    "  tabs\tand\nnewlines\r\n  nbsp\u00a0here\u2003em\u2028line",
    "zero\u200bwidth soft\u00adhyphen null\x00char bell\x07char\x0bvt\x0cff",
    "replacement \ufffd char",
    "the [MASK] sat on [MASK]. [CLS] x [SEP] [PAD] [UNK] [unused3] [mask]",
    "123,456.78 3.14 1/2 50% #tag @user x^2 a_b a~b `tick` \\slash",
    "",
    "   ",
    "Don't stop-believing; it's O'Brien's",
]


def bert_vocabulary(cased: bool) -> list[str]:
    """A small vocabulary in Google BERT's layout: [PAD] 0, [unused0-98], [UNK] 100,
    [CLS] 101, [SEP] 102, [MASK] 103, then characters, pieces and words."""
    specials = (["[PAD]"] + [f"[unused{i}]" for i in range(99)]
                + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    chars = list(string.ascii_lowercase)
    if cased:
        chars += list(string.ascii_uppercase) + ["é", "ü", "ñ", "ß"]
    words = ["the", "cat", "sat", "dog", "on", "mat", "hello", "world", "play", "run", "un",
             "##ing", "##ed", "##able", "##ly", "##er", "##ford", "##aff", "caf", "naive"]
    if cased:
        words += ["The", "Hello", "World", "Café", "Müller"]
    tokens = (specials + chars + [f"##{c}" for c in chars] + list(".,!?'-():;\"")
              + list("0123456789") + ["中", "文", "日", "本"] + words)
    if not cased:
        tokens += [f"w{i}" for i in range(TINY["vocab_size"] - len(tokens))]
    assert len(tokens) == len(set(tokens))
    return tokens


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(104, TINY["vocab_size"], size=(3, 12)).astype("int32")
    ids[:, 0] = 101
    ids[:, -1] = 102
    ids[1, 8:] = 0
    ids[1, 7] = 102
    mask = (ids != 0).astype("int32")
    segments = np.zeros_like(ids)
    segments[2, 6:] = 1
    positions = np.array([[1, 3], [2, 5], [4, 9]], "int32")
    return {"token_ids": ids, "segment_ids": segments, "padding_mask": mask,
            "mask_positions": positions}


def _torch_inputs(x):
    import torch

    return {"input_ids": torch.tensor(x["token_ids"], dtype=torch.long),
            "token_type_ids": torch.tensor(x["segment_ids"], dtype=torch.long),
            "attention_mask": torch.tensor(x["padding_mask"], dtype=torch.long)}


def _hf_model(cls_name, **config):
    import torch
    import transformers

    torch.manual_seed(0)
    cfg = transformers.BertConfig(**{**TINY, **config})
    model = getattr(transformers, cls_name)(cfg).eval()
    with torch.no_grad():  # biases and norms are 0 and 1 at init: make every tensor count
        for name, p in model.named_parameters():
            if "LayerNorm" in name or name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    return model


def _save_tokenizer(folder, cased=False):
    import transformers

    folder = Path(folder)
    (folder / "vocab.txt").write_text("\n".join(bert_vocabulary(cased)) + "\n", "utf-8")
    tok = transformers.BertTokenizer(vocab=str(folder / "vocab.txt"), do_lower_case=not cased)
    tok.save_pretrained(str(folder))
    for extra in ("tokenizer.json",):  # vocab.txt + tokenizer_config.json are the layout
        if (folder / extra).exists():
            (folder / extra).unlink()
    return tok


def _meta(architecture, outputs, **more):
    import torch
    import transformers

    return {"library": versions(transformers, torch), "architecture": architecture,
            "outputs": outputs, **more}


def _run(model, x):
    import torch

    with torch.no_grad():
        return model(**_torch_inputs(x))


def _masked(logits, x):
    return np.take_along_axis(logits, x["mask_positions"][..., None], axis=1)


def _export_difference(source, architecture, x, expected):
    """Converts `source` with zoo, exports it with `to_transformers`, loads the export in
    Transformers and returns the largest difference from `expected`."""
    import torch
    import transformers
    from safetensors.numpy import save_file

    from zoo.checkpoints.converted import Source
    from zoo.models.bert import convert

    config = json.loads((source / "config.json").read_text())
    converted = convert.load_transformers(
        Source(source, "transformers", architecture, config, str(source)))
    cfg, tensors, files = convert.to_transformers(converted.model, converted.tokenizer,
                                                  converted.extra.get("labels"))
    with tempfile.TemporaryDirectory() as out:
        out = Path(out)
        (out / "config.json").write_text(json.dumps(cfg))
        save_file(tensors, str(out / "model.safetensors"))
        for name, text in files.items():
            (out / name).write_text(text, "utf-8")
        model = getattr(transformers, architecture).from_pretrained(str(out)).eval()
        tok = transformers.BertTokenizer.from_pretrained(str(out))
        expected_ids = transformers.BertTokenizer.from_pretrained(str(source))(CORPUS)
        assert tok(CORPUS)["input_ids"] == expected_ids["input_ids"], "exported tokenizer"
        with torch.no_grad():
            out_ = model(**_torch_inputs(x))
    worst = 0.0
    for name, value in expected.items():
        got = {"sequence_output": getattr(out_, "last_hidden_state", None),
               "pooled_output": getattr(out_, "pooler_output", None),
               "logits": getattr(out_, "logits", None)}[name]
        got = got.numpy()
        if name == "logits" and architecture == "BertForMaskedLM":
            got = _masked(got, x)
        worst = max(worst, float(np.max(np.abs(got - value))))
    assert worst <= TOLERANCE, (architecture, worst)
    return worst


def _transformers_case(out, case, architecture, **config):
    source = case_folder(out, case)
    model = _hf_model(architecture, **config)
    model.save_pretrained(str(source))
    _save_tokenizer(source)
    x = _inputs()
    result = _run(model, x)
    if architecture == "BertModel":
        expected = {"sequence_output": result.last_hidden_state.numpy(),
                    "pooled_output": result.pooler_output.numpy()}
    elif architecture == "BertForMaskedLM":
        expected = {"logits": _masked(result.logits.numpy(), x)}
    else:
        expected = {"logits": result.logits.numpy()}
    diff = _export_difference(source, architecture, x, expected)
    write_case(out, case, x, expected,
               _meta(architecture, sorted(expected), export_max_abs_diff=diff))


def bert_transformers_model(out):
    _transformers_case(out, "bert_transformers_model", "BertModel")


def bert_transformers_masked_lm(out):
    _transformers_case(out, "bert_transformers_masked_lm", "BertForMaskedLM")


def bert_transformers_classifier(out):
    _transformers_case(out, "bert_transformers_classifier", "BertForSequenceClassification",
                       num_labels=3, id2label={0: "negative", 1: "neutral", 2: "positive"},
                       label2id={"negative": 0, "neutral": 1, "positive": 2})


def bert_transformers_gelu_new(out):
    """A BertModel with the tanh GELU (`hidden_act="gelu_new"`)."""
    _transformers_case(out, "bert_transformers_gelu_new", "BertModel", hidden_act="gelu_new")


def bert_original(out):
    """Google's layout: Transformers' BertForPreTraining weights (with the tanh GELU that
    Google's modeling.py computes) written under the original variable names with
    `tf.train.Checkpoint`-compatible `tf.compat.v1.train.Saver`."""
    import tensorflow as tf

    source = case_folder(out, "bert_original")
    model = _hf_model("BertForPreTraining", hidden_act="gelu_new")
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    variables = {}
    for name, value in state.items():
        if name.endswith("position_ids") or name == "cls.predictions.decoder.weight" \
                or name == "cls.predictions.decoder.bias":
            continue
        variables[_original_variable(name)] = value.T if _transposed(name) else value
    graph = tf.Graph()
    with graph.as_default():
        tf_vars = [tf.compat.v1.Variable(v, name=n) for n, v in variables.items()]
        saver = tf.compat.v1.train.Saver(tf_vars)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, str(source / "bert_model.ckpt"), write_meta_graph=False)
    (source / "checkpoint").unlink(missing_ok=True)
    config = {k: v for k, v in model.config.to_dict().items() if k in (
        "attention_probs_dropout_prob", "hidden_dropout_prob", "hidden_size",
        "initializer_range", "intermediate_size", "max_position_embeddings",
        "num_attention_heads", "num_hidden_layers", "type_vocab_size", "vocab_size")}
    config["hidden_act"] = "gelu"  # as Google's files say; their code computes the tanh form
    (source / "bert_config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
    (source / "vocab.txt").write_text("\n".join(bert_vocabulary(False)) + "\n", "utf-8")
    x = _inputs()
    base = model.bert
    import torch

    with torch.no_grad():
        hidden = base(**_torch_inputs(x))
        logits = model(**_torch_inputs(x)).prediction_logits.numpy()
    expected = {"sequence_output": hidden.last_hidden_state.numpy(),
                "pooled_output": hidden.pooler_output.numpy(),
                "logits": _masked(logits, x)}
    write_case(out, "bert_original", x, expected,
               _meta("BertModel", sorted(expected), tensorflow=tf.__version__,
                     note="Transformers' BertForPreTraining with hidden_act gelu_new (the tanh "
                          "GELU of Google's modeling.py) on the checkpoint's weights"))


def _transposed(name):
    return name.endswith(".weight") and "LayerNorm" not in name and "embeddings" not in name \
        and "seq_relationship" not in name


def _original_variable(name):
    from zoo.models.bert.convert import _original_name

    if name.startswith("bert."):
        return "bert/" + _original_name(name[len("bert."):])
    fixed = {"cls.predictions.bias": "cls/predictions/output_bias",
             "cls.seq_relationship.weight": "cls/seq_relationship/output_weights",
             "cls.seq_relationship.bias": "cls/seq_relationship/output_bias"}
    if name in fixed:
        return fixed[name]
    return _original_name(name)


def _keras_hub_case(out, case, task):
    import keras
    import keras_hub

    keras.utils.set_random_seed(0)
    source = case_folder(out, case)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=TINY["vocab_size"], num_layers=2, num_heads=4, hidden_dim=32,
        intermediate_dim=64, max_sequence_length=64, num_segments=2)
    rng = np.random.default_rng(0)
    for w in backbone.weights:  # zero biases and unit norms count too
        w.assign(w.numpy() + 0.1 * rng.normal(size=w.shape).astype("float32"))
    tokenizer = keras_hub.tokenizers.BertTokenizer(vocabulary=bert_vocabulary(False))
    x = _inputs()
    inputs = {k: x[k] for k in ("token_ids", "segment_ids", "padding_mask")}
    if task:
        pre = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=12)
        model = keras_hub.models.BertTextClassifier(backbone, num_classes=3, preprocessor=pre)
        for w in model.weights[-2:]:
            w.assign(w.numpy() + 0.1 * rng.normal(size=w.shape).astype("float32"))
        model.save_to_preset(str(source))
        expected = {"logits": np.asarray(model(inputs, training=False))}
    else:
        backbone.save_to_preset(str(source))
        tokenizer.save_to_preset(str(source))
        result = backbone(inputs)
        expected = {"sequence_output": np.asarray(result["sequence_output"]),
                    "pooled_output": np.asarray(result["pooled_output"])}
    write_case(out, case, x, expected,
               {"library": versions(keras_hub, keras),
                "architecture": "BertTextClassifier" if task else "BertBackbone",
                "outputs": sorted(expected)})


def bert_keras_hub_backbone(out):
    _keras_hub_case(out, "bert_keras_hub_backbone", None)


def bert_keras_hub_classifier(out):
    _keras_hub_case(out, "bert_keras_hub_classifier", "classifier")


def _tokenizer_case(out, case, cased):
    import transformers

    source = case_folder(out, case)
    tok = _save_tokenizer(source, cased)
    rows = [tok(text)["input_ids"] for text in CORPUS]
    longest = max(len(r) for r in rows)
    ids = np.full((len(rows), longest), -1, "int32")
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
    write_case(out, case, {"texts": np.array(CORPUS)}, {"ids": ids},
               {"library": versions(transformers), "architecture": "BertTokenizer",
                "outputs": ["ids"], "padding": -1, "do_lower_case": not cased,
                "note": "ids with [CLS] ... [SEP] as BertTokenizer adds them"})


def bert_tokenizer_uncased(out):
    _tokenizer_case(out, "bert_tokenizer_uncased", cased=False)


def bert_tokenizer_cased(out):
    _tokenizer_case(out, "bert_tokenizer_cased", cased=True)


def _tokenizer_json_case(out, case, cased, stale_vocab=False):
    """A tokenizer as modern hub repositories ship it: `tokenizer.json` and
    `tokenizer_config.json`, no `vocab.txt`; ids of `AutoTokenizer` on that folder. With
    `stale_vocab` the folder also holds a `vocab.txt` whose ids differ from `tokenizer.json`'s
    (two tokens swapped): Transformers reads `tokenizer.json`, so the ids are its."""
    import transformers

    source = case_folder(out, case)
    _save_tokenizer(source, cased)
    transformers.AutoTokenizer.from_pretrained(str(source)).save_pretrained(str(source))
    (source / "vocab.txt").unlink()
    if stale_vocab:
        tokens = bert_vocabulary(cased)
        i, j = tokens.index("the"), tokens.index("cat")
        tokens[i], tokens[j] = tokens[j], tokens[i]
        (source / "vocab.txt").write_text("\n".join(tokens) + "\n", "utf-8")
    assert (source / "tokenizer.json").is_file()
    tok = transformers.AutoTokenizer.from_pretrained(str(source))
    rows = [tok(text)["input_ids"] for text in CORPUS]
    ids = np.full((len(rows), max(len(r) for r in rows)), -1, "int32")
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
    write_case(out, case, {"texts": np.array(CORPUS)}, {"ids": ids},
               {"library": versions(transformers), "architecture": type(tok).__name__,
                "outputs": ["ids"], "padding": -1, "do_lower_case": not cased,
                "note": "ids with [CLS] ... [SEP] as AutoTokenizer adds them, read from "
                        "tokenizer.json"})


def bert_tokenizer_json_uncased(out):
    _tokenizer_json_case(out, "bert_tokenizer_json_uncased", cased=False)


def bert_tokenizer_json_cased(out):
    _tokenizer_json_case(out, "bert_tokenizer_json_cased", cased=True)


def bert_tokenizer_json_stale_vocab(out):
    _tokenizer_json_case(out, "bert_tokenizer_json_stale_vocab", cased=False, stale_vocab=True)


CASES = {
    "bert_transformers_model": bert_transformers_model,
    "bert_transformers_masked_lm": bert_transformers_masked_lm,
    "bert_transformers_classifier": bert_transformers_classifier,
    "bert_transformers_gelu_new": bert_transformers_gelu_new,
    "bert_original": bert_original,
    "bert_keras_hub_backbone": bert_keras_hub_backbone,
    "bert_keras_hub_classifier": bert_keras_hub_classifier,
    "bert_tokenizer_uncased": bert_tokenizer_uncased,
    "bert_tokenizer_cased": bert_tokenizer_cased,
    "bert_tokenizer_json_uncased": bert_tokenizer_json_uncased,
    "bert_tokenizer_json_cased": bert_tokenizer_json_cased,
    "bert_tokenizer_json_stale_vocab": bert_tokenizer_json_stale_vocab,
}


def bert_base():
    """Transformers' BertModel at BERT-base size (random, seed 0) against
    `zoo.build("bert_base")` converted from it."""
    import torch
    import transformers

    import zoo
    from zoo.checkpoints.converted import Source
    from zoo.models.bert import convert

    torch.manual_seed(0)
    model = transformers.BertModel(transformers.BertConfig()).eval()
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        config = json.loads((Path(folder) / "config.json").read_text())
        converted = convert.load_transformers(
            Source(Path(folder), "transformers", "BertModel", config, folder))
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 30000, size=(2, 128)).astype("int32")
    ids[:, 0], ids[1, 100:] = 101, 0
    x = {"token_ids": ids, "segment_ids": np.zeros_like(ids),
         "padding_mask": (ids != 0).astype("int32")}
    with torch.no_grad():
        reference = model(**_torch_inputs(x))
    ours = converted.model(x)
    params = int(sum(np.prod(w.shape) for w in converted.model.weights))
    return {
        "sequence_output_max_abs_diff": float(np.max(np.abs(
            np.asarray(ours["sequence_output"]) - reference.last_hidden_state.numpy()))),
        "pooled_output_max_abs_diff": float(np.max(np.abs(
            np.asarray(ours["pooled_output"]) - reference.pooler_output.numpy()))),
        "params": params, "zoo_params": zoo.describe("bert_base")["params"],
        "batch": list(ids.shape),
    }


CANONICAL = {"bert_base": bert_base}
