"""Task kinds: one module per kind (`zoo/tasks/<kind>.py`) holds everything a stage needs to
know about it, so that the training loop, the harness and the recipe and benchmark checks
look a kind up here instead of listing kinds.

Each kind module imports no TensorFlow at import time and declares the names in `CONTRACT`:

- `NAME`; `TOKENIZED` (its text goes through a tokenizer, `zoo.text.tokenizers`: it then also
  defines `tokenizer_texts(examples)`, the texts a new tokenizer learns from); `CLASSIFYING` (its
  targets are class indices with class names); `METRICS` (what its `score` computes, a tuple;
  empty: the kind has no benchmark) and `LOWER_IS_BETTER` (those of them where less is
  better); `DATASET_KINDS` (the dataset tasks a benchmark of this kind can read,
  `zoo.datasets.info(name).task`) and `FILE_KINDS` (the `[files]` kinds of a benchmark over a
  user's files);
- `RECIPE_FIELDS`: the recipe fields that only some kinds use, that this kind reads (name ->
  how an error names it); a recipe of another kind that sets one is refused;
- `BENCHMARK_PREPROCESSING` and `BENCHMARK_FIELDS`: the `[preprocessing]` keys and the tables
  of a benchmark file this kind reads (name -> `zoo.schema.Field`); a benchmark of another kind
  that sets one is refused (a table must be a field of `zoo.harness.benchmarks.BenchmarkSpec`;
  a plug-in kind's own settings go in `[preprocessing]`);
- `model_dims(examples, *, tokenizer=None, max_length=None, label_names=None)` -> `(defaults,
  fixed)`: the model constructor arguments that come from the data (defaults yield to a
  recipe's model_overrides, fixed ones override them);
- `training_pipeline(examples, batch_size, seed, start_step, **settings)`: the endless,
  deterministic `tf.data` pipeline of `(x, y, sample_weight)` training batches (settings: a
  recipe's tokenizer, max_length, max_predictions, binarize, augment, batching, and raw_text,
  per_worker_order; each kind reads those it uses);
- `objective(model, x, y, sample_weight, training=True, label_smoothing=0.0)` -> `(loss, logs)`
  per example (a family may override it for its models: `zoo.models.catalog`);
- `validator(recipe, tokenizer, data_dir=None)`: None, or a function `model -> {metric:
  value}` the training loop calls on held-out examples (translation's BLEU);
- `predict(model, tokenizer, examples, spec, batch_size, start=0, **options)`: per-example
  prediction rows, in order (`columns=` for a classifier: `zoo.harness.labels`);
  `score(spec, examples, rows, idx, **context)` -> `(metrics, samples, report)` (context:
  `model`, its `tokenizer`, `load_split(split)` -> examples of the benchmark's dataset; the
  paired test (`zoo.harness.compare`) passes none, and examples None); a kind without a
  benchmark (masked LM) raises `EvaluationError` in both;
- optionally `INPUTS`, what its `predict` feeds a model that reads no tokens: "images"
  (float32 `[n, height, width, channels]` in [0, 1]) or "strings" (raw text); a classifying
  kind that declares it can score a model zoo did not train (`zoo.harness.foreign`; `inputs`);
- optionally `seeds(spec)` -> `{name: int}`: every seed its `predict` and `score` draw with on
  benchmark `spec` (result records keep them: `seeds`); a kind that draws nothing has none;
- optionally `units(spec, examples, tokenizer)` -> the `Examples` its `predict` yields one row
  each for, when they are not the benchmark's examples themselves (language modelling: a
  text's token stream cut into segments, the bootstrap's unit); the harness limits
  (`--limit`), counts, resamples and resumes these (see `units` here);
- optionally `expected_input(config)` -> what a model of the kind takes, in words, from its
  Keras config (`zoo entries`; see `expected_input` here), and `examples(definition, rows,
  report)` -> the examples an entry page of the leaderboard shows (see `examples` here).

Code the kinds share lives in this package's `_`-prefixed modules (not kinds): the training
streams (`_streams`), the harness's batching (`_evaluation`), the losses (`_losses`).

A kind outside zoo (a plug-in) is a module declaring the same, added with `register`.

>>> from zoo import tasks
>>> tasks.names()
['image_classification', 'image_generation', 'language_modeling', 'masked_lm', \
'text_classification', 'translation']
>>> tasks.get("translation").METRICS
('bleu', 'chrf')
>>> tasks.get("translaton")
Traceback (most recent call last):
...
zoo.registry.UnknownNameError: Unknown task kind 'translaton'. Did you mean: 'translation'? \
Known task kinds: image_classification, image_generation, language_modeling, masked_lm, \
text_classification, translation.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import types

from zoo.registry import DuplicateNameError, Registry

#: What every kind module declares (see the module docstring).
CONTRACT = ("NAME", "TOKENIZED", "CLASSIFYING", "METRICS", "LOWER_IS_BETTER", "DATASET_KINDS",
            "FILE_KINDS", "RECIPE_FIELDS", "BENCHMARK_PREPROCESSING", "BENCHMARK_FIELDS",
            "model_dims", "training_pipeline", "objective", "validator", "predict", "score")

_registered: dict[str, str] = {}  # plug-in kinds: name -> module path


class EvaluationError(ValueError):
    """A model that cannot be evaluated on a benchmark (or a task kind that has none); the
    message says why and what to do."""


class TaskError(TypeError):
    """A task kind module that does not declare the contract; the message names what is
    missing."""


@functools.cache
def _shipped() -> dict[str, str]:
    """zoo's own kinds: the public modules of this package (no hard-coded list)."""
    return {info.name: f"{__name__}.{info.name}" for info in pkgutil.iter_modules(__path__)
            if not info.name.startswith("_") and not info.ispkg}


