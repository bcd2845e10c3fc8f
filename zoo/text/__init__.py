"""Text processing: tokenizers (`tokenizers` learns and loads them by kind; SentencePiece
models come only with a converted checkpoint, e.g. Marian's).

The classes load on first use (PEP 562), so `zoo.text.tokenizers` (which names the kinds a
recipe may choose) imports without TensorFlow.
"""

import importlib

_CLASSES = {"WordPieceTokenizer": "zoo.text.wordpiece", "CharacterTokenizer": "zoo.text.characters",
            "SentencePieceTokenizer": "zoo.text.sentencepiece"}

__all__ = ["CharacterTokenizer", "SentencePieceTokenizer", "WordPieceTokenizer"]


def __getattr__(name):
    if name in _CLASSES:
        return getattr(importlib.import_module(_CLASSES[name]), name)
    raise AttributeError(f"module 'zoo.text' has no attribute {name!r}")
