"""`zoo bench run` end to end: real models, real data, records checked against the libraries."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import sacrebleu
from conftest import SHARED_DATA
from sklearn.metrics import accuracy_score, f1_score, recall_score

from zoo import records
from zoo.harness import compare, runner
from zoo.tasks import EvaluationError

ROOT = Path(__file__).resolve().parents[1]


def _records(folder):
    return sorted(p for p in Path(folder).rglob("*.json") if ".incomplete" not in p.parts)


@pytest.fixture(scope="module")
def text_weights(tmp_path_factory):
    """A bert_tiny classifier (2 classes) with its tokenizer, saved as a run folder."""
    import zoo
    from zoo import datasets
    from zoo.text import WordPieceTokenizer

    folder = tmp_path_factory.mktemp("langid")
    train = datasets.load("tatoeba-langid-sample", "train")
    tokenizer = WordPieceTokenizer.train(train.inputs, vocabulary_size=400)
    model = zoo.build("bert_tiny", task="classifier", num_classes=2,
                      vocabulary_size=tokenizer.vocabulary_size, max_sequence_length=32)
    model.save(folder / "model.keras")
    tokenizer.save(folder / "tokenizer")
    (folder / "run.json").write_text(json.dumps({
        "entry": "bert_tiny-langid-test", "recipe": {"steps": 0},
        "training_data": [{"dataset": "tatoeba-langid-sample", "split": "test"}]}))
    return folder


@pytest.fixture(scope="module")
def translation_weights(tmp_path_factory):
    import zoo
    from zoo import datasets
    from zoo.text import WordPieceTokenizer

    folder = tmp_path_factory.mktemp("en-es")
    train = datasets.load("tatoeba-en-es-sample", "train")
    tokenizer = WordPieceTokenizer.train(train.inputs + train.targets, vocabulary_size=400,
                                         lowercase=False)
    model = zoo.build("transformer_tiny", vocabulary_size=tokenizer.vocabulary_size,
                      max_sequence_length=16, pad_id=tokenizer.pad_id,
                      start_id=tokenizer.start_id, end_id=tokenizer.end_id)
    model.save(folder / "model.keras")
    tokenizer.save(folder / "tokenizer")
    return folder


def test_image_run_matches_scikit_learn_and_carries_provenance(tmp_path):
    record, path = runner.run("vit_tiny_patch2_8", "digits", limit=50, batch_size=16,
                              results_dir=tmp_path, progress=False, command=["zoo", "test"])
    assert path.parent == tmp_path / "digits" and records.read(path) == record
    rows = records.read_predictions(path)
    assert [r["index"] for r in rows] == list(range(50))
    y, p = [r["target"] for r in rows], [r["prediction"] for r in rows]
    labels = list(range(10))
    assert record["metrics"]["accuracy"]["value"] == pytest.approx(accuracy_score(y, p), abs=1e-12)
    assert record["metrics"]["macro_recall"]["value"] == pytest.approx(
        recall_score(y, p, labels=labels, average="macro", zero_division=0), abs=1e-12)
    assert record["metrics"]["macro_f1"]["value"] == pytest.approx(
        f1_score(y, p, labels=labels, average="macro", zero_division=0), abs=1e-12)
    for metric in record["metrics"].values():
        assert metric["low"] <= metric["value"] <= metric["high"]
    assert record["benchmark"]["examples"] == {"total": 360, "evaluated": 50, "limit": 50}
    assert record["flags"]["untrained"] and record["flags"]["limited"]
    assert record["model"]["params"] > 0 and record["model"]["config"]["num_classes"] == 10
    assert record["evaluation"]["batch_size"] == 16
    assert record["provenance"]["command"] == "zoo test"
    assert len(record["provenance"]["git"]["commit"]) == 40
    assert record["provenance"]["packages"]["scikit-learn"]
    assert record["throughput"]["examples_per_second"] > 0
    assert len(record["report"]["confusion_matrix"]) == 10


def test_predictions_are_the_models_own_batch_for_batch(tmp_path):
    """The forward pass runs batches ahead in threads; rows still match their examples."""
    import zoo
    from zoo import datasets

    model = zoo.build("vit_tiny_patch2_8", num_classes=10, image_size=8, num_channels=1)
    model.save(tmp_path / "model.keras")
    _, path = runner.run("vit_tiny_patch2_8", "digits", weights=tmp_path / "model.keras",
                         limit=70, batch_size=16, results_dir=tmp_path, progress=False)
    images = datasets.load("digits", "test").inputs[:70]
    probs = model.predict(images, batch_size=16, verbose=0)
    rows = records.read_predictions(path)
    assert [r["prediction"] for r in rows] == probs.argmax(axis=1).tolist()
    confidence = np.exp(probs - probs.max(1, keepdims=True))
    confidence = (confidence / confidence.sum(1, keepdims=True)).max(1)
    np.testing.assert_allclose([r["confidence"] for r in rows], confidence, atol=1e-5)


def test_forward_runs_two_batches_at_once_ahead_in_order_and_fails_loudly():
    import threading

    from zoo.tasks._evaluation import ahead as _ahead

    started = {i: threading.Event() for i in range(6)}
    both = threading.Barrier(2, timeout=30)

    def forward(batch):
        started[batch].set()
        if batch < 2:
            both.wait()  # batches 0 and 1 must be in the model together, or this times out
        if batch == 4:
            raise ValueError("batch 4 is bad")
        return batch * 10

    seen = []
    for begin, out in _ahead(forward, ((i * 2, i) for i in range(6))):
        seen.append((begin, out))
        # The model already works on the next batches while this one is handed out (a batch
        # by batch loop would only start them when asked for the next row).
        assert started[len(seen) + 1].wait(timeout=30)
        if len(seen) == 3:
            break
    assert seen == [(0, 0), (2, 10), (4, 20)]
    both.reset()
    with pytest.raises(ValueError, match="batch 4 is bad"):
        list(_ahead(forward, ((i, i) for i in range(6))))


def test_two_runs_never_overwrite_each_other(tmp_path):
    first = runner.run("vit_tiny_patch2_8", "digits", limit=8, results_dir=tmp_path,
                       progress=False)[1]
    second = runner.run("vit_tiny_patch2_8", "digits", limit=8, results_dir=tmp_path,
                        progress=False)[1]
    assert first != second and first.exists() and second.exists()
    with pytest.raises(FileExistsError):
        records.write(records.read(first), [], tmp_path)


def test_the_untrained_floor_is_the_same_model_every_run_and_records_its_seed(tmp_path):
    """Without weights the fresh weights are drawn with a fixed, recorded seed: two runs
    predict the same (whatever the process drew before) and the caller's draws go on as if
    the run had not happened."""
    import hashlib
    import random

    digests = []
    for draws in (0, 3):  # the caller's random state differs between the runs
        for _ in range(draws):
            random.random()
        before = random.getstate(), np.random.get_state()[1].copy()
        record, path = runner.run("vit_tiny_patch2_8", "digits", limit=24,
                                  results_dir=tmp_path / str(draws), progress=False)
        assert random.getstate() == before[0]
        np.testing.assert_array_equal(np.random.get_state()[1], before[1])
        assert record["seeds"]["initialization"] == runner.INITIALIZATION_SEED
        assert record["seeds"]["training"] is None and record["flags"]["untrained"]
        predictions = records.predictions_path(path, record)
        digests.append(hashlib.sha256(predictions.read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_a_seeded_scope_builds_the_same_weights_and_leaves_the_callers_draws_alone():
    import random

    import keras

    import zoo
    from zoo.models import seeding

    def draws():
        return (random.random(), float(np.random.rand()),
                float(keras.random.uniform(())))  # Keras' global SeedGenerator

    keras.utils.set_random_seed(3)
    expected = draws()
    keras.utils.set_random_seed(3)
    built = []
    for _ in range(2):
        with seeding.scope(7):
            built.append(zoo.build("vit_tiny_patch2_8", num_classes=3, image_size=8,
                                   num_channels=1))
            keras.random.uniform(())
    assert draws() == expected
    assert all(np.array_equal(a, b) for a, b in zip(*(m.get_weights() for m in built)))
    with seeding.scope(8):
        other = zoo.build("vit_tiny_patch2_8", num_classes=3, image_size=8, num_channels=1)
    assert not all(np.array_equal(a, b)
                   for a, b in zip(built[0].get_weights(), other.get_weights()))


@pytest.mark.slow
def test_text_run_with_a_tokenizer_and_the_training_data_flag(tmp_path, text_weights):
    record, path = runner.run("bert_tiny", "tatoeba-langid-sample", weights=text_weights,
                              limit=64, results_dir=tmp_path, progress=False)
    rows = records.read_predictions(path)
    assert len(rows) == 64
    assert record["metrics"]["accuracy"]["value"] == pytest.approx(
        np.mean([r["target"] == r["prediction"] for r in rows]))
    assert record["model"]["weights"]["sha256"] == records_sha(text_weights / "model.keras")
    assert record["model"]["entry"] == "bert_tiny-langid-test"
    assert record["flags"]["test_data_in_training"] is True
    assert not record["flags"]["untrained"]


def test_training_data_includes_what_the_starting_entries_read(tmp_path, monkeypatch):
    from zoo import entries

    for name, info in {
        "pre.mlm": {"training_data": [{"dataset": "trec-6", "split": "test"}]},
        "mid.ft": {"training_data": [{"dataset": "sst2", "split": "train"}],
                   "init_from": "pre.mlm"},
    }.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.json").write_text("{}")
        (tmp_path / name / "run.json").write_text(json.dumps(info))
    monkeypatch.setenv("ZOO_ENTRIES_PATH", str(tmp_path))
    hub = {"training_data": [{"dataset": "sst2", "split": "train"}],
           "recipe": {"model_overrides": {"encoder": "zoo:mid.ft/encoder",
                                          "preprocessor": "zoo:gone.entry/preprocessor"}}}
    found = entries.lineage_training_data(hub)
    assert {(d["dataset"], d["split"], d.get("via")) for d in found} == {
        ("sst2", "train", None), ("sst2", "train", "mid.ft"), ("trec-6", "test", "pre.mlm"),
        (None, None, "gone.entry")}


def records_sha(path):
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_text_weights_without_a_tokenizer_are_refused(tmp_path, text_weights):
    """A trained text model needs the tokenizer it was trained with (an untrained one learns
    one from the benchmark's training data: tests/test_own_data.py)."""
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "model.keras").write_bytes((text_weights / "model.keras").read_bytes())
    with pytest.raises(EvaluationError, match="tokenizer"):
        runner.run("bert_tiny", "tatoeba-langid-sample", weights=tmp_path / "bare", limit=4,
                   results_dir=tmp_path / "results", progress=False)
    assert _records(tmp_path / "results") == []


