"""Argument checks shared by the model constructors.

They raise `ValueError` at build time with the argument's name, its value and
what would be accepted, so an impossible config never reaches TensorFlow.
"""


def check_positive(**values):
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")


def check_non_negative(**values):
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")


def check_rate(**values):
    for name, value in values.items():
        if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be a number in [0, 1), got {value!r}.")


def check_divisible(name, value, by_name, by):
    if value % by:
        raise ValueError(
            f"{name}={value} must be divisible by {by_name}={by}; "
            f"change one of them (e.g. {name}={max(by, value - value % by)})."
        )


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}.")


def pair(name, value):
    """An int or a pair of ints as a `(height, width)` tuple."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}.")
        check_positive(**{f"{name}[0]": value[0], f"{name}[1]": value[1]})
        return int(value[0]), int(value[1])
    check_positive(**{name: value})
    return int(value), int(value)
