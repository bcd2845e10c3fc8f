"""Benchmarks as data: one TOML file per benchmark in `zoo/benchmarks/` (shipped in the package).

A benchmark names a dataset and split, its label set, its preprocessing, its
metrics and main metric, and (for BLEU) the sacrebleu settings. A change of
meaning bumps its `version`. A new benchmark over a user's own files is a new
file (with a `[files]` table), not new code.

Example:

>>> from zoo.harness import benchmarks
>>> spec = benchmarks.get("mnist")
>>> spec.dataset, spec.split, spec.main_metric
('mnist', 'test', 'accuracy')
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path

from zoo import schema, tasks, textio
from zoo.datasets import catalog
from zoo.datasets.catalog import FILES
from zoo.metrics import bootstrap
from zoo.registry import Registry, UnknownNameError


def task_kinds() -> tuple[str, ...]:
    """The task kinds a benchmark can be of: those with metrics (`zoo.tasks`; masked-LM
    pretraining has none)."""
    return tuple(name for name in tasks.names() if tasks.get(name).METRICS)


class BenchmarkError(ValueError):
    """A benchmark file that cannot be used; the message names the file and the fix."""


@dataclasses.dataclass(frozen=True)
class BenchmarkSpec:
    """One benchmark, as declared in its file. Every key of the file is a field here."""

    id: str
    version: int
    task: str
    description: str
    dataset: str
    split: str
    main_metric: str
    metrics: tuple
    train_split: str | None = None
    labels: tuple | None = None
    files: dict | None = None
    train_files: dict | None = None
    preprocessing: dict = dataclasses.field(default_factory=dict)
    bleu: dict = dataclasses.field(default_factory=dict)
    decoding: dict = dataclasses.field(default_factory=dict)
    samples: dict = dataclasses.field(default_factory=dict)
    bootstrap: dict = dataclasses.field(default_factory=dict)
    licence: str = ""
    path: str = ""

    @property
    def higher_is_better(self) -> bool:
        return self.main_metric not in tasks.get(self.task).LOWER_IS_BETTER

    @property
    def bootstrap_seed(self) -> int:
        """The seed of the resample indices: `[bootstrap] seed`, else zoo's default (result
        records keep it as `seeds.bootstrap`)."""
        return int(self.bootstrap.get("seed", bootstrap.DEFAULT_SEED))

    def resample_indices(self, n: int):
        """The bootstrap's resample indices `[resamples, n]` for `n` examples, from the
        benchmark's `[bootstrap]` settings (`zoo.metrics.bootstrap` defaults)."""
        return bootstrap.indices(
            n, int(self.bootstrap.get("resamples", bootstrap.DEFAULT_RESAMPLES)),
            self.bootstrap_seed)

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["metrics"] = list(self.metrics)
        data["labels"] = list(self.labels) if self.labels is not None else None
        data["higher_is_better"] = self.higher_is_better
        data.pop("path")
        return data


# --- The schema of a benchmark file --------------------------------------------------------

#: Ids name files and pages (`<id>.toml`, the leaderboard's `<id>.html`): letters, digits,
#: ".", "_" and "-", starting with a letter or digit.
ID_PATTERN = schema.NAME_PATTERN


def _metrics_of_the_task(d):
    allowed = tasks.get(d["task"]).METRICS
    for metric in [*d["metrics"], d["main_metric"]]:
        if metric not in allowed:
            return (f"metric '{metric}' is not computed for {d['task']}; choose from "
                    f"{', '.join(allowed)}")
    if d["main_metric"] not in d["metrics"]:
        return f"main_metric '{d['main_metric']}' must be listed in metrics"
    return None


def _own_files(d):
    """A benchmark over the user's own files (`dataset = "files"`) has a `[files]` table (its
    test split) and may have `[train_files]` (its training split, named by `train_split`),
    each of a file kind its task reads; a benchmark of a named dataset has neither."""
    kinds = tasks.get(d["task"]).FILE_KINDS
    problem = catalog.files_rule(d, kinds, "benchmark")
    if problem is None and "train_files" in d:
        problem = (catalog.files_rule(d, kinds, "benchmark", "train_files")
                   if d["dataset"] == "files" else
                   'train_files are the training data of a benchmark over your own files '
                   '(dataset = "files"); a named dataset\'s is its train_split')
    if problem is None and d["dataset"] == "files" and "train_split" in d and (
            "train_files" not in d):
        problem = ("train_split of a benchmark over your own files names its [train_files] "
                   "table; add that table (or leave train_split out)")
    return problem


