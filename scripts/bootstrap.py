#!/usr/bin/env python3
"""Set up zoo in its own virtual environment and run a job: the README's two commands.

    python3 scripts/bootstrap.py quickstart   # train + evaluate a tiny model of each family
    python3 scripts/bootstrap.py test         # the whole test suite (pytest -m "")
    python3 scripts/bootstrap.py zoo ARGS...  # any `zoo` command

Needs only Python 3.10+ with pip. The environment lives in `.venv` beside this
repository (or in $ZOO_VENV) and is reinstalled only when `pyproject.toml` changes.
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("ZOO_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def say(message):
    print(f"[bootstrap] {message}", flush=True)


def run(*args, **kwargs):
    subprocess.run([str(a) for a in args], check=True, **kwargs)


def create_venv():
    if PYTHON.exists():
        return
    say(f"creating a virtual environment in {VENV}")
    try:
        run(sys.executable, "-m", "venv", VENV)
        run(PYTHON, "-m", "pip", "--version", stdout=subprocess.DEVNULL)
    except subprocess.CalledProcessError:
        # Debian's python3 without python3-venv has no ensurepip: use virtualenv from PyPI.
        say("the venv module is incomplete here; using virtualenv from PyPI instead")
        run(sys.executable, "-m", "pip", "install", "--user", "--quiet", "virtualenv")
        run(sys.executable, "-m", "virtualenv", "--clear", VENV)


def install():
    stamp = VENV / ".zoo-installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    say("installing zoo and its dependencies (40 s on 2 cores, plus downloading them)")
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[test]")
    stamp.write_text(digest)


def main(argv):
    if not argv or argv[0] not in {"quickstart", "test", "zoo"}:
        print(__doc__, file=sys.stderr)
        return 2
    create_venv()
    install()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    job, rest = argv[0], argv[1:]
    if job == "quickstart":
        command = [BIN / "zoo", "quickstart", *rest]
    elif job == "test":
        # One worker per core unless the caller chose (`-n 0` runs in one process); every
        # test unless the caller chose (`-m slow`): pyproject's default leaves out the slow,
        # browser and multiprocess ones, a developer's quick lane.
        parallel = [] if any(a.startswith("-n") for a in rest) else ["-n", "auto"]
        lanes = [] if any(a.startswith("-m") for a in rest) else ["-m", ""]
        command = [PYTHON, "-m", "pytest", *parallel, *lanes, *rest]
    else:
        command = [BIN / "zoo", *rest]
    return subprocess.run([str(c) for c in command], cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
