"""What a model family declares: the one record the rest of zoo reads about it.

Each family lives in one folder, `zoo/models/<family>/`, whose `family.py` defines
`FAMILY = Family(...)` (and imports no TensorFlow: `import zoo` reads every family). The
catalog (`zoo.models.catalog`) finds the folders; the training loop, the harness, export and
the leaderboard ask the catalog, and none of them names a family.

A family declares:

- `presets`: its variants, as data (`presets.py`: name -> {"config", "params",
  "description", optional "task": the head it builds});
- `heads`: the Keras models it builds (head name -> `Head`), and the `default_head`;
- `serves`: the task kinds (`zoo.tasks`) it trains and is benchmarked on, each with the head
  that does it (None: the variant's own head, e.g. the VAE family's "vae" or "autoencoder");
- `objectives`: per task kind, a "module:function" that replaces the task's own objective
  for this family's models (same signature as `zoo.tasks.<kind>.objective`);
- `transfer`: the attribute of its heads whose weights `init_from` carries from one trained
  model to another (BERT's "backbone"), or None;
- `fixtures`: tiny build arguments and example inputs for the shared model tests;
- `converters`: the checkpoints of other libraries it reads (`Converter`: a
  `zoo.convert` source format, the architectures it claims, the loader);
- `hf_export`: a "module:function" that writes a model of the family in Transformers'
  layout (`zoo export --format hf`), or None.

A `Head` names its class ("module:Class", imported only when a model is built), its export
parts (`Part`: "module:function" called as `build(model, context)` -> `(root, signatures)`,
plus the one-line description the parts table and `MODEL_CARD.md` show), whether it reads raw
strings (its own preprocessor: no WordPiece tokenizer is trained for it), and whether its
export needs the tokenizer.

>>> from zoo.models import catalog
>>> family = catalog.family("vit")
>>> family.serves, sorted(family.heads["classifier"].parts)
({'image_classification': 'classifier'}, ['classifier', 'feature_vector'])
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable


def load(reference: str):
    """The object a "module:name" reference names (imports the module)."""
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclasses.dataclass(frozen=True)
class Part:
    """One SavedModel of an export: `build` ("module:function", called as
    `build(model, context)` with a `zoo.models.savedmodel.ExportContext`, returning
    `(trackable root, signatures)`) and `text`, its line in the parts table."""

    build: str
    text: str


@dataclasses.dataclass(frozen=True)
class Head:
    """A Keras model a family builds.

    Args:
        model: "module:Class".
        parts: export part name -> `Part`, in the order a full export writes them.
        export_kind: the name a model card gives this kind of export (default: the family's).
        raw_text: the model reads raw strings itself (its own preprocessor).
        needs_tokenizer: its export packs the WordPiece tokenizer into the graph.
    """

    model: str
    parts: dict = dataclasses.field(default_factory=dict)
    export_kind: str | None = None
    raw_text: bool = False
    needs_tokenizer: bool = False


@dataclasses.dataclass(frozen=True)
class Fixtures:
    """What the shared model tests (`tests/helpers.py`) need of a family.

    Args:
        tiny: preset name -> build arguments that make it small enough for a test.
        cases: `(preset, head or None, build arguments)`: one per model class and option the
            shared save/load, precision and training-step tests must cover.
        example_inputs: `(model, batch, seed)` -> a batch of valid inputs (numpy).
        training_batch: `(model, batch, seed)` -> `(x, y, keras loss)` for a `fit` step
            (`(x, None, None)` for a model with its own loss; None for one without a loss).
    """

    tiny: dict
    cases: tuple
    example_inputs: Callable
    training_batch: Callable


@dataclasses.dataclass(frozen=True)
class Converter:
    """How a family reads another library's checkpoints.

    Args:
        format: a `zoo.convert` source format: "transformers", "keras_hub",
            "bert_original" or "timm".
        architectures: the names it converts, as the source's config spells them
            (Transformers' `architectures`, KerasHub's class names, timm's model names;
            a trailing "*" matches a prefix, e.g. "vit_*").
        load: "module:function" called as `load(source, head)` with a
            `zoo.checkpoints.converted.Source` and the head asked for (None: the source's own)
            -> `zoo.checkpoints.converted.Converted`.
    """

    format: str
    architectures: tuple
    load: str


@dataclasses.dataclass(frozen=True)
class Family:
    """A model family (see the module docstring)."""

    name: str
    paper: str
    presets: dict
    heads: dict
    default_head: str
    serves: dict
    objectives: dict = dataclasses.field(default_factory=dict)
    transfer: str | None = None
    fixtures: Fixtures | None = None
    converters: tuple = ()
    hf_export: str | None = None

    def problems(self) -> list[str]:
        """What is inconsistent in the declaration (empty when it is sound)."""
        found = []
        if self.default_head not in self.heads:
            found.append(f"default_head '{self.default_head}' is not one of its heads "
                         f"({', '.join(sorted(self.heads))})")
        for kind, head in {**self.serves}.items():
            if head is not None and head not in self.heads:
                found.append(f"serves {kind} with head '{head}', which it does not have")
        for kind in self.objectives:
            if kind not in self.serves:
                found.append(f"overrides the objective of {kind}, which it does not serve")
        for name, preset in self.presets.items():
            head = preset.get("task", self.default_head)
            if head not in self.heads:
                found.append(f"preset '{name}' builds head '{head}', which it does not have")
            missing = [key for key in ("config", "params", "description") if key not in preset]
            if missing:
                found.append(f"preset '{name}' lacks {', '.join(missing)}")
        return found
