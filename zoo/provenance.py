"""Where a result came from: versions, git state, hardware and the literal command."""

from __future__ import annotations

import hashlib
import os
import platform
import shlex
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from zoo.version import __version__

PACKAGES = ("tensorflow", "keras", "tensorflow-text", "tensorflow-hub", "scikit-learn",
            "sacrebleu", "numpy")
#: The folder above the `zoo` package: a source checkout's root, or `site-packages`.
REPO = Path(__file__).resolve().parents[1]


def checkout(root: Path = REPO) -> Path | None:
    """`root` when zoo runs from its source checkout (`root/pyproject.toml` names the project
    zoo), else None: an installed zoo's folder above it is `site-packages`, whose
    surroundings (a user's own git repository, its `benchmarks/`) are not zoo's."""
    try:
        with open(root / "pyproject.toml", "rb") as f:
            name = tomllib.load(f).get("project", {}).get("name")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return root if name == "zoo" else None


def sha256_file(path, chunk=1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def package_versions() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(repo: Path | None = None) -> dict:
    """Commit and dirty flag of `repo`, by default the checkout zoo runs from (`checkout()`);
    None for both outside git and for an installed zoo (never the state of a repository that
    merely holds its virtual environment)."""
    repo = checkout() if repo is None else repo
    if repo is None:
        return {"commit": None, "dirty": None}

    def git(*args):
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              timeout=20)
    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return {"commit": None, "dirty": None}
        status = git("status", "--porcelain", "--untracked-files=no")
        return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": None, "dirty": None}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware() -> dict:
    """CPU model and count, and the accelerators TensorFlow sees."""
    import tensorflow as tf

    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    tpus = [d.name for d in tf.config.list_physical_devices("TPU")]
    accelerator = "TPU" if tpus else ("GPU" if gpus else None)
    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "accelerator": accelerator,
        "devices": gpus + tpus,
        "label": (f"{len(gpus)}x GPU" if gpus else f"{len(tpus)}x TPU" if tpus else
                  f"CPU: {cpu_model()} ({os.cpu_count()} cores)"),
    }


def collect(command: list[str] | None = None) -> dict:
    command = command if command is not None else sys.argv
    return {
        "zoo_version": __version__,
        "git": git_state(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "hardware": hardware(),
        "command": shlex.join(command),
    }