@pytest.mark.slow
def test_translation_scores_equal_sacrebleu(tmp_path, translation_weights):
    record, path = runner.run("transformer_tiny", "tatoeba-en-es-sample",
                              weights=translation_weights, limit=12, batch_size=6,
                              results_dir=tmp_path, progress=False)
    rows = records.read_predictions(path)
    hyps, refs = [r["hypothesis"] for r in rows], [r["reference"] for r in rows]
    bleu = sacrebleu.BLEU(tokenize="13a")
    assert record["metrics"]["bleu"]["value"] == pytest.approx(
        bleu.corpus_score(hyps, [refs]).score, abs=1e-9)
    assert record["metrics"]["bleu"]["signature"] == str(bleu.get_signature())
    assert record["metrics"]["chrf"]["value"] == pytest.approx(
        sacrebleu.CHRF().corpus_score(hyps, [refs]).score, abs=1e-9)
    assert rows[3]["sentence_bleu"] == pytest.approx(
        sacrebleu.BLEU(tokenize="13a", effective_order=True).sentence_score(
            hyps[3], [refs[3]]).score, abs=1e-3)
    assert record["evaluation"]["decoding"]["beam_width"] == 4


@pytest.mark.skipif(not os.path.isdir(SHARED_DATA), reason="needs ../shared/data")
def test_vae_benchmark_reports_elbo_terms_and_a_probe(tmp_path):
    import zoo

    model = zoo.build("vae_tiny", image_size=28, num_channels=1)
    model.save(tmp_path / "vae.keras")
    record, path = runner.run("vae_tiny", "mnist-vae", weights=tmp_path / "vae.keras", limit=200,
                              data_dir=SHARED_DATA, results_dir=tmp_path, progress=False)
    rows = records.read_predictions(path)
    m = record["metrics"]
    assert m["negative_elbo"]["value"] == pytest.approx(
        np.mean([r["negative_elbo"] for r in rows]), abs=1e-3)
    assert m["negative_elbo"]["value"] == pytest.approx(
        m["reconstruction"]["value"] + m["kl"]["value"], abs=1e-3)
    assert m["negative_elbo"]["unit"] == "nats per image"
    assert m["probe_accuracy"]["value"] == pytest.approx(
        accuracy_score([r["target"] for r in rows], [r["probe_prediction"] for r in rows]))
    assert record["main_metric"]["higher_is_better"] is False
    # The same weights and seed give the same stochastic binarization and ELBO.
    again, _ = runner.run("vae_tiny", "mnist-vae", weights=tmp_path / "vae.keras", limit=200,
                          data_dir=SHARED_DATA, results_dir=tmp_path, progress=False)
    assert again["metrics"]["negative_elbo"]["value"] == m["negative_elbo"]["value"]


