"""`scripts/gpu_check.sh` runs on a machine without a GPU too (`--quick`), so that the GPU check
is not stale when a GPU machine comes: every family trains through `zoo.train`, the report has
its fields, and every number in it is finite."""

import json
import math
import os
import pathlib
import subprocess

import pytest

from zoo.models import catalog

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@pytest.mark.slow
@pytest.mark.multiprocess
def test_the_quick_gpu_check_trains_every_family_and_reports_finite_numbers(tmp_path):
    out = tmp_path / "report.json"
    # mixed_bfloat16 exercises the mixed-precision path and the float32 comparison that "auto"
    # resolves to on a GPU (on a CPU "auto" is float32, with nothing to compare); no XLA, to
    # keep the test to a few minutes (the script falls back without it where it fails).
    command = [str(ROOT / "scripts" / "gpu_check.sh"), "--quick", "--precision", "mixed_bfloat16",
               "--no-xla", "--out", str(out), "--work", str(tmp_path / "work")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text(encoding="utf-8"))

    assert report["quick"] is True and report["passed"] is True
    assert report["precision"] == "mixed_bfloat16" and report["xla_requested"] is False
    assert report["machine"]["hardware"]["cpu"] and "tensorflow" in report["machine"]["packages"]
    peaks = report["matmul_peak_flops_per_second"]
    assert set(peaks) == {"float32", "bfloat16"} and all(_finite(p) and p > 0
                                                         for p in peaks.values())

    rows = {row["family"]: row for row in report["families"]}
    assert set(rows) == set(catalog.families()) and report["families_left_out"] == []
    for family, row in rows.items():
        assert row.get("error") is None, (family, row.get("error"))
        assert row["finite"] is True and row["precision"] == "mixed_bfloat16", family
        assert len(row["losses"]) == 3 and all(_finite(v) for v in row["losses"]), family
        assert _finite(row["examples_per_second"]) and row["examples_per_second"] > 0, family
        if family == "hub":  # its preprocessor's shapes are known only at run time
            assert row["mfu"] is None and "profiler" in row["flops_error"]
        else:
            assert _finite(row["forward_flops_per_example"]), family
            assert row["forward_flops_per_example"] > 0, family
            assert _finite(row["mfu"]) and 0 < row["mfu"] < 1, family
    for family in ("bert", "gpt", "transformer"):
        assert _finite(rows[family]["tokens_per_second"]), family

    assert len(report["accuracy"]) == 2
    for check in report["accuracy"]:
        assert check["compared"] is True, check
        for precision in ("mixed_bfloat16", "float32"):
            run = check["runs"][precision]
            assert run["finite"] is True and run["precision"] == precision
            assert all(_finite(run[k]) for k in ("value", "low", "high"))
            assert run["low"] <= run["value"] <= run["high"]
        assert isinstance(check["reached_float32_interval"], bool)
