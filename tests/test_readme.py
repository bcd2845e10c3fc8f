"""The README's runnable snippets run as written: each ```python block that follows a
`<!-- runnable -->` line runs in a fresh process (outside the checkout, so it writes nothing
there), and each `# prints: TEXT` comment must appear in what it prints."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
RUNNABLE = re.compile(r"<!-- runnable -->\n```python\n(.*?)```", re.S)


def runnable_blocks() -> list[str]:
    return RUNNABLE.findall(README.read_text(encoding="utf-8"))


def test_the_readme_has_runnable_blocks():
    assert len(runnable_blocks()) >= 2


@pytest.mark.parametrize("index", range(len(runnable_blocks())))
def test_a_readme_snippet_runs_and_prints_what_it_says(index, tmp_path):
    code = runnable_blocks()[index]
    env = dict(os.environ, TFHUB_CACHE_DIR=str(tmp_path / "hub"), TF_CPP_MIN_LOG_LEVEL="3",
               ZOO_CPU_DEVICES="1")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for expected in re.findall(r"# prints: (.*)$", code, re.M):
        assert expected.strip() in done.stdout, (expected, done.stdout)
