"""Benchmarks as data: one TOML file per benchmark in `benchmarks/`.

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
import difflib
import os
import tomllib
from pathlib import Path

from zoo.registry import Registry

TASKS = {
    "image_classification": ("accuracy", "macro_recall", "macro_f1"),
    "text_classification": ("accuracy", "macro_recall", "macro_f1"),
    "translation": ("bleu", "chrf"),
    "image_generation": ("negative_elbo", "reconstruction", "kl", "probe_accuracy", "probe_macro_f1"),
}
LOWER_IS_BETTER = {"negative_elbo", "reconstruction", "kl"}


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
    preprocessing: dict = dataclasses.field(default_factory=dict)
    bleu: dict = dataclasses.field(default_factory=dict)
    decoding: dict = dataclasses.field(default_factory=dict)
    bootstrap: dict = dataclasses.field(default_factory=dict)
    licence: str = ""
    path: str = ""

    @property
    def higher_is_better(self) -> bool:
        return self.main_metric not in LOWER_IS_BETTER

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["metrics"] = list(self.metrics)
        data["labels"] = list(self.labels) if self.labels is not None else None
        data["higher_is_better"] = self.higher_is_better
        data.pop("path")
        return data


_FIELDS = {f.name for f in dataclasses.fields(BenchmarkSpec)} - {"path"}
_REQUIRED = {f.name for f in dataclasses.fields(BenchmarkSpec)
             if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}


def parse(path: str | os.PathLike) -> BenchmarkSpec:
    """Reads and validates one benchmark file; errors name the file, the key and the fix."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as error:
        raise BenchmarkError(f"{path}: not valid TOML ({error}).") from None
    unknown = set(data) - _FIELDS
    for key in sorted(unknown):
        close = difflib.get_close_matches(key, sorted(_FIELDS), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise BenchmarkError(
            f"{path}: unknown key '{key}'{hint}. Keys: {', '.join(sorted(_FIELDS))}."
        )
    missing = _REQUIRED - set(data)
    if missing:
        raise BenchmarkError(f"{path}: missing required key(s): {', '.join(sorted(missing))}.")
    if data["task"] not in TASKS:
        raise BenchmarkError(
            f"{path}: task '{data['task']}' is not one of {', '.join(sorted(TASKS))}."
        )
    if not isinstance(data["version"], int) or data["version"] < 1:
        raise BenchmarkError(f"{path}: version must be a positive integer, got {data['version']!r}.")
    allowed = TASKS[data["task"]]
    for metric in [*data["metrics"], data["main_metric"]]:
        if metric not in allowed:
            raise BenchmarkError(
                f"{path}: metric '{metric}' is not computed for {data['task']}; "
                f"choose from {', '.join(allowed)}."
            )
    if data["main_metric"] not in data["metrics"]:
        raise BenchmarkError(f"{path}: main_metric '{data['main_metric']}' must be listed in metrics.")
    if (data["dataset"] == "files") != ("files" in data):
        raise BenchmarkError(
            f"{path}: a benchmark over your own files sets dataset = \"files\" and a [files] table."
        )
    if path.stem != data["id"]:
        raise BenchmarkError(f"{path}: the file must be named after its id ('{data['id']}.toml').")
    data["metrics"] = tuple(data["metrics"])
    if "labels" in data:
        data["labels"] = tuple(str(label) for label in data["labels"])
    if "files" in data:
        # Paths in [files] are relative to the benchmark file.
        data["files"] = {
            key: str((path.parent / value).resolve()) if key.endswith("path") else value
            for key, value in data["files"].items()
        }
    return BenchmarkSpec(**data, path=str(path))


def search_path() -> list[Path]:
    """Folders searched for benchmark files: $ZOO_BENCHMARKS_PATH (os.pathsep-separated),
    then the repository's `benchmarks/`."""
    folders = [Path(p) for p in os.environ.get("ZOO_BENCHMARKS_PATH", "").split(os.pathsep) if p]
    folders.append(Path(__file__).resolve().parents[2] / "benchmarks")
    return folders


def registry() -> Registry:
    """All benchmarks on the search path, parsed and validated (a fresh read every call)."""
    benchmarks = Registry("benchmark")
    for folder in search_path():
        if not folder.is_dir():
            continue
        for file in sorted(folder.glob("*.toml")):
            spec = parse(file)
            if spec.id in benchmarks:
                raise BenchmarkError(
                    f"{file}: benchmark id '{spec.id}' is already defined in "
                    f"{benchmarks.get(spec.id).path}; rename one of them."
                )
            benchmarks.register(spec.id, spec)
    return benchmarks


def get(benchmark_id: str) -> BenchmarkSpec:
    return registry().get(benchmark_id)


def list_benchmarks(pattern: str | None = None) -> list[str]:
    return registry().names(pattern)
