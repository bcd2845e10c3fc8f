"""Zoo models as SavedModels that follow TF Hub's common signatures for their kind.

One folder per part, each a SavedModel loadable with `tensorflow_hub.load` (or plain
`tf.saved_model.load`) with no zoo code imported (text models need `import tensorflow_text`
for the tokenizer's ops). Each family declares its heads' parts, how each is built and what it
computes (`zoo/models/<family>/family.py`); `parts_table()` lists them, e.g. a BERT
classifier's `encoder` (TF Hub's BERT encoder API), `preprocessor` (raw strings -> the
encoder's inputs) and `classifier` (raw strings -> logits), a ViT's `classifier` and
`feature_vector`, the Transformer's `translator` (source strings -> translated strings, beam
search in the graph), GPT's `generator` (prompts -> generated text, cached sampling in the
graph; `log_probs`) and the VAE's `vae` (`encode`, `decode`, `sample`).

Every part also has a `serving_default` signature and carries its model card in
`assets.extra/model_card.json` (entry, config, recipe, benchmark scores, data licence); the
export folder gets `MODEL_CARD.md` and `model_card.json` (the card, with its parts and weights)
beside the parts.

>>> from zoo.hub import export
>>> export.parts_table()["vae"]
{'vae': 'encode(images), decode(z), sample(num_samples, seed)'}
"""

from __future__ import annotations

import gzip
import tarfile
from pathlib import Path

from zoo import atomic, entries, textio
from zoo.models import catalog
from zoo.models.family import load
from zoo.models.savedmodel import ExportContext
from zoo.registry import did_you_mean
from zoo.version import __version__

# Bumped when what an export writes changes, so cached exports of `zoo:` handles are redone
# (2: each weight stored once).
FORMAT = 2


def _export_head(model):
    """`(Head, kind)`: the head that built `model` and the name its model card gives the
    export (ValueError for a model no family exports)."""
    try:
        family, head_name = catalog.head_of(model)
    except ValueError:
        family = None
    head = None if family is None else family.heads[head_name]
    if head is None or not head.parts:
        raise ValueError(f"No TF Hub export for {type(model).__name__}; zoo exports "
                         f"{', '.join(sorted(parts_table()))}.")
    return head, head.export_kind or family.name


def _check_parts(head, kind, parts) -> list:
    """`parts` (None: every part of `head`, in order) as a list, or ValueError naming the
    parts a `kind` export has and the closest to each unknown one."""
    parts = list(parts or head.parts)
    unknown = [p for p in parts if p not in head.parts]
    if unknown:
        hints = " ".join(filter(None, (did_you_mean(p, head.parts) for p in unknown)))
        raise ValueError(f"A {kind} export has parts {', '.join(head.parts)}; not "
                         f"{', '.join(map(repr, unknown))}.{' ' + hints if hints else ''}")
    return parts


def check_entry_parts(folder, parts) -> None:
    """Refuses `parts` the entry in `folder` cannot export (`_check_parts`) before anything
    loads, TensorFlow included: its model.json names its class (module and name; the name
    alone when one head has it, as for an entry saved before its class moved), whose head
    declares the parts. Otherwise the parts are checked once the model loads
    (`export_model`)."""
    if not parts:
        return
    try:
        config = textio.read_json(Path(folder) / "model.json")
        module, name = config.get("module"), config.get("class_name")
    except (OSError, ValueError, AttributeError):
        return  # the load says what is wrong with the file
    heads = [(head, head.export_kind or family.name) for family in catalog.families().values()
             for head in family.heads.values() if head.parts]
    exact = [h for h in heads if h[0].model == f"{module}:{name}"]
    named = [h for h in heads if h[0].model.rpartition(":")[2] == name]
    found = exact or (named if len(named) == 1 else [])
    if found:
        _check_parts(*found[0], parts)


def parts_table() -> dict:
    """`{export kind: {part: what it computes}}` over every family's heads."""
    table = {}
    for family in catalog.families().values():
        for head in family.heads.values():
            if head.parts:
                table[head.export_kind or family.name] = {
                    name: part.text for name, part in head.parts.items()}
    return table


def _load_entry(folder, safe_mode=True):
    """`(model, tokenizer or None, recipe dict)` of the entry in `folder` (a converted entry
    has no recipe: `{}`)."""
    tokenizer = None
    if (folder / "tokenizer").is_dir():
        from zoo.text import tokenizers

        tokenizer = tokenizers.load(folder / "tokenizer")
    return (entries.load_folder(folder, safe_mode=safe_mode), tokenizer, entries.recipe(folder))


def _converted_settings(model) -> dict:
    """The export settings of a converted entry, which has no recipe to take them from: text
    parts pack inputs to the usual length, or to the model's whole context when it is
    shorter (a checkpoint's `max_position_embeddings` may be below it)."""
    from zoo.models.savedmodel import DEFAULT_SEQ_LENGTH

    config = model.get_config()
    context = config.get("max_sequence_length")
    if context is None and isinstance(config.get("backbone"), dict):
        context = config["backbone"].get("config", {}).get("max_sequence_length")
    return {"max_length": context} if isinstance(context, int) and \
        context < DEFAULT_SEQ_LENGTH else {}


def entry_source(entry: str):
    """A published entry's `(model, tokenizer or None, recipe dict)`, loaded in safe mode:
    what a part built from the entry another model names (a classifier on
    `zoo:ENTRY/encoder`) reads."""
    return _load_entry(entries.folder(entry))


