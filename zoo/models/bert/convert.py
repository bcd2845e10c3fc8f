"""BERT checkpoints of other libraries into zoo's BERT, and zoo's BERT back to Transformers.

Sources (`zoo.convert.load` picks the loader by format and architecture):
- Transformers (`load_transformers`): `BertModel`, `BertForMaskedLM`, `BertForPreTraining`
  (its next-sentence head is left out) and `BertForSequenceClassification`, from
  `config.json` + `model.safetensors`; `vocab.txt` + `tokenizer_config.json` give the
  tokenizer.
- Google's original release (`load_bert_original`, Devlin et al., 2019,
  https://github.com/google-research/bert): `bert_config.json` + `bert_model.ckpt.*` +
  `vocab.txt`, variables `bert/embeddings/word_embeddings`, `bert/encoder/layer_N/...`,
  `cls/predictions/...`. Its `modeling.py` computes "gelu" as the tanh approximation, so the
  model is built with `activation="gelu_approximate"` (Transformers reads the same checkpoint
  with the exact GELU: outputs differ by about 1e-3).
- KerasHub presets (`load_keras_hub`): `BertBackbone` and `BertTextClassifier` folders
  (`config.json`, `model.weights.h5`, `task.json`, `task.weights.h5`), read without KerasHub.
  KerasHub's BERT uses the tanh GELU as well.

Each maps the source's config to `BertBackbone`'s arguments and refuses (ConversionError,
naming the field) what zoo's BERT cannot compute: relative position embeddings, decoders,
activations other than the two GELUs, untied masked-LM output weights.

`to_transformers(model, tokenizer)` writes a zoo BERT in Transformers' names
(`zoo export ENTRY --format hf DIR`).
"""

from __future__ import annotations

import json

import numpy as np

from zoo.checkpoints import fields
from zoo.checkpoints.converted import Converted
from zoo.checkpoints.errors import ConversionError

#: The Transformers architectures converted, and the zoo head each becomes.
TRANSFORMERS_HEADS = {
    "BertModel": "backbone",
    "BertForMaskedLM": "masked_lm",
    "BertForPreTraining": "masked_lm",
    "BertForSequenceClassification": "classifier",
    "bert": "backbone",  # a config without `architectures`: AutoModel reads a BertModel
}
#: The KerasHub classes converted, and the zoo head each becomes.
KERAS_HUB_HEADS = {"BertBackbone": "backbone", "BertTextClassifier": "classifier"}
HEADS = ("backbone", "masked_lm", "classifier")
#: Transformers' `hidden_act` values and zoo's activation for each.
_ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_approximate",
                "gelu_pytorch_tanh": "gelu_approximate"}
_HEAD_CLASSES = {"backbone": "BertModel", "masked_lm": "BertForMaskedLM",
                 "classifier": "BertForSequenceClassification"}


# === Configs ===


def backbone_arguments(config: dict, file: str, original: bool = False) -> tuple[dict, list]:
    """`BertBackbone` arguments from a Transformers `config.json` or Google's
    `bert_config.json` (the same field names), and the notes of what was mapped.

    Args:
        config: the parsed config.
        file: its path, for messages.
        original: Google's `bert_config.json`, whose "gelu" is the tanh approximation.

    Raises:
        ConversionError: a field zoo's BERT cannot represent (naming it and its value).
    """
    notes = []
    if not original and config.get("model_type", "bert") != "bert":
        raise ConversionError(f"{file}: model_type is {config.get('model_type')!r}; the BERT "
                              "converter reads model_type 'bert' only.")
    act = config.get("hidden_act", "gelu")
    if not isinstance(act, str):
        raise ConversionError(f"{file}: hidden_act is {act!r}; expected the name of an "
                              "activation ('gelu', 'gelu_new', 'gelu_pytorch_tanh').")
    if original and act == "gelu":
        activation = "gelu_approximate"
        notes.append("hidden_act 'gelu' of Google's modeling.py is the tanh approximation: "
                     "activation gelu_approximate")
    elif act in _ACTIVATIONS:
        activation = _ACTIVATIONS[act]
    else:
        raise ConversionError(
            f"{file}: hidden_act is {act!r}; zoo's BERT computes 'gelu' (exact) or "
            f"'gelu_new' / 'gelu_pytorch_tanh' (tanh approximation) only.")
    position = config.get("position_embedding_type", "absolute")
    if position != "absolute":
        raise ConversionError(
            f"{file}: position_embedding_type is {position!r}; zoo's BERT has learned "
            "absolute position embeddings only ('absolute').")
    for field in ("is_decoder", "add_cross_attention"):
        if fields.flag(config, field, file, False):
            raise ConversionError(f"{file}: {field} is true; zoo's BERT is an encoder only "
                                  "(no causal or cross-attention).")
    dropout = fields.number(config, "hidden_dropout_prob", file, 0.1, 0.0, 1.0)
    attention_dropout = fields.number(config, "attention_probs_dropout_prob", file, dropout,
                                      0.0, 1.0)
    if attention_dropout != dropout:
        notes.append(f"attention_probs_dropout_prob {attention_dropout} differs from "
                     f"hidden_dropout_prob {dropout}; zoo uses {dropout} for both (training only)")
    hidden = fields.integer(config, "hidden_size", file, minimum=1)
    heads = fields.integer(config, "num_attention_heads", file, minimum=1)
    if hidden % heads:
        raise ConversionError(f"{file}: hidden_size {hidden} is not divisible by "
                              f"num_attention_heads {heads}.")
    arguments = {
        "vocabulary_size": fields.integer(config, "vocab_size", file, minimum=1),
        "num_layers": fields.integer(config, "num_hidden_layers", file, minimum=1),
        "num_heads": heads,
        "hidden_dim": hidden,
        "intermediate_dim": fields.integer(config, "intermediate_size", file, minimum=1),
        "dropout": dropout,
        "max_sequence_length": fields.integer(config, "max_position_embeddings", file, 512,
                                              minimum=1),
        "num_segments": fields.integer(config, "type_vocab_size", file, 2, minimum=1),
        "layer_norm_epsilon": fields.number(config, "layer_norm_eps", file, 1e-12, 0.0),
        "normalize_first": False,
        "activation": activation,
    }
    return arguments, notes


