"""Files a user names never run their code unless the user says so (`--unsafe-allow-code`),
zoo's own files never need that, and names read from files never lead outside their folder."""

import json
import shutil

import keras
import pytest

import zoo
from zoo import entries, records, safety
from zoo.cli import main
from zoo.hub import export
from zoo.training import Recipe
from zoo.training.train import train


@keras.saving.register_keras_serializable(package="zoo_tests")
class TenClasses(keras.Model):
    """Ten logits from 8x8 images through a `hook` layer that the config carries (whatever a
    file's author put there)."""

    def __init__(self, hook, num_classes=10, **kwargs):
        images = keras.Input((8, 8, 1))
        features = hook(keras.layers.Flatten()(images))
        super().__init__(images, keras.layers.Dense(num_classes)(features), **kwargs)
        self.hook, self.num_classes = hook, num_classes

    def get_config(self):
        return {"name": self.name, "num_classes": self.num_classes,
                "hook": keras.saving.serialize_keras_object(self.hook)}

    @classmethod
    def from_config(cls, config):
        return cls(**dict(config, hook=keras.saving.deserialize_keras_object(config["hook"])))


def _model_with_code(path, marker):
    """A .keras file whose Lambda layer writes `marker` whenever it runs (also as it loads)."""
    code = eval(f"lambda x: (open({str(marker)!r}, 'a').write('ran'), x)[1]")  # noqa: S307
    TenClasses(keras.layers.Lambda(code)).save(path)
    marker.unlink()  # building the model ran it once
    return path


def test_bench_run_refuses_a_file_with_code_unless_told_it_may_run(tmp_path, capsys):
    marker = tmp_path / "marker"
    weights = _model_with_code(tmp_path / "model.keras", marker)
    args = ["bench", "run", "--model", "vit_tiny_patch2_8", "--benchmark", "digits",
            "--weights", str(weights), "--limit", "20", "--results", str(tmp_path / "r")]
    assert main(args) == 2
    error = capsys.readouterr().err
    [line] = [line for line in error.splitlines() if line.startswith("zoo bench: error:")]
    assert "--unsafe-allow-code" in line and str(weights) in line and "Traceback" not in error
    assert not marker.exists(), "the file's code ran"
    assert not list(tmp_path.glob("r/**/*.json"))

    assert main(args + ["--unsafe-allow-code"]) == 0
    assert marker.exists()
    record = records.read(next((tmp_path / "r").rglob("*.json")))
    assert record["benchmark"]["examples"]["evaluated"] == 20
    assert "--unsafe-allow-code" in record["provenance"]["command"]


