"""Errors raised by `zoo.datasets`.

>>> str(DataFormatError("train.tsv", 3, "2 tab-separated fields", "3"))
'train.tsv, line 3: expected 2 tab-separated fields, got 3'
>>> str(DataFormatError("labels.gz", None, "magic number 2049"))
'labels.gz: expected magic number 2049'
"""

from __future__ import annotations

import os


class DatasetError(Exception):
    """A dataset could not be found, downloaded, verified or read."""


class DataFormatError(DatasetError):
    """A data file does not have the format it should have.

    Args:
        path: the file (str or path-like).
        line: 1-based line number, or None for binary files and whole-file problems.
        expected: what the file should hold at that place.
        got: what it holds instead (optional).
    """

    def __init__(self, path, line: int | None, expected: str, got: object = None):
        self.path = os.fspath(path)
        self.line = line
        self.expected = expected
        self.got = got
        where = self.path if line is None else f"{self.path}, line {line}"
        message = f"{where}: expected {expected}"
        if got is not None:
            message += f", got {got}"
        super().__init__(message)

    def __reduce__(self):
        return (type(self), (self.path, self.line, self.expected, self.got))
