"""Your own data, no code: a recipe trains on the user's files (the `[files]` table a
benchmark uses) or on a benchmark's training data, `zoo init` writes a starting recipe, the
untrained floor of a text benchmark learns its tokenizer, and test data seen in training is
found by content (files benchmarks included), counted and never ranked."""

import json
from pathlib import Path

import numpy as np
import pytest

from zoo import datasets, records, tasks
from zoo.cli import main
from zoo.datasets import catalog
from zoo.harness import benchmarks, contamination, runner
from zoo.leaderboard import collect, site
from zoo.models import catalog as models
from zoo.registry import UnknownNameError
from zoo.training import recipes, sources, starter
from zoo.training.errors import RecipeError

QUIET = {"log": lambda *_: None}


# --- Files of each kind, as a user has them ---------------------------------------------------


def write_tsv(path, rows, header=("text", "label"), delimiter="\t"):
    """A TSV (no quoting, as zoo reads tab-separated files) or, with `delimiter=","`, a CSV."""
    import csv

    rows = ([header] if header else []) + [list(r) for r in rows]
    with open(path, "w", encoding="utf-8", newline="") as f:
        if delimiter == "\t":
            f.writelines("\t".join(row) + "\n" for row in rows)
        else:
            csv.writer(f, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return path


def language_rows(split, n):
    """`(sentence, "en"|"es")` rows from the shipped Tatoeba sample's `split`."""
    pairs = datasets.load("tatoeba-en-es-sample", split)
    return [row for e, s in zip(pairs.inputs[:n], pairs.targets[:n])
            for row in ((e, "en"), (s, "es"))]


def digit_images(split, n):
    """`(uint8 images [n, 8, 8], class names)`: scikit-learn's digits as 8-bit pixels."""
    digits = datasets.load("digits", split)
    images = np.round(digits.inputs[:n, :, :, 0] * 255).astype(np.uint8)
    return images, [digits.label_names[t] for t in digits.targets[:n]]


def write_image_folder(folder, images, names):
    from PIL import Image

    for i, (image, name) in enumerate(zip(images, names)):
        (Path(folder) / name).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, mode="L").save(Path(folder) / name / f"{i:04d}.png")
    return folder


def write_npz(path, images, names):
    np.savez(path, images=images, labels=np.array(names))
    return path


def write_translation(path, n):
    pairs = datasets.load("tatoeba-en-es-sample", "train")
    return write_tsv(path, list(zip(pairs.inputs[:n], pairs.targets[:n])), header=None)


def write_text(path, n):
    pairs = datasets.load("tatoeba-en-es-sample", "train")
    Path(path).write_text("\n".join(pairs.inputs[:n]) + "\n", encoding="utf-8")
    return path


#: A small training file of each file kind, and the `[files]` table that reads it.
FILE_MAKERS = {
    "text_classification": lambda d: {"path": str(write_tsv(d / "train.tsv",
                                                            language_rows("train", 40)))},
    "translation": lambda d: {"path": str(write_translation(d / "pairs.tsv", 40))},
    "image_folder": lambda d: {"path": str(write_image_folder(d / "images",
                                                              *digit_images("train", 60)))},
    "npz": lambda d: {"path": str(write_npz(d / "digits.npz", *digit_images("train", 60)))},
    "text": lambda d: {"path": str(write_text(d / "corpus.txt", 200))},
}


def smallest_model(task):
    """The registered model with the fewest parameters whose family serves `task`."""
    serving = [m for m in models.list_models() if models.head_for(m, task) is not None]
    return min(serving, key=lambda m: models.get_spec(m).params or 10 ** 12)


def recipe_over(tmp_path, task, files, **fields):
    model = smallest_model(task)
    text = {"max_length": 24} if "max_length" in tasks.get(task).RECIPE_FIELDS else {}
    return recipes.Recipe.from_dict({
        "entry": f"own.{task}", "model": model, "task": task, "dataset": "files",
        "files": files, "steps": 2, "batch_size": 8, "checkpoint_every": 2, "log_every": 1,
        **text, **fields})


# --- The recipe's data -----------------------------------------------------------------------


def test_a_recipe_reads_its_files_relative_to_itself(tmp_path):
    (tmp_path / "data").mkdir()
    write_tsv(tmp_path / "data" / "train.tsv", language_rows("train", 5))
    path = tmp_path / "langs.toml"
    path.write_text('entry = "langs"\nmodel = "bert_tiny"\ntask = "text_classification"\n'
                    'dataset = "files"\nsteps = 3\nlabels = ["es", "en"]\n\n[files]\n'
                    'kind = "text_classification"\npath = "data/train.tsv"\n', encoding="utf-8")
    recipe = recipes.parse(path)
    assert recipe.files["path"] == str((tmp_path / "data" / "train.tsv").resolve())
    assert recipe.data_description == "files train.tsv"
    read = sources.load(recipe, **QUIET)
    assert read.examples.label_names == ("es", "en")  # declared, in output order
    assert read.sources == [{
        "dataset": "files", "split": None, "kind": "text_classification", "examples": 10,
        "files": [[recipe.files["path"], catalog.sha256_of(recipe.files["path"])]],
        "examples_sha256": read.examples.sha256()}]
    assert np.array_equal(read.digests[0], read.examples.digests())


GOOD = {"entry": "mine", "model": "bert_tiny", "task": "text_classification",
        "dataset": "files", "steps": 3, "files": {"kind": "text_classification", "path": "x"}}
