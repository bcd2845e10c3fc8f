"""What a conversion reads (`Source`) and what it gives back (`Converted`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path


@dataclasses.dataclass
class Source:
    """A checkpoint of another library, resolved to a local folder.

    Args:
        folder: the local folder holding its files (a download cache for `hf://`).
        format: "transformers", "keras_hub", "bert_original" or "timm".
        architecture: the class it was saved from, as its config names it (Transformers'
            `architectures[0]`, KerasHub's registered class name, "BertModel" for Google's
            original checkpoint, timm's `architecture`).
        config: its main config file, parsed (`config.json` or `bert_config.json`).
        location: what the user gave (a path or `hf://ORG/NAME`), for messages and records.
        files: file name -> sha256 of the files read.
    """

    folder: Path
    format: str
    architecture: str
    config: dict
    location: str
    files: dict = dataclasses.field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.location} ({self.format} {self.architecture})"


@dataclasses.dataclass
class Converted:
    """A converted model.

    Args:
        model: the zoo Keras model, float32, weights set.
        family: the zoo family (e.g. "bert").
        head: the head it was built as (e.g. "classifier").
        tokenizer: a zoo tokenizer object (`zoo.text.tokenizers` kinds) or None when the
            source has none zoo can read.
        notes: lines for the user and the record: tensors left out and why, settings mapped.
        source: the `Source` it came from.
        extra: family-specific facts the entry folder keeps (e.g. label names), JSON-able.
    """

    model: object
    family: str
    head: str
    tokenizer: object | None
    notes: list
    source: Source
    extra: dict = dataclasses.field(default_factory=dict)
