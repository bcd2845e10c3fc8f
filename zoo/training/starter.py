"""`zoo init`: a commented starting recipe for a task and a model, so that a user does not
start from a blank file.

The recipe trains on the user's own files (a `[files]` table of the first file kind the task
reads, or the kind the path given suggests: a folder of images, an `.npz`), or on the training
data of a benchmark (`benchmark=`: `dataset = "benchmark"`), or, for a task that reads no
files, on the data of a shipped recipe of that task. Its training
settings are those of a recipe of the same model (else of its family) and task, preferring
one that trains from scratch; the file says which. What is written is checked as any recipe is
before it is written (files given must exist, a folder only for images), and an existing file
is never replaced.

>>> import tempfile, pathlib
>>> from zoo.training import recipes, starter
>>> path = pathlib.Path(tempfile.mkdtemp()) / "my-digits.toml"
>>> (path.parent / "digits" / "train").mkdir(parents=True)
>>> written = starter.write(path, "vit_tiny_patch2_8", files=path.parent / "digits" / "train")
>>> recipe = recipes.parse(written)
>>> recipe.entry, recipe.dataset, recipe.files["kind"]
('my-digits', 'files', 'image_folder')
"""

from __future__ import annotations

import dataclasses
import os
import textwrap
from pathlib import Path

from zoo import atomic, schema, tasks, textio
from zoo.datasets import catalog as data_catalog
from zoo.harness import benchmarks
from zoo.models import catalog
from zoo.registry import did_you_mean_path
from zoo.training import recipes, sources
from zoo.training.errors import RecipeError

#: The training settings a starting recipe takes from the recipe it starts from (its data,
#: names, checkpoints and seed are the new recipe's own).
SETTINGS = ("steps", "batch_size", "optimizer", "learning_rate", "min_learning_rate",
            "weight_decay", "beta_2", "clipnorm", "schedule", "warmup_steps", "label_smoothing",
            "max_length", "tokenizer", "batching", "max_predictions", "binarize", "augment",
            "precision")
#: The steps of a recipe with no recipe to start from (`steps` has no default).
DEFAULT_STEPS = 1000
#: Settings written even at their default value, so that the knobs a user turns first show.
ALWAYS = ("steps", "batch_size", "optimizer", "learning_rate", "schedule")


def write(path, model: str, task: str | None = None, files=None,
          benchmark: str | None = None) -> Path:
    """Writes a starting recipe to `path` (a new `.toml` file, named after its entry; written
    atomically, never over an existing file) and returns `path`. See `text`.

    Raises:
        FileExistsError: `path` exists.
        RecipeError, UnknownNameError: see `text`.
    """
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists; zoo init never replaces a file. Choose another "
                              "name, or delete it first.")
    atomic.write_text(path, text(path, model, task, files, benchmark), overwrite=False)
    return path


def text(path, model: str, task: str | None = None, files=None,
         benchmark: str | None = None) -> str:
    """The commented TOML of a starting recipe for `model` and `task` (default: the one task
    the model's family serves, or that of `benchmark`), to be saved at `path` (its entry is
    the file's name), training on `files` (a path: a TSV/CSV, a folder of class folders, an
    `.npz`, ...; default a placeholder to edit) or on the training data of `benchmark`.

    Raises:
        UnknownNameError: an unknown model, task kind or benchmark (with the closest names).
        RecipeError: a file name that is no entry name or not `.toml`, a task the model's
            family does not serve, a task the benchmark is not of, both `files` and
            `benchmark`, or a task that reads no files with no recipe to take data from.
    """
    path = Path(path)
    entry = _entry(path)
    task = _task(model, task, benchmark)
    base = starting_point(model, task)
    fields = {"entry": entry, "model": model, "task": task,
              "description": f"{model} for {task}, from `zoo init`."}
    fields.update(_data(path, task, files, benchmark, base))
    fields.update(_settings(model, base))
    recipe = recipes.Recipe.from_dict(fields, str(path))  # what is written is a valid recipe
    sources.resolve(recipe)  # a benchmark to train on has training data of the recipe's task
    return _render(path, fields, base)


