"""Zoo models as SavedModels that follow TF Hub's common signatures for their kind.

One folder per part, each a SavedModel loadable with `tensorflow_hub.load` (or plain
`tf.saved_model.load`) with no zoo code imported (text models need `import tensorflow_text`
for the tokenizer's ops):

=============  ==================  ============================================================
family         part                what it computes
=============  ==================  ============================================================
BERT           ``encoder``         `__call__({input_word_ids, input_mask, input_type_ids},
                                   training=False)` -> `{pooled_output, sequence_output,
                                   encoder_outputs, default}` (TF Hub's BERT encoder API)
BERT           ``preprocessor``    `__call__(strings)` -> the encoder's three inputs;
                                   `tokenize(strings)` -> ragged `[batch, words, pieces]`;
                                   `bert_pack_inputs([segments], seq_length)`
BERT classif.  ``classifier``      `__call__(strings)` -> logits
Hub classif.   ``classifier``      `__call__(strings)` -> logits (`HubTextClassifier`)
ViT            ``classifier``      `__call__(images in [0, 1])` -> logits
ViT            ``feature_vector``  `__call__(images in [0, 1])` -> `[batch, hidden_dim]`
Transformer    ``translator``      `__call__(source strings)` -> translated strings
                                   (tokenize, beam search, detokenize in the graph)
VAE            ``vae``             `encode(images)` -> `{z_mean, z_log_var}`, `decode(z)` ->
                                   pixel probabilities, `sample(num_samples, seed)`
=============  ==================  ============================================================

Every part also has a `serving_default` signature and carries its model card in
`assets.extra/model_card.json` (entry, config, recipe, benchmark scores, data licence); the
export folder gets `MODEL_CARD.md` and `model_card.json` (the card, with its parts and weights)
beside the parts.

>>> from zoo.hub import export
>>> export.PARTS["vae"]
('vae',)
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from zoo import atomic, textio

PARTS = {
    "bert": ("encoder", "preprocessor"),
    "bert_classifier": ("encoder", "preprocessor", "classifier"),
    "vit": ("classifier", "feature_vector"),
    "transformer": ("translator",),
    "vae": ("vae",),
    "hub_classifier": ("classifier",),
}
DEFAULT_SEQ_LENGTH = 128
# Bumped when what an export writes changes, so cached exports of `zoo:` handles are redone
# (2: each weight stored once).
FORMAT = 2


def kind_of(model) -> str:
    """The export kind of a zoo model (a key of `PARTS`)."""
    name = type(model).__name__
    kinds = {"BertClassifier": "bert_classifier", "BertMaskedLM": "bert", "BertBackbone": "bert",
             "ViTClassifier": "vit", "TransformerSeq2Seq": "transformer", "VAE": "vae",
             "Autoencoder": "vae", "HubTextClassifier": "hub_classifier"}
    if name not in kinds:
        raise ValueError(f"No TF Hub export for {name}; zoo exports {', '.join(sorted(kinds))}.")
    return kinds[name]


def _root():
    import tensorflow as tf

    return tf.__internal__.tracking.AutoTrackable()


def _attach_variables(root, model, weights="float32"):
    """TF Hub's reusable SavedModel attributes: `variables`, `trainable_variables`,
    `regularization_losses`. Returns a context factory each signature reads the weights in.

    With `weights="float32"` the SavedModel holds the tf.Variables behind the Keras ones
    (fine-tunable). With "float16" or "int8" it holds them as a published entry stores them
    (`zoo.entries`), widened to float32 inside the graph under a `keras.StatelessScope`: the
    export computes what the entry computes in half or a quarter of the bytes, and has no
    trainable variables (an inference-only download).
    """
    import contextlib

    root.regularization_losses = []
    if weights == "float32":
        root.variables = [v.value for v in model.variables]
        root.trainable_variables = [v.value for v in model.trainable_variables]
        return contextlib.nullcontext
    import keras
    import tensorflow as tf

    from zoo.entries import dequantize, store_weight

    stored = [{key: tf.Variable(array, trainable=False)
               for key, array in store_weight(v.numpy(), weights).items()}
              for v in model.variables]
    root.variables = [array for parts in stored for array in parts.values()]
    root.trainable_variables = []

    def widened(parts, dtype):
        if ".scale" in parts:
            return tf.cast(dequantize(parts[""], parts[".scale"]), dtype)
        return tf.cast(parts[""], dtype)

    def reads():
        return keras.StatelessScope(state_mapping=[
            (v, widened(parts, v.dtype)) for v, parts in zip(model.variables, stored)])

    return reads


# --- BERT ----------------------------------------------------------------------------------


def _bert_encoder(backbone, weights):
    import keras
    import tensorflow as tf

    blocks = [backbone.get_layer(f"encoder_block_{i}").output for i in range(backbone.num_layers)]
    outputs = backbone.output
    graph = keras.Model(backbone.input, {"sequence_output": outputs["sequence_output"],
                                         "pooled_output": outputs["pooled_output"],
                                         "encoder_outputs": blocks})
    root = _root()
    reads = _attach_variables(root, graph, weights)
    spec = {name: tf.TensorSpec([None, None], tf.int32, name=name)
            for name in ("input_word_ids", "input_mask", "input_type_ids")}

    @tf.function
    def call(inputs, training=False):
        with reads():
            out = graph({"token_ids": inputs["input_word_ids"],
                         "segment_ids": inputs["input_type_ids"],
                         "padding_mask": inputs["input_mask"]}, training=training)
        return {"pooled_output": out["pooled_output"], "sequence_output": out["sequence_output"],
                "encoder_outputs": list(out["encoder_outputs"]), "default": out["pooled_output"]}

    for training in (False, True):
        call.get_concrete_function(spec, training=training)
    root.__call__ = call

    @tf.function(input_signature=list(spec.values()))
    def serve(input_word_ids, input_mask, input_type_ids):
        out = call({"input_word_ids": input_word_ids, "input_mask": input_mask,
                    "input_type_ids": input_type_ids}, training=False)
        return {"pooled_output": out["pooled_output"], "sequence_output": out["sequence_output"]}

    return root, {"serving_default": serve}


class _Packer:
    """`[CLS] a [SEP] (b [SEP])`, truncated to `seq_length` and padded, with tensorflow-text."""

    def __init__(self, tokenizer):
        self.cls_id, self.sep_id, self.pad_id = tokenizer.cls_id, tokenizer.sep_id, tokenizer.pad_id

    def __call__(self, segments, seq_length):
        import tensorflow as tf
        import tensorflow_text as tf_text

        segments = [tf.cast(s.merge_dims(-2, -1) if s.ragged_rank > 1 else s, tf.int32)
                    for s in segments]
        budget = tf.cast(seq_length, tf.int32) - len(segments) - 1
        trimmer = tf_text.RoundRobinTrimmer(max_seq_length=budget)
        segments = trimmer.trim(segments)
        ids, type_ids = tf_text.combine_segments(segments, self.cls_id, self.sep_id)
        word_ids, mask = tf_text.pad_model_inputs(ids, seq_length, pad_value=self.pad_id)
        type_ids, _ = tf_text.pad_model_inputs(type_ids, seq_length, pad_value=0)
        return {"input_word_ids": word_ids, "input_mask": mask, "input_type_ids": type_ids}


def _bert_preprocessor(tokenizer, seq_length):
    import tensorflow as tf

    from zoo.text.wordpiece import _spaces_to_ascii

    root = _root()
    root.bert_tokenizer = tokenizer._tokenizer  # tracks the vocabulary table
    packer = _Packer(tokenizer)
    text = tf.TensorSpec([None], tf.string, name="text")

    @tf.function(input_signature=[text])
    def tokenize(strings):
        return tf.cast(tokenizer._tokenizer.tokenize(_spaces_to_ascii(strings)), tf.int32)

    @tf.function(input_signature=[text])
    def call(strings):
        return packer([tokenize(strings)], seq_length)

    @tf.function
    def bert_pack_inputs(segments, seq_length=seq_length):
        return packer(list(segments), seq_length)

    ragged = tf.RaggedTensorSpec([None, None, None], tf.int32, ragged_rank=2)
    for count in (1, 2):
        bert_pack_inputs.get_concrete_function([ragged] * count,
                                               tf.TensorSpec([], tf.int32, name="seq_length"))
    root.__call__ = call
    root.tokenize = tokenize
    root.bert_pack_inputs = bert_pack_inputs
    root.variables, root.trainable_variables, root.regularization_losses = [], [], []
    return root, {"serving_default": call}


def _bert_classifier(model, tokenizer, seq_length, weights):
    import tensorflow as tf

    from zoo.text import features

    root = _root()
    reads = _attach_variables(root, model, weights)
    root.bert_tokenizer = tokenizer._tokenizer

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def call(strings):
        inputs = features.bert_inputs(tokenizer, strings, seq_length)
        with reads():
            return {"logits": model(inputs, training=False)}

    root.__call__ = call
    return root, {"serving_default": call}


def _hub_classifier(model, weights):
    """A `HubTextClassifier` (TF Hub encoder + preprocessor + head): strings -> logits.

    Compact weights need the zoo BERT classifier it equals (an encoder loaded from a
    SavedModel reads its own float32 variables), so only classifiers on a zoo entry's encoder
    export that way."""
    import tensorflow as tf

    from zoo.hub.classifier import as_bert_classifier
    from zoo.hub.layer import HubLayer

    if weights != "float32":
        try:
            converted, tokenizer, length = as_bert_classifier(model)
        except ValueError as error:
            raise ValueError(f"{error} Other encoders export with --weights float32.") from None
        return _bert_classifier(converted, tokenizer, length, weights)
    root = _root()
    _attach_variables(root, model, weights)
    # The loaded SavedModels carry the preprocessor's vocabulary table and assets.
    root.saved_models = [layer._obj for layer in model.layers if isinstance(layer, HubLayer)]

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def call(strings):
        return {"logits": model(strings, training=False)}

    root.__call__ = call
    return root, {"serving_default": call}


# --- ViT -----------------------------------------------------------------------------------


def _vit(model, part, weights):
    import keras
    import tensorflow as tf

    if part == "feature_vector":
        graph = keras.Model(model.input, model.get_layer("head_dropout").input)
        key = "feature_vector"
    else:
        graph, key = model, "logits"
    root = _root()
    reads = _attach_variables(root, graph, weights)
    shape = [None, *model.input.shape[1:]]

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32, name="images")])
    def call(images):
        with reads():
            return graph(images, training=False)

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32, name="images")])
    def serve(images):
        return {key: call(images)}

    root.__call__ = call
    return root, {"serving_default": serve}


# --- Transformer ---------------------------------------------------------------------------


def _translator(model, tokenizer, decoding, weights):
    import tensorflow as tf

    from zoo.text import features

    root = _root()
    reads = _attach_variables(root, model, weights)
    root.bert_tokenizer = tokenizer._tokenizer
    max_source = min(int(decoding["max_source_length"]), model.max_sequence_length)
    max_target = min(int(decoding["max_length"]), model.max_sequence_length - 1)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def call(strings):
        ids = features.sequence_ids(tokenizer, strings, max_source)
        with reads():
            out = model._generate(ids, max_target, int(decoding["beam_width"]),
                                  float(decoding["length_penalty"]), True)
        return tokenizer.detokenize(out)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(strings):
        return {"translation": call(strings)}

    root.__call__ = call
    return root, {"serving_default": serve}


# --- VAE -----------------------------------------------------------------------------------


def _vae(model, weights):
    import tensorflow as tf

    root = _root()
    reads = _attach_variables(root, model, weights)
    images = tf.TensorSpec([None, *model.encoder.input.shape[1:]], tf.float32, name="images")
    latent = tf.TensorSpec([None, model.latent_dim], tf.float32, name="z")

    @tf.function(input_signature=[images])
    def encode(x):
        with reads():
            codes = model.encoder(x, training=False)
        return {"z_mean": codes["z_mean"],
                "z_log_var": codes.get("z_log_var", tf.zeros_like(codes["z_mean"]))}

    @tf.function(input_signature=[latent])
    def decode(z):
        with reads():
            return {"images": model._pixels(model.decoder(z, training=False))}

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32, name="num_samples"),
                                  tf.TensorSpec([], tf.int64, name="seed")])
    def sample(num_samples, seed):
        z = tf.random.stateless_normal(tf.stack([num_samples, model.latent_dim]),
                                       seed=tf.stack([seed, tf.constant(0, tf.int64)]))
        return decode(z)

    root.encode, root.decode, root.sample = encode, decode, sample
    return root, {"serving_default": encode, "encode": encode, "decode": decode,
                  "sample": sample}


def sample_latents(num_samples: int, latent_dim: int, seed: int):
    """The latent codes the exported `sample(num_samples, seed)` decodes (stateless)."""
    import tensorflow as tf

    return tf.random.stateless_normal([num_samples, latent_dim], seed=[seed, 0])


# --- Entry points --------------------------------------------------------------------------


def sequence_length_of(recipe: dict) -> int:
    """The sequence length a text export of an entry trained with `recipe` packs inputs to."""
    return int(recipe.get("max_length") or DEFAULT_SEQ_LENGTH)


def _build_parts(model, tokenizer, kind, parts, recipe, weights):
    length = sequence_length_of(recipe)
    for part in parts:
        if part == "encoder":
            yield part, _bert_encoder(model.backbone if hasattr(model, "backbone") else model,
                                      weights)
        elif part == "preprocessor":
            yield part, _bert_preprocessor(tokenizer, length)
        elif kind == "hub_classifier":
            yield part, _hub_classifier(model, weights)
        elif part == "classifier" and kind == "bert_classifier":
            yield part, _bert_classifier(model, tokenizer, length, weights)
        elif kind == "vit":
            yield part, _vit(model, part, weights)
        elif part == "translator":
            decoding = {"beam_width": 4, "length_penalty": 0.6, "max_length": 64,
                        "max_source_length": 64, **recipe.get("decoding", {})}
            yield part, _translator(model, tokenizer, decoding, weights)
        elif part == "vae":
            yield part, _vae(model, weights)


def model_card(model, entry=None, recipe=None, scores=None, licence=None) -> dict:
    """What an export says about itself (also written as `MODEL_CARD.md`)."""
    import keras

    import zoo

    return {
        "entry": entry,
        "zoo_version": zoo.__version__,
        "class": type(model).__name__,
        "config": keras.saving.serialize_keras_object(model)["config"],
        "recipe": recipe or {},
        "scores": scores or [],
        "data_licence": licence,
        "loading": "tensorflow_hub.load(path) or tf.saved_model.load(path); text models need "
                   "`import tensorflow_text` first.",
    }


def _card_markdown(card, parts, kind) -> str:
    weights = card.get("weights", "float32")
    lines = [f"# {card['entry'] or card['class']} (TF Hub format)", "",
             f"Exported by zoo {card['zoo_version']} from a `{card['class']}`.", "",
             "Weights: " + ("float32 variables (fine-tunable)." if weights == "float32" else
                            f"stored as {weights} as in the published entry and widened to "
                            "float32 in the graph: the same outputs as the entry, no trainable "
                            "variables (for fine-tuning, export with float32 weights)."), "",
             "## Parts", ""]
    lines += [f"- `{part}/`: {_PART_TEXT[(kind, part)]}" for part in parts]
    lines += ["", "## Scores", ""]
    if card["scores"]:
        lines += [f"- {s['benchmark']}: {s['metric']} = {s['value']:.4g} "
                  f"(95% CI {s['low']:.4g} to {s['high']:.4g}), record `{s['record']}`"
                  for s in card["scores"]]
    else:
        lines.append("- none published")
    lines += ["", "## Data licence", "", card["data_licence"] or "not stated", "",
              "## Loading", "", card["loading"], "",
              "The config and recipe are in each part's `assets.extra/model_card.json`.", ""]
    return "\n".join(lines)


_PART_TEXT = {
    ("bert", "encoder"): "BERT encoder: input_word_ids, input_mask, input_type_ids -> "
                         "pooled_output, sequence_output, encoder_outputs",
    ("bert", "preprocessor"): "raw strings -> the encoder's inputs; tokenize; bert_pack_inputs",
    ("bert_classifier", "classifier"): "raw strings -> logits",
    ("hub_classifier", "classifier"): "raw strings -> logits (the TF Hub encoder, its "
                                      "preprocessor and the head in one SavedModel)",
    ("vit", "classifier"): "float32 images in [0, 1] -> logits",
    ("vit", "feature_vector"): "float32 images in [0, 1] -> feature vector",
    ("transformer", "translator"): "source strings -> translated strings (beam search)",
    ("vae", "vae"): "encode(images), decode(z), sample(num_samples, seed)",
}
_PART_TEXT[("bert_classifier", "encoder")] = _PART_TEXT[("bert", "encoder")]
_PART_TEXT[("bert_classifier", "preprocessor")] = _PART_TEXT[("bert", "preprocessor")]


def export_model(model, directory, tokenizer=None, parts=None, recipe=None, card=None,
                 tar=False, weights="float32") -> list[Path]:
    """Writes `directory/<part>/` SavedModels for `model` (and `<part>.tar.gz` with `tar`).

    `weights`: "float32" (fine-tunable, TF Hub's usual), or "float16" / "int8" for compact
    inference-only parts that store the weights as a published entry does (see
    `_attach_variables`).

    Each part is written to a temporary folder and moved into place, so a reader never sees
    half an export. Returns the part folders (or archives, with `tar`).
    """
    import tensorflow as tf

    from zoo.entries import PRECISIONS

    kind = kind_of(model)
    if weights not in PRECISIONS:
        raise ValueError(f"Unknown export weights {weights!r}; use one of "
                         f"{', '.join(PRECISIONS)}.")
    parts = list(parts or PARTS[kind])
    unknown = [p for p in parts if p not in PARTS[kind]]
    if unknown:
        raise ValueError(f"A {kind} export has parts {', '.join(PARTS[kind])}; not {unknown}.")
    if kind in ("bert", "bert_classifier", "transformer") and tokenizer is None:
        raise ValueError(f"Exporting a {kind} model needs its tokenizer.")
    card = dict(card or model_card(model, recipe=recipe), weights=weights)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for part, (root, signatures) in _build_parts(model, tokenizer, kind, parts, recipe or {},
                                              weights):
        staging = Path(tempfile.mkdtemp(prefix=f".{part}.", dir=directory))
        try:
            tf.saved_model.save(root, str(staging / "model"), signatures=signatures)
            extra = staging / "model" / "assets.extra"
            extra.mkdir(exist_ok=True)
            atomic.write_json(extra / "model_card.json", dict(card, part=part, kind=kind))
            target = directory / part
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging / "model", target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        written.append(directory / part)
    atomic.write_text(directory / "MODEL_CARD.md", _card_markdown(card, parts, kind))
    atomic.write_json(directory / "model_card.json", dict(card, parts=parts, kind=kind))
    if tar:
        written = [make_tarball(folder, directory / f"{folder.name}.tar.gz") for folder in written]
    return written


def make_tarball(folder, archive) -> Path:
    """A `.tar.gz` of a SavedModel folder's contents, as TF Hub serves them (deterministic)."""
    folder, archive = Path(folder), Path(archive)

    def clean(info):
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        return info

    fd, tmp = tempfile.mkstemp(prefix=f".{archive.name}.", dir=archive.parent)
    os.close(fd)
    try:
        import gzip

        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, \
                tarfile.open(fileobj=gz, mode="w") as out:
            for path in sorted(folder.rglob("*")):
                out.add(path, arcname=str(path.relative_to(folder)), recursive=False,
                        filter=clean)
        os.chmod(tmp, 0o644)
        os.replace(tmp, archive)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return archive


def _published_scores(entry: str) -> list[dict]:
    """The entry's full-run benchmark scores from `benchmarks/results/` (when present)."""
    from zoo import entries

    return [{k: v for k, v in score.items() if k != "entry"}
            for score in entries.published_scores(entry)]


def export_entry(entry: str, directory, parts=None, tar=False, weights="float32",
                 safe_mode=True) -> list[Path]:
    """Exports a published entry (by name or folder) in TF Hub's format into `directory`.

    `weights="stored"` keeps the weights as the entry stores them (float16 or int8; compact,
    inference only); "float32" (default) gives fine-tunable parts. The entry loads in Keras'
    safe mode (`zoo.safety`; `safe_mode=False` lets code in its config run); a link among its
    files raises `zoo.safety.LinkedFileError` (the export would carry the linked file)."""
    import zoo.entries as entries
    from zoo import safety
    from zoo.datasets import catalog

    folder = Path(entry) if entries.is_entry_folder(entry) else entries.folder(entry)
    # The export embeds the entry's files (the vocabulary as a SavedModel asset): its own only.
    safety.check_own_files(folder, entries.COPIED)
    name = folder.name
    model = entries.load_folder(folder, safe_mode=safe_mode)
    tokenizer = None
    if (folder / "tokenizer").is_dir():
        from zoo.text import WordPieceTokenizer

        tokenizer = WordPieceTokenizer.load(folder / "tokenizer")
    recipe = textio.read_json(folder / "recipe.json")
    if weights == "stored":
        info = textio.read_json(folder / "run.json")
        weights = info.get("published", {}).get("weights_precision", "float32")
    licences = []
    for dataset in [recipe.get("dataset")] + [d[0] for d in recipe.get("extra_training_data", [])]:
        try:
            licences.append(f"{dataset}: {catalog.info(dataset).licence}")
        except Exception:  # a user's own dataset: no catalog entry
            licences.append(f"{dataset}: not stated")
    card = model_card(model, entry=name, recipe=recipe, scores=_published_scores(name),
                      licence="; ".join(licences))
    return export_model(model, directory, tokenizer=tokenizer, parts=parts, recipe=recipe,
                        card=card, tar=tar, weights=weights)
