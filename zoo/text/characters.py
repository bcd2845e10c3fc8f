"""Character-level tokenization: one id per Unicode character, run in-graph.

The vocabulary is every character of the training text, sorted by code point, after two
special tokens. Both directions are TensorFlow ops (`tf.strings.unicode_decode`, a static
lookup table, `tf.gather` and `tf.strings.unicode_encode`), so they run eagerly, inside
`tf.function`, inside `tf.data.Dataset.map` and inside a SavedModel's graph (keep `table` as an
attribute of the SavedModel's root: it is the one resource the ops read).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import tensorflow as tf

from zoo import atomic, textio
from zoo.text.ids import id_rows

SETTINGS_FILE = "tokenizer.json"
#: What `detokenize` writes for the unknown-character id (and for ids outside the vocabulary):
#: U+FFFD REPLACEMENT CHARACTER, one character, as the unknown character was.
REPLACEMENT = "\ufffd"


class CharacterTokenizer:
    """A tokenizer whose tokens are single characters (Unicode code points).

    The first two ids are the special tokens `<pad>` (0, `pad_id`) and `<unk>` (1,
    `unk_id`); then every character of the training text, sorted by code point. There is no
    normalisation: case, accents, spaces and line breaks are kept, so
    `detokenize(tokenize(text)) == text` for any text whose characters are all in the
    vocabulary. A character that is not becomes `<unk>`, which reads back as U+FFFD (one
    character for one, so positions keep lining up). Text that is not valid UTF-8 is decoded
    with U+FFFD for each bad byte sequence.

    Args:
        vocabulary: list of str. The tokens, one per id: `SPECIAL_TOKENS`, then single
            characters, each once. Usually made by `train` or read by `load`.

    Example:

    >>> tokenizer = CharacterTokenizer.train(["to be, or not to be"])
    >>> tokenizer.vocabulary[:5]
    ['<pad>', '<unk>', ' ', ',', 'b']
    >>> ids = tokenizer.tokenize(["to be", "bot!"])
    >>> ids.to_list()
    [[9, 7, 2, 4, 5], [4, 7, 9, 1]]
    >>> [t.decode() for t in tokenizer.detokenize(ids).numpy()]
    ['to be', 'bot\ufffd']
    """

    SPECIAL_TOKENS = ("<pad>", "<unk>")
    pad_id, unk_id = 0, 1

    def __init__(self, vocabulary: list[str]):
        self.vocabulary = _checked_vocabulary(vocabulary, self.SPECIAL_TOKENS)
        points = [ord(c) for c in self.vocabulary[len(self.SPECIAL_TOKENS):]]
        ids = range(len(self.SPECIAL_TOKENS), len(self.vocabulary))
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(points, tf.int64),
                                                tf.constant(list(ids), tf.int64)),
            default_value=self.unk_id)
        # id -> code point for `detokenize`: -1 for padding (dropped), U+FFFD for unknown.
        self._points = tf.constant([-1, ord(REPLACEMENT), *points], tf.int32)

    @property
    def vocabulary_size(self) -> int:
        """The number of tokens, special tokens included."""
        return len(self.vocabulary)

    @property
    def table(self) -> tf.lookup.StaticHashTable:
        """The code point -> id lookup table `tokenize` reads. A SavedModel that tokenizes in
        its graph keeps it as an attribute of its root (it is a tracked resource)."""
        return self._table

    @classmethod
    def train(cls, texts: Iterable[str]) -> CharacterTokenizer:
        """A tokenizer whose vocabulary is every character of `texts` (an iterable of str).

        Raises:
            ValueError: `texts` is a single string, holds something else than strings, or has
                no character at all.
        """
        if isinstance(texts, str | bytes):
            raise ValueError("texts must be an iterable of strings, not a single string.")
        characters = set()
        for text in texts:
            characters.update(_as_str(text))
        if not characters:
            raise ValueError("Cannot learn a vocabulary: texts hold no characters.")
        return cls([*cls.SPECIAL_TOKENS, *sorted(characters)])

    def tokenize(self, texts) -> tf.Tensor | tf.RaggedTensor:
        """Character ids of a string or a 1-D batch of strings; no special tokens are added.

        Args:
            texts: str, list of str, or a string tensor of rank 0 or 1.

        Returns:
            For a batch, an int32 `tf.RaggedTensor` `[batch, None]`; for a single string, its
            int32 ids as a 1-D `tf.Tensor`.
        """
        texts = tf.convert_to_tensor(texts, tf.string)
        rank = texts.shape.rank
        if rank not in (0, 1):
            raise ValueError(f"tokenize takes a string or a 1-D batch of strings, got rank {rank}.")
        points = tf.strings.unicode_decode(texts, "UTF-8", errors="replace",
                                           replacement_char=ord(REPLACEMENT))

        def lookup(values):
            return tf.cast(self._table.lookup(tf.cast(values, tf.int64)), tf.int32)

        return lookup(points) if rank == 0 else tf.ragged.map_flat_values(lookup, points)

    def detokenize(self, ids) -> tf.Tensor:
        """Text of ids: `[batch, length]` (dense, e.g. padded with `pad_id`, or ragged), nested
        lists, or `[length]` for one sequence. Padding ids are dropped; `<unk>` and ids outside
        the vocabulary read as U+FFFD.

        Returns:
            A 1-D `tf.string` tensor, one string per row, or a scalar string for 1-D input.
        """
        ids, single = id_rows(ids, tf.int32)
        if single:
            return self.detokenize(ids)[0]
        size = tf.shape(self._points)[0]

        def points(values):
            values = tf.where((values < 0) | (values >= size), self.unk_id, values)
            return tf.gather(self._points, values)

        points = tf.ragged.map_flat_values(points, ids)
        return tf.strings.unicode_encode(tf.ragged.boolean_mask(points, points >= 0), "UTF-8")

    def encode(self, text: str) -> np.ndarray:
        """The int32 ids of one (long) string, as a NumPy array: a corpus as a token stream."""
        return self.tokenize(tf.constant(_as_str(text))).numpy()

    def decode(self, ids) -> str:
        """The text of one sequence of ids (`detokenize` of `[length]`)."""
        return self.detokenize(tf.constant(np.asarray(ids, "int32").reshape(-1))).numpy().decode(
            "utf-8")

    def token_characters(self) -> np.ndarray:
        """How many characters of text each id stands for: int32 `[vocabulary_size]`, 0 for
        padding, 1 for every other id (the unknown character was one character too)."""
        counts = np.ones(self.vocabulary_size, "int32")
        counts[self.pad_id] = 0
        return counts

    def get_config(self) -> dict:
        """The constructor arguments, JSON-serializable: `CharacterTokenizer(**config)`."""
        return {"vocabulary": list(self.vocabulary)}

    def save(self, path) -> None:
        """Writes `tokenizer.json` (`class`, `vocabulary`, `vocabulary_size`) into directory
        `path`, atomically. The vocabulary is a JSON list, not one token a line: a line break
        is a token of its own.

        >>> import tempfile
        >>> tokenizer = CharacterTokenizer.train(["a\\nb"])
        >>> folder = tempfile.mkdtemp()
        >>> tokenizer.save(folder)
        >>> CharacterTokenizer.load(folder).vocabulary == tokenizer.vocabulary
        True
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        atomic.write_json(path / SETTINGS_FILE, {
            "class": type(self).__name__, "vocabulary": list(self.vocabulary),
            "vocabulary_size": self.vocabulary_size})

    @classmethod
    def load(cls, path) -> CharacterTokenizer:
        """Reads a tokenizer written by `save` from directory `path`.

        Raises:
            FileNotFoundError: no `tokenizer.json` there.
            ValueError: the file is not a character tokenizer's, or its vocabulary is broken
                (the message names the file).
        """
        file = Path(path) / SETTINGS_FILE
        if not file.is_file():
            raise FileNotFoundError(f"{file} is missing: is {path} a saved tokenizer?")
        settings = textio.read_json_object(file)
        if settings.get("class") != cls.__name__:
            raise ValueError(f"{file} holds a {settings.get('class')!r} tokenizer, not a "
                             f"{cls.__name__}; load it with zoo.text.tokenizers.load.")
        vocabulary = settings.get("vocabulary")
        if not isinstance(vocabulary, list):
            raise ValueError(f"{file}: 'vocabulary' must be a list of characters, got "
                             f"{type(vocabulary).__name__}.")
        if settings.get("vocabulary_size", len(vocabulary)) != len(vocabulary):
            raise ValueError(f"{file}: 'vocabulary_size' is {settings['vocabulary_size']} but "
                             f"the vocabulary holds {len(vocabulary)} tokens.")
        try:
            return cls(vocabulary)
        except ValueError as error:
            raise ValueError(f"{file}: {error}") from None


def _checked_vocabulary(vocabulary, specials) -> list[str]:
    if isinstance(vocabulary, str | bytes | os.PathLike):
        raise ValueError("vocabulary must be a list of characters; to read a saved tokenizer "
                         "use CharacterTokenizer.load(path).")
    vocabulary = [_as_str(token) for token in vocabulary]
    if tuple(vocabulary[:len(specials)]) != specials:
        raise ValueError(f"The vocabulary must start with the special tokens {list(specials)} "
                         f"in this order, got {vocabulary[:len(specials)]}.")
    characters = vocabulary[len(specials):]
    if not characters:
        raise ValueError("The vocabulary holds only the special tokens.")
    long = [token for token in characters if len(token) != 1]
    if long:
        raise ValueError(f"Every token after the special ones must be one character, got "
                         f"{long[0]!r}.")
    if len(set(characters)) != len(characters):
        twice = next(c for c in characters if characters.count(c) > 1)
        raise ValueError(f"The vocabulary holds {twice!r} twice; tokens must be unique.")
    return vocabulary


def _as_str(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if not isinstance(value, str):
        raise ValueError(f"Expected a string, got {type(value).__name__}: {value!r}.")
    return value