def _classifier_arguments(config, file):
    """`num_classes`, `classifier_dropout` and the label names of a sequence classifier."""
    problem = config.get("problem_type")
    if problem not in (None, "single_label_classification"):
        raise ConversionError(
            f"{file}: problem_type is {problem!r}; zoo's BERT classifier trains single-label "
            "classification (softmax cross-entropy) only: 'single_label_classification'.")
    labels = config.get("id2label") or {}
    if not isinstance(labels, dict):
        raise ConversionError(f"{file}: id2label is {labels!r} (a {type(labels).__name__}); "
                              'expected an object of class id -> name ({"0": "negative"}).')
    num_classes = fields.integer(config, "num_labels", file, len(labels) or 2, minimum=1)
    names = [str(labels.get(str(i), labels.get(i, f"LABEL_{i}"))) for i in range(num_classes)]
    dropout = config.get("classifier_dropout")
    dropout = (fields.number(config, "hidden_dropout_prob", file, 0.1, 0.0, 1.0)
               if dropout is None else fields.number(config, "classifier_dropout", file,
                                                     minimum=0.0, maximum=1.0))
    return {"num_classes": num_classes, "classifier_dropout": dropout}, {"labels": names}


def _model(head, arguments):
    from zoo.models import catalog

    return catalog.model_class("bert", head)(**arguments)


def _chosen_head(head, own, available, location):
    head = own if head is None else head
    if head not in HEADS:
        raise ConversionError(f"{location}: unknown head {head!r}; BERT heads: "
                              f"{', '.join(HEADS)}.")
    if head == "masked_lm" and "masked_lm" not in available:
        raise ConversionError(
            f"{location} has no masked-LM head (cls.predictions); convert it as 'backbone' or "
            "'classifier', or use a BertForMaskedLM / BertForPreTraining checkpoint.")
    return head


# === Names: zoo variable path <-> Transformers tensor name ===


def _transformers_names(num_layers, head):
    """`[(zoo path, Transformers name, transpose)]` of a zoo BERT of `head`, names without
    the "bert." prefix of task models for the backbone's part."""
    rows = [
        ("token_embedding/embeddings", "embeddings.word_embeddings.weight", False),
        ("segment_embedding/embeddings", "embeddings.token_type_embeddings.weight", False),
        ("position_embedding/embeddings", "embeddings.position_embeddings.weight", False),
        ("embedding_norm/gamma", "embeddings.LayerNorm.weight", False),
        ("embedding_norm/beta", "embeddings.LayerNorm.bias", False),
    ]
    parts = (("self_attention/query", "attention.self.query"),
             ("self_attention/key", "attention.self.key"),
             ("self_attention/value", "attention.self.value"),
             ("self_attention/attention_output", "attention.output.dense"),
             ("feed_forward/intermediate", "intermediate.dense"),
             ("feed_forward/output", "output.dense"))
    norms = (("self_attention_norm", "attention.output.LayerNorm"),
             ("feed_forward_norm", "output.LayerNorm"))
    for i in range(num_layers):
        for zoo_name, hf_name in parts:
            rows.append((f"encoder_block_{i}/{zoo_name}/kernel",
                         f"encoder.layer.{i}.{hf_name}.weight", True))
            rows.append((f"encoder_block_{i}/{zoo_name}/bias",
                         f"encoder.layer.{i}.{hf_name}.bias", False))
        for zoo_name, hf_name in norms:
            rows.append((f"encoder_block_{i}/{zoo_name}/gamma",
                         f"encoder.layer.{i}.{hf_name}.weight", False))
            rows.append((f"encoder_block_{i}/{zoo_name}/beta",
                         f"encoder.layer.{i}.{hf_name}.bias", False))
    rows += [("pooler/kernel", "pooler.dense.weight", True),
             ("pooler/bias", "pooler.dense.bias", False)]
    return rows


def _head_names(head):
    """The head's rows, full Transformers names."""
    if head == "masked_lm":
        return [("mlm_transform/kernel", "cls.predictions.transform.dense.weight", True),
                ("mlm_transform/bias", "cls.predictions.transform.dense.bias", False),
                ("mlm_norm/gamma", "cls.predictions.transform.LayerNorm.weight", False),
                ("mlm_norm/beta", "cls.predictions.transform.LayerNorm.bias", False),
                ("mlm_bias/bias", "cls.predictions.bias", False)]
    if head == "classifier":
        return [("classifier/kernel", "classifier.weight", True),
                ("classifier/bias", "classifier.bias", False)]
    return []