def _dataset_and_splits(d):
    from zoo import datasets

    if d.get("train_split") is not None and d.get("train_split") == d["split"]:
        return (f"train_split must be another split than split ('{d['split']}'): the "
                "training data is not the test data")
    problem = _own_files(d)
    if problem is not None or d["dataset"] == "files":
        return problem
    try:
        info = datasets.info(d["dataset"])
    except datasets.DatasetError as error:
        return f"dataset: {error} (or \"files\" with a [files] table for your own files)"
    problems = [f"{key} '{d[key]}' is not a split of dataset '{info.name}'; splits: "
                f"{', '.join(info.splits)}"
                for key in ("split", "train_split") if key in d and d[key] not in info.splits]
    if info.task not in tasks.get(d["task"]).DATASET_KINDS:
        problems.append(f"dataset '{info.name}' is for {info.task}, not {d['task']}")
    elif info.labels is not None and "labels" in d and tuple(map(str, d["labels"])) != info.labels:
        problems.append(f"labels must be dataset '{info.name}''s classes in their order "
                        f"({', '.join(info.labels)}): its examples are numbered so, got "
                        f"{', '.join(map(str, d['labels']))}")
    return problems


def _labels_where_needed(d):
    classifying = tasks.get(d["task"]).CLASSIFYING
    probe = any(m.startswith("probe_") for m in d["metrics"])
    if "labels" not in d and (classifying or probe):
        return (f"labels (the class names, in index order) are required for "
                f"{'a probe' if probe and not classifying else d['task']}")
    return None


def _readers(attribute) -> dict:
    """For each field the task kinds declare in `attribute` (BENCHMARK_FIELDS or
    BENCHMARK_PREPROCESSING): its schema (the first kind's) and the kinds that read it."""
    found = {}
    for name in task_kinds():
        for key, field in getattr(tasks.get(name), attribute).items():
            found.setdefault(key, (field, []))[1].append(name)
    return found


def _fields_of_the_task(d):
    """A table or `[preprocessing]` key that only some task kinds read is set only in a
    benchmark of one of them: elsewhere nothing would read it."""
    kind, problems = tasks.get(d["task"]), []
    for attribute, values, prefix in (("BENCHMARK_FIELDS", d, ""),
                                      ("BENCHMARK_PREPROCESSING", d.get("preprocessing", {}),
                                       "preprocessing.")):
        for key, (_, names) in _readers(attribute).items():
            if key in values and key not in getattr(kind, attribute):
                problems.append(f"{prefix}{key} is for {' or '.join(names)} benchmarks, not "
                                f"{d['task']}")
    return problems


_F = schema.Field


def file_schema() -> schema.Table:
    """The schema of a benchmark file: the fields every benchmark has, plus the tables and
    `[preprocessing]` keys the task kinds declare (`zoo.tasks`), read afresh each call (a
    registered kind's fields count)."""
    preprocessing = {key: field for key, (field, _) in
                     _readers("BENCHMARK_PREPROCESSING").items()}
    tables = {key: field for key, (field, _) in _readers("BENCHMARK_FIELDS").items()}
    return schema.Table({
        "id": _F(schema.NAME, required=True),
        "version": _F(schema.Int(min=1, max=10 ** 9), required=True),
        "task": _F(schema.Str(choices=task_kinds), required=True),
        "description": _F(schema.Str(), required=True),
        "dataset": _F(schema.Str(), required=True),
        "split": _F(schema.Str(), required=True),
        "main_metric": _F(schema.Str(), required=True),
        "metrics": _F(schema.List(schema.Str(), min_length=1, unique=True), required=True),
        "train_split": _F(schema.Str()),
        "labels": _F(catalog.LABELS),
        "files": _F(FILES),
        "train_files": _F(FILES),
        "preprocessing": _F(schema.Table(preprocessing)),
        **tables,
        "bootstrap": _F(schema.Table({
            "resamples": _F(schema.Int(min=1, max=10 ** 6)),
            "seed": _F(schema.Int(min=0, max=2 ** 32 - 1)),
        })),
        "licence": _F(schema.Str(empty=True)),
    }, rules=(_metrics_of_the_task, _labels_where_needed, _fields_of_the_task,
              _dataset_and_splits))