BAD_RECIPES = {
    "files without a table": ({"files": None}, 'over your own files sets dataset = "files" '
                              "and a [files] table"),
    "a table without files": ({"dataset": "sst2"}, 'sets dataset = "files" and a [files]'),
    "a file kind the task does not read": (
        {"files": {"kind": "npz", "path": "x.npz"}},
        "files.kind 'npz' cannot hold a text_classification recipe; use text_classification"),
    "labels of a named dataset": ({"dataset": "sst2", "files": None, "labels": ["a", "b"]},
                                  "labels declare the classes of your own files"),
    "labels of pairs": ({"model": "transformer_tiny", "task": "translation",
                         "files": {"kind": "translation", "path": "x.tsv"},
                         "labels": ["a", "b"]}, "a translation recipe has none"),
    "a misspelt dataset": ({"dataset": "sst", "files": None},
                           "dataset: Unknown dataset 'sst'. Did you mean: 'sst2'"),
    "a split the dataset has not": ({"dataset": "sst2", "files": None, "split": "test"},
                                    "split: 'test' is not a split of dataset 'sst2'; splits: "
                                    "train, dev"),
    "a benchmark's data without the benchmark": (
        {"dataset": "benchmark", "files": None},
        'dataset = "benchmark" trains on the training data of the recipe\'s benchmark'),
    "validation files and a split": (
        {"model": "transformer_tiny", "task": "translation",
         "files": {"kind": "translation", "path": "x.tsv"},
         "validation": {"split": "val", "files": {"kind": "translation", "path": "v.tsv"}}},
        "validation reads validation.files or a validation.split"),
    "validation of files without files": (
        {"model": "transformer_tiny", "task": "translation",
         "files": {"kind": "translation", "path": "x.tsv"}, "validation": {"examples": 5}},
        "validation of a recipe over your own files reads validation.files"),
    "a misspelt file option": ({"files": {"kind": "text_classification", "path": "x",
                                          "text_colum": "t"}},
                               "unknown field 'files.text_colum' (Did you mean: "
                               "'text_column'"),
}


@pytest.mark.parametrize("changes, message", BAD_RECIPES.values(), ids=BAD_RECIPES)
def test_a_recipe_whose_data_cannot_be_read_is_refused_naming_the_fix(changes, message):
    with pytest.raises(RecipeError) as refused:
        recipes.Recipe.from_dict({**GOOD, **changes}, "mine.toml")
    assert message in str(refused.value)
    assert str(refused.value).startswith("mine.toml: ")


def test_a_recipe_trains_on_a_benchmarks_training_data(tmp_path, monkeypatch):
    write_tsv(tmp_path / "train.tsv", language_rows("train", 4))
    write_tsv(tmp_path / "test.tsv", language_rows("test", 4))
    common = ('version = 1\ntask = "text_classification"\ndescription = "d"\n'
              'dataset = "files"\nsplit = "test"\nlabels = ["es", "en"]\n'
              'metrics = ["accuracy"]\nmain_metric = "accuracy"\n'
              '[files]\nkind = "text_classification"\npath = "test.tsv"\n')
    (tmp_path / "langs.toml").write_text(
        'id = "langs"\n' + common + '[train_files]\nkind = "text_classification"\n'
        'path = "train.tsv"\n', encoding="utf-8")
    (tmp_path / "langs-no-train.toml").write_text('id = "langs-no-train"\n' + common,
                                                  encoding="utf-8")
    monkeypatch.setenv("ZOO_BENCHMARKS_PATH", str(tmp_path))

    def over(benchmark, **fields):
        return sources.resolve(recipes.Recipe.from_dict(
            {**GOOD, "files": None, "dataset": "benchmark", "benchmark": benchmark, **fields}))

    resolved = over("langs")
    assert (resolved.dataset, resolved.labels) == ("files", ["es", "en"])
    assert resolved.files["path"] == str((tmp_path / "train.tsv").resolve())
    assert sources.load(resolved, **QUIET).examples.label_names == ("es", "en")
    assert benchmarks.get("langs").train_split == "train"
    named = over("tatoeba-langid-sample")
    assert (named.dataset, named.split) == ("tatoeba-langid-sample", "train")
    with pytest.raises(RecipeError, match="has no training data .*add one"):
        over("langs-no-train")
    with pytest.raises(RecipeError, match="'digits' is a image_classification benchmark"):
        over("digits")
    with pytest.raises(UnknownNameError, match="Did you mean: 'langs'"):
        over("lang")


def test_a_benchmarks_train_files_need_its_own_files(tmp_path):
    text = ('id = "b"\nversion = 1\ntask = "text_classification"\ndescription = "d"\n'
            'dataset = "digits"\nsplit = "test"\nlabels = ["a", "b"]\nmetrics = ["accuracy"]\n'
            'main_metric = "accuracy"\n[train_files]\nkind = "text_classification"\n'
            'path = "t.tsv"\n')
    (tmp_path / "b.toml").write_text(text, encoding="utf-8")
    with pytest.raises(benchmarks.BenchmarkError, match="train_files are the training data "
                       "of a benchmark over your own files"):
        benchmarks.parse(tmp_path / "b.toml")


# --- The same example, whatever holds it --------------------------------------------------------


def test_an_example_has_one_digest_whatever_file_holds_it(tmp_path):
    rows = language_rows("train", 6)
    tsv = catalog.load_files("text_classification", path=write_tsv(tmp_path / "a.tsv", rows))
    csv = catalog.load_files("text_classification", labels=["es", "en"],
                             path=write_tsv(tmp_path / "a.csv", rows, delimiter=","))
    assert tsv.label_names != csv.label_names  # numbered differently, the same examples
    assert np.array_equal(tsv.digests(), csv.digests())
    relabelled = catalog.load_files("text_classification", path=write_tsv(
        tmp_path / "b.tsv", [(text, "es" if label == "en" else "en") for text, label in rows]))
    assert not np.isin(relabelled.digests(), tsv.digests()).any()
    images, names = digit_images("test", 20)
    folder = catalog.load_files("image_folder",
                                path=write_image_folder(tmp_path / "img", images, names))
    npz = catalog.load_files("npz", path=write_npz(tmp_path / "d.npz", images, names))
    assert np.isin(folder.digests(), npz.digests()).all()  # the folder reads class by class