def starting_point(model: str, task: str):
    """The recipe whose training settings a new one starts from: one of the same model and
    task, else of the same family and task, preferring those that train from scratch (no
    `init_from`); None when there is none."""
    found = recipes.registry()
    family = catalog.family_of(model).name
    candidates = [found.get(name) for name in found.names()]
    candidates = [r for r in candidates if r.task == task
                  and catalog.get_spec(r.model).family == family]
    candidates.sort(key=lambda r: (r.model != model, r.init_from is not None, r.entry))
    return candidates[0] if candidates else None


def _entry(path: Path) -> str:
    if path.suffix != ".toml":
        raise RecipeError(f"{path}: a recipe is a .toml file (e.g. {path.stem or 'mine'}.toml).")
    problems = schema.problems(path.stem, schema.NAME, "the file's name")
    if problems:
        raise RecipeError(f"{path}: the recipe's entry is its file's name, and {problems[0]}.")
    return path.stem


def _task(model: str, task: str | None, benchmark: str | None) -> str:
    """The recipe's task kind: `task` (checked), else that of `benchmark`, else the one task
    the model's family serves."""
    served = sorted(catalog.family_of(model).serves)  # UnknownNameError for an unknown model
    if benchmark is not None:
        spec = benchmarks.get(benchmark)
        if task is not None and tasks.get(task).NAME != spec.task:
            raise RecipeError(f"benchmark '{benchmark}' is a {spec.task} benchmark, not {task}.")
        task = spec.task
    if task is None:
        if len(served) != 1:
            raise RecipeError(f"{model} is trained for one of {', '.join(served)}: say which "
                              "with --task.")
        task = served[0]
    task = tasks.get(task).NAME  # UnknownNameError with the closest kinds
    recipes.model_task(model, task)  # RecipeError: the family does not serve it
    return task


def _data(path: Path, task: str, files, benchmark, base) -> dict:
    """The data fields: the benchmark's training data, the user's files, or (a task that
    reads no files) the data of the recipe it starts from."""
    if files is not None and benchmark is not None:
        raise RecipeError("give the training files or a benchmark, not both.")
    if benchmark is not None:
        return {"dataset": recipes.BENCHMARK_DATA, "benchmark": benchmark}
    kinds = tasks.get(task).FILE_KINDS
    if not kinds:
        if base is None:
            raise RecipeError(f"a {task} recipe reads no files of yours, and no recipe of the "
                              "task gives a dataset to start from; copy one (`zoo recipes`).")
        data = {"dataset": base.dataset, "split": base.split}
        if base.extra_training_data:
            data["extra_training_data"] = [list(pair) for pair in base.extra_training_data]
        return data
    kind = data_catalog.kind_of_path(files, kinds)
    if files is not None:
        _check_files(files, kind, task, kinds)
    where = data_catalog.EXAMPLE_PATHS.get(kind, "train") if files is None else os.path.relpath(
        Path(files).resolve(), path.resolve().parent)
    return {"dataset": recipes.OWN_FILES, "files": {"kind": kind, "path": Path(where).as_posix()}}


def _check_files(files, kind: str, task: str, kinds: tuple) -> None:
    """The training data a starting recipe names exists and can be of its task: a folder
    only of images (a folder per class), a file of any other kind.

    Raises:
        RecipeError: no such file or folder (with the closest names), or a file where the
            task reads a folder, or a folder where it reads a file.
    """
    files = Path(files)
    if not files.exists():
        hint = did_you_mean_path(files)
        raise RecipeError(f"{files}: no such file or folder (the training data of --files)."
                          f"{' ' + hint if hint else ''}")
    if files.is_dir() != (kind == "image_folder"):
        reads = data_catalog.FILE_KIND_DESCRIPTIONS
        raise RecipeError(f"{files} is a {'folder' if files.is_dir() else 'file'}, but a recipe "
                          f"for {task} reads {' or '.join(reads.get(k, k) for k in kinds)}.")


