"""Datasets in their original formats: named ones (downloaded and verified, or from a folder
you name), embedded ones that need no download, and your own files.

>>> from zoo import datasets
>>> "mnist" in datasets.list_datasets()
True

The names below load on first use (PEP 562), so `zoo.datasets.sources` (the cache and the
verified download, which published entries' weights use too) imports without numpy.
"""

import importlib

from zoo.datasets.errors import DataFormatError, DatasetError
from zoo.datasets.sources import RemoteFile, cache_dir, data_dir, fetch

_FROM_CATALOG = ("Examples", "info", "list_datasets", "load", "load_files", "remote_files")

__all__ = [
    "DataFormatError", "DatasetError", "Examples", "RemoteFile", "cache_dir", "data_dir", "fetch",
    "info", "list_datasets", "load", "load_files", "remote_files",
]


def __getattr__(name):
    if name in _FROM_CATALOG:
        return getattr(importlib.import_module("zoo.datasets.catalog"), name)
    raise AttributeError(f"module 'zoo.datasets' has no attribute {name!r}")
