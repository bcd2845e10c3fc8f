"""The model registry: every named variant of every family, and how to build it.

Variants are data (each family's `presets.py`); this module registers them
once and builds them by name. It imports no TensorFlow until a model is built,
so `import zoo` stays fast.

Example:

>>> import zoo
>>> zoo.list_models("vit_*_patch16_224")
['vit_base_patch16_224', 'vit_small_patch16_224', 'vit_tiny_patch16_224']
>>> zoo.describe("bert_tiny")["params"]
4385920
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import json

from zoo.registry import Registry


@dataclasses.dataclass(frozen=True)
class Family:
    """A model family: its tasks (name -> "module:Class"), default task and paper."""

    name: str
    tasks: dict
    default_task: str
    paper: str


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A registered variant: constructor arguments of its family's task class."""

    name: str
    family: str
    task: str
    config: dict
    params: int
    description: str

    def to_dict(self):
        family = FAMILIES[self.family]
        return {
            "name": self.name,
            "family": self.family,
            "task": self.task,
            "tasks": sorted(family.tasks),
            "class": family.tasks[self.task],
            "config": copy.deepcopy(self.config),
            "params": self.params,
            "description": self.description,
            "paper": family.paper,
        }


FAMILIES = {
    "transformer": Family(
        "transformer",
        {"seq2seq": "zoo.models.transformer.transformer_seq2seq:TransformerSeq2Seq"},
        "seq2seq",
        "zoo.models.transformer.presets",
    ),
    "bert": Family(
        "bert",
        {
            "backbone": "zoo.models.bert.bert_backbone:BertBackbone",
            "masked_lm": "zoo.models.bert.bert_tasks:BertMaskedLM",
            "classifier": "zoo.models.bert.bert_tasks:BertClassifier",
        },
        "backbone",
        "zoo.models.bert.presets",
    ),
    "vit": Family(
        "vit", {"classifier": "zoo.models.vit.vit_classifier:ViTClassifier"}, "classifier",
        "zoo.models.vit.presets",
    ),
    "vae": Family(
        "vae",
        {"vae": "zoo.models.vae.vae:VAE", "autoencoder": "zoo.models.vae.vae:Autoencoder"},
        "vae",
        "zoo.models.vae.presets",
    ),
    "hub": Family(
        "hub", {"text_classifier": "zoo.hub.classifier:HubTextClassifier"}, "text_classifier",
        "zoo.hub.presets",
    ),
}

MODELS = Registry("model")


def _register_presets():
    for family_name, family in list(FAMILIES.items()):
        presets = importlib.import_module(family.paper)
        # The family's paper is read from its presets module, beside the variants.
        FAMILIES[family_name] = dataclasses.replace(family, paper=presets.PAPER)
        for name, preset in presets.PRESETS.items():
            MODELS.register(
                name,
                ModelSpec(
                    name=name,
                    family=family_name,
                    task=preset.get("task", family.default_task),
                    config=preset["config"],
                    params=preset["params"],
                    description=preset["description"],
                ),
            )


_register_presets()


def list_models(pattern: str | None = None) -> list[str]:
    """Registered model names, naturally sorted, filtered by a shell-style pattern.

    >>> import zoo
    >>> zoo.list_models("bert_*")
    ['bert_base', 'bert_medium', 'bert_mini', 'bert_small', 'bert_tiny']
    """
    return MODELS.names(pattern)


def get_spec(name: str) -> ModelSpec:
    """The `ModelSpec` of `name`; an unknown name raises with the closest names."""
    return MODELS.get(name)


def describe(name: str) -> dict:
    """Family, task, config, parameter count, description and paper of a variant.

    >>> import zoo
    >>> info = zoo.describe("vit_base_patch16_224")
    >>> info["family"], info["params"]
    ('vit', 86567656)
    """
    return get_spec(name).to_dict()


def model_class(family: str, task: str):
    """The Keras class that implements `task` of `family`."""
    fam = FAMILIES[family]
    if task not in fam.tasks:
        raise ValueError(
            f"The {family} family has no task '{task}'; choose one of: {', '.join(sorted(fam.tasks))}."
        )
    module, _, cls = fam.tasks[task].partition(":")
    return getattr(importlib.import_module(module), cls)


#: The default of a constructor argument that has none (it must be given).
REQUIRED = object()