# --- Test data seen in training --------------------------------------------------------------


def test_overlap_is_counted_and_the_datasets_own_duplicates_do_not_flag(tmp_path):
    spec = benchmarks.get("tatoeba-langid-sample")
    test = datasets.load("tatoeba-langid-sample", "test")
    train = datasets.load("tatoeba-langid-sample", "train")
    leaked = write_tsv(tmp_path / "more.tsv", [(test.inputs[i], test.label_names[t])
                                               for i, t in enumerate(test.targets[-3:], 997)])
    extra = catalog.load_files("text_classification", path=leaked)
    sources.save_digests(tmp_path, [train.digests(), extra.digests()])
    own = [{"dataset": "tatoeba-langid-sample", "split": "train"},
           {"dataset": "files", "split": None, "files": [[str(leaked), "x"]]}]
    found = contamination.check(spec, test, own[:1], tmp_path)
    # The sample repeats 9 test sentences in its training split: every model trained on it saw
    # them; they are counted apart and do not flag the run.
    assert (found["examples_in_training"], found["examples_in_other_splits"]) == (0, 9)
    assert contamination.flagged(found) is False
    found = contamination.check(spec, test, own, tmp_path)
    assert (found["examples_in_training"], found["examples_in_other_splits"]) == (3, 9)
    assert contamination.flagged(found) is True
    named = contamination.check(spec, test, [{"dataset": "tatoeba-langid-sample",
                                              "split": "test"}], None)
    assert named["by_name"] and named["examples_in_training"] == 1000
    unknown = contamination.check(spec, test, own[1:], tmp_path / "elsewhere")
    assert unknown["unchecked"] and not contamination.flagged(unknown)


def test_a_published_entry_is_caught_on_a_files_benchmark_of_its_own_training_data(
        tmp_path, monkeypatch):
    """Was: a files benchmark over the entry's own training examples scored with the flag
    false. The entry kept no digests: its training split is read again and compared."""
    images, names = digit_images("train", 30)
    write_npz(tmp_path / "seen.npz", images, names)
    images, names = digit_images("test", 30)
    write_npz(tmp_path / "unseen.npz", images, names)
    for name in ("seen", "unseen"):
        (tmp_path / f"{name}.toml").write_text(
            f'id = "{name}"\nversion = 1\ntask = "image_classification"\ndescription = "d"\n'
            'dataset = "files"\nsplit = "test"\nlabels = ["0","1","2","3","4","5","6","7","8",'
            '"9"]\nmetrics = ["accuracy"]\nmain_metric = "accuracy"\n'
            f'[files]\nkind = "npz"\npath = "{name}.npz"\n', encoding="utf-8")
    monkeypatch.setenv("ZOO_BENCHMARKS_PATH", str(tmp_path))
    from zoo import entries

    folder = entries.folder("vit_tiny_patch2_8.digits")
    results = tmp_path / "results"
    seen, seen_path = runner.run("vit_tiny_patch2_8", "seen", weights=folder,
                                 results_dir=results, progress=False)
    unseen, _ = runner.run("vit_tiny_patch2_8", "unseen", weights=folder, results_dir=results,
                           progress=False)
    assert seen["flags"]["test_data_in_training"] is True
    assert seen["contamination"]["examples_in_training"] == 30
    assert "test data in training" in records.flags(seen)
    assert unseen["flags"]["test_data_in_training"] is False
    assert unseen["contamination"]["examples_in_training"] == 0
    boards, _ = collect.load(results, warn=lambda *_: None)
    board = {b.id: b for b in boards}["seen"]
    assert board.ranked == [] and [e.path for e in board.flagged] == [seen_path]
    files, _ = site.render(results, warn=lambda *_: None)
    page = files[f"entries/{seen['run_id']}.html"].decode()
    assert "Not ranked: the model saw this test data in training" in page
    assert "<dt>test examples seen in training</dt><dd>30 of 30</dd>" in page
    assert "<dd>digits/train</dd>" in page


def test_a_run_on_a_tsv_keeps_its_files_and_examples_and_is_caught_on_them(tmp_path,
                                                                          monkeypatch):
    """Trains on a headerless TSV (columns by number), scores on a files benchmark over a CSV
    of the same examples (flagged, every one counted) and on one of other examples (not)."""
    import zoo

    rows = language_rows("train", 20)
    write_tsv(tmp_path / "train.tsv", [(label, text) for text, label in rows], header=None)
    write_tsv(tmp_path / "copy.csv", rows, delimiter=",")
    write_tsv(tmp_path / "test.tsv", language_rows("test", 10))
    recipe = recipe_over(tmp_path, "text_classification", {
        "kind": "text_classification", "path": str(tmp_path / "train.tsv"), "header": False,
        "text_column": 1, "label_column": 0}, tokenizer={"vocabulary_size": 200})
    result = zoo.train(recipe, out=tmp_path / "run", **QUIET)
    info = json.loads((result["run_dir"] / "run.json").read_text())
    assert info["labels"] == ["en", "es"]
    source, = info["training_data"]
    assert source["files"] == [[str(tmp_path / "train.tsv"),
                                catalog.sha256_of(tmp_path / "train.tsv")]]
    assert source["examples"] == 40 and (result["run_dir"] / sources.DIGESTS_FILE).is_file()
    assert (result["run_dir"] / "tokenizer").is_dir()  # learned from the file, kept
    for name, path in (("copy", "copy.csv"), ("other", "test.tsv")):
        (tmp_path / f"{name}.toml").write_text(
            f'id = "{name}"\nversion = 1\ntask = "text_classification"\ndescription = "d"\n'
            'dataset = "files"\nsplit = "test"\nlabels = ["en", "es"]\n'
            'metrics = ["accuracy"]\nmain_metric = "accuracy"\n'
            f'[files]\nkind = "text_classification"\npath = "{path}"\n', encoding="utf-8")
    monkeypatch.setenv("ZOO_BENCHMARKS_PATH", str(tmp_path))
    copy, _ = runner.run(recipe.model, "copy", weights=result["run_dir"],
                         results_dir=tmp_path / "results", progress=False)
    other, _ = runner.run(recipe.model, "other", weights=result["run_dir"],
                          results_dir=tmp_path / "results", progress=False)
    assert copy["flags"]["test_data_in_training"] is True
    assert copy["contamination"]["examples_in_training"] == 40
    assert copy["model"]["training_data"][0]["examples_sha256"] == source["examples_sha256"]
    assert other["flags"]["test_data_in_training"] is False
    assert other["contamination"]["examples_in_training"] == 0


