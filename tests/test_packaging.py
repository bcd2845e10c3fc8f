"""`pip install .` (not editable) gives a zoo that works anywhere: benchmark definitions inside
the package, published weights downloaded on first use (not in the wheel), and nothing read
from around the installed package."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from zoo import entries, provenance

ROOT = Path(__file__).resolve().parents[1]
#: Top-level folders of the checkout that are not the package's source (built, generated or
#: published files), left out of the copy the wheel is built from.
NOT_SOURCE = {".git", ".venv", "build", "dist", "runs", "leaderboard", "benchmarks",
              ".pytest_cache", ".ruff_cache"}
ENTRY = "vit_tiny_patch2_8.digits"  # the smallest published entry: 0.3 MB of weights


def test_an_installed_zoo_is_no_checkout_even_inside_someone_elses_repository(tmp_path):
    """The folder above an installed `zoo` is `site-packages`: its git state, `benchmarks/`
    or `pyproject.toml` around it are not zoo's (records would carry the commit and dirty
    flag of whatever repository holds the virtual environment)."""
    assert provenance.checkout() == ROOT  # the suite runs from the checkout
    project = _their_repository(tmp_path / "project")
    site_packages = project / ".venv" / "lib" / "site-packages"
    site_packages.mkdir(parents=True)
    assert provenance.checkout(site_packages) is None
    assert provenance.checkout(project) is None
    assert len(provenance.git_state(project)["commit"]) == 40  # theirs, had zoo asked
    (site_packages / "pyproject.toml").write_text("not toml [")
    assert provenance.checkout(site_packages) is None


def _their_repository(folder: Path) -> Path:
    """A git repository with one commit and a project of another name: where a user keeps the
    virtual environment they installed zoo into."""
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text('[project]\nname = "theirs"\n')
    git = ["git", "-C", str(folder), "-c", "user.name=u", "-c", "user.email=u@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "pyproject.toml"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "theirs"], check=True)
    return folder


def _source_copy(dest: Path) -> Path:
    """The working tree's package source (no git, virtual environment or generated files)."""
    def ignore(folder, names):
        skipped = {n for n in names if n == "__pycache__" or n.endswith(".egg-info")}
        return skipped | (NOT_SOURCE & set(names) if Path(folder) == ROOT else set())

    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


def _fresh_venv(where: Path) -> Path:
    """A new virtual environment without pip whose python also sees this environment's
    packages (TensorFlow and the rest) through a `.pth` line, after its own: nothing is
    downloaded, and the zoo it imports is the one installed in it. Returns its python."""
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], check=True, capture_output=True, text=True)
    Path(purelib.stdout.strip(), "zoo-test-dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n")
    return python


@pytest.mark.slow
@pytest.mark.multiprocess
def test_the_wheel_has_no_weights_and_works_outside_the_checkout(tmp_path, server):
    """pip builds the wheel as `pip install .` does (an isolated build: setuptools from the
    package index or pip's cache); it holds no weights and every module; installed with
    --no-deps, `zoo` lists benchmarks, recipes and entries, scores a published entry whose
    weights it downloads from 127.0.0.1, records no git state of the repository around it, and
    builds a local leaderboard that links the record where it lies."""
    root, url, hits = server
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist),
         str(_source_copy(tmp_path / "src"))], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-3000:]
    [wheel] = dist.glob("zoo-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert wheel.stat().st_size < 2e6, f"{wheel.stat().st_size / 1e6:.1f} MB"
    assert not [n for n in names if n.endswith((".npz", ".keras", ".tar.gz"))]
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "zoo").rglob("*.py")
               if "__pycache__" not in p.parts}
    assert sources <= set(names), sorted(sources - set(names))[:5]
    for shipped in ("zoo/benchmarks/digits.toml", f"zoo/entries/{ENTRY}/weights.json",
                    f"zoo/entries/{ENTRY}/model.json", "zoo/recipes/vae_base.mnist.toml",
                    "zoo/data/samples/tatoeba_en_es.tsv"):
        assert shipped in names, shipped

    # Installed into a virtual environment inside someone else's git repository, used from
    # a folder outside the checkout; the weights come from a server on 127.0.0.1.
    project = _their_repository(tmp_path / "project")
    python = _fresh_venv(project / ".venv")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                              "--no-deps", "--no-index", "--quiet", str(wheel)],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-3000:]
    (root / ENTRY).mkdir()
    shutil.copy(entries.ENTRIES_DIR / ENTRY / "weights.npz", root / ENTRY / "weights.npz")
    work = project / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ZOO_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(ZOO_CACHE_DIR=str(tmp_path / "cache"), ZOO_WEIGHTS_URL=url,
               TF_CPP_MIN_LOG_LEVEL="3", ZOO_CPU_DEVICES="1")

    def run(*args):
        done = subprocess.run([str(a) for a in args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-3000:])
        return done

    where = run(python, "-c", "import zoo; print(zoo.__file__)").stdout.strip()
    assert Path(where).is_relative_to(project / ".venv"), where
    zoo = project / ".venv" / "bin" / "zoo"
    assert "mnist-vae" in run(zoo, "bench", "list").stdout
    assert ENTRY in run(zoo, "recipes").stdout
    assert ENTRY in run(zoo, "entries").stdout
    scored = run(zoo, "bench", "run", "--entry", ENTRY, "--benchmark", "digits", "--limit", "40")
    assert "Downloading" in scored.stderr and hits == {f"/{ENTRY}/weights.npz": 1}
    [path] = (work / "runs" / "results" / "digits").glob("*.json")
    record = json.loads(path.read_text())
    listed = json.loads((entries.ENTRIES_DIR / ENTRY / "weights.json").read_text())
    assert record["model"]["weights"]["sha256"] == listed["sha256"]
    assert record["provenance"]["git"]["commit"] is None  # not the surrounding repository's
    # A local leaderboard of the run links its record where it lies.
    built = run(zoo, "leaderboard", "build", "--results", "runs/results", "--out", "runs/site")
    pages = list((work / "runs" / "site" / "entries").glob("*.html"))
    assert len(pages) == 1, built.stderr
    assert f'href="../../results/digits/{path.name}"' in pages[0].read_text()