def _fresh(shape, seed):
    """BERT's initialisation (truncated normal, stddev 0.02), seeded: a head or pooler the
    checkpoint lacks is the same on every conversion."""
    values = np.random.default_rng(seed).normal(0.0, 0.02, size=shape)
    return np.clip(values, -0.04, 0.04).astype("float32")


def _fill_missing(values, model, missing_ok, notes, why):
    """Sets `missing_ok` paths absent from `values` to a seeded fresh initialisation."""
    shapes = {w.path: tuple(w.shape) for w in model.weights}
    fresh = [p for p in missing_ok if p not in values]
    for seed, path in enumerate(fresh):
        values[path] = (np.zeros(shapes[path], "float32") if path.endswith("bias")
                        else _fresh(shapes[path], seed))
    if fresh:
        notes.append(f"{why}: initialised fresh (seeded) {', '.join(fresh)}")


# === Transformers ===


def load_transformers(source, head=None) -> Converted:
    """A Transformers BERT checkpoint (`BertModel`, `BertForMaskedLM`, `BertForPreTraining`,
    `BertForSequenceClassification`) as zoo's BERT of `head` (None: the source's own).

    Raises:
        ConversionError: a config field zoo cannot represent, a missing or misshapen tensor,
            a head the checkpoint cannot give (masked-LM from a model without it).
    """
    from zoo.checkpoints.readers import safetensors_folder

    file = f"{source.location}/config.json"
    architecture = source.architecture
    if architecture not in TRANSFORMERS_HEADS:
        raise ConversionError(f"{file}: architecture {architecture!r} is not one the BERT "
                              f"converter reads ({', '.join(TRANSFORMERS_HEADS)}).")
    arguments, notes = backbone_arguments(source.config, file)
    tensors = safetensors_folder(source.folder)
    prefixed = any(name.startswith("bert.") for name in tensors)
    available = {"backbone"}
    if "cls.predictions.bias" in tensors:
        available.add("masked_lm")
    if "classifier.weight" in tensors:
        available.add("classifier")
    own = TRANSFORMERS_HEADS[architecture]
    head = _chosen_head(head, own, available, source.location)
    extra = {}
    if head == "classifier":
        classifier_args, extra = _classifier_arguments(source.config, file)
        arguments.update(classifier_args)
    if head == "masked_lm":
        _check_tied(tensors, source, prefixed)
    model = _model(head, arguments)
    rows = [(path, ("bert." if prefixed else "") + name, t)
            for path, name, t in _transformers_names(arguments["num_layers"], head)]
    rows += _head_names(head)
    values, used = {}, set()
    for path, name, transpose in rows:
        if name not in tensors:
            continue
        value = tensors[name]
        values[path] = value.T if transpose else value
        used.add(name)
    _fill_missing(values, model, ["pooler/kernel", "pooler/bias"], notes,
                  f"{architecture} has no pooler")
    if head == "classifier":
        _fill_missing(values, model, ["classifier/kernel", "classifier/bias"], notes,
                      f"{architecture} has no sequence-classification head")
    unused = {name: _why_unused(name, head) for name in tensors if name not in used}
    notes += _assign(model, values, source, unused)
    tokenizer, tokenizer_notes = transformers_tokenizer(source.folder, source.location)
    tokenizer_notes += _outrun_note(tokenizer, arguments["vocabulary_size"])
    return Converted(model=model, family="bert", head=head, tokenizer=tokenizer,
                     notes=notes + tokenizer_notes, source=source, extra=extra)


def _outrun_note(tokenizer, vocabulary_size):
    """A note when the tokenizer has ids the token embeddings lack (a vocabulary longer than
    config.json's vocab_size): Transformers raises IndexError on such an id, Keras on a GPU
    looks up zeros without a word, so the user must know."""
    if tokenizer is None or tokenizer.vocabulary_size <= vocabulary_size:
        return []
    return [f"WARNING: the tokenizer has {tokenizer.vocabulary_size} tokens, more than the "
            f"{vocabulary_size} token embeddings (config.json vocab_size): ids "
            f"{vocabulary_size} to {tokenizer.vocabulary_size - 1} "
            f"({', '.join(tokenizer.vocabulary[vocabulary_size:vocabulary_size + 3])}...) have "
            "no embedding; Transformers fails on them, and a zoo model on a GPU reads zeros "
            "for them. Fine-tuning from it is refused."]


def _check_tied(tensors, source, prefixed):
    embeddings = tensors.get(("bert." if prefixed else "") + "embeddings.word_embeddings.weight")
    decoder = tensors.get("cls.predictions.decoder.weight")
    if decoder is not None and embeddings is not None and not np.array_equal(decoder,
                                                                             embeddings):
        raise ConversionError(
            f"{source.location}: cls.predictions.decoder.weight differs from the word "
            "embeddings (tie_word_embeddings false); zoo's masked-LM head projects with the "
            "word embeddings (tied) only.")


def _why_unused(name, head):
    if name.startswith("cls.seq_relationship"):
        return "the next-sentence-prediction head, which zoo's BERT does not have"
    if name == "cls.predictions.decoder.weight":
        return "tied to the word embeddings (zoo's masked-LM head projects with them)"
    if name == "cls.predictions.decoder.bias":
        return "the same tensor as cls.predictions.bias"
    if name.endswith("position_ids") or name.endswith("token_type_ids"):
        return "a constant buffer (0, 1, 2, ...), not a weight"
    if name.startswith("cls.predictions"):
        return f"the masked-LM head, not part of the {head} asked for"
    if name.startswith("classifier."):
        return f"the classification head, not part of the {head} asked for"
    return "not part of zoo's BERT"


