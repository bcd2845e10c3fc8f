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
