"""Result records: one declared, versioned schema (`zoo.records`) that the writer, the reader,
the leaderboard and the published scores use; older records migrate; every seed a run used is
recorded, and rerunning with the recorded seeds gives the recorded numbers."""

import dataclasses
import json
import re
import shutil

import keras
import numpy as np
import pytest

import zoo
from zoo import entries, records, tasks
from zoo.harness import benchmarks, compare, runner
from zoo.leaderboard import collect
from zoo.metrics import bootstrap
from zoo.tasks import EvaluationError

LABELS = ", ".join(f'"{i}"' for i in range(10))


def committed_records():
    """The published records (the version 1 ones of the repository) and their predictions."""
    folder = entries.results_dir()
    found = sorted(folder.glob("*/*.json")) if folder is not None else []
    if not found:
        pytest.skip("no published records in this checkout")
    return found


def user_benchmark(folder, monkeypatch, name, task, metrics, main, extra="", dataset="digits"):
    """A benchmark file of the user's in `folder`, found through $ZOO_BENCHMARKS_PATH."""
    (folder / f"{name}.toml").write_text(f'''id = "{name}"
version = 1
task = "{task}"
description = "a test benchmark"
dataset = "{dataset}"
split = "test"
train_split = "train"
labels = [{LABELS}]
metrics = {json.dumps(metrics)}
main_metric = "{main}"
{extra}''')
    monkeypatch.setenv("ZOO_BENCHMARKS_PATH", str(folder))


def spec_of(record):
    definition = {k: v for k, v in record["benchmark"]["definition"].items()
                  if k != "higher_is_better"}
    definition.update(metrics=tuple(definition["metrics"]), labels=tuple(definition["labels"]))
    return benchmarks.BenchmarkSpec(**definition)


# --- The declaration and the migration ----------------------------------------------------


def test_committed_version_1_records_migrate_to_the_declared_schema():
    old = [path for path in committed_records()
           if json.loads(path.read_text()).get("schema") == 1]
    assert len(old) >= 10  # the records published before version 2
    for path in old:
        raw = json.loads(path.read_text())
        assert "schema_version" not in raw
        assert raw["evaluation"]["seed"] == 0  # what version 1 said, whatever was used
        record = records.read(path)
        assert record["schema_version"] == records.SCHEMA_VERSION
        assert "schema" not in record and "seed" not in record["evaluation"]
        # The bootstrap's seed is the one it used; the training seed the recipe's (run.json's).
        assert record["seeds"]["bootstrap"] == raw["evaluation"]["bootstrap"]["seed"] == 20261122
        assert "seed" not in record["evaluation"]["bootstrap"]
        assert record["seeds"]["training"] == raw["model"]["recipe"]["seed"]
        if raw["benchmark"]["task"] == "image_generation":
            assert record["seeds"] == {"bootstrap": 20261122, "training": 0, "binarization": 0,
                                       "posterior_noise": 0, "prior_samples": 0}
        assert records.migrate(raw) is not raw and json.loads(path.read_text()) == raw  # a copy
        assert records.migrate(record) is record  # the current version is left as it is


def test_a_version_1_record_without_a_recipe_leaves_its_training_seed_unknown():
    raw = json.loads(committed_records()[0].read_text())
    raw["model"]["recipe"] = None
    del raw["evaluation"]["bootstrap"]["seed"]  # then the benchmark's declared seed, or 20261122
    raw["benchmark"]["definition"]["bootstrap"] = {"seed": 11}
    record = records.migrate(raw)
    assert record["seeds"] == {"bootstrap": 11, "training": None}
    records.validate(record)


