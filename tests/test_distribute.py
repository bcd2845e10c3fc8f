"""Training through real tf.distribute strategies: mirrored over two logical CPU devices,
multi-worker over two processes on 127.0.0.1, a real SIGKILL and resume."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import SHARED_DATA

import zoo
from zoo.training import Recipe, StrategyError, TrainingError, strategies
from zoo.training.train import train

ROOT = Path(__file__).resolve().parents[1]
QUIET = {"log": lambda *_: None}

# Tiny recipes, one per family (no dropout, so that replicas compute the same function).
RECIPES = {
    "vit": dict(entry="t.vit", model="vit_tiny_patch2_8", task="image_classification",
                dataset="digits", model_overrides={"dropout": 0.0}),
    "bert": dict(entry="t.bert", model="bert_tiny", task="text_classification",
                 dataset="tatoeba-langid-sample", max_length=16,
                 tokenizer={"vocabulary_size": 300},
                 model_overrides={"dropout": 0.0, "classifier_dropout": 0.0}),
    "transformer": dict(entry="t.mt", model="transformer_tiny", task="translation",
                        dataset="tatoeba-en-es-sample", max_length=16,
                        tokenizer={"vocabulary_size": 300, "lowercase": False},
                        model_overrides={"dropout": 0.0}),
    "transformer_by_length": dict(entry="t.mt", model="transformer_tiny", task="translation",
                                  dataset="tatoeba-en-es-sample", max_length=16,
                                  batching="by_length",
                                  tokenizer={"vocabulary_size": 300, "lowercase": False},
                                  model_overrides={"dropout": 0.0}),
    # The autoencoder shares the VAE's encoder and decoder but draws no noise, which would
    # differ per replica; the VAE itself is trained under the mirrored strategy below.
    "vae": dict(entry="t.ae", model="ae_tiny", task="image_generation", dataset="digits"),
    "gpt": dict(entry="t.gpt", model="gpt_tiny", task="language_modeling",
                dataset="tinyshakespeare", max_length=16, tokenizer={"kind": "characters"},
                model_overrides={"dropout": 0.0, "num_layers": 1}),
}
#: Where the families whose data is a file read it (the shared data folder).
DATA_DIR = {"gpt": SHARED_DATA}


def recipe(family, **changes):
    base = dict(steps=3, batch_size=16, learning_rate=1e-3, log_every=1, checkpoint_every=100)
    return Recipe(**{**base, **RECIPES[family], **changes})


@pytest.mark.parametrize("family", sorted(RECIPES))
@pytest.mark.slow
def test_mirrored_over_two_devices_matches_one_device(family, tmp_path):
    data_dir = DATA_DIR.get(family)
    one = train(recipe(family), out=tmp_path / "one", strategy="one_device",
                devices=["/cpu:0"], data_dir=data_dir, **QUIET)
    two = train(recipe(family), out=tmp_path / "two", strategy="mirrored",
                devices=["/cpu:0", "/cpu:1"], data_dir=data_dir, **QUIET)
    assert (one["replicas"], two["replicas"]) == (1, 2)
    a = zoo.load_model(tmp_path / "one" / "model.keras").get_weights()
    b = zoo.load_model(tmp_path / "two" / "model.keras").get_weights()
    assert len(a) == len(b)
    # Same global batch, same data: only the order of floating-point sums differs.
    worst = max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))
    assert worst < 2e-4, f"largest weight difference {worst}"
    assert one["final"]["loss"] == pytest.approx(two["final"]["loss"], rel=1e-3)
    run = json.loads((tmp_path / "two" / "run.json").read_text())
    assert run["strategy"]["class"] == "MirroredStrategy" and run["strategy"]["replicas"] == 2


def test_vae_trains_under_the_mirrored_strategy(tmp_path):
    result = train(recipe("vae", entry="t.vae", model="vae_tiny", steps=40, log_every=20,
                          binarize="stochastic", learning_rate=3e-3),
                   out=tmp_path, strategy="mirrored", devices=["/cpu:0", "/cpu:1"], **QUIET)
    history = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert history[-1]["loss"] < history[0]["loss"]
    assert history[-1]["loss"] == pytest.approx(history[-1]["reconstruction"] + history[-1]["kl"],
                                                rel=1e-4)
    assert result["replicas"] == 2


@pytest.mark.slow
def test_same_seed_same_result_and_outputs_of_a_run(tmp_path):
    a = train(recipe("vit", steps=20, log_every=10), out=tmp_path / "a", strategy="default",
              **QUIET)
    b = train(recipe("vit", steps=20, log_every=10), out=tmp_path / "b", strategy="default",
              **QUIET)
    c = train(recipe("vit", steps=20, log_every=10, seed=1), out=tmp_path / "c",
              strategy="default", **QUIET)
    assert a["weights_sha256"] == b["weights_sha256"] != c["weights_sha256"]
    assert a["final"] == {**b["final"], "examples_per_second": a["final"]["examples_per_second"],
                          "seconds": a["final"]["seconds"]}
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["status"] == "complete" and run["steps"] == 20 and run["seed"] == 0
    source, = run["training_data"]  # with its files' and examples' sha256
    assert (source["dataset"], source["split"], source["examples"]) == ("digits", "train", 1437)
    assert run["provenance"]["packages"]["tensorflow"] and run["precision"] == "float32"
    assert json.loads((tmp_path / "a" / "recipe.json").read_text())["steps"] == 20
    assert list((tmp_path / "a" / "logs").glob("events.out.tfevents.*"))
    # Starting a finished run again does nothing.
    again = train(recipe("vit", steps=20, log_every=10), out=tmp_path / "a", **QUIET)
    assert again["already_complete"] and again["weights_sha256"] == a["weights_sha256"]
    # So does one written before a recipe field existed (read as that field's default); a
    # different recipe is refused.
    old = json.loads((tmp_path / "a" / "run.json").read_text())
    del old["recipe"]["batching"]
    (tmp_path / "a" / "run.json").write_text(json.dumps(old))
    assert train(recipe("vit", steps=20, log_every=10), out=tmp_path / "a",
                 **QUIET)["already_complete"]
    with pytest.raises(TrainingError, match="holds a run of a different recipe"):
        train(recipe("vit", steps=20, log_every=10, seed=2), out=tmp_path / "a", **QUIET)


@pytest.mark.slow
def test_pretrained_encoder_really_starts_the_classifier(tmp_path, monkeypatch):
    mlm = recipe("bert", entry="t.bert-mlm", task="masked_lm", steps=5, max_predictions=3,
                 model_overrides={"dropout": 0.0})
    train(mlm, out=tmp_path / "t.bert-mlm", **QUIET)
    monkeypatch.setenv("ZOO_RUNS_DIR", str(tmp_path))
    from zoo.text import WordPieceTokenizer
    from zoo.training import train as training_module  # noqa: F401
    from zoo.training.train import _model_builder, locate_entry

    init_dir = locate_entry("t.bert-mlm")
    tokenizer = WordPieceTokenizer.load(init_dir / "tokenizer")
    clf = recipe("bert", init_from="t.bert-mlm")
    from zoo import datasets

    examples = datasets.load(clf.dataset, clf.split)
    model = _model_builder(clf, examples, tokenizer, init_dir)()
    pretrained = zoo.load_model(init_dir / "model.keras").backbone.get_weights()
    fresh = zoo.build("bert_tiny", task="classifier", num_classes=2, dropout=0.0,
                      vocabulary_size=tokenizer.vocabulary_size, max_sequence_length=16)
    got = model.backbone.get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(got, pretrained))
    assert not all(np.array_equal(x, y) for x, y in zip(got, fresh.backbone.get_weights()))
    # Through train(): the fine-tuning run reuses the pretraining vocabulary.
    result = train(clf, out=tmp_path / "clf", **QUIET)
    assert (tmp_path / "clf" / "tokenizer" / "vocab.txt").read_text() == (
        init_dir / "tokenizer" / "vocab.txt").read_text()
    assert json.loads((tmp_path / "clf" / "run.json").read_text())["init_from"] == "t.bert-mlm"
    assert result["steps"] == 3


def test_a_diverging_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    bad = recipe("vit", steps=40, optimizer="sgd", learning_rate=1e25, checkpoint_every=1,
                 log_every=1, warmup_steps=5, schedule="constant")
    with pytest.raises(TrainingError, match=r"loss became (nan|inf).*last good checkpoint"):
        train(bad, out=tmp_path, **QUIET)
    latest = tf.train.latest_checkpoint(str(tmp_path / "checkpoints"))
    step = tf.train.load_variable(latest, "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE")
    history = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert int(step) == history[-1]["step"] and np.isfinite(history[-1]["loss"])
    assert not (tmp_path / "model.keras").exists()


@pytest.mark.parametrize("name, devices, message", [
    ("mirrored", ["/gpu:0"], "does not exist"),
    ("one_device", ["/cpu:7"], "does not exist"),
    ("tpu", None, "No TPU"),
    ("multi_worker_mirrored", None, "TF_CONFIG"),
    ("parameter_server", None, "TF_CONFIG"),
    ("mirored", None, "Did you mean: 'mirrored'"),
])
def test_impossible_strategies_fail_before_any_work(name, devices, message, tmp_path,
                                                   monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(StrategyError, match=message):
        train(recipe("vit"), out=tmp_path / "run", strategy=name, devices=devices, **QUIET)
    assert not (tmp_path / "run").exists()


def test_auto_picks_multi_worker_from_tf_config(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker",
                                                                          "index": 0}}))
    assert strategies.resolve("auto") == "multi_worker_mirrored"
    monkeypatch.delenv("TF_CONFIG")
    assert strategies.resolve("auto") == "default"  # no GPU, no TPU here


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _write_recipe(folder, family, **changes):
    import tomllib  # noqa: F401  (the file below must parse as TOML)

    data = recipe(family, **changes).to_dict()
    lines = []
    tables = []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    for key, value in tables:
        lines.append(f"[{key}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in value.items()]
    path = folder / f"{data['entry']}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _zoo(*args, env=None):
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT),
                       ZOO_CPU_DEVICES="1", **(env or {}))
    return subprocess.Popen([sys.executable, "-m", "zoo.cli", *args], cwd=ROOT, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.multiprocess
def test_multi_worker_mirrored_with_two_processes(tmp_path):
    path = _write_recipe(tmp_path, "vit", steps=6, checkpoint_every=3)
    ports = _free_ports(2)
    workers = [f"127.0.0.1:{p}" for p in ports]
    processes = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        processes.append(_zoo("train", str(path), "--strategy", "multi_worker_mirrored",
                              "--out", str(tmp_path / "run"),
                              env={"TF_CONFIG": json.dumps(config)}))
    outputs = [p.communicate(timeout=300) for p in processes]
    for process, (_, err) in zip(processes, outputs):
        assert process.returncode == 0, err[-3000:]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert [r["replicas"] for r in results] == [2, 2]
    assert [r["chief"] for r in results] == [True, False]
    assert results[0]["weights_sha256"] == results[1]["weights_sha256"]
    # The chief alone wrote the outputs; the other worker's checkpoint copies are gone.
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["weights_sha256"] == results[0]["weights_sha256"]
    assert run["strategy"]["workers"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, "run"])
    assert not list((tmp_path / "run").glob(".*worker*"))


@pytest.mark.slow
@pytest.mark.multiprocess
def test_parameter_server_with_worker_and_ps_processes(tmp_path):
    """The same command on every task: two workers and a ps serve, the chief schedules the
    steps on the workers through a ClusterCoordinator and writes the run."""
    path = _write_recipe(tmp_path, "vit", steps=40, checkpoint_every=20, log_every=10,
                         batch_size=32, learning_rate=3e-3)
    ports = _free_ports(4)
    cluster = {"chief": [f"127.0.0.1:{ports[0]}"],
               "worker": [f"127.0.0.1:{ports[1]}", f"127.0.0.1:{ports[2]}"],
               "ps": [f"127.0.0.1:{ports[3]}"]}

    def task(job, index):
        config = {"cluster": cluster, "task": {"type": job, "index": index}}
        return _zoo("train", str(path), "--strategy", "parameter_server",
                    "--out", str(tmp_path / "run"), env={"TF_CONFIG": json.dumps(config)})

    servers = [task("worker", 0), task("worker", 1), task("ps", 0)]
    try:
        chief = task("chief", 0)
        stdout, stderr = chief.communicate(timeout=300)
        assert chief.returncode == 0, stderr[-3000:]
        for server in servers:
            assert server.poll() is None, "workers and ps serve until they are stopped"
    finally:
        for server in servers:
            server.kill()
            server.wait()
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["steps"] == 40
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["status"] == "complete"
    assert run["strategy"]["class"].startswith("ParameterServerStrategy")  # V2 in TF 2.21
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").open()]
    assert [row["step"] for row in history] == [10, 20, 30, 40]
    assert history[-1]["loss"] < history[0]["loss"]
    latest = tf.train.latest_checkpoint(str(tmp_path / "run" / "checkpoints"))
    assert latest.endswith("-40")
    steps = tf.train.load_variable(latest, "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE")
    assert int(steps) == 40
    model = zoo.load_model(tmp_path / "run" / "model.keras")
    assert all(np.isfinite(w).all() for w in model.get_weights())


# Dropout on: its masks, like the batches, must be those of an uninterrupted run. The
# masked-LM run adds BERT's masking. (Every family resumes in-process in test_resume.py.)
KILLED = {
    "vit": dict(family="vit", steps=400, model_overrides={"dropout": 0.1}),
    "bert_masked_lm": dict(family="bert", entry="t.bert-mlm", task="masked_lm", steps=150,
                           max_predictions=3, model_overrides={"dropout": 0.1}),
    "gpt": dict(family="gpt", steps=400, model_overrides={"dropout": 0.1, "num_layers": 1}),
}


@pytest.mark.parametrize("kind", ["vit", pytest.param("bert_masked_lm", marks=pytest.mark.slow),
                                  pytest.param("gpt", marks=pytest.mark.slow)])
@pytest.mark.slow
@pytest.mark.multiprocess
def test_sigkill_mid_run_then_resume_ends_at_the_same_step(kind, tmp_path):
    total = KILLED[kind]["steps"]
    path = _write_recipe(tmp_path, checkpoint_every=25, log_every=25, batch_size=32,
                         **KILLED[kind])
    out = tmp_path / "run"
    data_dir = DATA_DIR.get(KILLED[kind]["family"])
    data = ["--data-dir", data_dir] if data_dir else []
    process = _zoo("train", str(path), "--out", str(out), *data)
    deadline = time.time() + 240
    while time.time() < deadline:
        latest = tf.train.latest_checkpoint(str(out / "checkpoints"))
        if latest and int(latest.rsplit("-", 1)[1]) >= 50:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = int(tf.train.latest_checkpoint(str(out / "checkpoints")).rsplit("-", 1)[1])
    assert 50 <= killed_at < total, "the kill must land mid-run"
    assert not (out / "model.keras").exists()
    process = _zoo("train", str(path), "--out", str(out), *data)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]
    assert "resuming from" in stderr and f"at step {killed_at}" in stderr
    latest = tf.train.latest_checkpoint(str(out / "checkpoints"))
    steps = tf.train.load_variable(latest, "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE")
    assert int(steps) == total
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert [row["step"] for row in history] == list(range(25, total + 1, 25))
    # The batches, dropout masks and token masks after the resume are the ones an
    # uninterrupted run draws: same weights. (Its tokenizer is the same as the killed run's.)
    if (out / "tokenizer").is_dir():
        shutil.copytree(out / "tokenizer", tmp_path / "whole" / "tokenizer")
    whole = train(Recipe(**json.loads((out / "recipe.json").read_text())),
                  out=tmp_path / "whole", data_dir=data_dir, **QUIET)
    assert json.loads(stdout.strip().splitlines()[-1])["weights_sha256"] == whole["weights_sha256"]


@pytest.mark.parametrize("changes", [{"precision": "mixed_bfloat16"}, {"jit_compile": True},
                                     {"precision": "mixed_float16"}, {"precision": "auto"}])
@pytest.mark.slow
def test_precision_and_xla_options_train_and_are_recorded(changes, tmp_path):
    result = train(recipe("vit", steps=4, **changes), out=tmp_path, **QUIET)
    run = json.loads((tmp_path / "run.json").read_text())
    requested = changes.get("precision", "float32")
    assert run["precision_requested"] == requested
    # On CPUs "auto" trains in float32 (zoo/training/precision.py says why).
    assert run["precision"] == ("float32" if requested == "auto" else requested)
    assert run["jit_compile"] == changes.get("jit_compile", False)
    assert np.isfinite(result["final"]["loss"])
    model = zoo.load_model(tmp_path / "model.keras")
    assert all(w.dtype == np.float32 for w in model.get_weights())  # variables stay float32
