"""Every shipped recipe trains from a fresh clone with only the data directory given: no run
folders, no hub cache, fine-tuning recipes starting from the published entries' weights."""

import json
import math
import os

import numpy as np
import pytest
from conftest import SHARED_DATA

import zoo
from zoo import datasets
from zoo.training import recipes
from zoo.training.train import _model_builder, load_trained, locate_entry

needs_data = pytest.mark.skipif(not os.path.isdir(SHARED_DATA),
                                reason=f"the reference datasets are not in {SHARED_DATA}")


@pytest.fixture
def fresh_clone(tmp_path, monkeypatch):
    """A working directory with no `runs/`, no runs or entries folders from the environment,
    and an empty TF Hub cache."""
    for name in ("ZOO_RUNS_DIR", "ZOO_ENTRIES_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "tfhub"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_init_from_starts_from_the_published_entry_in_safe_mode(fresh_clone):
    folder = locate_entry("bert_mini.mlm-sst2-trec")
    assert folder == zoo.entries.folder("bert_mini.mlm-sst2-trec")
    assert not (folder / "model.keras").exists()  # entries ship model.json and weights.npz
    source = load_trained(folder, safe_mode=True)  # zoo's own files never need it off
    recipe = recipes.get("bert_mini.sst2").replace(dataset="tatoeba-langid-sample")
    examples = datasets.load(recipe.dataset, recipe.split)
    tokenizer = zoo.entries.load_tokenizer("bert_mini.mlm-sst2-trec")
    model = _model_builder(recipe, examples, tokenizer, folder)()
    got, want = model.backbone.get_weights(), source.backbone.get_weights()
    assert len(got) == len(want) and all(np.array_equal(a, b) for a, b in zip(got, want))


def test_init_from_names_the_places_it_looked(fresh_clone):
    with pytest.raises(zoo.training.TrainingError,
                       match=r"No trained entry 'bert_mini\.nothing' \(looked for a run folder's "
                             r"model\.keras or a published entry's model\.json and weights\.npz "
                             r"in runs/bert_mini\.nothing\)\. Train it first"):
        locate_entry("bert_mini.nothing")


@needs_data
@pytest.mark.slow
def test_a_fine_tuning_recipe_trains_from_a_fresh_clone(fresh_clone):
    from zoo.cli import main

    assert main(["train", "bert_mini.sst2", "--steps", "1", "--data-dir", SHARED_DATA,
                 "--out", str(fresh_clone / "run")]) == 0
    run = json.loads((fresh_clone / "run" / "run.json").read_text())
    assert run["status"] == "complete" and run["init_from"] == "bert_mini.mlm-sst2-trec"
    assert (fresh_clone / "run" / "tokenizer" / "vocab.txt").read_text() == (
        zoo.entries.folder("bert_mini.mlm-sst2-trec") / "tokenizer" / "vocab.txt").read_text()


# About 5 minutes (310 s) on the 2-core machine, most of it training the recipes' tokenizers
# (transformer_small: 80-105 s each; bert_mini from scratch: 26-47 s); the other seven 50 s.
@pytest.mark.slow
@needs_data
@pytest.mark.parametrize("name", recipes.list_recipes())
def test_every_shipped_recipe_trains_from_a_fresh_clone(name, fresh_clone):
    result = zoo.train(name, out=fresh_clone / "run", steps=1, data_dir=SHARED_DATA,
                       log=lambda *_: None)
    assert result["steps"] == 1 and math.isfinite(result["final"]["loss"])
    assert (fresh_clone / "run" / "model.keras").is_file()
    assert not (fresh_clone / "runs").exists()
