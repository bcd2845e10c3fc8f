"""The dtype policy a zoo model is built in, kept in its config like a Keras layer's.

Keras' own layers take `dtype` (a policy name such as "mixed_bfloat16", or a `DTypePolicy`)
and keep it in their config, so a saved layer reloads in the precision it was built in. A zoo
model builds its layers in its constructor, and Keras' functional models drop a `dtype`
argument: `@builds_in_policy` on a model's `__init__` takes `dtype` (default: the global
policy, as for any Keras layer) and builds every layer the constructor makes under it, and
the model's `get_config` keeps it (`config_value`). A file saved under "mixed_bfloat16" then
reloads as "mixed_bfloat16" in any process; a config without `dtype` (files saved before
zoo kept it, and the published entries, trained in float32) builds under the global policy,
as before.

Example:

>>> import zoo
>>> model = zoo.build("vit_tiny_patch2_8", num_layers=1, dtype="mixed_bfloat16")
>>> model.dtype_policy.name, model.get_layer("encoder_block_0").compute_dtype
('mixed_bfloat16', 'bfloat16')
>>> type(model).from_config(model.get_config()).dtype_policy.name
'mixed_bfloat16'
"""

from __future__ import annotations

import contextlib
import functools
import inspect

from zoo.registry import did_you_mean

#: The Keras dtype policies a training run may use (`precision` in recipes and `zoo train`,
#: which also take "auto": see `zoo.training.precision`), and that `run.json` records.
TRAINING_POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
#: Every policy a zoo model may be built in: the training ones and whole-model float dtypes.
NAMES = TRAINING_POLICIES + ("float16", "bfloat16", "float64")


def resolve(dtype):
    """The `keras.DTypePolicy` for `dtype`: None is the current global policy; a name, a
    `DTypePolicy` or its serialized dict (what a config holds) is that policy.

    Raises:
        ValueError: naming the value, the policies accepted and the closest name.
    """
    import keras

    if dtype is None:
        return keras.config.dtype_policy()
    try:
        policy = keras.dtype_policies.get(dtype)
    except (ValueError, TypeError):
        policy = None
    if policy is None or not keras.backend.is_float_dtype(policy.compute_dtype):
        hint = did_you_mean(dtype, NAMES)
        raise ValueError(
            f"dtype must be a floating-point Keras dtype policy ({', '.join(NAMES)}), got "
            f"{dtype!r}.{' ' + hint if hint else ''}")
    return policy


@contextlib.contextmanager
def scope(dtype):
    """Within: `dtype`'s policy is the global one (thread-local, as Keras keeps it), so
    every layer made without its own `dtype` takes it. Yields the policy."""
    import keras

    policy = resolve(dtype)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield policy
    finally:
        keras.config.set_dtype_policy(previous)


def builds_in_policy(init):
    """Decorates a zoo model's `__init__`: a `dtype` argument (see `resolve`) is the policy
    every layer the constructor makes is built in, and the model's own."""

    @functools.wraps(init)
    def wrapper(self, *args, dtype=None, **kwargs):
        with scope(dtype):
            init(self, *args, **kwargs)

    # The signature Keras (which inspects constructors) and `zoo.build` see: `init`'s, with
    # `dtype` as a keyword argument.
    signature = inspect.signature(init)
    parameters = list(signature.parameters.values())
    at = next((i for i, p in enumerate(parameters) if p.kind is p.VAR_KEYWORD), len(parameters))
    parameters.insert(at, inspect.Parameter("dtype", inspect.Parameter.KEYWORD_ONLY,
                                            default=None))
    wrapper.__signature__ = signature.replace(parameters=parameters)
    return wrapper


def serialize(policy):
    """`policy` as Keras' own layers write it in their config."""
    import keras

    return keras.dtype_policies.serialize(policy)


def config_value(layer):
    """`layer`'s policy as Keras' own layers write it in their config."""
    return serialize(layer.dtype_policy)


def recorded(run_info) -> str | None:
    """The policy a training run recorded (`run.json: precision`), or None where it records
    none: what a model whose config predates `dtype` was trained in."""
    precision = (run_info or {}).get("precision")
    return precision if precision in TRAINING_POLICIES else None
