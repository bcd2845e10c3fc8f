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

from zoo.registry import Registry
from zoo.training.errors import RecipeError

TASKS = ("image_classification", "text_classification", "masked_lm", "translation",
         "image_generation")
OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULES = ("constant", "cosine", "linear", "inverse_sqrt")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")  # see training/precision.py
AUGMENTATIONS = ("flip", "shift")  # image classification; see training/inputs.py
BATCHINGS = ("random", "by_length")  # by_length: translation; see training/inputs.py




@dataclass(frozen=True)
class Recipe:
    """Everything that decides a training run. Flat, and round-trips through JSON."""

    entry: str
    model: str
    task: str
    dataset: str
    steps: int
    split: str = "train"
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
        problems = []
        if self.task not in TASKS:
            problems.append(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule must be one of {', '.join(SCHEDULES)}")
        if self.precision not in PRECISIONS:
            problems.append(f"precision must be one of {', '.join(PRECISIONS)}")
        for name in ("steps", "batch_size", "max_length", "checkpoint_every", "log_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                problems.append(f"{name} must be a positive integer, got {value!r}")
        if not (isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0):
            problems.append(f"learning_rate must be positive, got {self.learning_rate!r}")
        if not 0 <= self.label_smoothing < 1:
            problems.append("label_smoothing must be in [0, 1)")
        if self.warmup_steps < 0:
            problems.append("warmup_steps must be >= 0")
        if self.extra_training_data and self.task != "masked_lm":
            problems.append("extra_training_data is for masked_lm corpora only")
        if self.augment is not None:
            unknown = ([self.augment] if not isinstance(self.augment, str) else
                       [a for a in self.augment.split("+") if a not in AUGMENTATIONS])
            if unknown:
                problems.append(f"augment must name augmentations joined by '+' from "
                                f"{', '.join(AUGMENTATIONS)} (e.g. \"flip+shift\"), or be "
                                f"absent; unknown: {', '.join(map(repr, unknown))}")
        if self.batching not in BATCHINGS:
            problems.append(f"batching must be one of {', '.join(BATCHINGS)}, got "
                            f"{self.batching!r}")
        elif self.batching == "by_length" and self.task != "translation":
            problems.append("batching = \"by_length\" is for translation recipes")
        if self.binarize not in (None, "stochastic"):
            problems.append("binarize must be \"stochastic\" or absent")
        if problems:
            raise RecipeError(f"Recipe '{self.entry}': " + "; ".join(problems) + ".")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "<recipe>") -> Recipe:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            import difflib

            hints = [f"{u} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(u, known, 1))
                     else u for u in unknown]
            raise RecipeError(f"{source}: unknown field(s) {', '.join(hints)}.")
        missing = [f.name for f in dataclasses.fields(cls)
                   if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                   and f.name not in data]
        if missing:
            raise RecipeError(f"{source}: missing field(s) {', '.join(missing)}.")
        return cls(**data)

    def replace(self, **changes) -> Recipe:
        return self.from_dict({**self.to_dict(), **changes}, f"recipe '{self.entry}'")

    @property
    def training_data(self) -> list[dict]:
        """Every (dataset, split) the run reads, for the harness's test-data flag."""
        data = [{"dataset": self.dataset, "split": self.split}]
        data += [{"dataset": d, "split": s} for d, s in self.extra_training_data]
        return data


def parse(path) -> Recipe:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise RecipeError(f"Cannot read recipe {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise RecipeError(f"{path}: not valid TOML ({error}).") from None
    recipe = Recipe.from_dict(data, str(path))
    if path.stem != recipe.entry:
        raise RecipeError(f"{path}: the file must be named after its entry ('{recipe.entry}.toml').")
    return recipe


def search_path() -> list[Path]:
    """`$ZOO_RECIPES_PATH` (os.pathsep-separated), then the recipes shipped in `zoo/recipes/`."""
    folders = [Path(p) for p in os.environ.get("ZOO_RECIPES_PATH", "").split(os.pathsep) if p]
    folders.append(Path(__file__).resolve().parents[1] / "recipes")
    return folders


def registry() -> Registry:
    found = Registry("recipe")
    for folder in search_path():
        if folder.is_dir():
            for file in sorted(folder.glob("*.toml")):
                recipe = parse(file)
                if recipe.entry not in found:
                    found.register(recipe.entry, recipe)
    return found


def get(name_or_path) -> Recipe:
    """A recipe by entry name, or from a `.toml` path."""
    if str(name_or_path).endswith(".toml"):
        return parse(name_or_path)
    return registry().get(str(name_or_path))


def list_recipes(pattern: str | None = None) -> list[str]:
    return registry().names(pattern)