# --- The untrained floor of a text benchmark ----------------------------------------------------


def test_the_untrained_floor_of_a_text_benchmark_learns_its_tokenizer(tmp_path, monkeypatch):
    """Was: refused, "the model needs its tokenizer". Learned from the benchmark's training
    files, or (a benchmark without them) from the test examples, which flags the run."""
    write_tsv(tmp_path / "train.tsv", language_rows("train", 30))
    write_tsv(tmp_path / "test.tsv", language_rows("test", 8))
    for name, more in (("with-train", '[train_files]\nkind = "text_classification"\n'
                                      'path = "train.tsv"\n'), ("only-test", "")):
        (tmp_path / f"{name}.toml").write_text(
            f'id = "{name}"\nversion = 1\ntask = "text_classification"\ndescription = "d"\n'
            'dataset = "files"\nsplit = "test"\nlabels = ["en", "es"]\n'
            'metrics = ["accuracy"]\nmain_metric = "accuracy"\n[files]\n'
            f'kind = "text_classification"\npath = "test.tsv"\n{more}', encoding="utf-8")
    monkeypatch.setenv("ZOO_BENCHMARKS_PATH", str(tmp_path))
    record, _ = runner.run("bert_tiny", "with-train", results_dir=tmp_path, progress=False)
    tokenizer = record["model"]["tokenizer"]
    assert (tokenizer["learned_from"], tokenizer["split"], tokenizer["examples"]) == (
        "training data", "train", 60)
    assert tokenizer["examples_sha256"] == benchmarks.load_examples(
        benchmarks.get("with-train"), "train").sha256()
    assert record["flags"]["untrained"] and not record["flags"]["tokenizer_from_test_data"]
    assert "tokenizer from test data" not in records.flags(record)
    record, _ = runner.run("bert_tiny", "only-test", results_dir=tmp_path, progress=False)
    assert (record["model"]["tokenizer"]["learned_from"],
            record["model"]["tokenizer"]["split"]) == ("test data", "test")
    assert record["flags"]["tokenizer_from_test_data"] is True
    assert "tokenizer from test data" in records.flags(record)


@pytest.mark.slow
def test_the_untrained_floor_of_a_named_text_benchmark_learns_from_its_train_split(tmp_path):
    record, _ = runner.run("bert_tiny", "tatoeba-langid-sample", limit=16,
                           results_dir=tmp_path, progress=False)
    tokenizer = record["model"]["tokenizer"]
    assert (tokenizer["learned_from"], tokenizer["split"], tokenizer["examples"]) == (
        "training data", "train", 8000)
    assert not record["flags"]["tokenizer_from_test_data"]


# --- Every task kind, from files -------------------------------------------------------------


def _kinds_with_files():
    return [kind for kind in tasks.names() if tasks.get(kind).FILE_KINDS
            and models.families_serving(kind)]


@pytest.mark.slow
@pytest.mark.parametrize("task", _kinds_with_files())
def test_every_task_kind_trains_on_its_files(task, tmp_path):
    import zoo

    for file_kind in tasks.get(task).FILE_KINDS:
        assert file_kind in FILE_MAKERS, f"no test file of kind {file_kind}: add a maker"
    file_kind = tasks.get(task).FILE_KINDS[0]
    recipe = recipe_over(tmp_path, task, {"kind": file_kind, **FILE_MAKERS[file_kind](tmp_path)})
    result = zoo.train(recipe, out=tmp_path / "run", **QUIET)
    info = json.loads((result["run_dir"] / "run.json").read_text())
    assert info["status"] == "complete" and info["training_data"][0]["kind"] == file_kind
    assert sources.read_digests(result["run_dir"])[0].shape == (info["examples"],)


# --- zoo init ----------------------------------------------------------------------------------


def _served():
    return [kind for kind in tasks.names() if models.families_serving(kind)]


@pytest.mark.parametrize("task", _served())
def test_zoo_init_writes_a_recipe_that_loads_for_every_task_kind(task, tmp_path, capsys):
    path = tmp_path / f"my-{task}.toml"
    assert main(["init", str(path), "--model", smallest_model(task), "--task", task]) == 0
    assert f"wrote {path}" in capsys.readouterr().out
    recipe = recipes.parse(path)
    assert (recipe.entry, recipe.task) == (f"my-{task}", task)
    assert recipe.dataset == ("files" if tasks.get(task).FILE_KINDS else recipe.dataset)
    assert path.read_text(encoding="utf-8").startswith(f"# my-{task}: a starting recipe")


