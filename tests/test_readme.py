"""Every code block in the README is run, or checked, by a test, as written.

A block's kind comes from its fence and the HTML comment on the line above it:

- ```python and ```bash after `<!-- runnable -->` run in a fresh process: Python in an empty
  folder, bash in a copy of the repository (`zoo`, `python` and `python3` on its PATH); either
  folder has `data/`, the shared datasets. `<!-- runnable: slow -->` puts one in the slow lane;
  blocks marked `session NAME` run in order in one folder, a later one using what an earlier one
  wrote. A `# prints: TEXT` comment must appear in what the block prints.
- `<!-- checked: REASON -->` before a bash block: commands a test cannot run (other machines,
  an hour, a change to the environment). Each `zoo` command's arguments must parse, each
  script must take its options, each `TF_CONFIG` must be a cluster with this task in it, each
  pip extra must exist.
- ```toml: a benchmark file (an `id`) or a recipe (an `entry`), parsed and validated.
- A plain block starting `$ COMMAND`: that command's output, which must hold each line shown.
- A plain block of `zoo ...` lines: a synopsis; each command must exist and take each option.
- A plain block of `path  description` lines: the layout; each path must exist.

Any other block fails `test_every_block_of_the_readme_is_run_or_checked`.
"""

import contextlib
import io
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import SHARED_DATA
from test_packaging import _fresh_venv

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
DIRECTIVE = re.compile(r"<!--\s*(runnable|checked)\s*(?::\s*(.*?))?\s*-->\s*\Z")
#: Lines of runnable blocks that a test cannot run, and the file that runs each instead.
RUN_ELSEWHERE = {
    "python3 scripts/bootstrap.py test": ".ci/run",  # the whole suite: CI runs it
}
#: Top-level folders a copy of the repository leaves out (history, environments, outputs).
NOT_COPIED = {".git", ".venv", "runs", "build", "dist", ".pytest_cache", ".ruff_cache"}


@dataclass
class Block:
    """One fenced block: where it starts (line), its language, text and directive, and its
    name (the section's heading and its number there, for test ids)."""

    line: int
    language: str
    text: str
    directive: str | None = None  # "runnable" or "checked"
    options: str = ""
    name: str = ""
    kind: str = field(init=False, default="")

    def __post_init__(self):
        self.kind = _kind(self)

    @property
    def slow(self) -> bool:
        return "slow" in self.options.split(", ")

    @property
    def session(self) -> str | None:
        found = re.search(r"session (\S+)", self.options)
        return found.group(1) if found else None

    def __str__(self):
        return f"README.md:{self.line} ({self.kind})"


def _kind(block: Block) -> str:
    lines = [line for line in block.text.splitlines() if line.strip()]
    if block.directive == "runnable" and block.language in ("python", "bash"):
        return f"run {block.language}"
    if block.directive == "checked" and block.language == "bash":
        return "checked commands"
    if block.directive is None and block.language == "toml":
        return "toml file"
    if block.directive is None and not block.language and lines:
        if lines[0].startswith("$ "):
            return "transcript"
        if lines[0].startswith("zoo "):
            return "synopsis"
        if all(re.match(r"\S+/\S*|\S+\.\w+\s", line) for line in lines):
            return "layout"
    return "unknown"


def readme_blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    blocks, numbers = [], {}
    for match in FENCE.finditer(text):
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        directive = DIRECTIVE.search(before)
        headings = re.findall(r"^## (.+)$", text[:match.start()], re.M)
        section = re.sub(r"\W+", "-", headings[-1] if headings else "top").strip("-").lower()
        numbers[section] = numbers.get(section, 0) + 1
        blocks.append(Block(text.count("\n", 0, match.start()) + 1, match.group(1),
                            match.group(2), directive and directive.group(1),
                            (directive and directive.group(2)) or "",
                            f"{section}-{numbers[section]}"))
    return blocks


def _units() -> list:
    """What one test runs: a block, or a session's blocks in order."""
    units, sessions = [], {}
    for block in readme_blocks():
        if block.kind.startswith("run ") and block.session:
            if block.session not in sessions:
                sessions[block.session] = []
                units.append(sessions[block.session])
            sessions[block.session].append(block)
        elif block.kind != "unknown":
            units.append([block])
    return [pytest.param(unit, id=f"{unit[0].name}-{unit[0].kind.replace(' ', '-')}",
                         marks=[pytest.mark.slow, pytest.mark.multiprocess]
                         if any(b.slow for b in unit) else []) for unit in units]