def _assign(model, values, source, unused):
    """`zoo.checkpoints.weights.assign`, after checking no tensor is unexplained."""
    from zoo.checkpoints.weights import assign

    unknown = [name for name, why in unused.items() if why == "not part of zoo's BERT"]
    if unknown:
        raise ConversionError(
            f"{source.location}: tensors zoo's BERT has no place for: {', '.join(unknown[:5])}"
            f"{' ...' if len(unknown) > 5 else ''}. The checkpoint is not a standard BERT.")
    return assign(model, values, source=source.location, unused=unused)


# === Tokenizers ===


#: Transformers' tokenizer classes that read a BERT `tokenizer.json` as `BertTokenizer` does:
#: its vocabulary, with the normalisation `tokenizer_config.json` sets (default lowercase).
_BERT_TOKENIZER_CLASSES = (None, "BertTokenizer", "BertTokenizerFast")
#: The generic classes that run `tokenizer.json` as it is, its normaliser included.
_GENERIC_TOKENIZER_CLASSES = ("PreTrainedTokenizerFast", "TokenizersBackend")
_SPECIALS = (("unk_token", "[UNK]"), ("cls_token", "[CLS]"), ("sep_token", "[SEP]"),
             ("pad_token", "[PAD]"), ("mask_token", "[MASK]"))


def transformers_tokenizer(folder, location):
    """zoo's WordPiece tokenizer (rules "bert") of a Transformers BERT folder, as
    Transformers' `AutoTokenizer` reads it: the vocabulary of `tokenizer.json` when the folder
    has one (modern repositories ship only it; a `vocab.txt` beside it is not read, as
    Transformers does not read it), else of `vocab.txt`; the casing and the other settings of
    `tokenizer_config.json` (`do_lower_case`, default true), or, for a generic
    `PreTrainedTokenizerFast`, of `tokenizer.json`'s `BertNormalizer`. None and a note when
    the folder has neither file.

    Raises:
        ConversionError: tokenizer settings zoo's tokenizer cannot follow (accents stripped
            or kept against the casing, Chinese characters not split, other special tokens,
            tokens added beside the vocabulary, a `tokenizer.json` that is not BERT's
            WordPiece), naming the file and field.
    """
    from pathlib import Path

    folder = Path(folder)
    settings_file = folder / "tokenizer_config.json"
    settings = _json_object(settings_file, location) if settings_file.is_file() else {}
    file = f"{location}/tokenizer_config.json"
    tokenizer_class = settings.get("tokenizer_class")
    if tokenizer_class not in _BERT_TOKENIZER_CLASSES + _GENERIC_TOKENIZER_CLASSES:
        raise ConversionError(
            f"{file}: tokenizer_class is {tokenizer_class!r}; zoo converts BERT's WordPiece "
            f"tokenizer ({', '.join(c for c in _BERT_TOKENIZER_CLASSES if c)}, or "
            f"{' / '.join(_GENERIC_TOKENIZER_CLASSES)} with a BERT tokenizer.json).")
    notes = []
    if (folder / "tokenizer.json").is_file():
        vocabulary, normalizer = _tokenizer_json(folder / "tokenizer.json", location)
        origin = "tokenizer.json"
        if tokenizer_class in _GENERIC_TOKENIZER_CLASSES:  # the file's own normaliser
            settings = {**settings, "do_lower_case": normalizer.get("lowercase", True),
                        "strip_accents": normalizer.get("strip_accents"),
                        "tokenize_chinese_chars": normalizer.get("handle_chinese_chars",
                                                                 True)}
            file = f"{location}/tokenizer.json"
            _check_post_processor(folder / "tokenizer.json", location)
        if (folder / "vocab.txt").is_file() and _vocabulary(folder / "vocab.txt") != vocabulary:
            notes.append("vocab.txt differs from tokenizer.json's vocabulary; the ids are "
                         "tokenizer.json's, as Transformers reads it")
    elif (folder / "vocab.txt").is_file():
        vocabulary, origin = _vocabulary(folder / "vocab.txt"), "vocab.txt"
    else:
        return None, ["no vocab.txt or tokenizer.json: converted without a tokenizer"]
    lowercase = settings.get("do_lower_case", True)
    if not isinstance(lowercase, bool):
        raise ConversionError(f"{file}: do_lower_case is {lowercase!r}; expected true or "
                              "false.")
    strip = settings.get("strip_accents")
    if strip is not None and bool(strip) != lowercase:
        raise ConversionError(
            f"{file}: strip_accents is {strip} with do_lower_case {lowercase}; zoo's BERT "
            "tokenizer strips accents exactly when it lowercases (strip_accents null).")
    if settings.get("tokenize_chinese_chars", True) is not True:
        raise ConversionError(f"{file}: tokenize_chinese_chars is false; zoo's BERT tokenizer "
                              "always splits Chinese characters.")
    for key, token in _SPECIALS:
        given = settings.get(key, token)
        given = given.get("content", token) if isinstance(given, dict) else given
        if given != token:
            raise ConversionError(f"{file}: {key} is {given!r}; zoo's BERT tokenizer uses "
                                  f"{token!r}.")
    return _wordpiece(vocabulary, lowercase, f"{location}/{origin}"), notes + [
        f"tokenizer: {origin}, do_lower_case {lowercase}, Google BERT's rules"]


