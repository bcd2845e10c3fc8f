import json
import subprocess
import sys

import pytest

from zoo.cli import main


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "zoo.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_list_prints_matching_models_with_counts(capsys):
    assert main(["list", "bert_*"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == [
        "bert_base", "bert_medium", "bert_mini", "bert_small", "bert_tiny"
    ]
    assert "109,482,240" in out[0]


def test_info_prints_json(capsys):
    assert main(["info", "vit_base_patch16_224", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["params"] == 86_567_656 and info["family"] == "vit"


def test_unknown_model_exits_2_with_suggestions():
    result = run_cli("info", "vit_tiny")
    assert result.returncode == 2
    assert "vit_tiny_patch4_28" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [[], ["bogus"], ["info"], ["list", "a", "b"], ["--nope"]])
def test_bad_usage_exits_2(args):
    result = run_cli(*args)
    assert result.returncode == 2, result
    assert "usage:" in result.stderr


@pytest.mark.parametrize("args", [["--help"], ["list", "--help"], ["info", "--help"], ["quickstart", "--help"]])
def test_help_everywhere(args):
    result = run_cli(*args)
    assert result.returncode == 0 and "usage:" in result.stdout


def test_bench_list_and_show(capsys):
    assert main(["bench", "list"]) == 0
    ids = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert {"digits", "mnist", "sst2", "trec-6", "multi30k-en-de", "spa-eng", "mnist-vae"} <= set(ids)
    assert main(["bench", "show", "multi30k-en-de"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["split"] == "test" and shown["bleu"]["tokenize"] == "13a"
    assert shown["file"].endswith("multi30k-en-de.toml")


def test_bench_run_prints_the_score_and_writes_a_record(tmp_path, capsys):
    code = main(["bench", "run", "--model", "vit_tiny_patch2_8", "--benchmark", "digits",
                 "--limit", "20", "--results", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    written = out.strip().splitlines()[-1].removeprefix("wrote ")
    record = json.loads(open(written).read())
    assert f"accuracy = {record['metrics']['accuracy']['value']:.4f}" in out
    assert record["provenance"]["command"].startswith("zoo ")


@pytest.mark.parametrize("args, message", [
    (["--model", "vit_tiny_patch", "--benchmark", "digits"], "Did you mean"),
    (["--model", "vit_tiny_patch2_8", "--benchmark", "digit"], "'digits'"),
    (["--model", "vit_tiny_patch2_8", "--benchmark", "digits", "--limit", "0"], "--limit"),
    (["--model", "vit_tiny_patch2_8", "--benchmark", "digits", "--weights", "/nonexistent.keras"],
     "No model at"),
])
def test_bench_run_refuses_bad_input_plainly(tmp_path, args, message):
    result = run_cli("bench", "run", *args, "--results", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not list(tmp_path.rglob("*.json"))