def test_a_failing_run_leaves_no_record(tmp_path):
    import zoo

    wrong = zoo.build("vit_tiny_patch2_8", num_classes=3, image_size=8, num_channels=1)
    wrong.save(tmp_path / "three.keras")
    with pytest.raises(EvaluationError, match="3 output classes"):
        runner.run("vit_tiny_patch2_8", "digits", weights=tmp_path / "three.keras",
                   results_dir=tmp_path / "results", progress=False)
    assert _records(tmp_path / "results") == []
    with pytest.raises(KeyError, match="Did you mean"):
        runner.run("vit_tiny_patch2", "digits", results_dir=tmp_path, progress=False)


def test_paired_comparison_of_two_records(tmp_path):
    import zoo

    a = zoo.build("vit_tiny_patch2_8", num_classes=10, image_size=8, num_channels=1)
    a.save(tmp_path / "a.keras")
    b = zoo.build("vit_tiny_patch2_8", num_classes=10, image_size=8, num_channels=1)
    b.save(tmp_path / "b.keras")
    path_a = runner.run("vit_tiny_patch2_8", "digits", weights=tmp_path / "a.keras",
                        results_dir=tmp_path, progress=False)[1]
    path_b = runner.run("vit_tiny_patch2_8", "digits", weights=tmp_path / "b.keras",
                        results_dir=tmp_path, progress=False)[1]
    same = compare.compare(path_a, path_a)
    assert same["delta"] == 0 and not same["significant"]
    result = compare.compare(path_a, path_b)
    accuracy = [records.read(p)["metrics"]["accuracy"]["value"] for p in (path_a, path_b)]
    assert result["delta"] == pytest.approx(accuracy[0] - accuracy[1])
    assert result["low"] <= result["delta"] <= result["high"]


