"""Reading a committed reference case (see `scripts/reference/common.py`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "reference"


def case(name: str):
    """`(source folder, inputs, expected, meta)` of case `name`: inputs and expected as dicts
    of numpy arrays."""
    folder = FIXTURES / name
    with np.load(folder / "inputs.npz", allow_pickle=False) as f:
        inputs = {k: f[k] for k in f.files}
    with np.load(folder / "expected.npz", allow_pickle=False) as f:
        expected = {k: f[k] for k in f.files}
    return folder / "source", inputs, expected, json.loads((folder / "meta.json").read_text())


def max_difference(a, b) -> float:
    """The largest absolute difference between two arrays of one shape."""
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b))) if a.size else 0.0
