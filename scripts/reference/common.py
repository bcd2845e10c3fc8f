"""Writing one reference case: the source checkpoint in its own library's layout, the inputs
it was run on and the outputs it gave.

A case folder `tests/fixtures/reference/<case>/` holds:
- `source/`: the checkpoint exactly as the library writes it (what `zoo convert` reads);
- `inputs.npz`, `expected.npz`: numpy arrays, no pickles (input name -> array; output
  name -> array, float32 unless ids);
- `meta.json`: the library and version that made it, the architecture, the outputs compared
  and the tolerance, and any settings a test needs (e.g. generation length).
"""

from __future__ import annotations

import json
import platform
import shutil
from pathlib import Path

import numpy as np

#: Where the committed fixtures live.
FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "reference"
#: The largest absolute difference a converted model may show (float32).
TOLERANCE = 1e-5


def case_folder(out: Path, case: str) -> Path:
    """An empty `out/case/source` folder to write the checkpoint into (the case's old files
    are removed first); returns `out/case/source`."""
    folder = Path(out) / case
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "source").mkdir(parents=True)
    return folder / "source"


def write_case(out: Path, case: str, inputs: dict, expected: dict, meta: dict) -> None:
    """Writes `inputs.npz`, `expected.npz` and `meta.json` of `case` (its `source/` must be
    written already, by `case_folder`)."""
    folder = Path(out) / case
    np.savez(folder / "inputs.npz", **{k: np.asarray(v) for k, v in inputs.items()})
    np.savez(folder / "expected.npz", **{k: np.asarray(v) for k, v in expected.items()})
    meta = {"tolerance": TOLERANCE, "python": platform.python_version(), **meta}
    (folder / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")


def versions(*modules) -> dict:
    """`{"torch": "2.13.0", ...}` of the given imported modules."""
    return {m.__name__: getattr(m, "__version__", "?") for m in modules}
