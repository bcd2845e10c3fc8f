"""Keeps TensorFlow's native log lines off a user's terminal (`zoo --verbose` shows them).

TensorFlow's C++ code logs through absl: notices such as "oneDNN custom operations are on",
"Could not find cuda drivers on your machine", "Unable to register cuDNN factory" or "failed
call to cuInit", each after a header like `I0000 00:00:1795996579.015345   24292 port.cc:153]`.
The ones logged while its libraries load come before absl is initialised, so they ignore
`TF_CPP_MIN_LOG_LEVEL` and go straight to file descriptor 2. `quiet()` therefore points
descriptor 2 at a small filter process (this file, run as a script) that drops those lines and
passes everything else on unchanged and at once (a progress line ending in a carriage return
included). A separate process, not a thread: what a crash prints still reaches the terminal,
since the filter reads until the last writer is gone. It also sets `TF_CPP_MIN_LOG_LEVEL=2`
(unless set) and TensorFlow's and absl's Python loggers to errors only.

Only the standard library here: the filter starts without importing zoo.

>>> is_native_log(b"I0000 00:00:1795996579.015345   24292 port.cc:153] oneDNN custom operations")
True
>>> is_native_log(b"[train] step 40/400  loss 2.151")
False
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import sys

#: A native log line: absl's header (severity, month and day, time, thread, file:line), or
#: absl's notice before its initialisation, or the continuation line of TensorFlow's
#: CPU-instructions notice.
NATIVE_LOG = re.compile(
    rb"\r?(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\]\s]+:\d+\] "
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|To enable the following instructions: .* in other operations, rebuild TensorFlow)")
#: absl's header alone, anywhere in a line: a native line written after text that had not
#: ended its line (a progress line) starts there.
_GLUED = re.compile(rb"[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\]\s]+:\d+\] "
                    rb"|WARNING: All log messages before absl::InitializeLog"
                    rb"|To enable the following instructions")
#: A start of absl's header (up to the whole of it): bytes that may become one as more come.
_HEADER_START = re.compile(
    rb"[IWE](?:\d{1,4}(?: (?:\d{1,2}(?::(?:\d{1,2}(?::(?:\d+(?:\.(?:\d*(?: +(?:\d+"
    rb"(?: [^\]\s]*\]?)?)?)?)?)?)?)?)?)?)?)?)?\Z")
_TEXT_STARTS = (b"WARNING: All log messages before absl::InitializeLog",
                b"To enable the following instructions")
#: How long a line may grow before it is passed on although it has not ended (no native log
#: line is this long without its header having shown what it is).
MAX_HELD = 1 << 16
#: Python loggers set to errors only.
LOGGERS = ("tensorflow", "absl")


def is_native_log(line: bytes) -> bool:
    """Whether a whole line (bytes, with or without its newline) is a native log line."""
    return NATIVE_LOG.match(line) is not None


def _may_start_native_log(text: bytes) -> bool:
    """Whether `text` (no line end in it) is the start of a native log line, so it is held
    until it can be told."""
    if is_native_log(text):
        return True
    text = text.lstrip(b"\r")
    return (_HEADER_START.match(text) is not None
            or any(known.startswith(text[:len(known)]) for known in _TEXT_STARTS))


def _held_tail(segment: bytes) -> int:
    """Where the end of a passing segment may begin a native line glued to it (held until
    it can be told); `len(segment)` when it cannot."""
    for at in range(max(0, len(segment) - 80), len(segment)):
        if segment[at:at + 1] in b"IWET" and (_HEADER_START.match(segment, at) or any(
                known.startswith(segment[at:]) for known in _TEXT_STARTS)):
            return at
    return len(segment)


def _line_end(text: bytes) -> int:
    """The index just past the first line end in `text`: a newline, or the end before a
    carriage return that rewrites the line (a progress line); -1 when there is none."""
    newline, carriage = text.find(b"\n"), text.find(b"\r", 1)
    ends = [i + 1 for i in (newline,) if i >= 0] + [i for i in (carriage,) if i >= 0]
    return min(ends, default=-1)


class Filter:
    """Bytes in, bytes out with the native log lines dropped, the rest unchanged and passed
    on as soon as it cannot be part of one (a line-by-line state machine: `feed` returns what
    may be written now, `close` what was held at the end)."""

    def __init__(self):
        self.held = b""  # bytes that may be (the start of) a native log line
        self.passing = False  # the current line is not one: its bytes go on as they come

    def feed(self, data: bytes) -> bytes:
        out, rest = [], self.held + data
        judged = False  # `rest` starts a line just found not to be a native one
        while rest:
            if self.passing:
                end = _line_end(rest)
                segment = rest if end < 0 else rest[:end]
                glued = _GLUED.search(segment, 1 if judged else 0)
                judged = False
                if glued:  # a native line begins inside this one: judge it as a line
                    out.append(segment[:glued.start()])
                    rest, self.passing = rest[glued.start():], False
                    continue
                if end < 0:
                    keep = _held_tail(segment) if len(segment) < MAX_HELD else len(segment)
                    out.append(segment[:keep])
                    rest = segment[keep:]
                    break
                out.append(segment)
                rest, self.passing = rest[end:], False
                continue
            end = rest.find(b"\n")
            if end < 0:
                if len(rest) < MAX_HELD and _may_start_native_log(rest):
                    break
                self.passing = judged = True
                continue
            line, rest = rest[:end + 1], rest[end + 1:]
            if not is_native_log(line):
                out.append(line)
        self.held = rest
        return b"".join(out)

    def close(self) -> bytes:
        held, self.held = self.held, b""
        return b"" if is_native_log(held) else held


def _pump(source: int, sink: int) -> None:
    """Copies `source` to `sink` through a Filter until end of file."""
    keep = Filter()
    while True:
        try:
            data = os.read(source, 1 << 16)
        except InterruptedError:
            continue
        out = keep.feed(data) if data else keep.close()
        try:
            if out:
                os.write(sink, out)
        except OSError:  # the terminal went away: read on, so writers never block
            pass
        if not data:
            return


def _flush_stderr() -> None:
    with contextlib.suppress(ValueError, OSError):  # closed (a broken pipe) or gone
        sys.stderr.flush()


@contextlib.contextmanager
def quiet(enabled: bool = True):
    """Within the block, native log lines written to descriptor 2 (by this process or its
    children) do not reach it; nothing changes when `enabled` is false (`--verbose`) or where
    processes cannot share descriptors so (Windows). On leaving, everything written has
    been passed on (the filter has ended) and descriptor 2 is what it was."""
    if not enabled or os.name == "nt":
        yield
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    levels = {name: logging.getLogger(name).level for name in LOGGERS}
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    _flush_stderr()
    terminal = os.dup(2)
    try:
        # -I -S: the filter needs only the standard library; it ignores Ctrl-C (it ends when
        # the last writer closes the pipe, after the interrupted command has said so).
        pump = subprocess.Popen([sys.executable, "-I", "-S", os.path.abspath(__file__)],
                                stdin=subprocess.PIPE, stdout=terminal, stderr=terminal)
    except OSError:
        os.close(terminal)
        yield
        return
    os.dup2(pump.stdin.fileno(), 2)
    pump.stdin.close()
    try:
        yield
    finally:
        _flush_stderr()
        os.dup2(terminal, 2)  # the pipe's last writer here closes: the filter drains and ends
        os.close(terminal)
        try:
            pump.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a child process still holds the pipe
            pass
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _pump(0, 1)