def test_zoo_init_takes_the_files_and_benchmarks_it_is_given(tmp_path, monkeypatch):
    images, names = digit_images("train", 10)
    write_image_folder(tmp_path / "data" / "images", images, names)
    write_npz(tmp_path / "data" / "d.npz", images, names)
    folder = starter.write(tmp_path / "folder.toml", "vit_tiny_patch2_8",
                           files=tmp_path / "data" / "images")
    assert recipes.parse(folder).files == {"kind": "image_folder",
                                           "path": str(tmp_path / "data" / "images")}
    assert 'path = "data/images"' in folder.read_text()  # relative to the recipe
    npz = recipes.parse(starter.write(tmp_path / "npz.toml", "vit_tiny_patch2_8",
                                      files=tmp_path / "data" / "d.npz"))
    assert npz.files["kind"] == "npz"
    on_benchmark = recipes.parse(starter.write(tmp_path / "b.toml", "vit_tiny_patch2_8",
                                               benchmark="digits"))
    with pytest.raises(RecipeError, match="cannot be trained for text_classification"):
        starter.write(tmp_path / "c.toml", "vit_tiny_patch2_8", benchmark="sst2")
    write_tsv(tmp_path / "test.tsv", language_rows("test", 3))
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "no-train.toml").write_text(
        'id = "no-train"\nversion = 1\ntask = "text_classification"\ndescription = "d"\n'
        'dataset = "files"\nsplit = "test"\nlabels = ["en", "es"]\nmetrics = ["accuracy"]\n'
        'main_metric = "accuracy"\n[files]\nkind = "text_classification"\n'
        'path = "../test.tsv"\n', encoding="utf-8")
    monkeypatch.setenv("ZOO_BENCHMARKS_PATH", str(tmp_path / "bench"))
    with pytest.raises(RecipeError, match="benchmark 'no-train' has no training data"):
        starter.write(tmp_path / "d.toml", "bert_tiny", benchmark="no-train")
    assert not (tmp_path / "c.toml").exists() and not (tmp_path / "d.toml").exists()
    assert (on_benchmark.dataset, on_benchmark.benchmark) == ("benchmark", "digits")
    assert (sources.resolve(on_benchmark).dataset, sources.resolve(on_benchmark).split) == (
        "digits", "train")


def test_zoo_init_refuses_what_it_cannot_write(tmp_path, capsys):
    path = tmp_path / "mine.toml"
    path.write_text("mine", encoding="utf-8")
    for argv, message in [
        ([str(path), "--model", "vit_tiny_patch2_8"], "exists; zoo init never replaces"),
        ([str(tmp_path / "a.toml"), "--model", "vit_tiny_patch2"],
         "Unknown model 'vit_tiny_patch2'. Did you mean: 'vit_tiny_patch2_8'"),
        ([str(tmp_path / "a.toml"), "--model", "bert_tiny", "--task", "text_clasification"],
         "Unknown task kind 'text_clasification'. Did you mean: 'text_classification'"),
        ([str(tmp_path / "a.toml"), "--model", "bert_tiny"], "say which with --task"),
        ([str(tmp_path / "a.toml"), "--model", "vit_tiny_patch2_8", "--task", "translation"],
         "cannot be trained for translation"),
        ([str(tmp_path / "a.txt"), "--model", "vit_tiny_patch2_8"], "a recipe is a .toml file"),
        ([str(tmp_path / "a b.toml"), "--model", "vit_tiny_patch2_8"], "the recipe's entry is "
         "its file's name"),
    ]:
        assert main(["init", *argv]) == 2, argv
        assert message in capsys.readouterr().err, argv
    assert path.read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.toml"]


def test_a_vae_probe_over_files_fits_on_the_benchmarks_train_files(tmp_path, monkeypatch):
    """Was: a files benchmark's probe read its training split with `datasets.load("files")`,
    an unknown dataset."""
    images, names = digit_images("train", 60)
    write_npz(tmp_path / "train.npz", images, names)
    images, names = digit_images("test", 20)
    write_npz(tmp_path / "test.npz", images, names)
    (tmp_path / "my-vae.toml").write_text(
        'id = "my-vae"\nversion = 1\ntask = "image_generation"\ndescription = "d"\n'
        'dataset = "files"\nsplit = "test"\nlabels = ["0","1","2","3","4","5","6","7","8","9"]\n'
        'metrics = ["negative_elbo", "probe_accuracy"]\nmain_metric = "negative_elbo"\n'
        '[files]\nkind = "npz"\npath = "test.npz"\n[train_files]\nkind = "npz"\n'
        'path = "train.npz"\n', encoding="utf-8")
    monkeypatch.setenv("ZOO_BENCHMARKS_PATH", str(tmp_path))
    record, _ = runner.run("vae_tiny", "my-vae", results_dir=tmp_path,
                           progress=False)
    assert 0.0 <= record["metrics"]["probe_accuracy"]["value"] <= 1.0
    assert record["benchmark"]["definition"]["train_split"] == "train"


