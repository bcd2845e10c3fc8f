"""Small real-text samples that ship with zoo (see README.md beside this file).

>>> from zoo.data import samples
>>> samples.path("tatoeba_en_es.tsv").name
'tatoeba_en_es.tsv'
"""

from importlib import resources
from pathlib import Path

NAMES = ("tatoeba_en_es.tsv", "tatoeba_en_es.test.tsv")


def path(name: str) -> Path:
    """The installed path of a shipped sample file."""
    if name not in NAMES:
        raise ValueError(f"No shipped sample named {name!r}; choose one of {', '.join(NAMES)}.")
    return Path(str(resources.files(__name__).joinpath(name)))