def _modules() -> Registry:
    modules = Registry("task kind")
    for name, path in {**_shipped(), **_registered}.items():
        modules.register(name, path)
    return modules


def names() -> list[str]:
    """Every task kind, sorted: zoo's own and the registered ones."""
    return _modules().names()


def check(module: types.ModuleType) -> types.ModuleType:
    """`module` if it declares the whole `CONTRACT`; TaskError naming what it lacks."""
    missing = [name for name in CONTRACT if not hasattr(module, name)]
    if getattr(module, "TOKENIZED", False) and not hasattr(module, "tokenizer_texts"):
        missing.append("tokenizer_texts (a TOKENIZED kind)")
    if missing:
        where = f" ({module.__file__})" if getattr(module, "__file__", None) else ""
        raise TaskError(f"Task kind module {module.__name__}{where} does not declare "
                        f"{', '.join(missing)} (see zoo.tasks.CONTRACT).")
    return module


def _import(module_path: str) -> types.ModuleType:
    """The kind module at `module_path`, checked (`check`); TaskError naming it for a module
    that does not import (a syntax error, a missing import) or lacks part of the contract."""
    try:
        module = importlib.import_module(module_path)
    except Exception as error:  # noqa: BLE001 - any failure: name the module, one line
        raise TaskError(f"Task kind module {module_path} does not import: "
                        f"{type(error).__name__}: {error}.") from error
    return check(module)


def get(kind: str) -> types.ModuleType:
    """The module of task kind `kind`. Raises `UnknownNameError` with the closest names for an
    unknown kind, TaskError for a module that does not import or declare the contract."""
    return _import(_modules().get(kind))


def seeds(module: types.ModuleType, spec) -> dict:
    """The seeds a kind's `predict` and `score` draw with on benchmark `spec`, by name: its
    optional `seeds(spec)` (a kind that draws nothing at random declares none: `{}`). Result
    records keep them (`zoo.records.SEEDS`), so the kind must draw with exactly these."""
    declared = getattr(module, "seeds", None)
    return dict(declared(spec)) if declared is not None else {}


def units(module: types.ModuleType, spec, examples, tokenizer):
    """What a benchmark's prediction rows are rows of: the kind's optional `units(spec,
    examples, tokenizer)` (e.g. the segments of a text's token stream, which depend on the
    model's tokenizer), else the benchmark's examples themselves, one row each."""
    declared = getattr(module, "units", None)
    return declared(spec, examples, tokenizer) if declared is not None else examples


def has_units(module: types.ModuleType) -> bool:
    """Whether a kind predicts rows of its own `units` rather than one per example."""
    return hasattr(module, "units")


def inputs(module: types.ModuleType) -> str | None:
    """What a classifying kind's `predict` feeds a model that reads no tokens, "images" or
    "strings", as it declares (`INPUTS`): a model zoo did not train can be scored on such a
    kind. None for a kind that declares neither, or has no classes.

    >>> inputs(get("image_classification")), inputs(get("translation"))
    ('images', None)
    """
    declared = getattr(module, "INPUTS", None)
    return declared if module.CLASSIFYING and declared in ("images", "strings") else None


def expected_input(module: types.ModuleType, config: dict) -> str:
    """What a model of kind `module` takes, in words (`zoo entries`), from its Keras `config`:
    the kind's optional `expected_input(config)`, else "inputs of a <NAME> model".

    >>> expected_input(get("image_generation"), {"image_size": 8, "num_channels": 1})
    'images (N, 8, 8, 1) float32 in [0, 1]'
    """
    declared = getattr(module, "expected_input", None)
    return declared(config) if declared is not None else f"inputs of a {module.NAME} model"


def examples(module: types.ModuleType, definition: dict, rows: list, report: dict):
    """The examples the leaderboard's page of a result shows (`zoo.leaderboard.site` draws
    them; it knows no kind): the kind's optional `examples(definition, rows, report)`, given
    the benchmark's definition, the record's prediction rows and its report. None (the kind
    declares none): no examples section. Else a dict:

    - "title": the section heading; "empty": the sentence shown when there is nothing;
    - a table: "note" (a sentence above it), "columns" (`(heading, kind)`; kind "text",
      "lines" (text whose line breaks and spaces are kept: generated text), "number" (a
      score) or "index") and "rows" (lists of plain values, one per column);
    - or pictures: "images", a list of `(key, caption, images)` (images: uint8 pixel lists,
      [n, height, width], as a record's report keeps them).
    """
    declared = getattr(module, "examples", None)
    return declared(definition, rows, report) if declared is not None else None


def register(module_path: str) -> str:
    """Adds the task kind defined by the module at `module_path` (importable, declaring
    `CONTRACT`); returns its `NAME`. Raises `DuplicateNameError` for a kind already known."""
    module = _import(module_path)
    if module.NAME in names():
        raise DuplicateNameError(f"The task kind '{module.NAME}' is already known; choose "
                                 "another NAME.")
    _registered[module.NAME] = module_path
    return module.NAME


def unregister(name: str) -> None:
    """Removes a kind `register` added (zoo's own kinds stay)."""
    _registered.pop(name, None)
