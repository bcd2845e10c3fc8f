"""zoo.atomic: the one way zoo writes a file or a folder so that a reader (or a process killed
mid-write) never finds half of one."""

import subprocess
import sys

import pytest

from zoo import atomic


def _tree(folder):
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _fill(folder, text):
    (folder / "sub").mkdir()
    (folder / "sub" / "a.txt").write_text(text)
    (folder / "b.txt").write_text(text)


def test_a_staged_folder_appears_whole_and_replaces_the_old_one(tmp_path):
    target = tmp_path / "site"
    with atomic.staged_folder(target) as staging:
        assert staging.parent == tmp_path and staging.name.startswith(".site.")
        _fill(staging, "one")
        assert not target.exists()  # nothing at the destination until the block ends
    assert _tree(target) == {"b.txt": "one", "sub/a.txt": "one"}
    assert target.stat().st_mode & 0o777 == 0o755
    with atomic.staged_folder(target, existing="replace") as staging:
        _fill(staging, "two")
        assert _tree(target)["b.txt"] == "one"  # readers see the old one meanwhile
    assert _tree(target) == {"b.txt": "two", "sub/a.txt": "two"}
    assert atomic.leftovers(tmp_path) == []


def test_a_failed_write_leaves_the_old_folder_and_nothing_else(tmp_path):
    target = tmp_path / "entry"
    with atomic.staged_folder(target) as staging:
        _fill(staging, "old")
    with pytest.raises(RuntimeError, match="half way"):
        with atomic.staged_folder(target) as staging:
            (staging / "b.txt").write_text("new")
            raise RuntimeError("half way")
    assert _tree(target) == {"b.txt": "old", "sub/a.txt": "old"}
    assert atomic.leftovers(tmp_path) == []


def test_keep_leaves_a_complete_copy_another_writer_made_and_fills_an_empty_one(tmp_path):
    """A cache that concurrent processes fill: the first complete copy wins."""
    target = tmp_path / "cache"
    with atomic.staged_folder(target, existing="keep") as staging:
        _fill(staging, "mine")
        with atomic.staged_folder(target, existing="keep") as theirs:  # finishes first
            _fill(theirs, "theirs")
    assert _tree(target)["b.txt"] == "theirs"
    empty = tmp_path / "empty"
    empty.mkdir()
    with atomic.staged_folder(empty, existing="keep") as staging:
        _fill(staging, "mine")
    assert _tree(empty)["b.txt"] == "mine"
    assert atomic.leftovers(tmp_path) == []


def test_error_refuses_an_existing_folder(tmp_path):
    target = tmp_path / "out"
    with atomic.staged_folder(target) as staging:
        _fill(staging, "first")
    with pytest.raises(FileExistsError, match="exists"):
        with atomic.staged_folder(target, existing="error") as staging:
            _fill(staging, "second")
    assert _tree(target)["b.txt"] == "first" and atomic.leftovers(tmp_path) == []
    with pytest.raises(ValueError, match="existing must be one of replace, keep, error"):
        with atomic.staged_folder(target, existing="overwrite"):
            pass


def test_a_killed_folder_write_leaves_the_old_folder_and_a_leftover_that_is_found(tmp_path):
    target = tmp_path / "site"
    with atomic.staged_folder(target) as staging:
        _fill(staging, "old")
    code = ("import os, sys, pathlib\nfrom zoo import atomic\n"
            "with atomic.staged_folder(sys.argv[1]) as staging:\n"
            "    (staging / 'b.txt').write_text('new')\n"
            "    os._exit(9)  # killed before the rename\n")
    done = subprocess.run([sys.executable, "-c", code, str(target)], timeout=60)
    assert done.returncode == 9
    assert _tree(target)["b.txt"] == "old"
    left = atomic.leftovers(tmp_path)
    assert len(left) == 1 and left[0].is_dir() and left[0].name.startswith(".site.")


def test_a_staged_file_takes_any_writer_and_an_extension_it_insists_on(tmp_path):
    target = tmp_path / "run" / "model.keras"
    with atomic.staged_file(target, suffix=".keras") as tmp:
        assert tmp.name.endswith(".keras") and tmp.parent == target.parent
        tmp.write_bytes(b"zip")
        assert not target.exists()
    assert target.read_bytes() == b"zip" and atomic.leftovers(tmp_path) == []
    with pytest.raises(OSError):
        with atomic.staged_file(target) as tmp:
            tmp.write_bytes(b"cut")
            raise OSError("network down")
    assert target.read_bytes() == b"zip" and atomic.leftovers(tmp_path) == []
    with pytest.raises(FileExistsError):
        with atomic.staged_file(target, overwrite=False) as tmp:
            tmp.write_bytes(b"other")
    assert target.read_bytes() == b"zip" and atomic.leftovers(tmp_path) == []