def test_every_block_of_the_readme_is_run_or_checked():
    blocks = readme_blocks()
    assert len(blocks) >= 10
    unknown = [str(b) for b in blocks if b.kind == "unknown"]
    assert not unknown, ("blocks no test runs or checks (see tests/test_readme.py for the "
                         f"kinds): {unknown}")


# --- Running ---------------------------------------------------------------------------------


def _environment(tmp_path) -> dict:
    env = dict(os.environ, TFHUB_CACHE_DIR=str(tmp_path / "hub"), TF_CPP_MIN_LOG_LEVEL="3",
               ZOO_CPU_DEVICES="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


def _repository_copy(dest: Path) -> Path:
    def ignore(folder, names):
        skipped = {n for n in names if n == "__pycache__" or n.endswith(".egg-info")}
        return skipped | (NOT_COPIED & set(names) if Path(folder) == ROOT else set())

    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)
    return dest


def _bash_script(block: Block) -> str:
    """The block as bash runs it, less the lines RUN_ELSEWHERE runs (each checked there)."""
    kept = []
    for line in block.text.splitlines():
        command = line.split("#", 1)[0].strip()
        if command in RUN_ELSEWHERE:
            runner = (ROOT / RUN_ELSEWHERE[command]).read_text(encoding="utf-8")
            assert command in runner.splitlines(), f"{RUN_ELSEWHERE[command]} runs {command}"
            continue
        kept.append(line)
    return "\n".join(kept)


def _serve_and_fetch(command: str, cwd, env) -> None:
    """A `zoo leaderboard serve` line: started, its page fetched from the address it prints,
    then stopped."""
    server = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=cwd, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        address = re.search(r"http://127\.0\.0\.1:\d+/\S*", line)
        assert address, (line, server.stderr.read() if server.poll() is not None else "")
        with urllib.request.urlopen(address.group(0), timeout=30) as response:
            assert response.status == 200 and b"<html" in response.read().lower()
    finally:
        server.terminate()
        server.wait(timeout=30)


def _run(block: Block, folder: Path, env: dict) -> str:
    if block.language == "python":
        done = subprocess.run([sys.executable, "-c", block.text], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=1800)
    else:
        script = _bash_script(block)
        serving = [line for line in script.splitlines()
                   if line.split("#", 1)[0].strip().startswith("zoo leaderboard serve")]
        for line in serving:
            script = script.replace(line, "")
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=1800)
        for line in serving:
            _serve_and_fetch(line.split("#", 1)[0].strip(), folder, env)
    assert done.returncode == 0, f"{block}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    for expected in re.findall(r"# prints: (.*)$", block.text, re.M):
        assert expected.strip() in done.stdout, (str(block), expected, done.stdout[-3000:])
    return done.stdout


@pytest.mark.parametrize("unit", _units())
def test_a_readme_block_runs_or_holds_as_written(unit, tmp_path, capsys):
    kind = unit[0].kind
    if kind.startswith("run "):
        shell = any(b.language == "bash" for b in unit)
        folder = _repository_copy(tmp_path / "zoo") if shell else tmp_path / "work"
        folder.mkdir(exist_ok=True)
        (folder / "data").symlink_to(SHARED_DATA, target_is_directory=True)
        env = _environment(tmp_path)
        if any("scripts/bootstrap.py" in b.text for b in unit):
            # Its own environment, as on a fresh machine; it sees this one's packages (no
            # download of TensorFlow) and installs the copy's zoo into itself.
            env["ZOO_VENV"] = str(_fresh_venv(tmp_path / "venv").parents[1])
        for block in unit:
            _run(block, folder, env)
        _after_the_session(unit, folder)
    else:
        CHECKS[kind](unit[0], tmp_path, capsys)


def _after_the_session(unit, folder: Path) -> None:
    """What a block's run must have left behind, beyond exiting well."""
    if any("scripts/bootstrap.py quickstart" in b.text for b in unit):
        _the_quickstart_scored_above_chance(folder / "runs" / "quickstart")


