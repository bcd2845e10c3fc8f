"""Training recipes: one flat TOML file per leaderboard entry, in `zoo/recipes/`.

A recipe names the model variant and its overrides, the training data, the tokenizer,
optimizer and schedule, batch size, steps and seed. Training it produces the entry of the same
name (e.g. `vit_tiny_patch4_28.mnist`), whose run folder the harness evaluates.

>>> from zoo.training import recipes
>>> recipe = recipes.get("vit_tiny_patch2_8.digits")
>>> recipe.model, recipe.dataset, recipe.task
('vit_tiny_patch2_8', 'digits', 'image_classification')
>>> recipes.Recipe.from_dict(recipe.to_dict()) == recipe
True
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from zoo import schema, tasks, textio
from zoo.datasets import catalog as datasets_catalog
from zoo.models import catalog
from zoo.models.catalog import REQUIRED
from zoo.registry import Registry, UnknownNameError
from zoo.text import tokenizers
from zoo.training.errors import RecipeError
from zoo.training.precision import CHOICES as PRECISIONS

OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULES = ("constant", "cosine", "linear", "inverse_sqrt")
DECAYING = ("cosine", "linear")  # the schedules that end at `min_learning_rate`
BATCHINGS = ("random", "by_length")  # by_length: a kind that reads "batching" (translation)


def _augmentations(d):
    """The augmentations named are the task kind's (`AUGMENTATIONS` of a kind that reads
    `augment`; for another kind, `_fields_of_the_task` refuses the field)."""
    augment = d.get("augment")
    choices = getattr(tasks.get(d["task"]), "AUGMENTATIONS", None)
    if augment is None or choices is None:
        return None
    unknown = [a for a in augment.split("+") if a not in choices]
    if unknown:
        return (f"augment must name augmentations joined by '+' from "
                f"{', '.join(choices)} (e.g. \"flip+shift\"), or be absent; unknown: "
                f"{', '.join(map(repr, unknown))}")
    return None


def _tokenizer_settings(table):
    """The `[tokenizer]` settings are those its `kind` takes (`zoo.text.tokenizers`): a
    characters tokenizer takes no vocabulary size, it learns every character."""
    settings = {key: value for key, value in table.items() if key != "kind"}
    problems = tokenizers.settings_problems(table.get("kind", tokenizers.DEFAULT_KIND), settings)
    return [f"tokenizer.{problem}" for problem in problems]


def _learning_rate_floor(d):
    """`min_learning_rate` is where a decaying schedule ends: at most the peak, and only for
    a schedule that decays (elsewhere nothing would read it)."""
    floor = d.get("min_learning_rate", 0.0)
    if not floor:
        return None
    if d.get("schedule", "constant") not in DECAYING:
        return (f"min_learning_rate is the rate a decaying schedule ({' or '.join(DECAYING)}) "
                f"ends at, not {d.get('schedule', 'constant')}")
    if floor > d.get("learning_rate", 1e-3):
        return (f"min_learning_rate ({floor}) must not exceed learning_rate "
                f"({d.get('learning_rate', 1e-3)})")
    return None


def _is_default(key, value) -> bool:
    """Whether `value` of recipe field `key` is the one a file leaving it out gets (`Recipe`'s
    default; a checked list may be a tuple)."""
    spec = Recipe.__dataclass_fields__[key]
    default = spec.default_factory() if spec.default is dataclasses.MISSING else spec.default
    return value == default or (isinstance(value, tuple) and list(value) == default)


def _fields_of_the_task(d):
    """A field that only some task kinds read (their `RECIPE_FIELDS`) is left at its default
    in a recipe of any other kind: it would be silently ignored there."""
    kind, readers, problems = tasks.get(d["task"]), {}, []
    for name in tasks.names():
        for key, what in tasks.get(name).RECIPE_FIELDS.items():
            readers.setdefault(key, ([], what))[0].append(name)
    for key, (names, what) in readers.items():
        if key not in kind.RECIPE_FIELDS and key in d and not _is_default(key, d[key]):
            problems.append(f"{what} is for {' or '.join(names)} recipes, not {d['task']}")
    return problems


#: What `dataset` may say besides a dataset's name: the user's own files, or the training data
#: of the recipe's benchmark.
OWN_FILES, BENCHMARK_DATA = "files", "benchmark"


def _named_data(d):
    """Each dataset named (`dataset`, `extra_training_data`) is one zoo knows, and each split
    one of its splits (the closest names for a typo)."""
    from zoo import datasets

    named = [] if d["dataset"] in (OWN_FILES, BENCHMARK_DATA) else [
        ("dataset", d["dataset"], "split", d.get("split", "train"))]
    named += [(f"extra_training_data[{i}]", name, f"extra_training_data[{i}]", split)
              for i, (name, split) in enumerate(d.get("extra_training_data") or ())]
    problems = []
    for field_, name, split_field, split in named:
        try:
            info = datasets.info(name)
        except datasets.DatasetError as error:
            also = (f' (or "{OWN_FILES}" with a [files] table for your own files, or '
                    f'"{BENCHMARK_DATA}" for the training data of the recipe\'s benchmark)'
                    if field_ == "dataset" else "")
            problems.append(f"{field_}: {str(error).rstrip('.')}{also}")
            continue
        if split not in info.splits:
            problems.append(f"{split_field}: '{split}' is not a split of dataset '{name}'; "
                            f"splits: {', '.join(info.splits)}")
    return problems


def _own_data(d):
    """A recipe over the user's files has a `[files]` table of a kind its task reads (and
    `validation.files` for held-out examples, not a `validation.split`); a recipe over a
    benchmark's training data names the benchmark; `labels` declare the classes of a
    classifier's files."""
    kind, present = tasks.get(d["task"]), {k: v for k, v in d.items() if v is not None}
    problems = [datasets_catalog.files_rule(present, kind.FILE_KINDS, "recipe")]
    if d["dataset"] == BENCHMARK_DATA:
        if not d.get("benchmark"):
            problems.append(f'dataset = "{BENCHMARK_DATA}" trains on the training data of the '
                            'recipe\'s benchmark; name it: benchmark = "ID"')
        if d.get("split", "train") != "train":
            problems.append(f'split: with dataset = "{BENCHMARK_DATA}" the benchmark\'s own '
                            "training split is read; leave split out")
    if d.get("labels") is not None:
        if d["dataset"] != OWN_FILES:
            problems.append('labels declare the classes of your own files (dataset = "files"); '
                            "a dataset's or a benchmark's classes are its own")
        elif not kind.CLASSIFYING:
            problems.append(f"labels are the classes of a classifier; a {d['task']} recipe has "
                            "none")
    return [p for p in problems if p] + _validation_files(d, kind)


