"""The number format a run trains in, and what `precision = "auto"` picks per device.

`auto` resolves to the fastest policy measured correct for the device the strategy runs on
(`scripts/bench_performance.py --only precision` measures it):

- TPU: `mixed_bfloat16` (the TPU's native matmul format).
- GPU of compute capability 7.0 or newer (tensor cores): `mixed_float16`, with loss scaling.
- CPU: `float32`. On the 2-core AMD EPYC with AVX-512 BF16 that the leaderboard runs on,
  `mixed_bfloat16` trained BERT-small 1.39-1.70x faster (four runs of the benchmark) and the
  Transformer-small 1.12-1.58x, but ViT-small 1.09-1.32x and the 1,500-step digits ViT-tiny
  recipe 0.89-1.15x, so it stays an explicit choice there.

The resolved policy is what the run records (`run.json: precision`).

Example:

>>> import tensorflow as tf
>>> resolve("auto", tf.distribute.get_strategy())
'float32'
>>> resolve("mixed_bfloat16", tf.distribute.get_strategy())
'mixed_bfloat16'
"""

from __future__ import annotations

from zoo.models.dtype_policy import TRAINING_POLICIES as POLICIES
from zoo.registry import did_you_mean

#: What a recipe's `precision` and `zoo train --precision` accept: one home for both.
CHOICES = ("auto",) + POLICIES


def device_kind(strategy) -> str:
    """"TPU", "GPU" or "CPU": where `strategy`'s replicas compute."""
    if "TPU" in type(strategy).__name__:
        return "TPU"
    try:
        devices = list(strategy.extended.worker_devices)
    except (AttributeError, RuntimeError):  # the default strategy names no devices
        devices = []
    if any("GPU" in d.upper() for d in devices):
        return "GPU"
    import tensorflow as tf

    if not devices and tf.config.list_logical_devices("GPU"):
        return "GPU"
    return "CPU"


def _tensor_core_gpu() -> bool:
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if capability and tuple(capability) >= (7, 0):
            return True
    return False


def resolve(requested: str, strategy) -> str:
    """The Keras dtype policy to train in for `requested` ("auto" or a policy name)."""
    if requested not in CHOICES:
        hint = did_you_mean(requested, CHOICES)
        raise ValueError(f"precision must be one of {', '.join(CHOICES)}, got '{requested}'."
                         f"{' ' + hint if hint else ''}")
    if requested != "auto":
        return requested
    kind = device_kind(strategy)
    if kind == "TPU":
        return "mixed_bfloat16"
    if kind == "GPU" and _tensor_core_gpu():
        return "mixed_float16"
    return "float32"
