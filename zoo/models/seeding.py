"""The random draws of a Keras model: every `keras.random.SeedGenerator` its layers draw with
(dropout's masks, a VAE's posterior noise), so that a stage can make each draw a function of a
seed and a position (a training step, an evaluation batch) instead of the calls made before.

A generator's draw uses its state and then counts the state up by one, so setting the state
before a step decides every draw of that step (`set_states`).

A model's fresh weights are a function of the draws made while it is built: `scope(seed)`
makes them a function of `seed` alone, without changing the caller's own random draws.
"""

from __future__ import annotations

import contextlib
import random

import numpy as np


def seed_generators(model) -> list:
    """Every `keras.random.SeedGenerator` of `model` and its layers, each once, in the model's
    layer order (the same for the same architecture)."""
    found, seen = [], set()
    for layer in model._flatten_layers(include_self=True, recursive=True):
        for generator in layer._seed_generators:
            if id(generator) not in seen:
                seen.add(id(generator))
                found.append(generator)
    return found


def set_states(generators, seed: int, position: int) -> None:
    """Sets generator `i`'s state to `[seed + i, position]` (eager): its next draw is Keras'
    stateless draw from that pair, a function of `(seed, position)` alone. (A fresh
    `SeedGenerator(s)` starts at `[s, 0]` and draws its `k`-th time from `[s, k]`, so
    `set_states(generators, s, k)` before the `k`-th call of a fresh model changes nothing.)"""
    for index, generator in enumerate(generators):
        generator.state.assign([seed + index, position])


@contextlib.contextmanager
def scope(seed: int):
    """Within: every seed Keras draws for itself comes from `seed`, as after
    `keras.utils.set_random_seed(seed)`: an initializer or `SeedGenerator` made without a seed
    takes one from Python's `random`, and `keras.random` calls without one draw from Keras'
    global `SeedGenerator` (made afresh from Python's `random`); NumPy's global generator is
    seeded too. So a model built within has the same fresh weights and dropout seeds for the
    same `seed` (and code), whatever ran before. After: Python's and NumPy's global states and
    Keras' global seed and `SeedGenerator` are as they were, so the caller's draws go on as if
    the scope had not run.

    TensorFlow's global seed is left alone: building a Keras model does not draw from it, and
    `tf.random.set_seed` cannot be undone (it restarts the caller's op-seed sequences).

    Args:
        seed: an integer in [0, 2**32) (NumPy's seeds).
    """
    from keras.src.backend.common import global_state
    from keras.src.random.seed_generator import GLOBAL_SEED_GENERATOR
    from keras.src.utils.rng_utils import GLOBAL_RANDOM_SEED

    keras_names = (GLOBAL_RANDOM_SEED, GLOBAL_SEED_GENERATOR)
    saved_python, saved_numpy = random.getstate(), np.random.get_state()
    saved_keras = {name: global_state.get_global_attribute(name) for name in keras_names}
    random.seed(seed)
    np.random.seed(seed)
    global_state.set_global_attribute(GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(GLOBAL_SEED_GENERATOR, None)  # made afresh when drawn
    try:
        yield
    finally:
        random.setstate(saved_python)
        np.random.set_state(saved_numpy)
        for name, value in saved_keras.items():
            global_state.set_global_attribute(name, value)