def _validation_files(d, kind):
    """`validation.files`: held-out examples of a kind the task reads, instead of a split of
    the dataset; the only validation data of a recipe over the user's files."""
    validation = d.get("validation") or {}
    if "files" not in validation:
        if validation and d["dataset"] == OWN_FILES:
            return ["validation of a recipe over your own files reads validation.files (a "
                    "table like [files], of held-out examples)"]
        return []
    problems = []
    if "split" in validation:
        problems.append("validation reads validation.files or a validation.split of the "
                        "dataset, not both")
    if validation["files"]["kind"] not in kind.FILE_KINDS:
        problems.append(f"validation.files.kind '{validation['files']['kind']}' cannot hold "
                        f"{d['task']} examples; use {' or '.join(kind.FILE_KINDS) or 'none'}")
    return problems


#: Largest model size argument (a width, a count, a vocabulary) a recipe may set.
MAX_MODEL_SIZE = 2 ** 24
_PAIRS = ("image_size", "patch_size")  # an integer or [height, width]


def model_task(model: str, task: str) -> str:
    """The head of `model`'s family that recipe `task` builds (for `zoo.build(task=)`), as the
    family declares (`zoo.models.catalog.head_for`). Raises RecipeError naming the families
    that serve `task`, UnknownNameError for an unknown model."""
    head = catalog.head_for(model, task)
    if head is None:
        raise RecipeError(f"model '{model}' is a {catalog.get_spec(model).family} model, which "
                          f"cannot be trained for {task}; use {catalog.serving_hint(task)}.")
    return head


