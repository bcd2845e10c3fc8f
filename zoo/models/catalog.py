"""The model registry: every family, every named variant, and how to build it.

Each folder `zoo/models/<family>/` declares its family in `family.py` (`zoo.models.family`):
this module finds the folders, registers their variants (data, each family's `presets.py`)
once, builds them by name, and answers the stages' questions (which family serves a task, with
which head, its objective, its export parts) so that none of them names a family. It imports
no TensorFlow until a model is built, so `import zoo` stays fast.

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
import functools
import importlib
import inspect
import json
from pathlib import Path

from zoo.models.family import Family, load
from zoo.registry import Registry, UnknownNameError, did_you_mean


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A registered variant: constructor arguments of one of its family's heads."""

    name: str
    family: str
    task: str
    config: dict
    params: int
    description: str

    def to_dict(self):
        fam = _families()[self.family]
        return {
            "name": self.name,
            "family": self.family,
            "task": self.task,
            "tasks": sorted(fam.heads),
            "class": fam.heads[self.task].model,
            "serves": sorted(fam.serves),
            "config": copy.deepcopy(self.config),
            "params": self.params,
            "description": self.description,
            "paper": fam.paper,
        }


class FamilyError(TypeError):
    """A family folder whose `family.py` does not declare a sound `FAMILY`; the message names
    the file and what is wrong."""


def _discover(folder=None, package=None) -> dict[str, Family]:
    """Every family: the `family.py` of each subfolder of `folder` (default: `zoo/models/`, as
    package `zoo.models`), with no list to edit. FamilyError naming the file for a
    `family.py` without a sound `FAMILY`."""
    folder = Path(folder) if folder is not None else Path(__file__).resolve().parent
    package = package or __package__
    found = {}
    for path in sorted(folder.glob("*/family.py")):
        name = path.parent.name
        try:
            module = importlib.import_module(f"{package}.{name}.family")
        except Exception as error:  # noqa: BLE001 - any failure: name the file, one line
            raise FamilyError(f"{path} does not import: {type(error).__name__}: "
                              f"{error}.") from error
        declared = getattr(module, "FAMILY", None)
        if not isinstance(declared, Family):
            raise FamilyError(f"{path} must define FAMILY = zoo.models.family.Family(...).")
        problems = ([f"its name is '{declared.name}', not its folder's ('{name}')"]
                    if declared.name != name else []) + declared.problems()
        if problems:
            raise FamilyError(f"{path}: {'; '.join(problems)}.")
        found[name] = declared
    return found


#: Every variant by name; filled, with the families, on the first lookup (`_families`).
MODELS = Registry("model")


@functools.cache
def _families() -> dict[str, Family]:
    """Every family, discovered on first use (not at `import zoo`, so that a broken
    `family.py` is a FamilyError the `zoo` command prints as one line), its presets
    registered in `MODELS`."""
    found = _discover()
    _register_presets(found)
    return found


def _register_presets(found):
    """Registers every family's presets in `MODELS`: all or (FamilyError for a name two
    families use) none."""
    owner = {}
    for fam in found.values():
        for name in fam.presets:
            if name in owner:
                raise FamilyError(f"The model name '{name}' is a preset of both the "
                                  f"{owner[name]} and the {fam.name} family; rename one.")
            owner[name] = fam.name
    for fam in found.values():
        for name, preset in fam.presets.items():
            MODELS.register(
                name,
                ModelSpec(
                    name=name,
                    family=fam.name,
                    task=preset.get("task", fam.default_head),
                    config=preset["config"],
                    params=preset["params"],
                    description=preset["description"],
                ),
            )


def families() -> dict[str, Family]:
    """Every model family by name (sorted), as its `family.py` declares it."""
    return dict(_families())


def family(name: str) -> Family:
    """The family called `name`; UnknownNameError with the closest names and the known ones."""
    if name not in _families():
        hint = did_you_mean(name, _families())
        raise UnknownNameError(f"Unknown model family '{name}'.{' ' + hint if hint else ''} "
                               f"Known model families: {', '.join(_families())}.")
    return _families()[name]


def family_of(model_name: str) -> Family:
    """The family of a registered variant (UnknownNameError with the closest names)."""
    return _families()[get_spec(model_name).family]


def families_serving(task_kind: str) -> list[str]:
    """The families that serve task kind `task_kind`, sorted."""
    return sorted(name for name, fam in _families().items() if task_kind in fam.serves)


def serving_hint(task_kind: str) -> str:
    """"a bert or hub model": what to use for `task_kind`, for error messages ("use ..."),
    which say how to add one when no family serves it (a kind just added)."""
    names = families_serving(task_kind)
    return (f"a {' or '.join(names)} model" if names else
            "a model whose family serves it (none does yet: add the kind to a family's "
            "`serves`, zoo/models/<family>/family.py)")


