"""Builds the reference fixtures that prove zoo's checkpoint conversion exact.

Each module in `scripts/reference/` builds small randomly initialised models with another
library (Transformers on PyTorch, KerasHub, TensorFlow for Google's original BERT layout,
timm), saves them in that library's own layout, runs them on fixed inputs and stores the
inputs and outputs (`scripts/reference/common.py`). `tests/test_convert_*.py` convert the
committed fixtures with zoo and compare, without importing torch.

    pip install -e ".[reference]"          # torch==2.13.0 (CPU build), transformers, keras-hub
    python scripts/make_reference_fixtures.py             # every case but timm's
    python scripts/make_reference_fixtures.py --only bert # one module's cases
    python scripts/make_reference_fixtures.py --canonical # also the canonical-size checks

timm's cases need timm, which needs torchvision: on these machines `torch==2.14.1
torchvision==0.29.1 timm` in an environment of their own (~5.5 GB; zoo and TensorFlow are
not needed there: the driver imports no library at the top of a module):

    python -m venv /tmp/timmvenv && /tmp/timmvenv/bin/pip install \\
        torch==2.14.1 torchvision==0.29.1 timm safetensors numpy
    /tmp/timmvenv/bin/python scripts/make_reference_fixtures.py --only timm

CI runs the first command (every case but timm's, whose fixtures stay committed) before the
tests, so the fixtures are remade by the libraries of the day.

Modules declare `CASES` (case name -> function(out folder)) and may declare `CANONICAL`
(name -> function() -> dict of measured differences at a paper's size) and `SEPARATE = True`
(run only when named with --only, as timm's).
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts import reference  # noqa: E402
from scripts.reference.common import FIXTURES  # noqa: E402

CANONICAL_REPORT = ROOT / "benchmarks" / "reference" / "canonical.json"


def modules():
    names = sorted(m.name for m in pkgutil.iter_modules(reference.__path__) if m.name != "common")
    return {name: importlib.import_module(f"scripts.reference.{name}") for name in names}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated module names (e.g. bert,vit)")
    parser.add_argument("--out", type=Path, default=FIXTURES, help="fixture folder")
    parser.add_argument("--canonical", action="store_true",
                        help="also check equality at the canonical sizes (minutes)")
    args = parser.parse_args(argv)
    found = modules()
    if args.only:
        wanted = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in wanted if name not in found]
        if unknown:
            parser.error(f"unknown module(s) {', '.join(unknown)}; modules: {', '.join(found)}")
        chosen = {name: found[name] for name in wanted}
    else:
        chosen = {n: m for n, m in found.items() if not getattr(m, "SEPARATE", False)}
    args.out.mkdir(parents=True, exist_ok=True)
    for name, module in chosen.items():
        for case, make in module.CASES.items():
            start = time.perf_counter()
            make(args.out)
            print(f"{name}: {case} ({time.perf_counter() - start:.1f} s)", flush=True)
    if args.canonical:
        for name, module in chosen.items():
            for check, run in getattr(module, "CANONICAL", {}).items():
                start = time.perf_counter()
                result = {**run(), "seconds": round(time.perf_counter() - start, 1)}
                print(f"{name}: canonical {check}: {result}", flush=True)
                _record(check, result)


def _record(check: str, result: dict) -> None:
    """Writes one check's result into the canonical report, re-reading the file just before
    (another run may have written other checks meanwhile) and replacing it atomically."""
    report = json.loads(CANONICAL_REPORT.read_text()) if CANONICAL_REPORT.is_file() else {}
    report[check] = result
    CANONICAL_REPORT.parent.mkdir(parents=True, exist_ok=True)
    partial = CANONICAL_REPORT.with_suffix(".json.partial")
    partial.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    partial.replace(CANONICAL_REPORT)


if __name__ == "__main__":
    main()