def _override_type(key, default, signature_default=None):
    """The schema of a model argument, from its default value's type: an integer may be 0
    when its default, or its class signature's, is 0 (a padding that a preset sets to 2 and
    the signature to 0), else it is a positive count."""
    if isinstance(default, bool):
        return schema.Bool()
    if isinstance(default, int):
        zero = default == 0 or (type(signature_default) is int and signature_default == 0)
        count = schema.Int(min=0 if zero else 1, max=MAX_MODEL_SIZE)
        return schema.OneOf(count, schema.List(count, 2, 2)) if key in _PAIRS else count
    if isinstance(default, float):
        if "dropout" in key:
            return schema.Float(min=0, max=1, max_exclusive=True)
        return schema.Float(min=0, min_exclusive=True)
    if isinstance(default, str) or default is REQUIRED:
        return schema.Str()
    if isinstance(default, list | tuple):
        return schema.List(schema.Int(min=1, max=MAX_MODEL_SIZE), min_length=1)
    return schema.Anything()  # no literal default: checked by the constructor


def _model_and_overrides(d):
    """The model is registered, its family serves the task, and each override is one of its
    constructor's arguments, of its default's type (read without importing TensorFlow)."""
    try:
        task = model_task(d["model"], d["task"])
    except UnknownNameError as error:
        return f"model: {str(error).rstrip('.')}"
    except RecipeError as error:
        return str(error).rstrip(".")
    arguments = catalog.constructor_defaults(d["model"], task)
    signature = catalog.constructor_defaults(d["model"], task, preset=False)
    table = schema.Table({key: _F(_override_type(key, default, signature.get(key)),
                                  nullable=default is None)
                          for key, default in arguments.items()},
                         what=f"a table of {d['model']}'s arguments")
    return schema.problems(d.get("model_overrides") or {}, table, "model_overrides")