def _settings(model: str, base) -> dict:
    """The training settings of `base` (a recipe, or None: `Recipe`'s defaults) that differ
    from the defaults, and those in `ALWAYS`; its `model_overrides` when it is of the same
    model."""
    fields = recipes.Recipe.__dataclass_fields__
    values = {}
    for key in (key for key in SETTINGS if key in fields):
        spec = fields[key]
        default = (DEFAULT_STEPS if key == "steps" else spec.default_factory()
                   if spec.default is dataclasses.MISSING else spec.default)
        value = getattr(base, key) if base is not None else default
        if key in ALWAYS or value != default and value not in (None, {}, []):
            values[key] = value
    if base is not None and base.model == model and base.model_overrides:
        values["model_overrides"] = dict(base.model_overrides)
    values.update(checkpoint_every=max(1, values["steps"] // 5),
                  log_every=max(1, values["steps"] // 20))
    return values


_COMMENTS = {
    "entry": "the file's name; the run goes to runs/<entry>",
    "model": "`zoo list`; `zoo info MODEL`",
    "benchmark": "`zoo bench list`",
    "steps": "`zoo train FILE --steps N` tries fewer",
    "batch_size": "examples per step",
    "learning_rate": "the peak of the schedule",
    "model_overrides": "the model's arguments to change",
}


def _render(path: Path, fields: dict, base) -> str:
    """The recipe as TOML, each part introduced by a comment: data, then training."""
    entry, task = fields["entry"], fields["task"]
    lines = [f"# {entry}: a starting recipe for {fields['model']} ({task}), written by "
             "`zoo init`.",
             "# Every field is checked when the recipe is read (a misspelt name gets the "
             "closest ones).",
             f"#   zoo train {path.name}        trains it into runs/{entry}/ (again: resumes)",
             f"#   zoo bench run --model {fields['model']} --weights runs/{entry} "
             "--benchmark ID   scores it", ""]
    files = fields.get("files")
    for key in ("entry", "model", "task", "description"):
        lines.append(_line(key, fields[key]))
    if tasks.get(task).FILE_KINDS:
        lines += ["", "# Training data: your own files (the [files] table at the end; paths are "
                  "relative to this", "# file), a dataset zoo knows (dataset = \"sst2\" and "
                  "split = \"train\"), or the training data", "# of a benchmark (dataset = "
                  "\"benchmark\" and benchmark = \"ID\"; `zoo bench list`)."]
    else:
        from zoo import datasets

        lines += ["", *textwrap.wrap(
            f"Training data: datasets zoo knows ({', '.join(datasets.list_datasets())}); a "
            f"{task} recipe reads no files of yours.", 95, initial_indent="# ",
            subsequent_indent="# ")]
    for key in ("dataset", "split", "extra_training_data", "benchmark"):
        if key in fields:
            lines.append(_line(key, fields[key]))
    if files is not None and tasks.get(task).CLASSIFYING:
        lines.append('# labels = ["a", "b"]  # the classes in output order (default: those the '
                     "files hold, sorted)")
    source = (f"those of the recipe {base.entry}" if base is not None else "zoo's defaults")
    lines += ["", f"# Training: {source}, a starting point."]
    for key in (*SETTINGS, "model_overrides", "checkpoint_every", "log_every"):
        if key in fields:
            lines.append(_line(key, fields[key]))
    if files is not None:
        lines += ["", "[files]"]
        kinds = tasks.get(task).FILE_KINDS
        lines.append(_line("kind", files["kind"], f"this task reads {' or '.join(kinds)}"))
        lines.append(_line("path", files["path"]))
        options = [k for k in data_catalog.FILES.variants[files["kind"]].fields if k not in files]
        if options:
            lines.append(f"# other options of this kind: {', '.join(options)}")
    return "\n".join(lines) + "\n"


def _line(key, value, comment=None) -> str:
    comment = comment or _COMMENTS.get(key)
    line = f"{key} = {textio.toml_value(value)}"
    return f"{line:<32} # {comment}" if comment else line
