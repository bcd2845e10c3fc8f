"""A source config's fields read with their JSON types checked: a converter that reads
`int(config["hidden_size"])` turns `"two"` into a traceback, `32.7` into 32 and `true` into 1,
and `bool("false")` is True. These read a field as the type the source library gives it and
raise `ConversionError` naming the file, the field, its value and the type expected.

>>> integer({"hidden_size": 32}, "hidden_size", "config.json")
32
>>> try:
...     integer({"hidden_size": "32"}, "hidden_size", "config.json")
... except ConversionError as error:
...     print(error)
config.json: hidden_size is '32' (a string); expected a whole number (JSON integer).
"""

from __future__ import annotations

from zoo.checkpoints.errors import ConversionError

#: The default meaning "the field must be there".
REQUIRED = object()


def _value(config, field, file, default):
    if field not in config:
        if default is REQUIRED:
            raise ConversionError(f"{file}: the field {field!r} is missing, and zoo needs it "
                                  "to build the model. Use the file saved with the weights "
                                  "(the library writes it), or add the field.")
        return default, True
    return config[field], False


def _wrong(file, field, value, expected):
    kind = {str: "a string", bool: "a boolean", list: "a list", dict: "an object",
            type(None): "null", float: "a number", int: "a whole number"}.get(
        type(value), type(value).__name__)
    return ConversionError(f"{file}: {field} is {value!r} ({kind}); expected {expected}.")


def integer(config: dict, field: str, file: str, default=REQUIRED, minimum: int = 0) -> int:
    """`config[field]` as an int: a JSON integer (or a number with no fraction, 32.0) of at
    least `minimum`; `default` when the field is absent (REQUIRED: an error).

    Raises:
        ConversionError: missing, not a whole number (a string, a boolean, 32.5, null), or
            below `minimum`.
    """
    value, defaulted = _value(config, field, file, default)
    if defaulted:
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong(file, field, value, "a whole number (JSON integer)")
    if value < minimum:
        raise ConversionError(f"{file}: {field} is {value}; expected at least {minimum}.")
    return value


def number(config: dict, field: str, file: str, default=REQUIRED, minimum: float | None = None,
           maximum: float | None = None) -> float:
    """`config[field]` as a float (a JSON number) within `[minimum, maximum]`; `default`
    when the field is absent.

    Raises:
        ConversionError: missing, not a number (a string, a boolean, null), or out of range.
    """
    value, defaulted = _value(config, field, file, default)
    if defaulted:
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong(file, field, value, "a number")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else \
            f"at least {minimum}"
        raise ConversionError(f"{file}: {field} is {value}; expected {bounds}.")
    return float(value)


def flag(config: dict, field: str, file: str, default=REQUIRED) -> bool:
    """`config[field]` as a bool (JSON true or false; `bool("false")` would be True).

    Raises:
        ConversionError: missing, or not true or false.
    """
    value, defaulted = _value(config, field, file, default)
    if defaulted:
        return value
    if not isinstance(value, bool):
        raise _wrong(file, field, value, "true or false")
    return value


def pair(config: dict, field: str, file: str, default=REQUIRED, minimum: int = 1) -> list[int]:
    """`config[field]` as `[height, width]`: one whole number (a square) or a list of two,
    each at least `minimum` (an image or patch size); `default` when the field is absent.

    Raises:
        ConversionError: missing, or not one or two whole numbers of at least `minimum`.
    """
    value, defaulted = _value(config, field, file, default)
    if defaulted:
        return value
    items = value if isinstance(value, list | tuple) else [value]
    items = [int(v) if isinstance(v, float) and v.is_integer() else v for v in items]
    if len(items) not in (1, 2) or any(isinstance(v, bool) or not isinstance(v, int)
                                       for v in items):
        raise _wrong(file, field, value, "a whole number or a list of two")
    if min(items) < minimum:
        raise ConversionError(f"{file}: {field} is {value}; expected sides of at least "
                              f"{minimum}.")
    return items * 2 if len(items) == 1 else items


def numbers(config: dict, field: str, file: str, default=REQUIRED) -> list[float]:
    """`config[field]` as a list of floats: one JSON number or a list of them (per-channel
    image means and deviations); `default` when the field is absent.

    Raises:
        ConversionError: missing, empty, or holding anything but numbers (strings, booleans,
            null).
    """
    value, defaulted = _value(config, field, file, default)
    if defaulted:
        return value
    items = value if isinstance(value, list | tuple) else [value]
    if not items or any(isinstance(v, bool) or not isinstance(v, int | float) for v in items):
        raise _wrong(file, field, value, "a number or a list of numbers")
    return [float(v) for v in items]