def _json_object(path, location):
    try:
        value = json.loads(path.read_text("utf-8-sig"))
    except (OSError, ValueError) as e:
        raise ConversionError(f"{location}/{path.name}: not a readable JSON file ({e}).") \
            from None
    if not isinstance(value, dict):
        raise ConversionError(f"{location}/{path.name}: expected a JSON object, got "
                              f"{type(value).__name__}.")
    return value


def _tokenizer_json(path, location):
    """`(vocabulary, normalizer)` of a BERT `tokenizer.json` (Hugging Face `tokenizers`):
    the WordPiece vocabulary in id order and the `BertNormalizer`'s fields.

    Raises:
        ConversionError: not a WordPiece model with the "##" prefix, ids that are not
            0..n-1, a normaliser or pre-tokenizer other than BERT's, or added tokens other
            than BERT's five special ones (zoo's tokenizer keeps only those whole).
    """
    file = f"{location}/tokenizer.json"
    data = _json_object(path, location)
    model = data.get("model") if isinstance(data.get("model"), dict) else {}
    if model.get("type") != "WordPiece":
        raise ConversionError(
            f"{file}: model.type is {model.get('type')!r}; zoo's BERT tokenizer is WordPiece "
            "('WordPiece').")
    if model.get("continuing_subword_prefix", "##") != "##":
        raise ConversionError(f"{file}: model.continuing_subword_prefix is "
                              f"{model['continuing_subword_prefix']!r}; zoo's is '##'.")
    vocab = model.get("vocab")
    if not isinstance(vocab, dict) or not vocab or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in vocab.values()):
        raise ConversionError(f"{file}: model.vocab is not a token -> id object.")
    by_id = {i: token for token, i in vocab.items()}
    if sorted(by_id) != list(range(len(vocab))):
        raise ConversionError(f"{file}: model.vocab's ids are not 0 to {len(vocab) - 1}, each "
                              "once; zoo's tokenizer needs one token per id.")
    vocabulary = [by_id[i] for i in range(len(vocab))]
    normalizer = data.get("normalizer") or {}
    if not isinstance(normalizer, dict) or normalizer.get("type") != "BertNormalizer" or \
            normalizer.get("clean_text", True) is not True:
        raise ConversionError(
            f"{file}: normalizer is {json.dumps(normalizer)[:120]}; zoo's BERT tokenizer "
            "follows a BertNormalizer with clean_text true only.")
    pre = data.get("pre_tokenizer") or {}
    if not isinstance(pre, dict) or pre.get("type") != "BertPreTokenizer":
        raise ConversionError(f"{file}: pre_tokenizer is {json.dumps(pre)[:120]}; zoo's BERT "
                              "tokenizer splits as BertPreTokenizer only.")
    specials = {token for _, token in _SPECIALS}
    added = data.get("added_tokens") or []
    other = [t.get("content") for t in added
             if isinstance(t, dict) and t.get("content") not in specials]
    if other:
        raise ConversionError(
            f"{file}: added_tokens holds {', '.join(map(repr, other[:5]))}"
            f"{' ...' if len(other) > 5 else ''}; zoo's BERT tokenizer keeps only "
            f"{', '.join(sorted(specials))} whole, so texts holding those would get other ids.")
    wrong = [t["content"] for t in added if isinstance(t, dict)
             and vocab.get(t.get("content")) != t.get("id")]
    if wrong:
        raise ConversionError(f"{file}: added_tokens gives {', '.join(wrong)} other ids than "
                              "model.vocab does.")
    return vocabulary, normalizer


def _check_post_processor(path, location):
    """A generic tokenizer runs `tokenizer.json`'s post-processor: it must add [CLS] before
    and [SEP] after a text, as zoo's BERT inputs do."""
    post = _json_object(path, location).get("post_processor") or {}
    kind = post.get("type") if isinstance(post, dict) else None
    single = post.get("single") if kind == "TemplateProcessing" else None
    spelled = [next(iter(part.values())).get("id") for part in single or []
               if isinstance(part, dict) and part and isinstance(next(iter(part.values())), dict)]
    if kind == "BertProcessing" or spelled == ["[CLS]", "A", "[SEP]"]:
        return
    raise ConversionError(
        f"{location}/tokenizer.json: post_processor is {json.dumps(post)[:160]}; zoo's BERT "
        "inputs are [CLS] text [SEP] (BertProcessing, or TemplateProcessing "
        "'[CLS] $A [SEP]').")


def _vocabulary(vocab_file):
    """The tokens of a `vocab.txt`, one a line, in id order."""
    vocabulary = vocab_file.read_text("utf-8").split("\n")
    if vocabulary and vocabulary[-1] == "":
        vocabulary.pop()
    return [token.rstrip("\r") for token in vocabulary]


def _wordpiece(vocabulary, lowercase, file):
    from zoo.text.wordpiece import WordPieceTokenizer

    try:
        return WordPieceTokenizer(vocabulary, lowercase=lowercase, rules="bert")
    except ValueError as e:
        raise ConversionError(f"{file}: {e}") from None


# === Google's original checkpoint ===