def parse(path: str | os.PathLike) -> BenchmarkSpec:
    """Reads and validates one benchmark file against `file_schema()`; errors name the file, every
    field in error, what it must be and what it is."""
    path = Path(path)
    try:
        data = textio.read_toml(path)
    except (OSError, UnicodeDecodeError) as error:
        raise BenchmarkError(f"{path}: cannot read the file ({error}).") from None
    except tomllib.TOMLDecodeError as error:
        raise BenchmarkError(f"{path}: not valid TOML ({error}).") from None
    data = schema.validate(data, file_schema(), str(path), error=BenchmarkError)
    if path.stem != data["id"]:
        raise BenchmarkError(f"{path}: the file must be named after its id ('{data['id']}.toml').")
    for key in ("files", "train_files"):  # paths in them are relative to the benchmark file
        if key in data:
            data[key] = catalog.resolve_paths(data[key], path.parent)
    if "train_files" in data:
        data.setdefault("train_split", "train")  # the name of the split its train_files hold
    return BenchmarkSpec(**data, path=str(path))


def load_examples(spec: BenchmarkSpec, split: str | None = None, data_dir=None,
                  progress: bool = True):
    """The examples of benchmark `spec`'s `split` (default its test split, `spec.split`): the
    split of its dataset (`zoo.datasets.load`), or over the user's own files its `[files]`
    (the test split) or `[train_files]` (its `train_split`), read with its labels.

    Raises:
        BenchmarkError: a benchmark over files asked for a split it has no files for.
        DatasetError: the data cannot be read (a missing file, a malformed line).
    """
    from zoo import datasets

    split = spec.split if split is None else split
    if spec.dataset != "files":
        return datasets.load(spec.dataset, split, data_dir=data_dir, progress=progress)
    tables = {spec.split: spec.files, **({spec.train_split: spec.train_files}
                                         if spec.train_files else {})}
    if split not in tables:
        raise BenchmarkError(
            f"{spec.path or spec.id}: benchmark '{spec.id}' over your own files has no "
            f"{split} split (it has {', '.join(tables)}); add a [train_files] table for its "
            "training data.")
    return catalog.load_table(tables[split], labels=spec.labels)


SHIPPED = Path(__file__).resolve().parents[1] / "benchmarks"  # the benchmarks zoo ships


def search_path() -> list[Path]:
    """Folders searched for benchmark files: $ZOO_BENCHMARKS_PATH (os.pathsep-separated),
    then the benchmarks shipped in the package, `zoo/benchmarks/`."""
    folders = [Path(p) for p in os.environ.get("ZOO_BENCHMARKS_PATH", "").split(os.pathsep) if p]
    return folders + [SHIPPED]


def scan() -> schema.Scan:
    """Every benchmark file on the search path (a fresh read each call): the usable ones in
    `.registry`, each bad file's BenchmarkError in `.problems`, and an id defined twice (a
    user's benchmark reusing a shipped id) refused there too (`schema.scan`). A recipe in the
    same folder (an `entry`, no `id`) is not a benchmark file, and is not read as one."""
    return schema.scan(search_path(), parse, lambda spec: spec.id, "benchmark", BenchmarkError,
                       files=schema.toml_files_but("entry", "id"), shipped=SHIPPED,
                       rename=" (the file and its `id`)")


def registry() -> Registry:
    """The usable benchmarks on the search path, parsed and validated (a fresh read every
    call); `scan()` also says which files could not be used and why."""
    return scan().registry


def get(benchmark_id: str, found: schema.Scan | None = None) -> BenchmarkSpec:
    """A benchmark by id (from `found`, a `scan()` already made, else a fresh one). Raises its
    file's BenchmarkError if that file is bad, and UnknownNameError (with the closest ids, and
    where a file of that id was looked for and is) for an unknown id; other bad files do not
    matter."""
    try:
        return (scan() if found is None else found).get(benchmark_id)
    except UnknownNameError as error:
        raise UnknownNameError(f"{error}{_where_looked(benchmark_id)}") from None


def _where_looked(benchmark_id) -> str:
    """Where a user's benchmark file `<id>.toml` is looked for, as a hint: the folders of
    $ZOO_BENCHMARKS_PATH (or that it is not set), and the file, if the current folder has it
    (a new shell without the export)."""
    folders = [str(p) for p in search_path() if p != SHIPPED]
    here = Path(f"{benchmark_id}.toml")
    found = (f" {here} is in the current folder: export ZOO_BENCHMARKS_PATH=$PWD (or the "
             "folder that holds it)." if here.is_file() else "")
    if folders:
        return (f" Your benchmark files are read from $ZOO_BENCHMARKS_PATH: "
                f"{os.pathsep.join(folders)}.{found}")
    return f" Your benchmark files are read from the folders on $ZOO_BENCHMARKS_PATH, not set.{found}"


def list_benchmarks(pattern: str | None = None) -> list[str]:
    """Ids of the usable benchmarks (`scan().problems` holds the others)."""
    return registry().names(pattern)