def model_card(model, entry=None, recipe=None, scores=None, licence=None) -> dict:
    """What an export says about itself (also written as `MODEL_CARD.md`)."""
    import keras

    return {
        "entry": entry,
        "zoo_version": __version__,
        "class": type(model).__name__,
        "config": keras.saving.serialize_keras_object(model)["config"],
        "recipe": recipe or {},
        "scores": scores or [],
        "data_licence": licence,
        "loading": "tensorflow_hub.load(path) or tf.saved_model.load(path); text models need "
                   "`import tensorflow_text` first.",
    }


def _card_markdown(card, parts, head) -> str:
    weights = card.get("weights", "float32")
    lines = [f"# {card['entry'] or card['class']} (TF Hub format)", "",
             f"Exported by zoo {card['zoo_version']} from a `{card['class']}`.", "",
             "Weights: " + ("float32 variables (fine-tunable)." if weights == "float32" else
                            f"stored as {weights} as in the published entry and widened to "
                            "float32 in the graph: the same outputs as the entry, no trainable "
                            "variables (for fine-tuning, export with float32 weights)."), "",
             "## Parts", ""]
    lines += [f"- `{part}/`: {head.parts[part].text}" for part in parts]
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


def export_model(model, directory, tokenizer=None, parts=None, recipe=None, card=None,
                 tar=False, weights="float32") -> list[Path]:
    """Writes `directory/<part>/` SavedModels for `model` (and `<part>.tar.gz` with `tar`).

    `weights`: "float32" (fine-tunable, TF Hub's usual), or "float16" / "int8" for compact
    inference-only parts that store the weights as a published entry does (see
    `zoo.models.savedmodel.attach_variables`).

    Each part is written to a temporary folder and moved into place, so a reader never sees
    half an export. Returns the part folders (or archives, with `tar`).
    """
    import tensorflow as tf

    head, kind = _export_head(model)
    if weights not in entries.STORAGE_PRECISIONS:
        hint = did_you_mean(weights, entries.STORAGE_PRECISIONS)
        raise ValueError(f"Unknown export weights {weights!r}; use one of "
                         f"{', '.join(entries.STORAGE_PRECISIONS)}.{' ' + hint if hint else ''}")
    parts = _check_parts(head, kind, parts)
    if head.needs_tokenizer and tokenizer is None:
        raise ValueError(f"Exporting a {kind} model needs its tokenizer.")
    context = ExportContext(tokenizer=tokenizer, recipe=recipe or {}, weights=weights,
                            entry_source=entry_source)
    card = dict(card or model_card(model, recipe=recipe), weights=weights)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for part in parts:
        root, signatures = load(head.parts[part].build)(model, context)
        with atomic.staged_folder(directory / part, existing="replace") as staging:
            tf.saved_model.save(root, str(staging), signatures=signatures)
            extra = staging / "assets.extra"
            extra.mkdir(exist_ok=True)
            atomic.write_json(extra / "model_card.json", dict(card, part=part, kind=kind))
        written.append(directory / part)
    atomic.write_text(directory / "MODEL_CARD.md", _card_markdown(card, parts, head))
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

    with atomic.staged_file(archive) as tmp, open(tmp, "wb") as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w") as out:
        for path in sorted(folder.rglob("*")):
            out.add(path, arcname=str(path.relative_to(folder)), recursive=False, filter=clean)
    return archive


def _published_scores(entry: str) -> list[dict]:
    """The entry's full-run benchmark scores from `benchmarks/results/` (when present)."""
    return [{k: v for k, v in score.items() if k != "entry"}
            for score in entries.published_scores(entry)]


def export_entry(entry: str, directory, parts=None, tar=False, weights="float32",
                 safe_mode=True) -> list[Path]:
    """Exports a published entry (by name or folder) in TF Hub's format into `directory`.

    `weights="stored"` keeps the weights as the entry stores them (float16 or int8; compact,
    inference only); "float32" (default) gives fine-tunable parts. The entry loads in Keras'
    safe mode (`zoo.safety`; `safe_mode=False` lets code in its config run); a link among its
    files raises `zoo.safety.LinkedFileError` (the export would carry the linked file)."""
    from zoo import datasets, safety

    folder = Path(entry) if entries.is_entry_folder(entry) else entries.folder(entry)
    # The export embeds the entry's files (the vocabulary as a SavedModel asset): its own only.
    safety.check_own_files(folder, entries.COPIED)
    check_entry_parts(folder, parts)
    name = folder.name
    model, tokenizer, recipe = _load_entry(folder, safe_mode)
    if weights == "stored":
        info = textio.read_json(folder / "run.json")
        weights = info.get("published", {}).get("weights_precision", "float32")
    converted = entries.conversion(folder)
    if converted is not None and not recipe:
        # Trained elsewhere: the card says where from, and its data licence is the source's.
        card = model_card(model, entry=name, scores=_published_scores(name),
                          licence=f"not stated: converted from {converted.get('location')}, "
                                  "whose own licence and training data apply")
        card["converted_from"] = {key: converted.get(key) for key in (
            "location", "format", "architecture", "files", "notes", "zoo_version")}
        return export_model(model, directory, tokenizer=tokenizer, parts=parts,
                            recipe=_converted_settings(model), card=card, tar=tar,
                            weights=weights)
    licences = []
    for dataset in [recipe.get("dataset")] + [d[0] for d in recipe.get("extra_training_data", [])]:
        try:
            licences.append(f"{dataset}: {datasets.info(dataset).licence}")
        except Exception:  # a user's own dataset: no catalog entry
            licences.append(f"{dataset}: not stated")
    card = model_card(model, entry=name, recipe=recipe, scores=_published_scores(name),
                      licence="; ".join(licences))
    return export_model(model, directory, tokenizer=tokenizer, parts=parts, recipe=recipe,
                        card=card, tar=tar, weights=weights)