def test_every_way_of_loading_a_users_model_keeps_its_code_from_running(tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    weights = _model_with_code(tmp_path / "model.keras", marker)
    with pytest.raises(safety.UnsafeCodeError, match="--unsafe-allow-code"):
        zoo.load_model(weights)
    # publish: a run folder holding it
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(weights, run / "model.keras")
    (run / "run.json").write_text(json.dumps({"entry": "t.code", "status": "complete"}))
    (run / "recipe.json").write_text(json.dumps({"entry": "t.code"}))
    with pytest.raises(safety.UnsafeCodeError):
        entries.publish(run, dest_root=tmp_path / "entries")
    assert not (tmp_path / "entries" / "t.code").exists()
    # an entry folder on ZOO_ENTRIES_PATH (published by someone who allowed it)
    folder = entries.publish(run, dest_root=tmp_path / "entries", safe_mode=False)
    marker.unlink()
    with pytest.raises(safety.UnsafeCodeError, match="model.json"):
        entries.load_folder(folder)
    monkeypatch.setenv("ZOO_ENTRIES_PATH", str(tmp_path / "entries"))
    with pytest.raises(safety.UnsafeCodeError):
        zoo.entries.load("t.code")
    assert main(["export", "t.code", str(tmp_path / "export")]) == 2
    # train: init_from a run folder of someone else's
    monkeypatch.setenv("ZOO_RUNS_DIR", str(tmp_path))
    recipe = Recipe(entry="t.init", model="bert_tiny", task="text_classification",
                    dataset="tatoeba-langid-sample", steps=1, batch_size=8, max_length=16,
                    init_from="run", log_every=1)
    with pytest.raises(safety.UnsafeCodeError, match="run/model.keras"):
        train(recipe, out=tmp_path / "t.init", strategy="default", log=lambda *_: None)
    assert not marker.exists(), "the file's code ran"
    assert entries.load_folder(folder, safe_mode=False).num_classes == 10
    assert marker.exists()


@pytest.mark.slow
def test_zoos_own_files_need_no_flag(tmp_path, capsys):
    """A run `zoo train` wrote and every published entry (the hub entry on zoo: handles too)
    load in safe mode."""
    result = zoo.train("vit_tiny_patch2_8.digits", out=tmp_path / "run", steps=2,
                       log=lambda *_: None)
    assert main(["bench", "run", "--model", "vit_tiny_patch2_8", "--benchmark", "digits",
                 "--weights", str(result["run_dir"]), "--limit", "20",
                 "--results", str(tmp_path / "r")]) == 0
    folder = entries.publish(result["run_dir"], dest_root=tmp_path / "entries")
    assert entries.load_folder(folder).count_params() > 0
    for name in entries.list_entries():
        assert entries.load(name) is not None, name


def test_a_hub_classifier_runs_no_foreign_graph_in_safe_mode(tmp_path):
    """Both handles of a hub classifier are checked: a zoo: encoder with a preprocessor from
    elsewhere is refused, naming that handle."""
    folder = tmp_path / "hub_bert_classifier.t"
    shutil.copytree(entries.folder("hub_bert_classifier.sst2"), folder)
    config = json.loads((folder / "model.json").read_text())
    config["config"]["preprocessor_handle"] = str(tmp_path / "elsewhere" / "preprocessor")
    (folder / "model.json").write_text(json.dumps(config))
    with pytest.raises(safety.UnsafeCodeError, match="elsewhere/preprocessor"):
        entries.load_folder(folder)


def test_publish_keeps_the_entry_inside_its_folder(tmp_path):
    run = tmp_path / "runs" / "x"
    run.mkdir(parents=True)
    zoo.build("vit_tiny_patch2_8", num_classes=10, num_layers=1).save(run / "model.keras")
    (run / "recipe.json").write_text("{}")
    for entry in ("../../outside", str(tmp_path / "abs"), "..", ".hidden", 5):
        (run / "run.json").write_text(json.dumps({"entry": entry, "status": "complete"}))
        with pytest.raises(ValueError, match="run.json: its entry name must be a name of"):
            entries.publish(run, dest_root=tmp_path / "dest" / "entries")
    assert not (tmp_path / "outside").exists() and not (tmp_path / "abs").exists()
    assert not list((tmp_path / "dest").rglob("*.json"))


def _run_with_link(tmp_path, where, secret):
    """A finished run folder (tiny ViT) whose `where` (a path inside it) is a link to
    `secret`, a file outside it."""
    run = tmp_path / "run"
    run.mkdir()
    zoo.build("vit_tiny_patch2_8", num_classes=10, num_layers=1).save(run / "model.keras")
    (run / "recipe.json").write_text(json.dumps({"entry": "t.linked", "dataset": "digits"}))
    (run / "run.json").write_text(json.dumps({"entry": "t.linked", "status": "complete"}))
    (run / "tokenizer").mkdir()
    (run / "tokenizer" / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    link = run / where
    if link.exists():
        link.unlink()
    link.symlink_to(secret)
    return run


@pytest.mark.parametrize("where", ["tokenizer/secret.txt", "recipe.json", "run.json"])
def test_publish_never_copies_a_file_from_outside_the_run(tmp_path, capsys, where):
    """`ln -s /etc/hostname run/tokenizer/secret.txt; zoo publish run` copied the host name
    into the entry (copytree and copy2 follow links): refused, naming the link."""
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"entry": "t.linked", "status": "complete",
                                  "token": "SECRET-OUTSIDE-THE-RUN"}))
    run = _run_with_link(tmp_path, where, secret)
    dest = tmp_path / "dest"
    assert main(["publish", str(run), "--dest", str(dest)]) == 2
    error = capsys.readouterr().err
    [line] = error.strip().splitlines()
    assert line.startswith("zoo publish: error:") and str(run / where) in line and "link" in line
    assert not any("SECRET" in p.read_text(errors="replace") for p in dest.rglob("*")
                   if p.is_file())
    with pytest.raises(safety.LinkedFileError, match=where):
        entries.publish(run, dest_root=dest)
    # A tokenizer folder that is itself a link, and a link to a folder inside it, alike.
    (run / where).unlink()
    (run / where).write_text((secret if where.endswith(".json") else run / "recipe.json")
                             .read_text().replace("SECRET-OUTSIDE-THE-RUN", "ok"))
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(run / "tokenizer", elsewhere)
    (run / "tokenizer" / "sub").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(safety.LinkedFileError, match="tokenizer/sub"):
        entries.publish(run, dest_root=dest)
    (run / "tokenizer" / "sub").unlink()
    assert entries.publish(run, dest_root=dest).is_dir()  # its own files: published