def _module_tree(module):
    """The parsed source of a zoo module, found by its path (nothing is imported: the model
    modules import TensorFlow)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    path = root.joinpath(*module.split(".")[1:]).with_suffix(".py")
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _literal(node):
    import ast

    try:
        return ast.literal_eval(node)
    except ValueError:
        return REQUIRED if node is None else None


def _init_defaults(tree, cls_name=None) -> dict:
    """`{argument: default}` of the `__init__` of class `cls_name` (of every class when None)
    in a parsed module."""
    import ast

    found = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and cls_name in (None, node.name):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    args = item.args.args[1:]
                    defaults = [None] * (len(args) - len(item.args.defaults)) + item.args.defaults
                    found.update({a.arg: _literal(d) for a, d in zip(args, defaults)})
    return found


def _backbone_args(tree) -> dict:
    """A module's `BACKBONE_ARGS` (defined in it, or imported from another zoo module) with
    their defaults in the module that defines them."""
    import ast

    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                getattr(t, "id", None) == "BACKBONE_ARGS" for t in node.targets):
            defaults = _init_defaults(tree)
            return {arg: defaults.get(arg) for arg in _literal(node.value) or ()}
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("zoo.") \
                and any(a.name == "BACKBONE_ARGS" for a in node.names):
            return _backbone_args(_module_tree(node.module))
    return {}


def constructor_defaults(name: str, task: str | None = None) -> dict:
    """The constructor arguments `build(name, task)` accepts, each with the default its
    config (else the class's signature) gives it (`REQUIRED` when it has none; None when the
    signature's default is not a literal), read from the source without importing TensorFlow.
    Raises UnknownNameError (closest names) for an unknown model, ValueError for a task the
    family does not have."""
    spec = get_spec(name)
    family = FAMILIES[spec.family]
    task = task or spec.task
    if task not in family.tasks:
        raise ValueError(f"The {spec.family} family has no task '{task}'; choose one of: "
                         f"{', '.join(sorted(family.tasks))}.")
    module, _, cls_name = family.tasks[task].partition(":")
    tree = _module_tree(module)
    found = {"name": None, "dtype": None, **_init_defaults(tree, cls_name), **_backbone_args(tree)}
    found.update(copy.deepcopy(spec.config))
    return found


def _accepted_arguments(cls, spec):
    params = inspect.signature(cls.__init__).parameters
    accepted = {n for n, p in params.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    accepted.discard("self")
    accepted |= set(spec.config) | {"name", "dtype"}
    backbone_args = getattr(importlib.import_module(cls.__module__), "BACKBONE_ARGS", ())
    return accepted | set(backbone_args)


def resolve_config(name: str, task: str | None = None, **overrides) -> tuple[ModelSpec, str, dict]:
    """The spec, task and full constructor arguments `build` would use."""
    spec = get_spec(name)
    task = task or spec.task
    cls = model_class(spec.family, task)
    accepted = _accepted_arguments(cls, spec)
    import difflib

    for key in overrides:
        if key not in accepted:
            close = difflib.get_close_matches(key, sorted(accepted), n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise ValueError(
                f"'{key}' is not an argument of {name} ({cls.__name__}).{hint} "
                f"Arguments: {', '.join(sorted(accepted))}."
            )
    if overrides.get("dtype") is not None:  # a typo fails here, naming the policies
        from zoo.models import dtype_policy

        policy = dtype_policy.resolve(overrides["dtype"])
        if not isinstance(overrides["dtype"], (str, dict)):  # a DTypePolicy: as configs hold it
            overrides["dtype"] = dtype_policy.serialize(policy)
    config = {**copy.deepcopy(spec.config), **overrides}
    json.dumps(config)  # Configs are flat JSON data; fail here, not at save time.
    return spec, task, config


def build(name: str, task: str | None = None, **overrides):
    """Builds the registered variant `name`, with any constructor argument overridden.

    Args:
        name: str. A registered name (`zoo.list_models()`).
        task: str. For families with several heads: BERT's "backbone" (default),
            "masked_lm" or "classifier"; the VAE family's "vae" or "autoencoder".
        **overrides: constructor arguments that replace the variant's; `dtype` is the Keras
            dtype policy to build in (e.g. "mixed_bfloat16"; default the global policy),
            kept in the model's config, so a saved model reloads in it.

    Example:

    >>> import zoo
    >>> model = zoo.build("vit_tiny_patch4_28", num_classes=10)
    >>> model.count_params() == zoo.describe("vit_tiny_patch4_28")["params"]
    True
    """
    spec, task, config = resolve_config(name, task, **overrides)
    cls = model_class(spec.family, task)
    return cls(**config)


def load_model(path, safe_mode=True):
    """Loads a `.keras` file saved from any zoo model (no custom objects needed).

    Importing every family registers its classes with Keras, after which
    `keras.saving.load_model` works too. The file loads in Keras' safe mode: a file that holds
    code (a Python lambda; a `zoo.hub.HubLayer` on a SavedModel that is not a `zoo:` entry's)
    raises `zoo.safety.UnsafeCodeError` naming the file, unless `safe_mode=False` says that
    you trust it and its code may run. Any other failure to rebuild it (an unknown class or
    function, a broken config, weights that do not fit) raises `zoo.safety.ModelFileError`:
    one line naming the file and Keras' reason.
    """
    import_all_families()
    import keras

    from zoo import safety

    with safety.loading(path, safe_mode):
        return keras.saving.load_model(path, safe_mode=safe_mode)


def import_all_families():
    """Imports every family's classes so Keras can deserialize them by name."""
    for family in FAMILIES.values():
        for task in family.tasks:
            model_class(family.name, task)