def test_pairs_are_compared_whole_and_absent_data_is_not_downloaded(tmp_path, monkeypatch):
    """A translation benchmark over a TSV of training pairs is caught against the named split
    it came from; a source whose files are not here is listed, not downloaded."""
    pairs = datasets.load("tatoeba-en-es-sample", "train")
    write_tsv(tmp_path / "seen.tsv", list(zip(pairs.inputs[:12], pairs.targets[:12])),
              header=None)
    spec = benchmarks.BenchmarkSpec(
        id="seen", version=1, task="translation", description="d", dataset="files",
        split="test", main_metric="bleu", metrics=("bleu",),
        files={"kind": "translation", "path": str(tmp_path / "seen.tsv")})
    test = benchmarks.load_examples(spec)
    found = contamination.check(spec, test, [{"dataset": "tatoeba-en-es-sample",
                                              "split": "train"}], None)
    assert found["examples_in_training"] == 12 and contamination.flagged(found)
    swapped = catalog.load_files("translation", path=write_tsv(
        tmp_path / "swapped.tsv", list(zip(pairs.targets[:12], pairs.inputs[:12])),
        header=None))
    assert contamination.check(spec, swapped, [{"dataset": "tatoeba-en-es-sample",
                                                "split": "train"}], None)[
        "examples_in_training"] == 0  # the same sentences, other pairs: not these examples
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)
    absent = contamination.check(spec, test, [{"dataset": "trec-6", "split": "train"}], None)
    assert absent["examples_in_training"] == 0 and "not here" in absent["unchecked"][0]
    assert not (tmp_path / "empty-cache").exists()


