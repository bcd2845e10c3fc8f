"""TensorFlow's native log lines stay off a user's terminal: `zoo` filters them out of its
standard error (`zoo.quiet`) unless `zoo --verbose`; everything else passes unchanged."""

import os
import random
import re
import subprocess
import sys

import pytest

from zoo.quiet import Filter

#: What TensorFlow 2.21 prints on a CPU machine (and on a GPU one); each must go.
NATIVE = [
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
    b"I0000 00:00:1795996579.015345   24292 port.cc:153] oneDNN custom operations are on. You "
    b"may see slightly different numerical results.\n",
    b"I0000 00:00:1795996579.015712   24292 cudart_stub.cc:31] Could not find cuda drivers on "
    b"your machine, GPU will not be used.\n",
    b"E0000 00:00:1795996587.977278   24292 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n",
    b"E0000 00:00:1795996645.972304   24292 cuda_dnn.cc:8310] Unable to register cuDNN factory: "
    b"Attempting to register factory for plugin cuDNN when one has already been registered\n",
    b"I1130 12:01:02.069867    3121 cpu_feature_guard.cc:227] This TensorFlow binary is "
    b"optimized to use available CPU instructions in performance-critical operations.\n",
    b"To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild "
    b"TensorFlow with the appropriate compiler flags.\n",
]
#: What zoo and Python print; each must pass, byte for byte.
KEPT = [
    b"[train] step 40/400  accuracy 0.302  loss 2.151\n",
    b"\r[bench] digits: 64/360 examples (95/s)",
    b"\r[bench] digits: 128/360 examples (184/s)\n",
    b"Traceback (most recent call last):\n",
    b"IndexError: 3\n",
    b"12 images skipped\n",
    b"E is a letter, I0 is not a log\n",
    b"zoo train: error: no such recipe",
]


def test_the_filter_drops_native_log_lines_however_the_bytes_arrive():
    rng = random.Random(0)
    lines = NATIVE + KEPT[:-1]
    for _ in range(300):
        rng.shuffle(lines)
        text = b"".join(lines) + KEPT[-1]
        keep, out, at = Filter(), b"", 0
        while at < len(text):
            size = rng.randint(1, 50)
            out += keep.feed(text[at:at + size])
            at += size
        out += keep.close()
        assert out == b"".join(line for line in lines if line in KEPT) + KEPT[-1]


def test_progress_that_has_not_ended_passes_at_once():
    keep = Filter()
    assert keep.feed(b"\r[bench] digits: 64/360") == b"\r[bench] digits: 64/360"
    assert keep.feed(b" examples\r[bench] d") == b" examples\r[bench] d"
    assert keep.feed(b"igits: 128/360 (184/s)E0000 00:00:17") == b"igits: 128/360 (184/s)"
    assert keep.feed(b".5 1 a.cc:1] glued to the progress line\n") == b""
    assert keep.feed(b"I0000 00:00:17") == b""  # may be a log line: held until it ends
    assert keep.feed(b".5 1 a.cc:1] x\nok\n") == b"ok\n"
    assert keep.feed(b"I am not one") == b"I am not one"


def _zoo(args, cwd):
    """`zoo ARGS` as a user's terminal runs it: nothing in the environment says how much
    TensorFlow may log."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP", "ABSL"))}
    return subprocess.run([sys.executable, "-m", "zoo.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


HEADER = re.compile(r"^[IWE]\d{4} \d\d:\d\d:\S+ +\d+ \S+:\d+\] ", re.M)
NOISE = ("oneDNN", "cuda", "cuInit", "cuDNN", "absl::InitializeLog", "cpu_feature_guard")


@pytest.mark.slow
@pytest.mark.multiprocess
def test_zoo_keeps_tensorflows_native_log_off_the_terminal_unless_verbose(tmp_path):
    args = ["bench", "run", "--model", "vit_tiny_patch2_8", "--benchmark", "digits",
            "--limit", "8", "--results", str(tmp_path / "results")]
    quiet = _zoo(args, tmp_path)
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert "[bench] digits: 8/8 examples" in quiet.stderr and "wrote " in quiet.stdout
    assert not HEADER.search(quiet.stderr), quiet.stderr
    assert not [word for word in NOISE if word in quiet.stderr], quiet.stderr
    verbose = _zoo(["--verbose", *args], tmp_path)
    assert verbose.returncode == 0, verbose.stderr[-3000:]
    assert HEADER.search(verbose.stderr) and "[bench] digits: 8/8 examples" in verbose.stderr


def test_zoo_errors_reach_the_terminal_through_the_filter(tmp_path):
    done = _zoo(["bench", "run", "--model", "vit_tiny_patch2_8", "--benchmark", "digitz"],
                tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("zoo bench: error: ") and "digits" in done.stderr


def test_the_command_line_imports_no_tensorflow_before_the_filter_is_in_place():
    """`zoo` (zoo.cli:main) installs the filter first thing; what its module imports before
    that must not load TensorFlow, whose libraries log as they load."""
    code = ("import sys, zoo.cli\n"
            "print(sorted(m for m in sys.modules if m.startswith(('tensorflow', 'keras'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]" and not HEADER.search(done.stderr), done.stderr