def _the_quickstart_scored_above_chance(out: Path) -> None:
    """The README's main job, as a user runs it: each main metric's 95% interval clears what a
    model that learned nothing scores (accuracy 0.1 on ten digits and 0.5 on two languages,
    44.4 nats of negative ELBO on 64 binary pixels at p = 0.5, BLEU 0), within the five
    minutes a quiet two-core machine may take: its CPU time (what a busy machine does not
    inflate) is under 300 s."""
    from zoo import quickstart

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["cpu_seconds"] < 300
    assert [m["steps"] for m in summary["models"]] == list(quickstart.DEFAULT_STEPS)
    main = {m["benchmark"]: m["main_metric"] for m in summary["models"] if m["benchmark"]}
    assert main["digits"]["low"] > 0.8
    assert main["tatoeba-langid-sample"]["low"] > 0.9
    assert main["digits-vae"]["high"] < 30.0
    assert main["tatoeba-en-es-sample"]["low"] > 1.0
    assert (out / "site" / "index.html").is_file()


# --- Checking --------------------------------------------------------------------------------


def _commands(text: str):
    """Each command of a shell block: its environment assignments and its words (comments,
    lines continued by a backslash or an open quote, `&` and `wait` handled)."""
    pending = ""
    for line in text.splitlines():
        pending += line + "\n"
        try:
            words = shlex.split(pending.replace("\\\n", " "), comments=True)
        except ValueError:  # a quote still open: the command goes on
            continue
        if pending.rstrip().endswith("\\"):
            continue
        pending = ""
        env = {}
        while words and re.match(r"[A-Z_][A-Z0-9_]*=", words[0]):
            key, value = words.pop(0).split("=", 1)
            env[key] = value
        if words and words[-1] == "&":
            words.pop()
        if words and words != ["wait"]:
            yield env, words


def _parses(args: list[str]) -> None:
    from zoo.cli import build_parser

    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        try:
            build_parser().parse_args(args)
        except SystemExit:
            pytest.fail(f"`zoo {shlex.join(args)}` does not parse: {errors.getvalue()}")


def _check_environment(env: dict, words: list[str]) -> None:
    if "TF_CONFIG" in env:
        config = json.loads(env["TF_CONFIG"])
        task = config["task"]
        assert 0 <= task["index"] < len(config["cluster"][task["type"]]), config
    if "ZOO_CPU_DEVICES" in env:
        assert int(env["ZOO_CPU_DEVICES"]) >= 1


def check_commands(block, tmp_path, capsys):
    """Commands that cannot run in a test: their arguments, options and settings hold."""
    assert block.options, f"{block}: say why it is not run (<!-- checked: REASON -->)"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for env, words in _commands(block.text):
        _check_environment(env, words)
        if words[0] == "zoo":
            _parses(words[1:])
        elif (words[0] in ("python", "python3") and words[1].startswith("scripts/")
              or words[0].startswith("scripts/") and words[0].endswith(".sh")):
            script = words[1] if words[0].startswith("python") else words[0]
            runner = [sys.executable] if script.endswith(".py") else ["bash"]
            shown = subprocess.run([*runner, str(ROOT / script), "--help"], cwd=ROOT,
                                   capture_output=True, text=True, timeout=300,
                                   env={**os.environ, "PATH": f"{Path(sys.executable).parent}"
                                        f"{os.pathsep}{os.environ.get('PATH', '')}"})
            assert shown.returncode == 0, shown.stderr[-2000:]
            rest = words[words.index(script) + 1:]
            for option in (w.split("=")[0] for w in rest if w.startswith("--")):
                assert option in shown.stdout, (script, option)
        elif words[:3] == ["pip", "install", "-e"]:
            extras = re.fullmatch(r"\.\[(.*)\]", words[3]).group(1).split(",")
            assert set(extras) <= set(pyproject["project"]["optional-dependencies"])
        else:
            pytest.fail(f"{block}: no check for {shlex.join(words)}")


def check_toml(block, tmp_path, capsys):
    from zoo.harness import benchmarks
    from zoo.training import recipes

    data = tomllib.loads(block.text)
    if "id" in data:
        path = tmp_path / f"{data['id']}.toml"
        path.write_text(block.text, encoding="utf-8")
        benchmarks.parse(path)
    else:
        path = tmp_path / f"{data['entry']}.toml"
        path.write_text(block.text, encoding="utf-8")
        recipes.parse(path)