def test_export_and_init_from_never_read_a_linked_file(tmp_path, capsys, monkeypatch):
    """An entry folder (exported: the vocabulary becomes a SavedModel asset) and a run that a
    recipe starts from (its tokenizer is copied into the new run) hold only their own files."""
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-OUTSIDE\n")
    run = _run_with_link(tmp_path, "tokenizer/vocab.txt", secret)
    (run / "tokenizer" / "vocab.txt").unlink()
    (run / "tokenizer" / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    folder = entries.publish(run, dest_root=tmp_path / "entries")
    (folder / "tokenizer" / "vocab.txt").unlink()
    (folder / "tokenizer" / "vocab.txt").symlink_to(secret)
    with pytest.raises(safety.LinkedFileError, match="tokenizer/vocab.txt is a link"):
        export.export_entry(str(folder), tmp_path / "export")
    monkeypatch.setenv("ZOO_ENTRIES_PATH", str(tmp_path / "entries"))
    assert main(["export", "t.linked", str(tmp_path / "export")]) == 2
    assert "tokenizer/vocab.txt is a link" in capsys.readouterr().err
    assert not (tmp_path / "export").exists() or not list((tmp_path / "export").rglob("*.txt"))
    # train: init_from a run whose tokenizer links elsewhere
    (run / "tokenizer" / "vocab.txt").unlink()
    (run / "tokenizer" / "vocab.txt").symlink_to(secret)
    monkeypatch.setenv("ZOO_RUNS_DIR", str(tmp_path))
    recipe = Recipe(entry="t.init", model="bert_tiny", task="text_classification",
                    dataset="tatoeba-langid-sample", steps=1, batch_size=8, max_length=16,
                    init_from="run", log_every=1)
    with pytest.raises(safety.LinkedFileError, match="tokenizer/vocab.txt is a link"):
        train(recipe, out=tmp_path / "t.init", strategy="default", log=lambda *_: None)
    assert not (tmp_path / "t.init" / "tokenizer").exists()


def _crafted(path, change):
    """A .keras file (Flatten, Dense on 8x8 images) whose config.json `change(config)` edited,
    its weights left as saved."""
    import zipfile

    keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                      keras.layers.Dense(10)]).save(path)
    with zipfile.ZipFile(path) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    config = json.loads(files["config.json"])
    change(config)
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _dense(config):
    return next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense")


