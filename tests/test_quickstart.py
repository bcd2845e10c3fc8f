"""`zoo quickstart`, the README's main job, runs the product's own stages on embedded data:
recipe files -> `zoo.train` -> the harness -> result records -> a leaderboard of the run.
(Its default run, as the README's set-up command starts it, and its scores: test_readme.py.)"""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from zoo import atomic, datasets, quickstart, records
from zoo.cli import main
from zoo.harness import benchmarks
from zoo.training import recipes

STEPS = 7  # a whole epoch of no dataset here: `--steps` is exact, not rounded to epochs


def _history(run_dir) -> list[dict]:
    lines = (Path(run_dir) / "history.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.slow
def test_quickstart_runs_recipes_training_harness_and_leaderboard(tmp_path, capsys):
    out = tmp_path / "qs"
    assert main(["quickstart", "--steps", str(STEPS), "--out", str(out)]) == 0
    printed = capsys.readouterr()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [m["entry"] for m in summary["models"]] == [j.recipe["entry"] for j in quickstart.JOBS]
    site = out / "site"
    pages = "\n".join(p.read_text(encoding="utf-8") for p in site.rglob("*.html"))
    for number, model in enumerate(summary["models"], 1):
        run_dir = Path(model["run_dir"])
        recipe = recipes.parse(model["recipe"])  # a recipe file, as `zoo train FILE` reads it
        run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        assert run_dir == out / "runs" / recipe.entry and run["status"] == "complete"
        assert run["recipe"] == recipe.to_dict() and recipe.steps == STEPS
        assert run["steps"] == STEPS and _history(run_dir)[-1]["step"] == STEPS
        assert f"[quickstart] training {number}/{len(summary['models'])}: {recipe.model}" in (
            printed.out)
        if recipe.benchmark is None:
            continue
        path = Path(model["record"])
        record = records.read(path)
        assert path.parent == out / "results" / recipe.benchmark
        assert record["benchmark"]["id"] == recipe.benchmark
        # The harness scored the model this run trained, on the whole benchmark.
        weights = hashlib.sha256((run_dir / "model.keras").read_bytes()).hexdigest()
        assert record["model"]["entry"] == recipe.entry
        assert record["model"]["weights"]["sha256"] == weights
        assert not record["flags"]["untrained"] and not record["flags"]["limited"]
        assert model["main_metric"] == record["main_metric"]
        assert f"{recipe.model} on {recipe.benchmark}: {model['score']}" in printed.out
        assert f"[bench] {recipe.benchmark}: " in printed.err  # the harness's progress
        assert record["run_id"] in pages  # the run's leaderboard page
    assert Path(summary["site"]) == site / "index.html" and "[train] step" in printed.out
    index = (site / "index.html").read_text(encoding="utf-8")
    assert all(m["benchmark"] in index for m in summary["models"] if m["benchmark"])
    assert str(site / "index.html") in printed.out
    assert atomic.leftovers(out) == []  # every file was written whole


@pytest.mark.parametrize("steps", [None, STEPS])
def test_quickstart_recipes_are_recipe_files_on_embedded_data(tmp_path, steps):
    for job in quickstart.JOBS:
        recipe = quickstart.recipe_for(job, steps, seed=3)
        path = tmp_path / f"{recipe['entry']}.toml"
        path.write_text(quickstart.toml_text(recipe), encoding="utf-8")
        parsed = recipes.parse(path)
        assert parsed == recipes.Recipe.from_dict(recipe)
        assert parsed.steps == (steps or job.recipe["steps"]) and parsed.seed == 3
        assert parsed.warmup_steps < parsed.steps and parsed.checkpoint_every == parsed.steps
        assert datasets.remote_files(parsed.dataset) == []  # embedded: no download
        if parsed.benchmark is not None:
            spec = benchmarks.get(parsed.benchmark)
            assert spec.dataset == parsed.dataset and spec.task == parsed.task
            assert datasets.remote_files(spec.dataset) == []


def test_quickstart_refuses_a_folder_it_did_not_write(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["quickstart", "--out", str(tmp_path)]) == 2
    assert quickstart.MARKER in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    assert main(["quickstart", "--out", str(tmp_path / "notes.txt")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_leftovers_lists_what_a_killed_atomic_write_leaves(tmp_path):
    """The check the quickstart test makes can fail: a write killed before its rename leaves
    a temporary file that `atomic.leftovers` finds (atomic's own naming, not a guess)."""
    destination = tmp_path / "results" / "record.json"
    code = ("import os, sys\nfrom zoo import atomic\n"
            "os.fsync = lambda fd: os._exit(9)  # killed mid-write\n"
            "atomic.write_text(sys.argv[1], 'half a record')\n")
    done = subprocess.run([sys.executable, "-c", code, str(destination)], timeout=60)
    assert done.returncode == 9 and not destination.exists()
    left = atomic.leftovers(tmp_path)
    assert [p.parent for p in left] == [destination.parent]
    assert left[0].name.startswith(f".{destination.name}.")
    left[0].unlink()
    atomic.write_text(destination, "a whole record")
    assert atomic.leftovers(tmp_path) == []
