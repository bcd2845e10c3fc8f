"""Files a user names never run their code unless the user says so (`--unsafe-allow-code`),
zoo's own files never need that, and names read from files never lead outside their folder."""

import json
import shutil

import keras
import pytest

import zoo
from zoo import entries, safety
from zoo.cli import main
from zoo.harness import records
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