def head_for(model_name: str, task_kind: str) -> str | None:
    """The head of `model_name` that does `task_kind` (`zoo.build(task=...)`), or None when
    its family does not serve the task (`serving_hint` says what would). UnknownNameError
    (closest names) for an unknown model."""
    spec = get_spec(model_name)
    served = _families()[spec.family].serves
    if task_kind not in served:
        return None
    return served[task_kind] or spec.task


def _head(model_name: str, task_kind: str):
    head = head_for(model_name, task_kind)
    if head is None:
        spec = get_spec(model_name)
        raise ValueError(f"Model '{model_name}' is a {spec.family} model, which does not "
                         f"serve {task_kind}; use {serving_hint(task_kind)}.")
    return _families()[get_spec(model_name).family].heads[head]


def takes_raw_text(model_name: str, task_kind: str) -> bool:
    """Whether the model built for `task_kind` reads raw strings (its own preprocessor), so
    that no WordPiece tokenizer is made for it."""
    return _head(model_name, task_kind).raw_text


def objective_override(model_name: str, task_kind: str):
    """The family's own objective for `task_kind` (a function with the signature of
    `zoo.tasks.<kind>.objective`), or None: the task's objective applies."""
    reference = family_of(model_name).objectives.get(task_kind)
    return None if reference is None else load(reference)


def head_of(model) -> tuple[Family, str]:
    """`(family, head name)` of a built zoo model (or of an instance of a subclass of one).
    ValueError naming the zoo model classes for any other object."""
    for cls in type(model).__mro__:
        reference = f"{cls.__module__}:{cls.__qualname__}"
        for fam in _families().values():
            for head, spec in fam.heads.items():
                if spec.model == reference:
                    return fam, head
    known = sorted(spec.model.rpartition(":")[2] for fam in _families().values()
                   for spec in fam.heads.values())
    raise ValueError(f"{type(model).__name__} is not a zoo model; zoo's are "
                     f"{', '.join(known)}.")


def list_models(pattern: str | None = None) -> list[str]:
    """Registered model names, naturally sorted, filtered by a shell-style pattern.

    >>> import zoo
    >>> zoo.list_models("bert_*")
    ['bert_base', 'bert_medium', 'bert_mini', 'bert_small', 'bert_tiny']
    """
    _families()
    return MODELS.names(pattern)


def get_spec(name: str) -> ModelSpec:
    """The `ModelSpec` of `name`; an unknown name raises with the closest names."""
    _families()
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
    """The Keras class that implements head `task` of `family`."""
    heads = _families()[family].heads
    if task not in heads:
        raise ValueError(
            f"The {family} family has no task '{task}'; choose one of: {', '.join(sorted(heads))}."
        )
    return load(heads[task].model)


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


def constructor_defaults(name: str, task: str | None = None, preset: bool = True) -> dict:
    """The constructor arguments `build(name, task)` accepts, each with the default its
    config (else the class's signature) gives it (`REQUIRED` when it has none; None when the
    signature's default is not a literal), read from the source without importing TensorFlow.
    With `preset=False`, the class signature's defaults only (not the variant's config).
    Raises UnknownNameError (closest names) for an unknown model, ValueError for a task the
    family does not have."""
    spec = get_spec(name)
    heads = _families()[spec.family].heads
    task = task or spec.task
    if task not in heads:
        raise ValueError(f"The {spec.family} family has no task '{task}'; choose one of: "
                         f"{', '.join(sorted(heads))}.")
    module, _, cls_name = heads[task].model.partition(":")
    tree = _module_tree(module)
    found = {"name": None, "dtype": None, **_init_defaults(tree, cls_name), **_backbone_args(tree)}
    if preset:
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
    for key in overrides:
        if key not in accepted:
            hint = did_you_mean(key, sorted(accepted))
            raise ValueError(
                f"'{key}' is not an argument of {name} ({cls.__name__}). "
                f"{hint + ' ' if hint else ''}Arguments: {', '.join(sorted(accepted))}."
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


def build_for_task(name: str, task_kind: str, dims=None, overrides=None):
    """Builds `name` for task kind `task_kind` (a `zoo.tasks` kind) with the head its family
    serves it with.

    Args:
        dims: `(defaults, fixed)` from `zoo.tasks.get(task_kind).model_dims(...)`: the
            arguments that come from the data. `defaults` yield to `overrides`, `fixed`
            override them; of both, only the arguments the model's constructor takes are
            passed (an image classifier without `num_channels` just does not get it).
        overrides: the recipe's `model_overrides`.

    Raises ValueError when the family does not serve `task_kind` (naming the families that
    do) or the constructor refuses the arguments.
    """
    head = _head(name, task_kind)  # refuses a family that does not serve the task
    spec = get_spec(name)
    task = head_for(name, task_kind)
    accepted = _accepted_arguments(load(head.model), spec)
    defaults, fixed = dims or ({}, {})
    config = {key: value for key, value in defaults.items() if key in accepted}
    config.update(overrides or {})
    config.update({key: value for key, value in fixed.items() if key in accepted})
    return build(name, task=task, **config)


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
    for fam in _families().values():
        for head in fam.heads.values():
            load(head.model)
