"""From a resolved source to a zoo model: the family whose `converters` claim its format and
architecture (`zoo.models.catalog`; no family is named here), its loader, and `build`'s
checks of a preset and of overrides against the checkpoint."""

from __future__ import annotations

from zoo.checkpoints.converted import Converted, Source
from zoo.checkpoints.errors import ConversionError
from zoo.convert import sources
from zoo.models import catalog
from zoo.models.family import load as load_reference
from zoo.registry import did_you_mean


def _claims(pattern: str, architecture: str) -> bool:
    """Whether a `Converter.architectures` entry names `architecture` (a trailing "*" is a
    prefix)."""
    if pattern.endswith("*"):
        return architecture.startswith(pattern[:-1])
    return pattern == architecture


def supported() -> dict:
    """Format -> `[(architecture pattern, family), ...]`: what every family converts."""
    found = {fmt: [] for fmt in sources.FORMATS}
    for family in catalog.families().values():
        for converter in family.converters:
            for pattern in converter.architectures:
                found.setdefault(converter.format, []).append((pattern, family.name))
    return found


def converter_for(source: Source):
    """`(family, converter)` that converts `source`'s format and architecture.

    Raises:
        ConversionError: no family claims it; the message lists what each format converts
            (with the families) and the closest architecture names.
    """
    for family in catalog.families().values():
        for converter in family.converters:
            if converter.format == source.format and any(
                    _claims(p, source.architecture) for p in converter.architectures):
                return family, converter
    claimed = supported()
    names = [p.rstrip("*") for p, _ in claimed.get(source.format, [])]
    hint = did_you_mean(source.architecture, names)
    listing = "; ".join(
        f"{fmt}: " + (", ".join(f"{p} ({fam})" for p, fam in pairs) or "none yet")
        for fmt, pairs in claimed.items())
    raise ConversionError(
        f"{source.location} is a {source.format} checkpoint of {source.architecture}, which no "
        f"zoo family converts.{' ' + hint if hint else ''} Zoo converts {listing}.")


def load(location, head: str | None = None, *, progress: bool | None = None,
         argument: str = "head") -> Converted:
    """The zoo model converted from checkpoint `location` (see `zoo.convert`); `argument`
    is how the caller named `head` ("head", or "--head" on the command line), for messages."""
    source = sources.resolve(location, progress=True if progress is None else progress)
    return convert(source, head, argument=argument)


def convert(source: Source, head: str | None = None, *, argument: str = "head") -> Converted:
    """`source` converted by the family that claims it, as `head` (None: the head that
    matches the checkpoint's own architecture, as the family decides).

    Args:
        argument: the name the caller gave `head` under, as messages should say it: a Python
            keyword ("head" of `zoo.convert.load`, "task" of `zoo.build`) or a command-line
            option ("--head").

    Raises:
        ConversionError: a head the family has not (the closest of its heads suggested, in
            the caller's terms: `task='clasifier'` or `--head clasifier`); what the family's
            converter raises.
    """
    family, converter = converter_for(source)
    if head is not None and head not in family.heads:
        hint = did_you_mean(head, family.heads)
        given = f"{argument} {head}" if argument.startswith("-") else f"{argument}={head!r}"
        raise ConversionError(
            f"{given}: the {family.name} family has no such head, so {source.location} "
            f"cannot be converted as one.{' ' + hint if hint else ''} Its heads: "
            f"{', '.join(family.heads)}.")
    converted = load_reference(converter.load)(source, head)
    if not isinstance(converted, Converted):
        raise TypeError(f"{converter.load} returned {type(converted).__name__}, not a "
                        "zoo.checkpoints.converted.Converted.")
    return converted


#: Constructor arguments an override may change on a converted model: they change training
#: (dropout) or the precision it computes in, not what the weights compute.
def _free(key: str) -> bool:
    return key in ("name", "dtype") or "dropout" in key


def build(name: str, task: str | None, weights, **overrides):
    """`zoo.build(name, task, weights=...)`: the checkpoint `weights` converted, checked
    against `name`.

    Args:
        name: a family name (any size the checkpoint has) or a preset, whose architecture must
            be the checkpoint's.
        task: the head to build (None: the checkpoint's own).
        weights: the source (folder or `hf://ORG/NAME[@REVISION]`).
        **overrides: constructor arguments; only dropout rates and `dtype` may differ from
            the checkpoint's (the others are its architecture).

    Raises:
        ConversionError: `name` is of another family than the checkpoint; a preset whose
            config differs (listing each field, the preset's and the checkpoint's value); an
            override that changes the architecture; what the conversion raises.
    """
    source = sources.resolve(weights)
    family, _ = converter_for(source)
    if name in catalog.families():
        preset = None
        if name != family.name:
            raise ConversionError(f"{source.describe()} is converted by the {family.name} "
                                  f"family, not {name}: build it as '{family.name}' or one of "
                                  f"its presets.")
    else:
        preset = catalog.get_spec(name)  # UnknownNameError with the closest names
        if preset.family != family.name:
            raise ConversionError(f"{name} is a {preset.family} model, but {source.describe()} "
                                  f"is converted by the {family.name} family: build it as "
                                  f"'{family.name}' (the checkpoint's size) or as one of that "
                                  "family's presets.")
    converted = convert(source, task, argument="task")
    model = converted.model
    config = model.get_config()
    if preset is not None:
        _check_preset(name, preset, converted.head, config, source)
    return _with_overrides(model, config, overrides, source)


def _check_preset(name, preset, head, config, source):
    expected = catalog.constructor_defaults(name, head)
    differing = []
    for key, value in expected.items():
        if key not in config or _free(key) or value in (None, catalog.REQUIRED):
            continue
        if key == "num_classes" and key not in preset.config:
            continue  # a head's size its data sets, not the preset's architecture
        if config[key] != value:
            differing.append(f"{key}: {name} has {value!r}, the checkpoint {config[key]!r}")
    if differing:
        raise ConversionError(
            f"{source.describe()} is not a {name}: {'; '.join(differing)}. Build it as "
            f"'{preset.family}' (any size) or as the preset it matches.")


def _with_overrides(model, config, overrides, source):
    if not overrides:
        return model
    changed = {}
    for key, value in overrides.items():
        if key not in config:
            hint = did_you_mean(key, config)
            raise ConversionError(f"'{key}' is not an argument of {type(model).__name__}."
                                  f"{' ' + hint if hint else ''}")
        if config[key] == value:
            continue
        if not _free(key):
            raise ConversionError(
                f"{key}={value!r} would change the architecture of {source.describe()}, which "
                f"has {key}={config[key]!r}; only dropout rates and dtype may be overridden on "
                "a converted model.")
        changed[key] = value
    if not changed:
        return model
    rebuilt = type(model).from_config({**config, **changed})
    rebuilt.set_weights(model.get_weights())
    return rebuilt