def _cli(*args, **kwargs):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "zoo.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.mark.skipif(not os.path.isdir(SHARED_DATA), reason="needs ../shared/data")
@pytest.mark.slow
@pytest.mark.multiprocess
def test_an_interrupted_run_resumes_and_matches_an_uninterrupted_one(tmp_path):
    import zoo

    model = zoo.build("vit_tiny_patch2_8", num_classes=10, image_size=28, num_channels=1,
                      patch_size=4)
    model.save(tmp_path / "m.keras")
    args = ["bench", "run", "--model", "vit_tiny_patch2_8", "--benchmark", "mnist",
            "--weights", str(tmp_path / "m.keras"), "--data-dir", SHARED_DATA,
            "--batch-size", "32", "--limit", "3000", "--results", str(tmp_path / "r")]
    process = _cli(*args)
    partial_dir = tmp_path / "r" / ".incomplete"
    deadline = time.time() + 120
    while time.time() < deadline:
        files = list(partial_dir.glob("*.jsonl")) if partial_dir.is_dir() else []
        if files and sum(1 for _ in open(files[0])) >= 320:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert _records(tmp_path / "r") == [], "a killed run must leave no record"
    done = sum(1 for _ in open(files[0]))
    assert 320 <= done < 3000
    process = _cli(*args)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert "resuming after" in err
    resumed = records.read_predictions(_records(tmp_path / "r")[0])
    assert not list(partial_dir.glob("*.jsonl"))
    fresh = runner.run("vit_tiny_patch2_8", "mnist", weights=tmp_path / "m.keras",
                       data_dir=SHARED_DATA, batch_size=32, limit=3000,
                       results_dir=tmp_path / "fresh", progress=False)[1]
    assert [r["prediction"] for r in resumed] == [
        r["prediction"] for r in records.read_predictions(fresh)]
    assert [r["index"] for r in resumed] == list(range(3000))


