import json

import pytest

from zoo import records
from zoo.harness import benchmarks

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
        (("task = \"text_classification\"", "task = \"ranking\""), "task must be one of image_classification"),
        (("description", "descripton"), "Did you mean: 'description'"),
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
    record = records.example(run_id="r1")
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


HEAD = GOOD[:GOOD.index("[files]")]
FILES = GOOD[GOOD.index("[files]"):]
BUILTIN = """
id = "mine"
version = 1
task = "text_classification"
description = "sst2 again"
dataset = "sst2"
split = "dev"
labels = ["negative", "positive"]
metrics = ["accuracy"]
main_metric = "accuracy"
"""


# (benchmark file text, the field and what it must be, as the message says)
MALFORMED = {
    "files is a string": (HEAD.replace("metrics =", 'files = "x"\nmetrics ='),
                          "files must be a table with a kind"),
    "files without kind": (HEAD + FILES.replace('kind = "text_classification"\n', ""),
                           "missing required field 'files.kind'"),
    "path is a number": (HEAD + FILES.replace('path = "data/tickets.tsv"', "path = 5"),
                         "files.path must be a path (a non-empty string), got the integer 5"),
    "misspelt option": (HEAD + FILES.replace("text_column", "text_colum"),
                        "unknown field 'files.text_colum' (Did you mean: 'text_column'"),
    "labels is a string": (GOOD.replace('labels = ["bug", "feature"]', 'labels = "01"'),
                           "labels must be an array of at least 2 different items, each a "
                           "non-empty string or an integer, got the string '01'"),
    "labels twice": (GOOD.replace('labels = ["bug", "feature"]', 'labels = ["a", "a"]'),
                     "labels must hold different items, got 'a' twice"),
    "labels twice as strings": (GOOD.replace('labels = ["bug", "feature"]', 'labels = [0, "0"]'),
                                "labels must hold different items, got '0' twice"),
    "version is a string": (GOOD.replace("version = 1", 'version = "1"'),
                            "version must be a positive integer, got the string '1'"),
    "metrics is a string": (GOOD.replace('metrics = ["accuracy", "macro_f1"]',
                                         'metrics = "macro_f1"'),
                            "metrics must be an array"),
    "header is a string": (GOOD + 'header = "yes"\n',
                           "files.header must be true or false, got the string 'yes'"),
    "unknown file kind": (GOOD.replace('kind = "text_classification"', 'kind = "csv"'),
                          "files.kind must be one of text_classification, translation"),
    "a kind for another task": (HEAD + '[files]\nkind = "npz"\npath = "x.npz"\n',
                                "files.kind 'npz' cannot hold a text_classification benchmark"),
    "misspelt preprocessing": (GOOD.replace("[files]", "[preprocessing]\nmax_lenght = 64\n"
                                            "[files]"),
                               "unknown field 'preprocessing.max_lenght' (Did you mean: "
                               "'max_length'"),
    "beam width zero": (GOOD.replace("[files]", "[decoding]\nbeam_width = 0\n[files]"),
                        "decoding.beam_width must be a positive integer, got 0"),
    "resamples a string": (GOOD.replace("[files]", "[bootstrap]\nresamples = \"many\"\n[files]"),
                           "bootstrap.resamples must be a positive integer, got the string"),
    "unknown dataset": (BUILTIN.replace('"sst2"', '"sst3"'), "Unknown dataset 'sst3'"),
    "unknown split": (BUILTIN.replace('"dev"', '"test"'),
                      "split 'test' is not a split of dataset 'sst2'; splits: train, dev"),
    "labels out of order": (BUILTIN.replace('["negative", "positive"]', '["positive", "negative"]'),
                            "labels must be dataset 'sst2''s classes in their order"),
    "no labels": (BUILTIN.replace('labels = ["negative", "positive"]\n', ""),
                  "labels (the class names, in index order) are required"),
    "bad id": (GOOD.replace('id = "mine"', 'id = "../mine"'), "id must be a name of letters"),
}