CRAFTED = {
    # The file: an activation naming os.system (Keras refuses to locate it).
    "os.system activation": (lambda c: _dense(c)["config"].update(activation={
        "module": "os", "class_name": "function", "config": "system",
        "registered_name": "system"}), "Could not locate function 'system'"),
    "unknown layer class": (lambda c: _dense(c).update(class_name="NoSuchLayer",
                                                       module="evil.layers"), "NoSuchLayer"),
    "weights that do not fit": (lambda c: _dense(c)["config"].update(units=5),
                                "variable.shape=(64, 5), Received: value.shape=(64, 10)"),
    "broken config": (lambda c: _dense(c)["config"].update(units="ten"), "ten"),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_a_model_file_keras_cannot_load_is_a_one_line_error_naming_it(tmp_path, capsys, case):
    """Any failure to rebuild a user's model file is one line naming the file and Keras'
    reason (exit 2), never a Keras traceback."""
    change, reason = CRAFTED[case]
    path = _crafted(tmp_path / "crafted.keras", change)
    with pytest.raises(safety.ModelFileError) as error:
        zoo.load_model(path)
    message = str(error.value)
    assert message.startswith(f"{path}: cannot load this model file: ") and reason in message
    assert "\n" not in message and len(message) < 600, message
    assert main(["bench", "run", "--model", "vit_tiny_patch2_8", "--benchmark", "digits",
                 "--weights", str(path), "--limit", "5", "--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert f"zoo bench: error: {message}\n" in err and "Traceback" not in err, err
    assert not list(tmp_path.glob("r/**/*.json"))


def test_a_broken_file_and_a_broken_entry_folder_are_one_line_errors(tmp_path):
    (tmp_path / "garbage.keras").write_bytes(b"not a zip at all")
    with pytest.raises(safety.ModelFileError, match=r"garbage.keras: cannot load"):
        zoo.load_model(tmp_path / "garbage.keras")
    run = tmp_path / "run"
    run.mkdir()
    zoo.build("vit_tiny_patch2_8", num_classes=10, num_layers=1).save(run / "model.keras")
    (run / "recipe.json").write_text("{}")
    (run / "run.json").write_text(json.dumps({"entry": "t.broken", "status": "complete"}))
    folder = entries.publish(run, dest_root=tmp_path / "entries")
    weights = (folder / "weights.npz").read_bytes()
    (folder / "weights.npz").write_bytes(weights[: len(weights) // 2])
    with pytest.raises(safety.ModelFileError, match=r"weights.npz: cannot load this model file"):
        entries.load_folder(folder)
    (folder / "model.json").write_text("{not json")
    with pytest.raises(safety.ModelFileError, match=r"model.json: cannot load this model file"):
        entries.load_folder(folder)


@pytest.mark.parametrize("layer, refused", [
    ({"module": "keras.layers", "class_name": "TFSMLayer", "registered_name": None,
      "config": {"filepath": "/nowhere/saved_model", "call_endpoint": "serve", "name": "t"}},
     "the deserialization of a `TFSMLayer`, which loads an external SavedModel"),
    ({"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
      "config": {"name": "l", "function": {"class_name": "__lambda__", "config": {
          "code": "", "defaults": None, "closure": None}}, "arguments": {}}},
     "the deserialization of a `Lambda` layer whose `function` is a Python lambda"),
])
def test_a_refusal_says_what_keras_refused(tmp_path, layer, refused):
    """A refused SavedModel layer was described as "holds Python code (a lambda...)": the
    message quotes what Keras refused."""
    path = _crafted(tmp_path / "refused.keras",
                    lambda c: c["config"]["layers"].insert(2, layer))
    with pytest.raises(safety.UnsafeCodeError) as error:
        zoo.load_model(path)
    message = str(error.value)
    assert str(path) in message and refused in message and safety.FLAG in message, message
    if "TFSMLayer" in refused:
        assert "lambda" not in message
