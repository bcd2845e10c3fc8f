"""Datasets in their original formats: named ones (downloaded and verified, or from a folder
you name), embedded ones that need no download, and your own files.

>>> from zoo import datasets
>>> "mnist" in datasets.list_datasets()
True
"""

from zoo.datasets.catalog import Examples, info, list_datasets, load, load_files, remote_files
from zoo.datasets.errors import DataFormatError, DatasetError
from zoo.datasets.sources import RemoteFile, cache_dir, data_dir, fetch

__all__ = [
    "DataFormatError", "DatasetError", "Examples", "RemoteFile", "cache_dir", "data_dir", "fetch",
    "info", "list_datasets", "load", "load_files", "remote_files",
]
