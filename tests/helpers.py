"""Shared checks that every model family runs (in the spirit of KerasHub's TestCase)."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np

import zoo
from zoo.models import catalog


def _fixtures():
    """Every family's test fixtures (its `family.py`), by family name."""
    return {name: family.fixtures for name, family in catalog.families().items()
            if family.fixtures is not None}


#: Build arguments that make each variant test-sized, from the families' fixtures.
TINY_MODELS = {name: kwargs for fixtures in _fixtures().values()
               for name, kwargs in fixtures.tiny.items()}


def _fixtures_of(model):
    family, _ = catalog.head_of(model)
    if family.fixtures is None:
        raise ValueError(f"The {family.name} family declares no test fixtures (family.py).")
    return family.fixtures


def example_inputs(model, batch=3, seed=0):
    """A batch of valid inputs for any zoo model, as its family's fixtures make them (some
    padding for text models)."""
    return _fixtures_of(model).example_inputs(model, batch=batch, seed=seed)


def as_numpy(outputs):
    if isinstance(outputs, dict):
        return {k: keras.ops.convert_to_numpy(v) for k, v in outputs.items()}
    return keras.ops.convert_to_numpy(outputs)


def assert_outputs_equal(a, b, atol=0.0):
    a, b = as_numpy(a), as_numpy(b)
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_allclose(a[key], b[key], atol=atol, rtol=0, err_msg=key)
    else:
        np.testing.assert_allclose(a, b, atol=atol, rtol=0)


def run_in_fresh_python(code, timeout=300):
    """Runs `code` in a new interpreter (no state shared with the test process)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=timeout, env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def config_round_trip(model):
    """`from_config(json(get_config()))` rebuilds the same configuration."""
    config = json.loads(json.dumps(model.get_config()))
    rebuilt = type(model).from_config(config)
    assert rebuilt.get_config() == model.get_config()
    assert rebuilt.count_params() == model.count_params()
    return rebuilt


def build_tiny(name, **extra):
    return zoo.build(name, **{**TINY_MODELS.get(name, {}), **extra})


# (name, task, build overrides): one case per model class in the zoo, from the families.
MODEL_CASES = [case for fixtures in _fixtures().values() for case in fixtures.cases]


def case_id(case):
    name, task, overrides = case
    return "-".join([name, task or "default"] + [f"{k}={v}" for k, v in overrides.items() if k not in ("vocabulary_size", "max_sequence_length")])


def build_case(case):
    name, task, overrides = case
    return zoo.build(name, task=task, **overrides)


def training_batch(model, batch=8, seed=0):
    """`(x, y, loss)` to train `model` for a step; y and loss are None for models with their
    own loss; None for models without a loss (feature extractors and backbones)."""
    return _fixtures_of(model).training_batch(model, batch=batch, seed=seed)


def cases_by_cost(cases):
    """`cases` as pytest parameters (ids from `case_id`): the first case of each model and
    task as it is, each further variant of its options marked slow, so the default lane builds
    every model once per task and the slow lane runs the variants too."""
    import pytest

    seen, params = set(), []
    for case in cases:
        first = case[:2] not in seen
        seen.add(case[:2])
        params.append(pytest.param(case, id=case_id(case),
                                   marks=() if first else pytest.mark.slow))
    return params


def unknown_token_writer(tokenizer):
    """A one-block `gpt_tiny` over `tokenizer` that greedily writes its unknown token at every
    step: the final norm writes one vector whatever it reads, and only the unknown token's
    embedding points along it."""
    model = zoo.build("gpt_tiny", vocabulary_size=tokenizer.vocabulary_size, num_layers=1,
                      max_sequence_length=16)
    direction = np.ones(model.hidden_dim, "float32")
    model.final_norm.gamma.assign(np.zeros(model.hidden_dim, "float32"))
    model.final_norm.beta.assign(direction)
    table = np.zeros((tokenizer.vocabulary_size, model.hidden_dim), "float32")
    table[tokenizer.unk_id] = direction
    model.token_embedding.embeddings.assign(table)
    return model