def _original_name(hf_name):
    """Google's variable name of a Transformers BERT tensor name (backbone part, no
    "bert." prefix) and whether its value needs transposing to be a Keras kernel."""
    name = hf_name.replace("encoder.layer.", "encoder/layer_").replace(".", "/")
    name = name.replace("layer_norm", "LayerNorm")
    if name.endswith("/weight") and "LayerNorm" in name:
        name = name[: -len("weight")] + "gamma"
    elif name.endswith("/bias") and "LayerNorm" in name:
        name = name[: -len("bias")] + "beta"
    elif name.endswith("embeddings/weight"):
        name = name[: -len("/weight")]
    elif name.endswith("/weight"):
        name = name[: -len("weight")] + "kernel"
    return name


def load_bert_original(source, head=None) -> Converted:
    """Google's original BERT checkpoint (`bert_config.json`, `bert_model.ckpt.*`,
    `vocab.txt`) as zoo's BERT of `head` (None: masked-LM when the checkpoint has
    `cls/predictions`, else the backbone). A fine-tuned `run_classifier.py` checkpoint's
    `output_weights` / `output_bias` become the classifier's head.

    Raises:
        ConversionError: as `load_transformers`.
    """
    from pathlib import Path

    from zoo.checkpoints.readers import tf_checkpoint

    folder = Path(source.folder)
    file = f"{source.location}/bert_config.json"
    arguments, notes = backbone_arguments(source.config, file, original=True)
    tensors = tf_checkpoint(folder / "bert_model.ckpt")
    available = {"backbone", "classifier"}
    if "cls/predictions/output_bias" in tensors:
        available.add("masked_lm")
    own = "masked_lm" if "masked_lm" in available else "backbone"
    if "output_weights" in tensors and "cls/predictions/output_bias" not in tensors:
        own = "classifier"
    head = _chosen_head(head, own, available, source.location)
    extra = {}
    if head == "classifier":
        num = tensors["output_weights"].shape[0] if "output_weights" in tensors else 2
        arguments.update(num_classes=int(num),
                         classifier_dropout=arguments["dropout"])
        extra = {"labels": [f"LABEL_{i}" for i in range(int(num))]}
    model = _model(head, arguments)
    values, used = {}, set()
    for path, hf_name, _ in _transformers_names(arguments["num_layers"], head):
        name = "bert/" + _original_name(hf_name)
        if name in tensors:
            values[path] = tensors[name]
            used.add(name)
    if head == "masked_lm":
        for path, name in (("mlm_transform/kernel", "cls/predictions/transform/dense/kernel"),
                           ("mlm_transform/bias", "cls/predictions/transform/dense/bias"),
                           ("mlm_norm/gamma", "cls/predictions/transform/LayerNorm/gamma"),
                           ("mlm_norm/beta", "cls/predictions/transform/LayerNorm/beta"),
                           ("mlm_bias/bias", "cls/predictions/output_bias")):
            if name in tensors:
                values[path] = tensors[name]
                used.add(name)
    if head == "classifier" and "output_weights" in tensors:
        values["classifier/kernel"] = tensors["output_weights"].T
        values["classifier/bias"] = tensors["output_bias"]
        used |= {"output_weights", "output_bias"}
    _fill_missing(values, model, ["pooler/kernel", "pooler/bias"], notes,
                  "the checkpoint has no pooler")
    if head == "classifier":
        _fill_missing(values, model, ["classifier/kernel", "classifier/bias"], notes,
                      "the checkpoint has no classification head")
    unused = {name: _why_unused_original(name, head) for name in tensors if name not in used}
    notes += _assign(model, values, source, unused)
    tokenizer, more = None, ["no vocab.txt: converted without a tokenizer"]
    if (folder / "vocab.txt").is_file():
        tokenizer = _wordpiece(_vocabulary(folder / "vocab.txt"),
                               _uncased(folder / "vocab.txt"), f"{source.location}/vocab.txt")
        more = [f"tokenizer: vocab.txt, lowercase {tokenizer.lowercase} (inferred: the "
                "vocabulary has no capital letters), Google BERT's rules"
                if tokenizer.lowercase else
                "tokenizer: vocab.txt, cased (the vocabulary has capital letters), Google "
                "BERT's rules"]
    return Converted(model=model, family="bert", head=head, tokenizer=tokenizer,
                     notes=notes + more, source=source, extra=extra)


def _uncased(vocab_file):
    """Google's checkpoints record the casing only in their folder name: an uncased
    vocabulary holds no capital letter outside `[SPECIAL]` tokens."""
    for token in vocab_file.read_text("utf-8").split("\n"):
        if not (token.startswith("[") and token.endswith("]")) and token != token.lower():
            return False
    return True


def _why_unused_original(name, head):
    if name.startswith("cls/seq_relationship"):
        return "the next-sentence-prediction head, which zoo's BERT does not have"
    if name.endswith("/adam_m") or name.endswith("/adam_v") or name == "global_step":
        return "optimizer state, not a weight"
    if name.startswith("cls/predictions"):
        return f"the masked-LM head, not part of the {head} asked for"
    if name in ("output_weights", "output_bias"):
        return f"run_classifier.py's classification head, not part of the {head} asked for"
    return "not part of zoo's BERT"


# === KerasHub ===


