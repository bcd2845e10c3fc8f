import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from zoo.cli import main
from zoo.metrics.bootstrap import format_interval


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "zoo.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_list_prints_matching_models_with_counts(capsys):
    assert main(["list", "bert_*"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["model", "family", "parameters", "description"]
    assert [line.split()[0] for line in out[1:]] == [
        "bert_base", "bert_medium", "bert_mini", "bert_small", "bert_tiny"
    ]
    assert "109,482,240" in out[1]


@pytest.mark.parametrize("command, header", [
    (["recipes"], ["recipe", "(entry)", "model", "training", "data", "steps"]),
    (["bench", "list"], ["benchmark", "version", "task", "data", "main", "metric"]),
])
def test_listings_print_a_header_row(capsys, command, header):
    assert main(command) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == header and len(out) > 2


@pytest.mark.parametrize("command, message", [
    (["list", "nope*"], "No model matches 'nope*'. Try `zoo list` for all."),
    (["entries", "nope*"], "No entry matches 'nope*'. Try `zoo entries` for all."),
    (["recipes", "nope*"], "No recipe matches 'nope*'. Try `zoo recipes` for all."),
    (["bench", "list", "nope*"], "No benchmark matches 'nope*'. Try `zoo bench list` for all."),
])
def test_listings_say_when_nothing_matches(capsys, command, message):
    """A pattern that matches nothing says so on stderr (exit 1), not an empty table."""
    assert main(command) == 1
    captured = capsys.readouterr()
    assert captured.err.strip() == message and captured.out == ""


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
    accuracy = record["metrics"]["accuracy"]
    assert f"accuracy = {format_interval(accuracy['value'], accuracy['low'], accuracy['high'])}" \
        in out
    assert record["provenance"]["command"].startswith("zoo ")
    # An untrained model's run says so first; no number has more digits than its interval
    # supports (20 examples: an interval about 0.3 wide, so 3 places, never 0.9694444444444444).
    assert out.splitlines()[0] == ("untrained model: a floor, not a score (random weights; give "
                                   "--weights or --entry to score a trained model)")
    assert not re.search(r"\d\.\d{5,}", out), out


def test_bench_run_writes_a_users_records_outside_the_published_ones(tmp_path, monkeypatch,
                                                                     capsys):
    """Without --results a run goes to runs/results/ (git-ignored), never benchmarks/results/."""
    monkeypatch.chdir(tmp_path)
    assert main(["bench", "run", "--model", "vit_tiny_patch2_8", "--benchmark", "digits",
                 "--limit", "8"]) == 0
    written = Path(capsys.readouterr().out.strip().splitlines()[-1].removeprefix("wrote "))
    assert written.resolve().parent == (tmp_path / "runs" / "results" / "digits").resolve()
    assert json.loads(written.read_text())["benchmark"]["id"] == "digits"
    assert not (tmp_path / "benchmarks").exists()


def test_format_interval_rounds_to_what_the_interval_supports():
    assert format_interval(0.9694444444444444, 0.9527777777777777, 0.9861111111111112) == \
        "0.9694 [0.9528, 0.9861]"
    assert format_interval(36.0812, 34.4567, 37.6912) == "36.08 [34.46, 37.69]"
    assert format_interval(0.015, -0.0125, 0.04, sign=True) == "+0.0150 [-0.0125, +0.0400]"
    assert format_interval(1.0, 1.0, 1.0) == "1.0000 [1.0000, 1.0000]"


# Each misspelt name, and each model that cannot do the benchmark's task, fails with one line
# naming the problem before TensorFlow (or any data) loads: seconds on a busy machine, not 43.
FAST_FAILURES = [
    (["bench", "run", "--model", "vit_tiny_patch2_x", "--benchmark", "digits"],
     "Did you mean: 'vit_tiny_patch2_8'"),
    (["bench", "run", "--model", "vit_tiny_patch2_8", "--benchmark", "digitz"],
     "Did you mean: 'digits'"),
    (["bench", "run", "--entry", "vit_tiny_patch2_8.digitz", "--benchmark", "digits"],
     "Did you mean: 'vit_tiny_patch2_8.digits'"),
    (["train", "vit_tiny_patch2_8.digitz", "--steps", "1"],
     "Did you mean: 'vit_tiny_patch2_8.digits'"),
    (["info", "vit_tiny_patch2_x"], "Did you mean: 'vit_tiny_patch2_8'"),
    (["bench", "show", "digitz"], "Did you mean: 'digits'"),
    (["export", "vit_tiny_patch2_8.digitz", "out"], "Did you mean: 'vit_tiny_patch2_8.digits'"),
    (["export", "vit_tiny_patch2_8.digits", "out", "--part", "clasifier"],
     "A vit export has parts classifier, feature_vector; not 'clasifier'. Did you mean: "
     "'classifier'?"),
    (["export", "bert_mini.sst2", "out", "--part", "classifier", "--part", "encodr"],
     "Did you mean: 'encoder'?"),
    (["publish", "runs/no-such-run"], "runs/no-such-run has no run.json"),
    (["bench", "run", "--model", "vit_tiny_patch2_8", "--benchmark", "sst2"],
     "Model 'vit_tiny_patch2_8' is a vit model: it cannot be evaluated on benchmark 'sst2'"),
    (["bench", "run", "--entry", "vit_tiny_patch4_28.mnist", "--benchmark", "sst2"],
     "use a bert or hub model"),
    (["bench", "run", "--entry", "bert_mini.sst2", "--benchmark", "mnist-vae"],
     "use a vae model"),
]


def test_misspelt_names_and_mismatches_fail_before_tensorflow_loads(tmp_path):
    script = (
        "import contextlib, io, json, sys\n"
        "from zoo.cli import main\n"
        "out = []\n"
        "for argv in json.loads(sys.argv[1]):\n"
        "    err = io.StringIO()\n"
        "    with contextlib.redirect_stderr(err):\n"
        "        code = main(argv)\n"
        "    out.append([code, err.getvalue(), 'tensorflow' in sys.modules or 'keras' in "
        "sys.modules])\n"
        "print(json.dumps(out))\n")
    cases = [argv for argv, _ in FAST_FAILURES]
    result = subprocess.run([sys.executable, "-c", script, json.dumps(cases)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "ZOO_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    for (argv, message), (code, err, imported) in zip(FAST_FAILURES,
                                                      json.loads(result.stdout)):
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (argv, err)
        assert not imported, f"{argv}: TensorFlow was imported before the error"
    assert not (tmp_path / "cache").exists() and not (tmp_path / "runs").exists()


def test_leaderboard_serve_on_a_busy_port_says_so_in_one_line(tmp_path, capsys):
    (tmp_path / "index.html").write_text("<!doctype html><title>x</title>", encoding="utf-8")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["leaderboard", "serve", "--dir", str(tmp_path), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and f"127.0.0.1:{port}" in err
    assert "--port" in err and "Traceback" not in err


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


def test_entries_lists_published_entries_with_score_size_and_input(capsys):
    assert main(["entries"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["entry", "published", "score", "size", "input"]
    rows = {line.split()[0]: line for line in out[1:]}
    assert "digits accuracy 0.9722" in rows["vit_tiny_patch2_8.digits"]
    assert "images (N, 28, 28, 1) float32 in [0, 1]" in rows["vit_tiny_patch4_28.mnist"]
    assert rows["bert_mini.sst2"].endswith("strings (raw text)")
    assert " MB " in rows["bert_mini.sst2"]
    assert main(["entries", "nope*"]) == 1