def check_transcript(block, tmp_path, capsys):
    """`$ zoo ...` and what it prints: each line shown (but `...`) is a line it prints."""
    from zoo.cli import main

    first, *shown = block.text.rstrip("\n").splitlines()
    words = shlex.split(first[2:])
    assert words[0] == "zoo", f"{block}: a transcript of a zoo command"
    capsys.readouterr()
    assert main(words[1:]) == 0
    printed = [line.rstrip() for line in capsys.readouterr().out.splitlines()]
    missing = [line for line in shown if line.strip() != "..." and line.rstrip() not in printed]
    assert not missing, f"{block}: `{first[2:]}` prints no such lines: {missing}"


def _synopses(text: str):
    """Each `zoo ...` entry of a synopsis block: its command words and its options."""
    entries = []
    for line in text.splitlines():
        if line.startswith("zoo "):
            entries.append(re.split(r"\s{2,}", line.strip())[0])
        elif line.strip().startswith(("[", "-")) and entries:
            entries[-1] += " " + re.split(r"\s{2,}", line.strip())[0]
    for entry in entries:
        words = entry.split()[1:]
        command = []
        for word in words:
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            command.append(word)
        yield command, re.findall(r"--[a-z][a-z-]*", entry)


def check_synopsis(block, tmp_path, capsys):
    from zoo.cli import main

    for command, options in _synopses(block.text):
        capsys.readouterr()
        with pytest.raises(SystemExit) as stopped:
            main([*command, "--help"])
        shown = capsys.readouterr().out
        assert stopped.value.code == 0, f"{block}: no command `zoo {' '.join(command)}`"
        missing = [option for option in options if option not in shown]
        assert not missing, f"{block}: `zoo {' '.join(command)}` takes no {missing}"


def check_layout(block, tmp_path, capsys):
    for line in block.text.splitlines():
        if line.strip():
            path = re.sub(r"<[^>]+>", "*", line.split()[0])
            assert list(ROOT.glob(path.rstrip("/"))), f"{block}: no {path} in the repository"


CHECKS = {"checked commands": check_commands, "toml file": check_toml,
          "transcript": check_transcript, "synopsis": check_synopsis, "layout": check_layout}


# --- The checker itself ------------------------------------------------------------------------


def test_the_kinds_of_block_are_told_apart():
    text = ("<!-- runnable: slow, session a -->\n```bash\nzoo list\n```\n\n"
            "```\n$ zoo list\nvit_tiny_patch2_8\n```\n\n```\nzoo/atomic.py  writes\n```\n\n"
            "```python\nprint(1)\n```\n\n<!-- checked: other machines -->\n```bash\nzoo x\n```\n")
    found = []
    for match in FENCE.finditer(text):
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        directive = DIRECTIVE.search(before)
        found.append(Block(0, match.group(1), match.group(2), directive and directive.group(1),
                           (directive and directive.group(2)) or ""))
    assert [b.kind for b in found] == ["run bash", "transcript", "layout", "unknown",
                                       "checked commands"]
    assert found[0].slow and found[0].session == "a" and not found[3].slow


def test_a_checked_command_that_does_not_parse_fails(tmp_path, capsys):
    bad = Block(0, "bash", "zoo train vit_tiny_patch2_8.digits --strategy mirored-ish --nope\n",
                "checked", "reason")
    with pytest.raises(pytest.fail.Exception, match="does not parse"):
        check_commands(bad, tmp_path, capsys)
    wrong_index = Block(0, "bash", 'TF_CONFIG=\'{"cluster": {"worker": ["a:1"]}, "task": '
                        '{"type": "worker", "index": 1}}\' zoo train x\n', "checked", "reason")
    with pytest.raises(AssertionError):
        check_commands(wrong_index, tmp_path, capsys)


def test_a_transcript_that_is_not_what_zoo_prints_fails(tmp_path, capsys):
    stale = Block(0, "", "$ zoo list vit_tiny*\nvit_tiny_patch2_8    vit    999  made up\n")
    with pytest.raises(AssertionError, match="prints no such lines"):
        check_transcript(stale, tmp_path, capsys)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_serve_line_is_started_fetched_and_stopped(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<html>zoo</html>", encoding="utf-8")
    started = time.monotonic()
    _serve_and_fetch(f"zoo leaderboard serve --dir site --port {_free_port()}", tmp_path,
                     _environment(tmp_path))
    assert time.monotonic() - started < 120