@pytest.mark.slow
def test_a_benchmark_over_your_own_files_is_a_file_not_code(tmp_path, monkeypatch, text_weights):
    from zoo import datasets

    test = datasets.load("tatoeba-langid-sample", "test")
    lines = ["text\tlanguage"] + [f"{t}\t{['english', 'spanish'][y]}"
                                  for t, y in zip(test.inputs[::50], test.targets[::50])]
    (tmp_path / "mine.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "my-langid.toml").write_text('''
id = "my-langid"
version = 1
task = "text_classification"
description = "my sentences"
dataset = "files"
split = "test"
labels = ["english", "spanish"]
metrics = ["accuracy", "macro_f1"]
main_metric = "macro_f1"

[files]
kind = "text_classification"
path = "mine.tsv"
text_column = "text"
label_column = "language"
''')
    monkeypatch.setenv("ZOO_BENCHMARKS_PATH", str(tmp_path))
    # The model was trained on the labels en/es, the benchmark says english/spanish: the user
    # says which is which (without it the run is refused, see test_label_sets_...).
    record, path = runner.run("bert_tiny", "my-langid", weights=text_weights,
                              results_dir=tmp_path / "r", progress=False,
                              label_map="en=english,es=spanish")
    assert record["benchmark"]["examples"]["total"] == 20
    assert record["benchmark"]["files"][0][0].endswith("mine.tsv")
    assert set(record["metrics"]) == {"accuracy", "macro_f1"}
    (tmp_path / "mine.tsv").write_text("text\tlanguage\nhola\tfrench\n", encoding="utf-8")
    with pytest.raises(datasets.DataFormatError, match=r"mine.tsv, line 2: expected a label in"):
        runner.run("bert_tiny", "my-langid", weights=text_weights, results_dir=tmp_path / "r",
                   progress=False, label_map="en=english,es=spanish")


@pytest.mark.slow
def test_published_entry_loads_by_name_and_evaluates(tmp_path, monkeypatch, capsys):
    import zoo
    from zoo.cli import main
    from zoo.training import recipes

    # A user's entry takes a name of its own (a shipped entry's name is refused: test_entries).
    recipe = recipes.get("vit_tiny_patch2_8.digits").replace(entry="mine.digits")
    result = zoo.train(recipe, out=tmp_path / "run", steps=4, log=lambda *_: None)
    folder = zoo.entries.publish(result["run_dir"], dest_root=tmp_path / "entries")
    monkeypatch.setenv("ZOO_ENTRIES_PATH", str(tmp_path / "entries"))
    assert "mine.digits" in zoo.entries.list_entries()
    loaded = zoo.load("mine.digits")
    original = zoo.load_model(tmp_path / "run" / "model.keras")
    for a, b in zip(loaded.get_weights(), original.get_weights()):
        assert np.array_equal(a, b.astype("float16").astype("float32"))  # stored as float16
    assert main(["bench", "run", "--entry", "mine.digits", "--benchmark", "digits",
                 "--limit", "40", "--results", str(tmp_path / "r")]) == 0
    record = records.read(_records(tmp_path / "r")[0])
    assert record["model"]["entry"] == "mine.digits"
    assert record["model"]["weights"]["sha256"] == records_sha(folder / "weights.npz")
    assert record["model"]["recipe"]["steps"] == 4
    with pytest.raises(KeyError, match="Did you mean"):
        zoo.load("mine.digit")


# --- Label sets -------------------------------------------------------------------------------

SPAM_TSV = ("text\tlabel\nwin a free phone now\tspam\nsee you at lunch\tham\n"
            "cheap pills, click here\tspam\nthe meeting moved to friday\tham\n"
            "you won a prize!\tspam\nthanks for the notes\tham\n")
SPAM_BENCHMARK = '''
id = "spam"
version = 1
task = "text_classification"
description = "ham or spam"
dataset = "files"
split = "test"
labels = ["ham", "spam"]
metrics = ["accuracy"]
main_metric = "accuracy"

[files]
kind = "text_classification"
path = "spam.tsv"
'''


def test_label_sets_must_match_or_be_mapped_explicitly(tmp_path, monkeypatch, capsys):
    """The published SST-2 entry (negative/positive) on a two-class ham/spam benchmark: refused,
    naming both label lists, unless --label-map says which class is which (recorded)."""
    from zoo.cli import main

    (tmp_path / "spam.tsv").write_text(SPAM_TSV, encoding="utf-8")
    (tmp_path / "spam.toml").write_text(SPAM_BENCHMARK, encoding="utf-8")
    monkeypatch.setenv("ZOO_BENCHMARKS_PATH", str(tmp_path))
    args = ["bench", "run", "--entry", "bert_mini.sst2", "--benchmark", "spam",
            "--results", str(tmp_path / "r")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "predicts the classes negative, positive" in err and "labels ham, spam" in err
    assert "--label-map" in err and _records(tmp_path / "r") == []
    with pytest.raises(EvaluationError, match="negative, positive .* ham, spam"):
        runner.run("bert_mini", "spam", weights=ROOT / "zoo/entries/bert_mini.sst2",
                   results_dir=tmp_path / "r", progress=False)
    assert main([*args, "--label-map", "negative=ham"]) == 2
    assert "positive is not mapped" in capsys.readouterr().err
    assert main([*args, "--label-map", "negative=ham,positive=junk"]) == 2
    assert "junk is not among benchmark 'spam''s labels ham, spam" in capsys.readouterr().err

    assert main([*args, "--label-map", "negative=ham,positive=spam"]) == 0
    first = _records(tmp_path / "r")[0]
    record = records.read(first)
    assert record["evaluation"]["labels"] == {
        "model": ["negative", "positive"], "benchmark": ["ham", "spam"],
        "source": "the classes of its recipe's dataset 'sst2'",
        "map": {"negative": "ham", "positive": "spam"}, "matched": "by map"}
    swapped, _ = runner.run("bert_mini", "spam", weights=ROOT / "zoo/entries/bert_mini.sst2",
                            results_dir=tmp_path / "r2", progress=False,
                            label_map={"negative": "spam", "positive": "ham"})
    rows, other = records.read_predictions(first), records.read_predictions(_records(
        tmp_path / "r2")[0])
    assert [r["prediction"] for r in other] == [1 - r["prediction"] for r in rows]
    assert [r["confidence"] for r in other] == [r["confidence"] for r in rows]
    assert swapped["evaluation"]["labels"]["matched"] == "by map"


def test_a_label_map_into_a_benchmark_with_more_labels_scores_the_mapped_classes(
        tmp_path, text_weights, capsys):
    """A two-class model (en, es) on trec-6 (six labels) with --label-map en=ABBR,es=DESC:
    every model class is mapped, so it is scored; the four other labels are never predicted
    (recorded). Was a KeyError. The converse (more model classes than benchmark labels, or a
    class left out) is refused with the classes named, no traceback."""
    from zoo.cli import main

    args = ["bench", "run", "--model", "bert_tiny", "--benchmark", "trec-6", "--weights", str(text_weights),
            "--data-dir", str(SHARED_DATA), "--limit", "30", "--results", str(tmp_path / "r")]
    assert main([*args, "--label-map", "en=ABBR,es=DESC"]) == 0, capsys.readouterr().err
    assert "never predicted" in capsys.readouterr().err
    record = records.read(_records(tmp_path / "r")[0])
    assert record["evaluation"]["labels"]["unmapped"] == ["ENTY", "HUM", "LOC", "NUM"]
    assert {r["prediction"] for r in records.read_predictions(_records(tmp_path / "r")[0])} <= {
        0, 1}
    assert main([*args, "--label-map", "en=ABBR"]) == 2
    assert "es is not mapped" in capsys.readouterr().err
    with pytest.raises(EvaluationError, match="more than one model class"):
        runner.run("bert_tiny", "trec-6", weights=text_weights, data_dir=SHARED_DATA, limit=5,
                   results_dir=tmp_path / "r3", progress=False, label_map="en=ABBR,es=ABBR")


def test_a_model_with_more_classes_than_the_benchmark_is_refused_by_name():
    from zoo.harness import labels

    with pytest.raises(EvaluationError, match=r"c is not mapped\. The model has 3 classes"):
        labels.match(("x", "y"), ("a", "b", "c"), "its run.json", "b", {"a": "x", "b": "y"})
    assert labels.match(("a", "b", "c"), ("x", "y"), "s", "b", {"x": "a", "y": "b"}) == (
        [0, 1, None], "by map")


def test_the_same_class_names_in_another_order_are_scored_by_name(tmp_path, capsys):
    import zoo
    from zoo import datasets

    model = zoo.build("vit_tiny_patch2_8", num_classes=10, image_size=8, num_channels=1)
    model.save(tmp_path / "model.keras")
    (tmp_path / "run.json").write_text(json.dumps({"labels": [str(9 - i) for i in range(10)]}))
    record, path = runner.run("vit_tiny_patch2_8", "digits", weights=tmp_path / "model.keras",
                              limit=40, results_dir=tmp_path / "r", progress=False)
    own = model.predict(datasets.load("digits", "test").inputs[:40], verbose=0).argmax(1)
    assert [r["prediction"] for r in records.read_predictions(path)] == (9 - own).tolist()
    assert record["evaluation"]["labels"]["matched"] == "by name"
    # Beside no run.json the names are unknown: scored by position, and said so.
    (tmp_path / "run.json").unlink()
    record, path = runner.run("vit_tiny_patch2_8", "digits", weights=tmp_path / "model.keras",
                              limit=40, results_dir=tmp_path / "r", progress=False)
    assert "class names are unknown" in capsys.readouterr().err
    assert record["evaluation"]["labels"]["matched"] == "by position"
    assert record["evaluation"]["labels"]["model"] is None
    assert [r["prediction"] for r in records.read_predictions(path)] == own.tolist()


# --- Values -----------------------------------------------------------------------------------

NPZ_BENCHMARK = '''
id = "mine"
version = 1
task = "image_classification"
description = "8x8 images"
dataset = "files"
split = "test"
labels = ["a", "b"]
metrics = ["accuracy"]
main_metric = "accuracy"

[files]
kind = "npz"
path = "mine.npz"
'''


def _npz_benchmark(folder, images, labels):
    np.savez(folder / "mine.npz", images=images, labels=labels)
    (folder / "mine.toml").write_text(NPZ_BENCHMARK)


def test_non_finite_images_and_outputs_are_refused_not_scored(tmp_path, monkeypatch):
    import zoo
    from zoo import datasets
    from zoo.cli import main

    model = zoo.build("vit_tiny_patch2_8", num_classes=2, image_size=8, num_channels=1)
    model.save(tmp_path / "m.keras")
    images = np.random.default_rng(0).random((40, 8, 8)).astype("float32")
    images[17, 3, 3] = np.nan
    _npz_benchmark(tmp_path, images, np.arange(40) % 2)
    monkeypatch.setenv("ZOO_BENCHMARKS_PATH", str(tmp_path))
    with pytest.raises(datasets.DataFormatError, match=r"mine.npz: expected finite pixel values "
                                                       r"\(no NaN or infinity\), got nan in "
                                                       r"image 17"):
        runner.run("vit_tiny_patch2_8", "mine", weights=tmp_path / "m.keras",
                   results_dir=tmp_path / "r", progress=False)
    assert main(["bench", "run", "--model", "vit_tiny_patch2_8", "--benchmark", "mine",
                 "--results", str(tmp_path / "r")]) == 1
    assert _records(tmp_path / "r") == []
    # A model whose outputs are NaN (a diverged run) is refused at the first such example.
    _npz_benchmark(tmp_path, np.nan_to_num(images), np.arange(40) % 2)
    weights = model.get_weights()
    weights[-1] = np.full_like(weights[-1], np.nan)
    model.set_weights(weights)
    model.save(tmp_path / "nan.keras")
    with pytest.raises(EvaluationError, match="outputs \\(logits\\) for example 0 .* are NaN or "
                                              "infinite"):
        runner.run("vit_tiny_patch2_8", "mine", weights=tmp_path / "nan.keras",
                   results_dir=tmp_path / "r", progress=False)
    assert _records(tmp_path / "r") == []


def test_a_header_only_file_fails_before_the_model_loads(tmp_path, monkeypatch):
    from zoo import datasets
    from zoo.cli import main

    (tmp_path / "spam.tsv").write_text("text\tlabel\n", encoding="utf-8")
    (tmp_path / "spam.toml").write_text(SPAM_BENCHMARK, encoding="utf-8")
    (tmp_path / "broken.keras").write_bytes(b"not a model")  # loading it would fail otherwise
    monkeypatch.setenv("ZOO_BENCHMARKS_PATH", str(tmp_path))
    with pytest.raises(datasets.DataFormatError, match="spam.tsv: expected at least one labeled "
                                                       "text, got none"):
        runner.run("bert_tiny", "spam", weights=tmp_path / "broken.keras",
                   results_dir=tmp_path / "r", progress=False)
    assert main(["bench", "run", "--model", "bert_tiny", "--benchmark", "spam", "--weights",
                 str(tmp_path / "broken.keras"), "--results", str(tmp_path / "r")]) == 1
    assert _records(tmp_path / "r") == []


@pytest.mark.slow
def test_a_byte_order_mark_does_not_lower_bleu(tmp_path, monkeypatch, translation_weights):
    """References that equal the model's own translations score BLEU 100, also when the files
    start with a UTF-8 byte-order mark (as Windows editors write them)."""
    from zoo import datasets

    test = datasets.load("tatoeba-en-es-sample", "test")
    sources = test.inputs[:8]
    first, path = runner.run("transformer_tiny", "tatoeba-en-es-sample",
                             weights=translation_weights, limit=8, results_dir=tmp_path / "r0",
                             progress=False)
    hypotheses = [r["hypothesis"] for r in records.read_predictions(path)]
    assert sum(len(h.split()) for h in hypotheses) >= 16
    (tmp_path / "src.en").write_text("\ufeff" + "\n".join(sources) + "\n", encoding="utf-8")
    (tmp_path / "ref.es").write_text("\ufeff" + "\n".join(hypotheses) + "\n", encoding="utf-8")
    (tmp_path / "mine-mt.toml").write_text(
        (ROOT / "zoo" / "benchmarks" / "tatoeba-en-es-sample.toml").read_text(encoding="utf-8")
        .replace('id = "tatoeba-en-es-sample"', 'id = "mine-mt"')
        .replace('dataset = "tatoeba-en-es-sample"', 'dataset = "files"')
        .replace('train_split = "train"\n', "")
        + '\n[files]\nkind = "translation"\nsource_path = "src.en"\ntarget_path = "ref.es"\n',
        encoding="utf-8")
    monkeypatch.setenv("ZOO_BENCHMARKS_PATH", str(tmp_path))
    record, path = runner.run("transformer_tiny", "mine-mt", weights=translation_weights,
                              results_dir=tmp_path / "r", progress=False)
    rows = records.read_predictions(path)
    assert rows[0]["source"] == sources[0] and rows[0]["reference"] == hypotheses[0]
    assert [r["hypothesis"] for r in rows] == hypotheses
    assert record["metrics"]["bleu"]["value"] == pytest.approx(100.0)


# --- Resuming ---------------------------------------------------------------------------------


def _kill_part_way(args, partial_dir, at_least):
    """Starts `zoo ARGS`, SIGKILLs it once its (new) saved predictions hold `at_least` rows;
    their file and the number of rows it saved."""
    before = set(partial_dir.glob("*.jsonl")) if partial_dir.is_dir() else set()
    process = _cli(*args)
    deadline = time.time() + 120
    files = []
    while time.time() < deadline:
        files = sorted(set(partial_dir.glob("*.jsonl")) - before) if partial_dir.is_dir() else []
        if files and sum(1 for _ in open(files[0])) >= at_least:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert files, process.stderr.read()[-2000:]
    return files[0], sum(1 for _ in open(files[0]))


@pytest.mark.slow
def test_a_rerun_resumes_only_predictions_of_the_same_data(tmp_path, monkeypatch, capsys):
    """Killed half-way, then rerun after the data file was corrected (same number of examples):
    the rerun predicts the new data afresh. Rerun on unchanged data, it resumes, and its
    throughput counts only the examples it predicted itself."""
    import zoo

    n = 3000
    rng = np.random.default_rng(0)
    model = zoo.build("vit_tiny_patch2_8", num_classes=2, image_size=8, num_channels=1)
    model.save(tmp_path / "m.keras")
    (tmp_path / "run.json").write_text(json.dumps({"labels": ["a", "b"]}))
    images, labels = rng.random((n, 8, 8)).astype("float32"), rng.integers(0, 2, n)
    _npz_benchmark(tmp_path, images, labels)
    monkeypatch.setenv("ZOO_BENCHMARKS_PATH", str(tmp_path))
    args = ["bench", "run", "--model", "vit_tiny_patch2_8", "--benchmark", "mine", "--weights",
            str(tmp_path / "m.keras"), "--batch-size", "8", "--results", str(tmp_path / "r")]

    def rerun(results):
        return runner.run("vit_tiny_patch2_8", "mine", weights=tmp_path / "m.keras",
                          batch_size=8, results_dir=tmp_path / results)

    _, done = _kill_part_way(args, tmp_path / "r" / ".incomplete", 400)
    assert done < n
    _npz_benchmark(tmp_path, 1 - images, 1 - labels)  # corrected: same count, other values
    record, path = rerun("r")
    assert "resuming" not in capsys.readouterr().err
    own = model.predict((1 - images)[..., None], batch_size=8, verbose=0).argmax(1)
    predictions = [r["prediction"] for r in records.read_predictions(path)]
    assert predictions == own.tolist()
    assert record["metrics"]["accuracy"]["value"] == pytest.approx(np.mean(own == 1 - labels))
    assert record["throughput"]["examples_resumed"] == 0
    assert record["throughput"]["examples_predicted"] == n

    _, done = _kill_part_way(args, tmp_path / "r" / ".incomplete", 400)
    capsys.readouterr()
    record, path = rerun("r")
    assert f"resuming after {done:,} of {n:,} examples" in capsys.readouterr().err
    throughput = record["throughput"]
    assert throughput["examples_resumed"] == done and throughput["examples_predicted"] == n - done
    assert throughput["examples_per_second"] == pytest.approx(
        (n - done) / throughput["model_seconds"], rel=0.01)
    assert [r["prediction"] for r in records.read_predictions(path)] == predictions
