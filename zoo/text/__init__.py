"""Text processing: tokenizers."""

from zoo.text.wordpiece import WordPieceTokenizer

__all__ = ["WordPieceTokenizer"]