@pytest.mark.parametrize("change, message", [
    (lambda r: r.update(schema_version=4), "schema_version 4 is newer than this zoo reads (3); "
                                           "upgrade zoo"),
    (lambda r: r.update(seed=0), "unknown field 'seed' (Did you mean: 'seeds'"),
    (lambda r: r["seeds"].update(bootstrap="20261122"),
     "seeds.bootstrap must be a non-negative integer, got the string '20261122'"),
    (lambda r: r["seeds"].update(noise=-1), "seeds.noise must be a non-negative integer"),
    (lambda r: r["seeds"].pop("training"), "missing required field(s) 'seeds.training'"),
    (lambda r: r["evaluation"].update(seed=0), "unknown field 'evaluation.seed'"),
    (lambda r: r["model"].update(params="about a million"), "model.params must be"),
])
def test_a_record_that_does_not_fit_the_declaration_is_refused_naming_the_field(
        tmp_path, change, message):
    record = records.example()
    change(record)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(record))
    with pytest.raises(records.RecordError) as info:
        records.read(path)
    assert str(path) in str(info.value) and message in str(info.value)
    with pytest.raises(records.RecordError):  # the writer is held to the same declaration
        records.write(dict(record, run_id="w"), [], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_leaderboard_and_published_scores_read_through_the_declaration(tmp_path,
                                                                         monkeypatch):
    """A record whose field breaks the declaration is left out of the leaderboard and of the
    published scores (which the hub's model cards show) alike; they read raw JSON before."""
    good = committed_records()[0]
    bad_record = json.loads(good.read_text())
    bad_record["run_id"] = "bad-run"
    bad_record["flags"]["dirty"] = "no"  # not a boolean: was read as a flag that is set
    bad_record["evaluation"]["bootstrap"]["resamples"] = "many"
    folder = tmp_path / "results" / good.parent.name
    folder.mkdir(parents=True)
    shutil.copy(good, folder / good.name)
    shutil.copy(good.with_name(good.name.replace(".json", ".predictions.jsonl")), folder)
    (folder / "bad-run.json").write_text(json.dumps(bad_record))
    bad_record["flags"]["dirty"] = False
    (folder / "bad-flags.json").write_text(json.dumps(dict(bad_record, run_id="bad-flags")))
    monkeypatch.setenv("ZOO_RESULTS_DIR", str(tmp_path / "results"))
    assert [s["record"] for s in entries.published_scores()] == [good.name]
    boards, problems = collect.load(tmp_path / "results", warn=lambda _: None)
    assert [e.path.name for b in boards for e in b.ranked + b.flagged] == [good.name]
    assert len(problems) == 2 and all("evaluation.bootstrap.resamples" in p for p in problems)


def test_records_resampled_with_different_seeds_are_not_compared(tmp_path):
    good = committed_records()[0]
    other = json.loads(good.read_text())
    other["evaluation"]["bootstrap"]["seed"] = 5
    other["run_id"] = "other"
    shutil.copy(good.with_name(good.name.replace(".json", ".predictions.jsonl")),
                tmp_path / "other.predictions.jsonl")
    other["predictions_file"] = "other.predictions.jsonl"
    (tmp_path / "other.json").write_text(json.dumps(other))
    with pytest.raises(EvaluationError, match=r"resampled differently \(bootstrap seed and "
                                              r"resamples \(20261122, 1000\) vs \(5, 1000\)\)"):
        compare.compare(good, tmp_path / "other.json")


# --- Seeds actually used ------------------------------------------------------------------


@pytest.mark.slow
def test_a_new_record_holds_the_seeds_the_run_used(tmp_path, monkeypatch):
    """The training seed is the one the weights were trained with; rerunning the bootstrap
    with the recorded seed gives the recorded intervals (and another seed does not)."""
    trained = zoo.train("vit_tiny_patch2_8.digits", out=tmp_path / "run", steps=2, seed=5,
                        log=lambda *_: None)
    assert json.loads((trained["run_dir"] / "run.json").read_text())["seed"] == 5
    user_benchmark(tmp_path, monkeypatch, "digits-seeded", "image_classification",
                   ["accuracy", "macro_f1"], "accuracy", "[bootstrap]\nseed = 7\nresamples = 300\n")
    record, path = runner.run("vit_tiny_patch2_8", "digits-seeded", weights=trained["run_dir"],
                              limit=120, results_dir=tmp_path / "r", progress=False)
    assert record["seeds"] == {"bootstrap": 7, "training": 5}
    assert record["evaluation"]["bootstrap"]["resamples"] == 300
    rows, spec = records.read_predictions(path), spec_of(record)

    def rescored(seed):
        idx = bootstrap.indices(len(rows), record["evaluation"]["bootstrap"]["resamples"], seed)
        return tasks.get(spec.task).score(spec, None, rows, idx)[0]

    again = rescored(record["seeds"]["bootstrap"])
    for name, metric in record["metrics"].items():
        assert (again[name]["low"], again[name]["high"]) == (metric["low"], metric["high"])
    other = rescored(record["seeds"]["bootstrap"] + 1)
    assert (other["accuracy"]["low"], other["accuracy"]["high"]) != (
        record["metrics"]["accuracy"]["low"], record["metrics"]["accuracy"]["high"])


def test_an_untrained_run_on_a_shipped_benchmark_records_zoos_default_bootstrap_seed(tmp_path):
    record, path = runner.run("vit_tiny_patch2_8", "digits", limit=60, results_dir=tmp_path,
                              progress=False)
    assert record["seeds"] == {"bootstrap": bootstrap.DEFAULT_SEED, "training": None,
                               "initialization": runner.INITIALIZATION_SEED}
    assert json.loads(path.read_text())["schema_version"] == records.SCHEMA_VERSION


def test_a_vae_record_holds_its_sampling_seeds_and_its_noise_is_theirs_alone(tmp_path,
                                                                           monkeypatch):
    """The VAE's posterior noise is drawn from (recorded seed, batch number): a run resumed at
    a batch draws what an uninterrupted one draws (it drew from the model's generator, counting
    the calls made before, and the recorded "seed" did not reach it)."""
    keras.utils.set_random_seed(1)
    zoo.build("vae_tiny", image_size=8).save(tmp_path / "vae.keras")
    user_benchmark(tmp_path, monkeypatch, "digits-vae-seeded", "image_generation",
                   ["negative_elbo", "reconstruction", "kl"], "negative_elbo",
                   "[preprocessing]\nbinarize = \"stochastic\"\nbinarize_seed = 4\n"
                   "[bootstrap]\nseed = 3\n")
    record, path = runner.run("vae_tiny", "digits-vae-seeded", weights=tmp_path / "vae.keras",
                              batch_size=16, limit=96, results_dir=tmp_path / "r",
                              progress=False)
    assert record["seeds"] == {"bootstrap": 3, "training": None, "binarization": 4,
                               "posterior_noise": 3, "prior_samples": 0}
    rows, spec = records.read_predictions(path), spec_of(record)
    kind = tasks.get("image_generation")
    examples = zoo.datasets.load("digits", "test").take(96)

    def predicted(start, seeds=spec.bootstrap):
        model = zoo.load_model(tmp_path / "vae.keras")  # fresh: its generator never drew
        other = dataclasses.replace(spec, bootstrap=seeds)
        return list(kind.predict(model, None, examples, other, 16, start=start))

    resumed = predicted(48)
    assert [r["negative_elbo"] for r in resumed] == [r["negative_elbo"] for r in rows[48:]]
    assert resumed[0]["negative_elbo"] != predicted(48, {"seed": 4})[0]["negative_elbo"]
    np.testing.assert_array_equal(  # the binarization seed is the recorded one
        kind.binarize(examples.inputs, spec),
        (np.random.default_rng(4).random(examples.inputs.shape) < examples.inputs))


# --- Training curves ----------------------------------------------------------------------


def test_a_training_history_is_thinned_to_a_curve_of_its_own_values():
    """Loss and validation values, at most 200 points a series, evenly spaced over the rows
    that have each (first and last kept, values the rows' own); rows a record could not hold
    (no step, a step that does not rise, a value that is not a finite number) are left out."""
    rows = [{"step": s, "loss": 10 / s, "accuracy": 0.5, "learning_rate": 1e-3,
             "seconds": s * 0.5} for s in range(1, 1202)]
    rows[7]["loss"] = float("nan")
    rows[9]["loss"] = True  # not a number
    for s in range(100, 1202, 100):
        rows[s - 1]["val_loss"] = 1 / s
    rows += [{"step": 5, "loss": 1.0}, {"loss": 2.0}, "not a row", {"step": -1, "loss": 1.0}]
    curve = records.training_curve(rows, "history.jsonl", "ab" * 32)
    assert curve["source"] == "history.jsonl" and curve["sha256"] == "ab" * 32
    assert curve["rows"] == 1202  # rows with a step
    assert list(curve["series"]) == ["loss", "val_loss"]  # not accuracy or the learning rate
    loss = curve["series"]["loss"]
    assert len(loss["step"]) == records.CURVE_POINTS == 200
    assert loss["step"][0] == 1 and loss["step"][-1] == 1201  # not the later step 5
    assert 8 not in loss["step"] and 10 not in loss["step"]  # NaN, True
    assert all(b > a for a, b in zip(loss["step"], loss["step"][1:]))
    assert all(v == 10 / s and t == s * 0.5 for s, v, t in
               zip(loss["step"], loss["value"], loss["seconds"]))
    assert curve["series"]["val_loss"] == {"step": list(range(100, 1202, 100)),
                                           "value": [1 / s for s in range(100, 1202, 100)],
                                           "seconds": [s * 0.5 for s in range(100, 1202, 100)]}
    record = records.validate(records.example(training_curve=curve))
    assert record["training_curve"]["series"]["loss"]["step"][-1] == 1201
    assert records.training_curve([{"step": 1, "accuracy": 0.5}], "h", "0") is None
    no_time = records.training_curve([{"step": 1, "loss": 1.0}, {"step": 2, "loss": 0.5}],
                                     "h", "0")
    assert no_time["series"]["loss"]["seconds"] is None


def _curve(**series):
    return {"source": "history.jsonl", "sha256": "0" * 64, "rows": 3,
            "series": series or {"loss": {"step": [1, 2], "value": [2.0, 1.0],
                                          "seconds": [0.5, 1.0]}}}


@pytest.mark.parametrize("curve, message", [
    (_curve(loss={"step": [1, 2], "value": [1.0], "seconds": None}),
     "must have as many values (and seconds) as steps"),
    (_curve(loss={"step": [2, 1], "value": [1.0, 2.0], "seconds": None}),
     "steps must rise"),
    (_curve(loss={"step": list(range(1, 1002)), "value": [1.0] * 1001, "seconds": None}),
     "training_curve.series.loss.step must be an array of at least 1 items"),
    (_curve(loss={"step": [1], "value": ["1.0"], "seconds": None}),
     "training_curve.series.loss.value[0] must be a number"),
    (dict(_curve(), colour="red"), "unknown field 'training_curve.colour'"),
])
def test_a_training_curve_that_does_not_fit_the_declaration_is_refused(tmp_path, curve,
                                                                        message):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(records.example(training_curve=curve)))
    with pytest.raises(records.RecordError, match=re.escape(message)):
        records.read(path)


def test_records_before_training_curves_read_as_having_none():
    """A version 2 record kept no history: migrated, its curve is None (a version 3 record
    written before the field lacks it, which the declaration allows)."""
    version_2 = dict(records.example(), schema_version=2)
    assert records.validate(records.migrate(version_2))["training_curve"] is None
    assert "training_curve" not in records.validate(records.example())
    for path in committed_records():
        if json.loads(path.read_text()).get("schema") == 1:  # written before curves
            assert records.read(path).get("training_curve") is None