_F = schema.Field
#: Upper bounds that keep a count sane (a typo of 2**63 fails here, not deep in training).
MAX_STEPS = 10 ** 9
MAX_BATCH_SIZE = 2 ** 20
MAX_LENGTH = 2 ** 16
_POSITIVE = schema.Int(min=1, max=MAX_STEPS)
_LENGTH = schema.Int(min=1, max=MAX_LENGTH)
#: Every field of a recipe: its type and allowed values (`Recipe` holds the defaults).
SCHEMA = schema.Table({
    "entry": _F(schema.NAME, required=True),
    "model": _F(schema.Str(), required=True),
    "task": _F(schema.Str(choices=tasks.names), required=True),
    "dataset": _F(schema.Str(), required=True),
    "steps": _F(_POSITIVE, required=True),
    "split": _F(schema.Str()),
    "files": _F(datasets_catalog.FILES, nullable=True),
    "labels": _F(datasets_catalog.LABELS, nullable=True),
    "benchmark": _F(schema.NAME, nullable=True),
    "description": _F(schema.Str(empty=True)),
    "model_overrides": _F(schema.Table(values=schema.Anything(),
                                       what="a table of the model's arguments")),
    "extra_training_data": _F(schema.List(schema.List(schema.Str(), 2, 2))),
    "init_from": _F(schema.NAME, nullable=True),
    "tokenizer": _F(schema.Table({
        "kind": _F(schema.Str(choices=tokenizers.KINDS)),
        "vocabulary_size": _F(schema.Int(min=23, max=MAX_MODEL_SIZE)),
        "lowercase": _F(schema.Bool()),
        "sequence_length": _F(_LENGTH, nullable=True),
    }, rules=(_tokenizer_settings,))),
    "max_length": _F(_LENGTH),
    "batch_size": _F(schema.Int(min=1, max=MAX_BATCH_SIZE)),
    "batching": _F(schema.Str(choices=BATCHINGS)),
    "optimizer": _F(schema.Str(choices=OPTIMIZERS)),
    "learning_rate": _F(schema.Float(min=0, min_exclusive=True)),
    "min_learning_rate": _F(schema.Float(min=0)),
    "weight_decay": _F(schema.Float(min=0)),
    "beta_2": _F(schema.Float(min=0, max=1, max_exclusive=True)),
    "clipnorm": _F(schema.Float(min=0, min_exclusive=True), nullable=True),
    "schedule": _F(schema.Str(choices=SCHEDULES)),
    "warmup_steps": _F(schema.Int(min=0, max=MAX_STEPS)),
    "label_smoothing": _F(schema.Float(min=0, max=1, max_exclusive=True)),
    "max_predictions": _F(_LENGTH),
    "binarize": _F(schema.Str(choices=("stochastic",)), nullable=True),
    "augment": _F(schema.Str(), nullable=True),
    "validation": _F(schema.Table({
        "split": _F(schema.Str()),
        "files": _F(datasets_catalog.FILES),
        "examples": _F(_POSITIVE),
        "every": _F(_POSITIVE),
    })),
    "seed": _F(schema.Int(min=0, max=2 ** 32 - 1)),  # numpy's seeds
    "precision": _F(schema.Str(choices=PRECISIONS)),
    "jit_compile": _F(schema.Bool()),
    "checkpoint_every": _F(_POSITIVE),
    "log_every": _F(_POSITIVE),
}, rules=(_augmentations, _fields_of_the_task, _model_and_overrides, _learning_rate_floor,
          _named_data, _own_data))


@dataclass(frozen=True)
class Recipe:
    """Everything that decides a training run. Flat, and round-trips through JSON."""

    entry: str
    model: str
    task: str
    dataset: str
    steps: int
    split: str = "train"
    files: dict | None = None
    labels: list | None = None
    benchmark: str | None = None
    description: str = ""
    model_overrides: dict = field(default_factory=dict)
    extra_training_data: list = field(default_factory=list)
    init_from: str | None = None
    tokenizer: dict = field(default_factory=dict)
    max_length: int = 128
    batch_size: int = 64
    batching: str = "random"
    optimizer: str = "adamw"
    learning_rate: float = 1e-3
    min_learning_rate: float = 0.0
    weight_decay: float = 0.0
    beta_2: float = 0.999
    clipnorm: float | None = None
    schedule: str = "constant"
    warmup_steps: int = 0
    label_smoothing: float = 0.0
    max_predictions: int = 20
    binarize: str | None = None
    augment: str | None = None
    validation: dict = field(default_factory=dict)
    seed: int = 0
    precision: str = "float32"
    jit_compile: bool = False
    checkpoint_every: int = 200
    log_every: int = 50

    def __post_init__(self):
        schema.validate(self.to_dict(), SCHEMA, f"Recipe '{self.entry}'", error=RecipeError)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "<recipe>") -> Recipe:
        """A recipe from a parsed file (or JSON), checked against `SCHEMA`: every problem
        (unknown field with the closest names, missing field, wrong type or value) in one
        RecipeError naming `source`."""
        schema.validate(data, SCHEMA, source, error=RecipeError)
        return cls(**data)

    def replace(self, **changes) -> Recipe:
        return self.from_dict({**self.to_dict(), **changes}, f"recipe '{self.entry}'")

    @property
    def training_data(self) -> list[dict]:
        """Every source the run reads, as declared: a dataset's split, the user's files
        (`files`: the `[files]` table) or a benchmark's training data (`benchmark`).
        `zoo.training.sources` reads them and records what they held."""
        if self.dataset == OWN_FILES:
            data = [{"dataset": OWN_FILES, "split": None, "files": dict(self.files)}]
        elif self.dataset == BENCHMARK_DATA:
            data = [{"dataset": BENCHMARK_DATA, "split": None, "benchmark": self.benchmark}]
        else:
            data = [{"dataset": self.dataset, "split": self.split}]
        data += [{"dataset": d, "split": s} for d, s in self.extra_training_data]
        return data

    @property
    def data_description(self) -> str:
        """The training data in a few words: "digits/train", "files tickets.tsv", "benchmark
        my-tickets (its training data)"."""
        if self.dataset == OWN_FILES:
            names = [Path(v).name for k, v in self.files.items() if k.endswith("path")]
            return f"files {', '.join(names)}"
        if self.dataset == BENCHMARK_DATA:
            return f"benchmark {self.benchmark} (its training data)"
        return f"{self.dataset}/{self.split}"