def test_a_unique_list_compares_its_items_as_converted():
    """Conversion is part of the schema, so `unique` sees what the reader gets: [0, "0"] are
    the labels "0" and "0" (passed the check before, compared raw)."""
    from zoo import schema

    labels = schema.List(schema.Converted(schema.OneOf(schema.Str(), schema.Int()), str),
                         unique=True)
    table = schema.Table({"labels": schema.Field(labels)})
    assert schema.validate({"labels": [0, "1"]}, table, "f.toml") == {"labels": ("0", "1")}
    with pytest.raises(schema.SchemaError, match="f.toml: labels must hold different items, "
                                                 "got '0' twice"):
        schema.validate({"labels": [0, "0"]}, table, "f.toml")


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_every_field_is_checked_with_file_field_and_expected_type(tmp_path, case):
    text, message = MALFORMED[case]
    path = write(tmp_path, "mine", text)
    with pytest.raises(benchmarks.BenchmarkError) as info:
        benchmarks.parse(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)


def test_one_bad_benchmark_file_never_hides_the_others(tmp_path, monkeypatch, capsys):
    from zoo.cli import main

    write(tmp_path, "mine", GOOD)
    bad = write(tmp_path, "bad", MALFORMED["files is a string"][0].replace('"mine"', '"bad"'))
    write(tmp_path, "digits", (benchmarks.search_path()[-1] / "digits.toml").read_text())
    monkeypatch.setenv("ZOO_BENCHMARKS_PATH", str(tmp_path))
    # Python: the good ones, and each bad file's error by its name.
    assert {"mine", "sst2"} <= set(benchmarks.list_benchmarks())
    assert not {"bad", "digits"} & set(benchmarks.list_benchmarks())
    assert benchmarks.get("mine").files["kind"] == "text_classification"
    with pytest.raises(benchmarks.BenchmarkError, match="files must be a table"):
        benchmarks.get("bad")
    with pytest.raises(benchmarks.BenchmarkError, match="'digits' is also shipped with zoo"):
        benchmarks.get("digits")  # defined twice: which one is meant is not guessed
    # The command line: list and show work and name the bad file on stderr.
    assert main(["bench", "list"]) == 0
    out, err = capsys.readouterr()
    assert {"mine", "sst2", "mnist"} <= {line.split()[0] for line in out.splitlines()}
    assert f"warning: skipped {bad}: files must be a table" in err
    assert "Traceback" not in err
    assert main(["bench", "show", "sst2"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["labels"] == ["negative", "positive"] and str(bad) in err
    assert main(["bench", "show", "bad"]) == 2
    assert f"error: {bad}: files must be a table" in capsys.readouterr().err
    assert main(["bench", "run", "--model", "bert_tiny", "--benchmark", "bad"]) == 2
    assert "files must be a table" in capsys.readouterr().err


def test_load_files_checks_its_options_as_a_benchmark_does(tmp_path):
    from zoo import datasets

    (tmp_path / "t.tsv").write_text("text\tlabel\nhello\ta\n")
    with pytest.raises(datasets.DatasetError,
                       match=r"unknown field 'text_colum' \(Did you mean: 'text_column'"):
        datasets.load_files("text_classification", path=tmp_path / "t.tsv", text_colum="text")
    with pytest.raises(datasets.DatasetError, match="path must be a path"):
        datasets.load_files("npz", path=5)
    with pytest.raises(datasets.DatasetError, match="either path .* or source_path and "
                                                    "target_path"):
        datasets.load_files("translation", source_path=tmp_path / "t.tsv")


def test_a_benchmark_reusing_a_shipped_id_is_refused_naming_both_files(tmp_path, monkeypatch,
                                                                       capsys):
    """The one rule recipes and entries follow too (`zoo.schema.scan`)."""
    from zoo.cli import main

    shipped = benchmarks.SHIPPED / "digits.toml"
    mine = tmp_path / "digits.toml"
    mine.write_text(shipped.read_text())
    monkeypatch.setenv("ZOO_BENCHMARKS_PATH", str(tmp_path))
    assert "digits" not in benchmarks.list_benchmarks()
    with pytest.raises(benchmarks.BenchmarkError) as info:
        benchmarks.get("digits")
    assert str(info.value) == (
        f"{mine}: the benchmark 'digits' is also shipped with zoo ({shipped}); a benchmark name "
        "must be unique on the search path, so neither is used. Rename yours (the file and its "
        "`id`).")
    assert main(["bench", "run", "--model", "vit_tiny_patch2_8", "--benchmark", "digits"]) == 2
    assert "Rename yours" in capsys.readouterr().err
    mine.rename(tmp_path / "my-digits.toml")
    (tmp_path / "my-digits.toml").write_text(shipped.read_text().replace(
        'id = "digits"', 'id = "my-digits"'))
    assert {"digits", "my-digits"} <= set(benchmarks.list_benchmarks())