def load_keras_hub(source, head=None) -> Converted:
    """A KerasHub `BertBackbone` or `BertTextClassifier` preset folder as zoo's BERT of
    `head` (None: the preset's own), read from its `.weights.h5` files without KerasHub.
    KerasHub's BERT computes the tanh GELU and layer-norm epsilon 1e-12.

    Raises:
        ConversionError: a config zoo cannot represent (a classifier with an output
            activation), a missing or misshapen tensor.
    """
    import re
    from pathlib import Path

    from zoo.checkpoints.readers import keras_weights_h5

    folder = Path(source.folder)
    architecture = source.architecture
    if architecture not in KERAS_HUB_HEADS:
        raise ConversionError(f"{source.location}: KerasHub class {architecture!r} is not one "
                              f"the BERT converter reads ({', '.join(KERAS_HUB_HEADS)}).")
    config = source.config.get("config", {})
    if "backbone" in config:  # given task.json's config
        config = config["backbone"].get("config", {})
    task_config = None
    if architecture == "BertTextClassifier":
        task_file = folder / "task.json"
        if not task_file.is_file():
            raise ConversionError(f"{source.location}: task.json is missing (a "
                                  "BertTextClassifier preset has one).")
        task_config = _json_object(task_file, source.location).get("config", {})
    file = f"{source.location}/config.json"
    for name, part in (("config.json", config), ("task.json", task_config or {})):
        if not isinstance(part, dict):
            raise ConversionError(f"{source.location}/{name}: its 'config' is {part!r}; "
                                  "expected an object (KerasHub's save_to_preset).")
    arguments = {
        "vocabulary_size": fields.integer(config, "vocabulary_size", file, minimum=1),
        "num_layers": fields.integer(config, "num_layers", file, minimum=1),
        "num_heads": fields.integer(config, "num_heads", file, minimum=1),
        "hidden_dim": fields.integer(config, "hidden_dim", file, minimum=1),
        "intermediate_dim": fields.integer(config, "intermediate_dim", file, minimum=1),
        "dropout": fields.number(config, "dropout", file, 0.1, 0.0, 1.0),
        "max_sequence_length": fields.integer(config, "max_sequence_length", file, 512,
                                              minimum=1),
        "num_segments": fields.integer(config, "num_segments", file, 2, minimum=1),
        "layer_norm_epsilon": 1e-12,
        "normalize_first": False,
        "activation": "gelu_approximate",
    }
    notes = ["KerasHub's BertBackbone computes the tanh GELU: activation gelu_approximate"]
    own = KERAS_HUB_HEADS[architecture]
    available = {"backbone", "classifier"}
    head = _chosen_head(head, own, available, source.location)
    extra = {}
    if head == "classifier":
        task = task_config or {}
        if task.get("activation") not in (None, "linear"):
            raise ConversionError(
                f"{source.location}/task.json: the classifier's activation is "
                f"{task.get('activation')!r}; zoo's classifier outputs logits (activation "
                "null).")
        task_file = f"{source.location}/task.json"
        num = fields.integer(task, "num_classes", task_file, 2, minimum=1)
        arguments.update(num_classes=num,
                         classifier_dropout=fields.number(task, "dropout", task_file, 0.1,
                                                          0.0, 1.0))
        extra = {"labels": [f"LABEL_{i}" for i in range(num)]}
    model = _model(head, arguments)
    hidden = arguments["hidden_dim"]
    arrays = keras_weights_h5(folder / "model.weights.h5")
    values, used = {}, set()

    def take(path, name, shape=None):
        if name in arrays:
            value = arrays[name]
            values[path] = value.reshape(shape) if shape else value
            used.add(name)

    take("token_embedding/embeddings", "layers/reversible_embedding/vars/0")
    take("position_embedding/embeddings", "layers/position_embedding/vars/0")
    take("segment_embedding/embeddings", "layers/embedding/vars/0")
    take("embedding_norm/gamma", "layers/layer_normalization/vars/0")
    take("embedding_norm/beta", "layers/layer_normalization/vars/1")
    take("pooler/kernel", "layers/dense/vars/0")
    take("pooler/bias", "layers/dense/vars/1")
    for name in arrays:
        match = re.match(r"layers/transformer_encoder(?:_(\d+))?/(.*)/vars/(\d)$", name)
        if not match:
            continue
        block = f"encoder_block_{int(match.group(1) or 0)}"
        layer, var = match.group(2), match.group(3) == "0"
        zoo = {"_self_attention_layer/query_dense": "self_attention/query",
               "_self_attention_layer/key_dense": "self_attention/key",
               "_self_attention_layer/value_dense": "self_attention/value",
               "_self_attention_layer/output_dense": "self_attention/attention_output",
               "_feedforward_intermediate_dense": "feed_forward/intermediate",
               "_feedforward_output_dense": "feed_forward/output",
               "_self_attention_layer_norm": "self_attention_norm",
               "_feedforward_layer_norm": "feed_forward_norm"}.get(layer)
        if zoo is None:
            continue
        if zoo.endswith("_norm"):
            take(f"{block}/{zoo}/{'gamma' if var else 'beta'}", name)
        elif zoo.startswith("self_attention/"):
            take(f"{block}/{zoo}/{'kernel' if var else 'bias'}", name,
                 (hidden, hidden) if var else (hidden,) if "output" not in zoo else None)
        else:
            take(f"{block}/{zoo}/{'kernel' if var else 'bias'}", name)
    unused = {name: "not part of zoo's BERT" for name in arrays if name not in used}
    if head == "classifier" and (folder / "task.weights.h5").is_file():
        task_arrays = keras_weights_h5(folder / "task.weights.h5")
        for path, name in (("classifier/kernel", "layers/dense/vars/0"),
                           ("classifier/bias", "layers/dense/vars/1")):
            if name in task_arrays:
                values[path] = task_arrays[name]
        unused.update({f"task.weights.h5:{name}": "optimizer state, not a weight"
                       for name in task_arrays if name.startswith("optimizer/")})
    if head == "classifier":
        _fill_missing(values, model, ["classifier/kernel", "classifier/bias"], notes,
                      f"{architecture} has no classification head")
    notes += _assign(model, values, source, unused)
    notes.append("tokenizer: not converted (KerasHub's BertTokenizer lowercases with NFKC "
                 "case folding and keeps accents, which no zoo tokenizer reproduces exactly); "
                 "its vocabulary is assets/tokenizer/vocabulary.txt")
    return Converted(model=model, family="bert", head=head, tokenizer=None, notes=notes,
                     source=source, extra=extra)