def parse(path) -> Recipe:
    """Reads and validates one recipe file (UTF-8, a byte-order mark allowed)."""
    path = Path(path)
    try:
        data = textio.read_toml(path)
    except (OSError, UnicodeDecodeError) as error:
        raise RecipeError(f"Cannot read recipe {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise RecipeError(f"{path}: not valid TOML ({error}).") from None
    recipe = Recipe.from_dict(data, str(path))
    if path.stem != recipe.entry:
        raise RecipeError(f"{path}: the file must be named after its entry ('{recipe.entry}.toml').")
    return _paths_from(recipe, path.parent)


def _paths_from(recipe: Recipe, folder) -> Recipe:
    """`recipe` with the paths of its `[files]` and `validation.files` made absolute, relative
    to `folder` (the recipe file's), as a benchmark's are."""
    changes = {}
    if recipe.files:
        changes["files"] = datasets_catalog.resolve_paths(recipe.files, folder)
    if "files" in recipe.validation:
        changes["validation"] = {**recipe.validation, "files": datasets_catalog.resolve_paths(
            recipe.validation["files"], folder)}
    return dataclasses.replace(recipe, **changes) if changes else recipe


SHIPPED = Path(__file__).resolve().parents[1] / "recipes"  # the recipes zoo ships


def search_path() -> list[Path]:
    """`$ZOO_RECIPES_PATH` (os.pathsep-separated), then the recipes shipped in `zoo/recipes/`."""
    folders = [Path(p) for p in os.environ.get("ZOO_RECIPES_PATH", "").split(os.pathsep) if p]
    return folders + [SHIPPED]


def scan() -> schema.Scan:
    """Every recipe file on the search path (a fresh read each call): the usable ones in
    `.registry`, each bad file's RecipeError in `.problems`, and an entry defined twice (a
    user's recipe reusing a shipped entry's name) refused there too (`schema.scan`). A
    benchmark file in the same folder (an `id`, no `entry`) is not read as a recipe."""
    return schema.scan(search_path(), parse, lambda recipe: recipe.entry, "recipe",
                       RecipeError, files=schema.toml_files_but("id", "entry"), shipped=SHIPPED,
                       rename=" (the file and its `entry`)")


def registry() -> Registry:
    """The usable recipes; `scan()` also says which files could not be used and why."""
    return scan().registry


def get(name_or_path) -> Recipe:
    """A recipe by entry name (its file's error if that file is bad; one bad file does not
    hide the others), or from a `.toml` path."""
    if str(name_or_path).endswith(".toml"):
        return parse(name_or_path)
    return scan().get(str(name_or_path))


def list_recipes(pattern: str | None = None) -> list[str]:
    """Entries of the usable recipes (`scan().problems` holds the others)."""
    return registry().names(pattern)