def test_masked_lm_pretrains_on_a_plain_text_file_a_sequence_a_line(tmp_path):
    """A masked-LM recipe reads `[files] kind = "text"` (it read no files of yours): the file
    is one document of the run's training data, its non-empty lines the sequences that are
    masked and the texts its tokenizer learns from; a file of fewer lines than a batch is
    refused, saying so."""
    import zoo

    corpus = write_text(tmp_path / "corpus.txt", 40)
    lines = [line for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    recipe = recipe_over(tmp_path, "masked_lm", {"kind": "text", "path": str(corpus)},
                         tokenizer={"vocabulary_size": 300})
    read = sources.load(recipe, **QUIET)
    assert read.sources[0]["kind"] == "text" and read.sources[0]["examples"] == 1
    kind = tasks.get("masked_lm")
    assert kind.tokenizer_texts(read.examples) == lines and len(lines) == 40
    result = zoo.train(recipe, out=tmp_path / "run", **QUIET)
    info = json.loads((result["run_dir"] / "run.json").read_text())
    assert info["status"] == "complete" and info["training_data"][0]["kind"] == "text"
    history = (result["run_dir"] / "history.jsonl").read_text().splitlines()
    assert len(history) == 2 and json.loads(history[-1])["loss"] > 0

    (tmp_path / "short.txt").write_text("one line\n\n   \ntwo lines\n", encoding="utf-8")
    short = recipe.replace(files={"kind": "text", "path": str(tmp_path / "short.txt")})
    with pytest.raises(ValueError, match=r"The corpus has 2 non-empty line\(s\), fewer than "
                                         r"one batch of 8"):
        zoo.train(short, out=tmp_path / "short", **QUIET)


# --- What a user gets wrong: one line naming the file, the field and the fix -----------------


def _train(tmp_path, capsys, files, **fields):
    """`zoo train` (the command) on a recipe over `files` in `tmp_path`: its exit code and its
    stderr; nothing is trained (each of these recipes is refused before a step)."""
    lines = ['entry = "mine"', 'model = "bert_tiny"', 'task = "text_classification"',
             'dataset = "files"', "steps = 1", "batch_size = 4", "max_length = 16",
             *(f"{key} = {json.dumps(value)}" for key, value in fields.items()),
             "", "[files]", 'kind = "text_classification"',
             *(f"{key} = {json.dumps(value)}" for key, value in files.items())]
    (tmp_path / "mine.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    code = main(["train", str(tmp_path / "mine.toml"), "--out", str(tmp_path / "run")])
    return code, capsys.readouterr().err


def test_a_tsv_read_with_the_wrong_header_or_columns_is_refused_naming_the_fix(tmp_path, capsys):
    """Was: `header = false` without column numbers raised a ValueError traceback (the
    default columns are names); a file without a header said only which columns it found."""
    write_tsv(tmp_path / "plain.tsv", language_rows("train", 4), header=None)
    write_tsv(tmp_path / "head.tsv", language_rows("train", 4))
    for files, message in [
        ({"path": "plain.tsv", "header": False},
         "mine.toml: with header = false, text_column and label_column must be column numbers "
         "(0 for the first), e.g. text_column = 0 and label_column = 1"),
        ({"path": "plain.tsv", "header": False, "text_column": 0},
         "with header = false, label_column must be column numbers"),
        ({"path": "plain.tsv"}, "plain.tsv, line 1: expected a header naming the text column "
         "'text', got columns ['Jump!', 'en'] (a file without a header line: set header = false, "
         "and text_column and label_column to column numbers, 0 for the first)"),
        ({"path": "head.tsv", "label_column": "lable"},
         "expected a header naming the label column 'lable', got columns ['text', 'label'] "
         "(Did you mean: 'label'?)"),
        ({"path": "haed.tsv"}, f"No such file: {tmp_path / 'haed.tsv'}. Did you mean: "
         f"'{tmp_path / 'head.tsv'}'"),
    ]:
        code, err = _train(tmp_path, capsys, files)
        assert code in (1, 2) and message in err, (files, err)
        assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "run").exists()
    code, _ = _train(tmp_path, capsys, {"path": "plain.tsv", "header": False,
                                        "text_column": 0, "label_column": 1})
    assert code == 0 and json.loads((tmp_path / "run" / "run.json").read_text())[
        "labels"] == ["en", "es"]


def test_text_in_another_encoding_is_refused_with_the_fix_and_read_once_named(tmp_path):
    """Was: a Windows (cp1252) file was refused with no word of `encoding`, and translation
    files could not name one at all; a UTF-16 file (its byte-order mark) is named as such."""
    rows = [("¡Hola, señor!", "es"), ("Café au lait.", "fr"), ("Naïve", "fr")]
    text = "text\tlabel\n" + "".join(f"{t}\t{label}\n" for t, label in rows)
    (tmp_path / "win.tsv").write_bytes(text.encode("cp1252"))
    with pytest.raises(datasets.DataFormatError,
                       match=r"win.tsv, line 2: .*name it with encoding, e.g. encoding = "
                             r'"cp1252" for one saved by Windows, or save it as UTF-8'):
        catalog.load_files("text_classification", path=tmp_path / "win.tsv")
    read = catalog.load_files("text_classification", path=tmp_path / "win.tsv",
                              encoding="cp1252")
    assert list(read.inputs) == [t for t, _ in rows] and read.label_names == ("es", "fr")

    (tmp_path / "wide.tsv").write_bytes(text.encode("utf-16"))
    with pytest.raises(datasets.DataFormatError, match='UTF-16 byte-order mark: set encoding '
                                                       '= "utf-16"'):
        catalog.load_files("text_classification", path=tmp_path / "wide.tsv")
    assert list(catalog.load_files("text_classification", path=tmp_path / "wide.tsv",
                                   encoding="utf-16").inputs) == [t for t, _ in rows]

    (tmp_path / "pairs.tsv").write_bytes("¡Hola!\tHello!\nAdiós.\tBye.\n".encode("cp1252"))
    (tmp_path / "a.es").write_bytes("¡Hola!\nAdiós.\n".encode("cp1252"))
    (tmp_path / "a.en").write_bytes(b"Hello!\nBye.\n")
    for files in ({"path": str(tmp_path / "pairs.tsv")},
                  {"source_path": str(tmp_path / "a.es"), "target_path": str(tmp_path / "a.en")}):
        with pytest.raises(datasets.DataFormatError, match='encoding = "cp1252"'):
            catalog.load_files("translation", **files)
        pairs = catalog.load_files("translation", encoding="cp1252", **files)
        assert (list(pairs.inputs), list(pairs.targets)) == (["¡Hola!", "Adiós."],
                                                             ["Hello!", "Bye."])
    with pytest.raises(datasets.DatasetError, match="encoding must be a text encoding"):
        catalog.load_files("translation", path=str(tmp_path / "pairs.tsv"), encoding="cp9999")


def test_an_image_folder_reads_every_image_and_refuses_any_other_file(tmp_path):
    """Was: only .png/.jpg/.jpeg were read, and every other file was skipped without a word:
    a class folder of BMP or GIF images lost them (fewer examples, silently); a stray file or
    an image outside the class folders was ignored."""
    from PIL import Image

    images, names = digit_images("train", 12)
    folder = write_image_folder(tmp_path / "images", images, names)
    for i, suffix in enumerate((".bmp", ".gif", ".tif", ".TIFF")):  # grey, as the PNG files
        Image.fromarray(images[i], mode="L").save(folder / names[i] / f"more{i}{suffix}")
    (folder / names[0] / ".DS_Store").write_bytes(b"\0")
    (folder / names[0] / "Thumbs.db").write_bytes(b"\0")
    (folder / "README.md").write_text("my digits", encoding="utf-8")
    read = catalog.load_files("image_folder", path=folder)
    assert len(read) == 16  # the 12 PNG files and the 4 others; hidden and system files skipped
    assert sorted(read.digests()[4:]) != [] and len(set(read.digests())) == 12  # same pixels

    (folder / names[1] / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(datasets.DataFormatError,
                       match=r"notes.txt: expected only image files \(.png, .*\) in the class "
                             r"folder .*, got another file; move it out of"):
        catalog.load_files("image_folder", path=folder)
    (folder / names[1] / "notes.txt").unlink()
    (folder / names[1] / "more").mkdir()
    with pytest.raises(datasets.DataFormatError, match="more: expected only image files .* got "
                                                       "a folder"):
        catalog.load_files("image_folder", path=folder)
    (folder / names[1] / "more").rmdir()
    Image.fromarray(images[0], mode="L").save(folder / "stray.png")
    with pytest.raises(datasets.DataFormatError, match="stray.png: expected images inside one "
                                                       "subfolder per class"):
        catalog.load_files("image_folder", path=folder)


def test_zoo_init_refuses_training_files_that_are_missing_or_not_of_the_task(tmp_path, capsys):
    """Was: `--files` naming no file, or a TSV for an image model, wrote a recipe that failed
    only when trained."""
    write_tsv(tmp_path / "train.tsv", language_rows("train", 3))
    write_image_folder(tmp_path / "images", *digit_images("train", 4))
    for argv, message in [
        (["--model", "vit_tiny_patch2_8", "--files", str(tmp_path / "imagse")],
         f"{tmp_path / 'imagse'}: no such file or folder (the training data of --files). Did "
         f"you mean: '{tmp_path / 'images'}'?"),
        (["--model", "vit_tiny_patch2_8", "--files", str(tmp_path / "train.tsv")],
         "train.tsv is a file, but a recipe for image_classification reads a folder with a "
         "subfolder of images per class or an .npz of images and labels"),
        (["--model", "bert_tiny", "--task", "text_classification", "--files",
          str(tmp_path / "images")],
         "images is a folder, but a recipe for text_classification reads a TSV or CSV file"),
    ]:
        assert main(["init", str(tmp_path / "mine.toml"), *argv]) == 2, argv
        assert message in capsys.readouterr().err, argv
    assert not (tmp_path / "mine.toml").exists()


def test_recipes_beside_benchmarks_are_not_read_as_benchmarks(tmp_path, monkeypatch, capsys):
    """Was: in the README's folder (recipes and benchmark files together, on
    ZOO_BENCHMARKS_PATH), `zoo bench list` warned about each recipe with a screenful, the
    list of a benchmark's fields repeated after every unknown field (and `zoo recipes` so of
    each benchmark file)."""
    write_tsv(tmp_path / "test.tsv", language_rows("test", 3))
    write_tsv(tmp_path / "train.tsv", language_rows("train", 3))
    (tmp_path / "my-langs.toml").write_text(
        'id = "my-langs"\nversion = 1\ntask = "text_classification"\ndescription = "d"\n'
        'dataset = "files"\nsplit = "test"\nlabels = ["en", "es"]\nmetrics = ["accuracy"]\n'
        'main_metric = "accuracy"\n[files]\nkind = "text_classification"\npath = "test.tsv"\n',
        encoding="utf-8")
    assert main(["init", str(tmp_path / "langs-bert.toml"), "--model", "bert_tiny", "--task",
                 "text_classification", "--files", str(tmp_path / "train.tsv")]) == 0
    (tmp_path / "typo.toml").write_text('id = "typo"\nversoin = 1\ntaks = "x"\n',
                                        encoding="utf-8")
    monkeypatch.setenv("ZOO_BENCHMARKS_PATH", str(tmp_path))
    monkeypatch.setenv("ZOO_RECIPES_PATH", str(tmp_path))
    capsys.readouterr()
    assert main(["bench", "list"]) == 0
    out, err = capsys.readouterr()
    assert "my-langs" in out and "langs-bert" not in err
    warned = [line for line in err.splitlines() if line.strip()]
    assert len(warned) == 1 and "typo.toml" in warned[0]  # a bad benchmark file still is
    assert warned[0].count("; fields:") == 1 and "unknown field 'versoin'" in warned[0] \
        and "unknown field 'taks'" in warned[0]
    assert main(["recipes"]) == 0
    out, err = capsys.readouterr()
    assert "langs-bert" in out and "my-langs" not in err


def test_a_misspelt_label_in_the_training_files_is_named_when_training(tmp_path):
    """Was: with no `labels` declared, one misspelt label made a class of its own without a
    word (a 3-class model of a 2-class file)."""
    rows = language_rows("train", 60)
    rows[7] = (rows[7][0], "ne")
    recipe = recipe_over(tmp_path, "text_classification",
                         {"kind": "text_classification",
                          "path": str(write_tsv(tmp_path / "t.tsv", rows))})
    logged = []
    read = sources.load(recipe, log=logged.append)
    assert read.examples.label_names == ("en", "es", "ne")
    assert "[train] 3 classes in the files (examples each): en 60, es 59, ne 1" in logged
    assert any(line.startswith("[train] warning: 'ne' (1) is far smaller than the largest "
                               "class (60): a misspelt label?")
               and "labels = [...]" in line for line in logged)
    logged.clear()
    sources.load(recipe.replace(labels=["en", "es", "ne"]), log=logged.append)
    assert logged == []  # declared: the recipe says which classes there are


@pytest.mark.parametrize("kind, given", [
    ("text_classification", "folder"), ("translation", "folder"), ("text", "folder"),
    ("npz", "folder"), ("image_folder", "file"), ("npz", "tsv")])
def test_a_file_given_for_a_folder_or_the_wrong_file_is_named(kind, given, tmp_path):
    """Was: a folder where a file belongs raised IsADirectoryError (a traceback); a file where
    an image folder belongs was "No such folder"; a TSV given as an .npz was refused as
    "pickled (object) data"."""
    write_image_folder(tmp_path / "images", *digit_images("train", 2))
    write_tsv(tmp_path / "train.tsv", language_rows("train", 2))
    path = {"folder": tmp_path / "images", "file": tmp_path / "train.tsv",
            "tsv": tmp_path / "train.tsv"}[given]
    message = {"folder": "images is a folder; expected a file here",
               "file": "train.tsv is a file; expected a folder here",
               "tsv": r"train.tsv: expected a NumPy .npz file \(np.savez: a zip of arrays\), "
                      r"got a file that starts with b'text'"}[given]
    with pytest.raises(datasets.DatasetError, match=message):
        catalog.load_files(kind, path=str(path))


def test_a_benchmark_file_off_the_search_path_says_where_it_was_looked_for(tmp_path,
                                                                          monkeypatch, capsys):
    """Was: in a new shell (no `export ZOO_BENCHMARKS_PATH`), the user's benchmark beside
    them was only "Unknown benchmark", with the shipped ids."""
    write_tsv(tmp_path / "test.tsv", language_rows("test", 3))
    (tmp_path / "my-langs.toml").write_text(
        'id = "my-langs"\nversion = 1\ntask = "text_classification"\ndescription = "d"\n'
        'dataset = "files"\nsplit = "test"\nlabels = ["en", "es"]\nmetrics = ["accuracy"]\n'
        'main_metric = "accuracy"\n[files]\nkind = "text_classification"\npath = "test.tsv"\n',
        encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ZOO_BENCHMARKS_PATH", raising=False)
    for argv in (["bench", "run", "--model", "bert_tiny", "--benchmark", "my-langs"],
                 ["bench", "show", "my-langs"],
                 ["init", "mine.toml", "--model", "bert_tiny", "--benchmark", "my-langs"]):
        assert main(argv) == 2
        assert ("Your benchmark files are read from the folders on $ZOO_BENCHMARKS_PATH, not "
                "set. my-langs.toml is in the current folder: export ZOO_BENCHMARKS_PATH=$PWD"
                in capsys.readouterr().err), argv
    monkeypatch.setenv("ZOO_BENCHMARKS_PATH", str(tmp_path / "elsewhere"))
    with pytest.raises(UnknownNameError, match=r"read from \$ZOO_BENCHMARKS_PATH: .*elsewhere"):
        benchmarks.get("my-langs")
    assert not (tmp_path / "mine.toml").exists() and not (tmp_path / "runs").exists()