# === Export to Transformers ===


def to_transformers(model, tokenizer=None, labels=None) -> tuple[dict, dict, dict]:
    """A zoo BERT (backbone, masked-LM or classifier) in Transformers' layout.

    Args:
        model: a `BertBackbone`, `BertMaskedLM` or `BertClassifier`.
        tokenizer: its `WordPieceTokenizer`, or None (no tokenizer files). One with zoo's
            own rules is written as a Transformers `BertTokenizer` of its vocabulary and
            casing; Transformers then normalises a few characters differently (it does no
            NFKC case folding and no NFC: "ß", ligatures, full-width letters).
        labels: class names of a classifier (`id2label`), or None for LABEL_0 ...

    Returns:
        `(config, tensors, files)`: `config.json` as a dict, tensor name -> float32 numpy
        array (Transformers' names, `[out, in]` linear weights; a masked-LM model's pooler
        is left out, as `BertForMaskedLM` has none), and file name -> text
        (`vocab.txt`, `tokenizer_config.json`, `special_tokens_map.json`).

    Raises:
        ConversionError: a model Transformers' BERT cannot compute (pre-LN blocks).
    """
    head = {"BertBackbone": "backbone", "BertMaskedLM": "masked_lm",
            "BertClassifier": "classifier"}.get(type(model).__name__)
    if head is None:
        raise ConversionError(f"{type(model).__name__} is not a zoo BERT model (a "
                              "BertBackbone, BertMaskedLM or BertClassifier): export it with "
                              "its own family's format.")
    backbone = model if head == "backbone" else model.backbone
    if backbone.normalize_first:
        raise ConversionError("The model has pre-LN blocks (normalize_first true); "
                              "Transformers' BERT is post-LN only, so no Transformers config "
                              "describes it; export it as a TF Hub SavedModel (`zoo export "
                              "ENTRY`) instead.")
    weights = {w.path: np.asarray(w.numpy(), "float32") for w in model.weights}
    prefix = "" if head == "backbone" else "bert."
    tensors = {}
    for path, name, transpose in _transformers_names(backbone.num_layers, head):
        if head == "masked_lm" and path.startswith("pooler/"):
            continue  # BertForMaskedLM has no pooler
        tensors[prefix + name] = weights[path].T if transpose else weights[path]
    for path, name, transpose in _head_names(head):
        tensors[name] = weights[path].T if transpose else weights[path]
    tensors = {name: np.ascontiguousarray(value) for name, value in tensors.items()}
    config = {
        "architectures": [_HEAD_CLASSES[head]],
        "model_type": "bert",
        "vocab_size": backbone.vocabulary_size,
        "hidden_size": backbone.hidden_dim,
        "num_hidden_layers": backbone.num_layers,
        "num_attention_heads": backbone.num_heads,
        "intermediate_size": backbone.intermediate_dim,
        "hidden_act": "gelu" if backbone.activation == "gelu" else "gelu_new",
        "hidden_dropout_prob": backbone.dropout,
        "attention_probs_dropout_prob": backbone.dropout,
        "max_position_embeddings": backbone.max_sequence_length,
        "type_vocab_size": backbone.num_segments,
        "layer_norm_eps": backbone.layer_norm_epsilon,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": getattr(tokenizer, "pad_id", 0),
        "tie_word_embeddings": True,
    }
    if head == "classifier":
        names = list(labels or [f"LABEL_{i}" for i in range(model.num_classes)])
        config.update(num_labels=model.num_classes, classifier_dropout=model.classifier_dropout,
                      id2label={str(i): n for i, n in enumerate(names)},
                      label2id={n: i for i, n in enumerate(names)},
                      problem_type="single_label_classification")
    files = {}
    if tokenizer is not None:
        files["vocab.txt"] = "\n".join(tokenizer.vocabulary) + "\n"
        specials = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                    "cls_token": "[CLS]", "mask_token": "[MASK]"}
        files["tokenizer_config.json"] = json.dumps(
            {"tokenizer_class": "BertTokenizer", "do_lower_case": tokenizer.lowercase,
             "tokenize_chinese_chars": True, "strip_accents": None,
             "model_max_length": backbone.max_sequence_length, **specials}, indent=2) + "\n"
        files["special_tokens_map.json"] = json.dumps(specials, indent=2) + "\n"
    return config, tensors, files
