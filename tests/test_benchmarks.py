import json

import pytest

from zoo.harness import benchmarks, records

REQUIRED_IDS = {"digits", "mnist", "fashion-mnist", "sst2", "trec-6", "multi30k-en-de", "spa-eng",
                "mnist-vae"}


def test_the_declared_benchmarks_parse():
    assert REQUIRED_IDS <= set(benchmarks.list_benchmarks())
    sst2 = benchmarks.get("sst2")
    assert (sst2.split, sst2.labels, sst2.main_metric) == ("dev", ("negative", "positive"), "accuracy")
    de = benchmarks.get("multi30k-en-de")
    assert de.bleu["tokenize"] == "13a" and de.decoding["beam_width"] == 4
    assert benchmarks.get("mnist-vae").higher_is_better is False
    assert benchmarks.get("mnist-vae").preprocessing["binarize"] == "stochastic"
    for benchmark_id in REQUIRED_IDS:
        json.dumps(benchmarks.get(benchmark_id).to_dict())


def test_unknown_benchmark_lists_close_ids():
    with pytest.raises(KeyError, match="Did you mean: 'mnist'"):
        benchmarks.get("mnits")


def write(folder, name, text):
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


GOOD = """
id = "mine"
version = 1
task = "text_classification"
description = "my tickets"
dataset = "files"
split = "test"
labels = ["bug", "feature"]
metrics = ["accuracy", "macro_f1"]
main_metric = "macro_f1"
[files]
kind = "text_classification"
path = "data/tickets.tsv"
text_column = "text"
label_column = "label"
"""


def test_a_users_benchmark_is_a_file_not_code(tmp_path, monkeypatch):
    write(tmp_path, "mine", GOOD)
    monkeypatch.setenv("ZOO_BENCHMARKS_PATH", str(tmp_path))
    spec = benchmarks.get("mine")
    assert spec.files["path"] == str(tmp_path / "data" / "tickets.tsv")  # relative to the file
    assert "mine" in benchmarks.list_benchmarks()


@pytest.mark.parametrize(
    "change, message",
    [
        (("main_metric = \"macro_f1\"", "main_metric = \"bleu\""), "not computed for text_classification"),
        (("version = 1", "version = 0"), "positive integer"),
        (("task = \"text_classification\"", "task = \"ranking\""), "not one of"),
        (("description", "descripton"), "did you mean 'description'"),
        (("dataset = \"files\"", "dataset = \"sst2\""), "[files] table"),
        (("id = \"mine\"", "id = \"other\""), "named after its id"),
        (("labels =", "labels = ["), "not valid TOML"),
    ],
)
def test_bad_benchmark_files_are_refused_with_file_and_fix(tmp_path, change, message):
    path = write(tmp_path, "mine", GOOD.replace(*change, 1))
    with pytest.raises(benchmarks.BenchmarkError) as info:
        benchmarks.parse(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_records_never_overwrite_and_bad_records_are_refused(tmp_path):
    record = {
        "schema": 1, "run_id": "r1", "created": "2026-11-22T00:00:00Z", "model": {},
        "benchmark": {"id": "digits"}, "evaluation": {}, "throughput": {}, "provenance": {},
        "flags": {}, "main_metric": {},
        "metrics": {"accuracy": {"value": 0.5, "low": 0.4, "high": 0.6}},
    }
    path = records.write(record, [{"index": 0}], tmp_path)
    assert records.read(path)["predictions_file"] == "r1.predictions.jsonl"
    assert records.read_predictions(path) == [{"index": 0}]
    with pytest.raises(FileExistsError):
        records.write(record, [{"index": 1}], tmp_path)
    assert records.read_predictions(path) == [{"index": 0}]
    assert sorted(p.name for p in (tmp_path / "digits").iterdir()) == [
        "r1.json", "r1.predictions.jsonl"]  # no temporary files left behind
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": 1}')
    with pytest.raises(records.RecordError, match="missing"):
        records.read(bad)
    bad.write_text("{not json")
    with pytest.raises(records.RecordError, match="bad.json"):
        records.read(bad)
