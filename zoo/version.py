"""zoo's version (level 0: every module may read it without importing the package)."""

__version__ = "0.1.0"
