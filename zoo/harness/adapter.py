"""The adapter of a model zoo did not train: how `zoo bench run` calls it, declared as data.

A `.keras` file, a SavedModel folder or `.tar.gz`, or a TF Hub / Kaggle / `zoo:` handle given to
`zoo bench run --model` is called as its adapter says: a TOML or JSON file (`--adapter FILE`)
and/or `--adapt KEY=VALUE` options (they override the file's fields), each checked against
`FIELDS` (`zoo.schema`): a wrong type, value or misspelt name is one line naming the file (or
`--adapt`), the field and what it must be. Fields:

- `labels` (or `labels_file`, one name a line, relative to the adapter file): the model's class
  names in the order of its outputs. Required: they are matched with the benchmark's labels by
  name (another order is reordered; other names are refused showing both lists, unless
  `--label-map` says which is which).
- `outputs`: "logits" (default) or "probabilities" (rows that sum to 1).
- `signature` (a SavedModel's signature, default `serving_default`, or its `__call__` for a TF
  Hub reusable SavedModel) and `output_key` (the output holding the class scores, when it has
  several).
- Images (zoo's are float32 in [0, 1], `[n, height, width, channels]`): `image_size`
  (resized, bilinear), `channels` (a grey image repeated into 3), `input_range` (`[0, 255]`:
  pixels scaled to it), `mean` and `std` (then `(x - mean) / std`, per channel or one number),
  `layout` ("channels_last", "channels_first" or "flat": one vector per image). A model that
  declares integer inputs gets them rounded.
- Text: the model takes the raw strings, unless `preprocessor` names a SavedModel handle that
  turns them into its inputs.
- `name`: the model's name on the leaderboard (default: the file's or handle's last part).

>>> adapter = read({"labels": [0, 1], "outputs": "probabilities"}, ["input_range=[0, 255]"])
>>> adapter.labels, adapter.outputs, adapter.input_range
(('0', '1'), 'probabilities', (0, 255))
>>> read({"outputs": "logit"})
Traceback (most recent call last):
...
zoo.harness.adapter.AdapterError: the adapter: outputs must be one of logits, probabilities, \
got 'logit' (Did you mean: 'logits'?).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
from pathlib import Path

from zoo import provenance, schema, tasks, textio
from zoo.entries import parse_zoo_handle
from zoo.hub.resolve import ARCHIVE_SUFFIXES
from zoo.models import catalog
from zoo.tasks import EvaluationError

OUTPUTS = ("logits", "probabilities")
LAYOUTS = ("channels_last", "channels_first", "flat")
#: The fields that say how to feed images, and the one that says how to feed text.
IMAGE_FIELDS = ("image_size", "channels", "input_range", "mean", "std", "layout")
TEXT_FIELDS = ("preprocessor",)
REMOTE = ("http://", "https://", "gs://")
#: Sane bounds: no real model comes near them.
_PIXEL = schema.Float(min=-1e6, max=1e6)
_SIZE = schema.Int(min=1, max=16384)


class AdapterError(EvaluationError):
    """An adapter that cannot be used; the one-line message names the file (or `--adapt`) and
    the field."""


def _per_channel(value_type):
    return schema.OneOf(value_type, schema.List(value_type, min_length=1, max_length=4))


FIELDS = {
    "name": schema.Field(schema.NAME),
    "labels": schema.Field(schema.List(schema.Converted(schema.OneOf(schema.Str(), schema.Int()),
                                                        str),
                                       min_length=1, max_length=100_000, unique=True)),
    "labels_file": schema.Field(schema.Path()),
    "outputs": schema.Field(schema.Str(choices=OUTPUTS)),
    "signature": schema.Field(schema.Str()),
    "output_key": schema.Field(schema.Str()),
    "image_size": schema.Field(schema.OneOf(_SIZE, schema.List(_SIZE, min_length=2,
                                                               max_length=2))),
    "channels": schema.Field(schema.Int(min=1, max=4)),
    "input_range": schema.Field(schema.List(_PIXEL, min_length=2, max_length=2)),
    "mean": schema.Field(_per_channel(_PIXEL)),
    "std": schema.Field(_per_channel(schema.Float(min=0, max=1e6, min_exclusive=True))),
    "layout": schema.Field(schema.Str(choices=LAYOUTS)),
    "preprocessor": schema.Field(schema.Str()),
}


def _range_rule(table):
    low_high = table.get("input_range")
    if low_high is not None and not low_high[0] < low_high[1]:
        return f"input_range must be [low, high] with low < high, got {list(low_high)}"
    return None


def _one_label_source(table):
    if "labels" in table and "labels_file" in table:
        return "give labels or labels_file, not both"
    return None


def _channel_lists(table):
    problems = []
    for key in ("mean", "std"):
        value = table.get(key)
        channels = table.get("channels")
        if isinstance(value, tuple) and channels is not None and len(value) not in (1, channels):
            problems.append(f"{key} must hold one number or one per channel ({channels}), got "
                            f"{len(value)}")
    mean, std = table.get("mean"), table.get("std")
    if isinstance(mean, tuple) and isinstance(std, tuple) and len(mean) != len(std) \
            and 1 not in (len(mean), len(std)):
        problems.append(f"mean and std must hold as many numbers, got {len(mean)} and {len(std)}")
    return problems


#: The adapter's table: its fields and the rules that relate them.
ADAPTER = schema.Table(FIELDS, rules=(_range_rule, _one_label_source, _channel_lists),
                       what="an adapter table")


@dataclasses.dataclass(frozen=True)
class Adapter:
    """An adapter, checked (see the module docstring); `given` names the fields it sets,
    `where` says where it was declared (for messages), `file` and `options` record it."""

    name: str | None = None
    labels: tuple | None = None
    labels_file: str | None = None
    outputs: str = "logits"
    signature: str | None = None
    output_key: str | None = None
    image_size: object = None
    channels: int | None = None
    input_range: tuple = (0.0, 1.0)
    mean: object = None
    std: object = None
    layout: str = "channels_last"
    preprocessor: str | None = None
    given: tuple = ()
    where: str = "the adapter"
    file: str | None = None
    file_sha256: str | None = None
    options: tuple = ()

    def settings(self) -> dict:
        """The fields as JSON values (lists, not tuples), defaults included."""
        return {key: _plain(getattr(self, key)) for key in FIELDS}


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _read_file(path: Path) -> dict:
    """The table of an adapter file (`.toml` or `.json`); AdapterError naming the file."""
    if path.suffix.lower() not in (".toml", ".json"):
        raise AdapterError(f"{path}: an adapter file is .toml or .json, not "
                           f"'{path.suffix or path.name}'.")
    try:
        if path.suffix.lower() == ".json":
            data = textio.read_json(path)
        else:
            data = textio.read_toml(path)
    except (OSError, UnicodeDecodeError) as error:
        raise AdapterError(f"{path}: cannot read the adapter file ({error}).") from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise AdapterError(f"{path}: not valid {kind} ({error}).") from None
    if not isinstance(data, dict):
        raise AdapterError(f"{path}: an adapter file holds a table of fields, got "
                           f"{type(data).__name__}.")
    return data


def parse_options(options) -> dict:
    """`--adapt KEY=VALUE` options as a table: each VALUE read as a TOML value (`255`,
    `[0, 255]`, `"x"`), else as the text itself (`outputs=probabilities`).

    >>> parse_options(["outputs=probabilities", "input_range=[0, 255]", "labels=[1, 2]"])
    {'outputs': 'probabilities', 'input_range': [0, 255], 'labels': [1, 2]}
    """
    table = {}
    for option in options or ():
        key, sep, text = str(option).partition("=")
        if not sep or not key.strip():
            raise AdapterError(f"--adapt takes KEY=VALUE (e.g. outputs=probabilities), got "
                               f"{option!r}.")
        try:
            value = tomllib.loads(f"value = {text.strip()}")["value"]
        except tomllib.TOMLDecodeError:
            value = text.strip()
        table[key.strip()] = value
    return table


def _labels_from_file(path: Path, where: str) -> tuple:
    """The class names of a labels file, one a line (blank lines skipped)."""
    try:
        names = [line.strip() for line in textio.read_text(path).splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as error:
        raise AdapterError(f"{where}: labels_file {path}: cannot read it ({error}).") from None
    if not names:
        raise AdapterError(f"{where}: labels_file {path} holds no label (one name a line).")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise AdapterError(f"{where}: labels_file {path} names {', '.join(twice)} more than "
                           "once; each of the model's classes has its own name.")
    return tuple(names)


def read(adapter=None, options=()) -> Adapter:
    """The adapter declared by `adapter` (a `.toml` / `.json` file, a dict, an `Adapter`, or
    None) with the `--adapt KEY=VALUE` `options` over it, checked.

    Raises:
        AdapterError: one line naming the file (or `--adapt`) and each bad field.
    """
    if isinstance(adapter, Adapter):
        if not options:
            return adapter
        adapter = {key: getattr(adapter, key) for key in adapter.given}
    where, base, data, file, sha = "the adapter", Path("."), {}, None, None
    if isinstance(adapter, dict):
        data = dict(adapter)
    elif adapter is not None:
        path = Path(adapter)
        data, where, base, file = _read_file(path), str(path), path.parent, str(path)
        sha = provenance.sha256_file(path)
    data = dict(schema.validate(data, ADAPTER, where, error=AdapterError))
    overrides = parse_options(options)
    if overrides:
        overrides = schema.validate(overrides, schema.Table(FIELDS, what="--adapt"), "--adapt",
                                    error=AdapterError)
        where = "--adapt" if not data and file is None else f"{where} with --adapt"
        for key, other in (("labels", "labels_file"), ("labels_file", "labels")):
            if key in overrides:  # an option's class names replace the file's
                data.pop(other, None)
        if "labels_file" in overrides:
            base = Path(".")  # relative to where the command runs
        data = dict(schema.validate({**data, **overrides}, ADAPTER, where, error=AdapterError))
    fields = dict(data)
    if "labels_file" in fields:
        fields["labels"] = _labels_from_file(base / fields["labels_file"], where)
        fields["labels_file"] = str(base / fields["labels_file"])
    return Adapter(**fields, given=tuple(sorted(data)), where=where, file=file, file_sha256=sha,
                   options=tuple(str(o) for o in options or ()))


# --- The model a --model names ---------------------------------------------------------------


def model_inputs(task: str) -> str | None:
    """What a model zoo did not train is fed on a benchmark of task kind `task`, "images" or
    "strings" (`zoo.tasks.inputs`); None: such a model cannot be scored on it."""
    return tasks.inputs(tasks.get(task)) if task in tasks.names() else None


def outside_kinds() -> list[str]:
    """The task kinds a model zoo did not train can be benchmarked on."""
    return [name for name in tasks.names() if model_inputs(name)]


def check_for(adapter: Adapter, spec, location="the model") -> Adapter:
    """`adapter` once it fits benchmark `spec`: a task kind a model zoo did not train can be
    scored on (`model_inputs`), the class names given, and no field for the other kind of
    input (image fields on a text benchmark are refused, not ignored).

    Raises:
        EvaluationError: a benchmark of another task kind. AdapterError: no labels, or a field
            for the other kind of input.
    """
    inputs = model_inputs(spec.task)
    if inputs is None:
        raise EvaluationError(
            f"Benchmark '{spec.id}' is {spec.task}: a model zoo did not train ({location}) is "
            f"benchmarked on {' or '.join(outside_kinds())} (a registered model on any: "
            "`zoo list`).")
    wrong = [f for f in (TEXT_FIELDS if inputs == "images" else IMAGE_FIELDS)
             if f in adapter.given]
    if wrong:
        raise AdapterError(f"{adapter.where}: {', '.join(wrong)} "
                           f"{'applies' if len(wrong) == 1 else 'apply'} to "
                           f"{'text' if inputs == 'images' else 'image'} models; benchmark "
                           f"'{spec.id}' is {spec.task}.")
    if adapter.labels is None:
        shown = ", ".join(f'"{label}"' for label in spec.labels or ())
        raise AdapterError(
            f"{adapter.where}: labels is required: the model's class names in the order of "
            f"its outputs (e.g. labels = [{shown}], benchmark '{spec.id}''s labels, if its "
            "outputs are in that order), or labels_file.")
    return adapter


def is_source(model, adapted: bool = False) -> bool:
    """Whether `--model` names a model zoo did not train rather than a registered name: a
    path (`os.PathLike`, a `.keras` or `.tar.gz` name, a name with a `/`, a file or folder that
    exists), a URL (`http(s)://`, `gs://`) or a `zoo:ENTRY/PART` handle, or any name that is
    not registered when an adapter is given (`adapted`: a mistyped path then says that no
    such file exists, not which models are registered). A registered name wins; an unknown
    plain name without an adapter stays a name (its error lists the closest ones).

    >>> is_source("vit_tiny_patch2_8"), is_source("vit_tiny_patc2_8"), is_source("m.keras")
    (False, False, True)
    >>> is_source("https://tfhub.dev/google/x/5"), is_source("zoo:lenet5_8.digits/classifier")
    (True, True)
    >>> is_source("my_model", adapted=True), is_source("lenet5_8", adapted=True)
    (True, False)
    """
    if isinstance(model, os.PathLike):
        return True
    text = str(model)
    if text in catalog.list_models() or text in catalog.families():  # a family: converted
        return False
    return (adapted or text.startswith(REMOTE) or parse_zoo_handle(text) is not None
            or text.lower().endswith((".keras", *ARCHIVE_SUFFIXES)) or "/" in text
            or os.sep in text or Path(text).exists())


def default_name(location) -> str:
    """A leaderboard name for the model at `location`: its file or folder name without
    `.keras` / `.tar.gz`, or a handle's last part (with the one before a version number).

    >>> default_name("runs/my_cnn.keras"), default_name("https://tfhub.dev/google/cls/5")
    ('my_cnn', 'cls-5')
    >>> default_name("zoo:lenet5_8.digits/classifier")
    'lenet5_8.digits-classifier'
    """
    text = str(location).split("?")[0].rstrip("/\\")
    found = parse_zoo_handle(text)
    if found is not None:
        parts = [p for p in found if p]
    else:
        parts = [p for p in re.split(r"[/\\]", text) if p]
        for suffix in (".keras", *ARCHIVE_SUFFIXES):
            if parts and parts[-1].lower().endswith(suffix):
                parts[-1] = parts[-1][:-len(suffix)]
        parts = parts[-2:] if len(parts) > 1 and parts[-1].isdigit() else parts[-1:]
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(parts)).strip("-.")
    return name or "model"
