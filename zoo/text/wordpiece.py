"""WordPiece tokenization (tensorflow-text), learned from a dataset and run in-graph."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable

import tensorflow as tf
import tensorflow_text as tf_text

# Splitting on punctuation loses where the spaces were; these rules put the
# common cases back (closing marks, opening marks, apostrophes, hyphens, and
# the separators inside numbers and times such as 2:30 or 3.5).
_REJOIN = (
    (r" +([.,!?;:%)\]}»…])", r"\1"),
    (r"([¿¡(\[{«]) +", r"\1"),
    (r" *' *", "'"),
    (r"(\w) *- *(\w)", r"\1-\2"),
    (r"(\d) *([:.,]) *(\d)", r"\1\2\3"),
)


class WordPieceTokenizer:
    """A WordPiece vocabulary with in-graph tokenization (tensorflow-text's `BertTokenizer`).

    The first seven ids are the special tokens `[PAD] [START] [END] [UNK] [CLS]
    [SEP] [MASK]`. Text is split on whitespace and punctuation, then into
    word pieces (`##` marks a continuation). `tokenize` and `detokenize` are
    TensorFlow ops, so they run in `tf.data` pipelines and inside exported
    SavedModels that take raw strings. `detokenize` joins words with spaces,
    then re-attaches punctuation the splitting took apart ("Hello, world!",
    "¿Qué tal?", "don't", "well-known"), in-graph as well.

    Args:
        vocabulary: list of str. Special tokens first, in the order above.
        lowercase: bool. Lowercase and strip accents before splitting.

    Example:

    >>> tok = WordPieceTokenizer.train(["the cat sat.", "the dog sat down!"] * 2,
    ...                                vocabulary_size=40)
    >>> ids = tok.tokenize(["the cat sat down."])
    >>> tok.detokenize(ids).numpy()[0].decode()
    'the cat sat down.'
    """

    SPECIAL_TOKENS = ("[PAD]", "[START]", "[END]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
    pad_id, start_id, end_id, unk_id, cls_id, sep_id, mask_id = range(7)

    def __init__(self, vocabulary: list[str], lowercase: bool = True):
        vocabulary = list(vocabulary)
        if tuple(vocabulary[: len(self.SPECIAL_TOKENS)]) != self.SPECIAL_TOKENS:
            raise ValueError(
                f"A vocabulary must start with the special tokens {list(self.SPECIAL_TOKENS)}, "
                f"got {vocabulary[:7]}; train one with WordPieceTokenizer.train(texts)."
            )
        if len(set(vocabulary)) != len(vocabulary):
            raise ValueError("The vocabulary holds a token twice; every token must be unique.")
        self.vocabulary = vocabulary
        self.lowercase = bool(lowercase)
        table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(vocabulary), tf.range(len(vocabulary), dtype=tf.int64)
            ),
            default_value=self.unk_id,
        )
        self._tokenizer = tf_text.BertTokenizer(
            table, token_out_type=tf.int32, unknown_token="[UNK]", lower_case=self.lowercase
        )

    @property
    def vocabulary_size(self) -> int:
        return len(self.vocabulary)

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocabulary_size: int = 8000,
        lowercase: bool = True,
        min_frequency: int = 2,
    ) -> WordPieceTokenizer:
        """Learns a vocabulary of at most `vocabulary_size` tokens from `texts`.

        Word pieces seen fewer than `min_frequency` times are left out, so a
        small corpus gives a vocabulary smaller than `vocabulary_size`.
        """
        from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset

        if vocabulary_size < len(cls.SPECIAL_TOKENS) + 1:
            raise ValueError(
                f"vocabulary_size={vocabulary_size} leaves no room beside the "
                f"{len(cls.SPECIAL_TOKENS)} special tokens."
            )
        texts = [t for t in texts]
        if not texts:
            raise ValueError("Cannot learn a vocabulary from no text.")
        dataset = tf.data.Dataset.from_tensor_slices(tf.constant(texts)).batch(1024)
        vocabulary = bert_vocab_from_dataset.bert_vocab_from_dataset(
            dataset,
            vocab_size=vocabulary_size,
            reserved_tokens=list(cls.SPECIAL_TOKENS),
            bert_tokenizer_params={"lower_case": lowercase},
            learn_params={"lower_thresh": min_frequency},
        )
        vocabulary = list(dict.fromkeys(vocabulary))[:vocabulary_size]
        return cls(vocabulary, lowercase=lowercase)

    def tokenize(self, texts) -> tf.RaggedTensor:
        """Strings `[batch]` -> int32 ids, ragged `[batch, None]` (no special tokens added)."""
        texts = tf.convert_to_tensor(texts, tf.string)
        scalar = texts.shape.rank == 0
        if scalar:
            texts = texts[None]
        ids = self._tokenizer.tokenize(texts).merge_dims(-2, -1)
        return ids[0] if scalar else ids

    def detokenize(self, ids) -> tf.Tensor:
        """Ids (dense, padded, or ragged) -> strings `[batch]`.

        Padding, start and end tokens are dropped, and so is everything after
        the first end token.
        """
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.RaggedTensor.from_tensor(tf.convert_to_tensor(ids))
        ids = tf.cast(ids, tf.int32)
        # Keep the tokens before the first [END].
        ended = tf.cumsum(tf.cast(tf.equal(ids, self.end_id), tf.int32), axis=1) > 0
        keep = tf.logical_and(tf.logical_not(ended), ids > self.end_id)
        ids = tf.ragged.boolean_mask(ids, keep)
        words = self._tokenizer.detokenize(ids)
        text = tf.strings.reduce_join(words, axis=-1, separator=" ")
        for pattern, rewrite in _REJOIN:
            text = tf.strings.regex_replace(text, pattern, rewrite)
        return text

    def get_config(self) -> dict:
        return {"vocabulary": list(self.vocabulary), "lowercase": self.lowercase}

    def save(self, path) -> None:
        """Writes `vocab.txt` (one token a line) and `tokenizer.json` into directory `path`."""
        os.makedirs(path, exist_ok=True)
        _write_atomic(os.path.join(path, "vocab.txt"), "\n".join(self.vocabulary) + "\n")
        _write_atomic(
            os.path.join(path, "tokenizer.json"),
            json.dumps({"class": "WordPieceTokenizer", "lowercase": self.lowercase}, indent=2),
        )

    @classmethod
    def load(cls, path) -> WordPieceTokenizer:
        vocab_file = os.path.join(path, "vocab.txt")
        settings_file = os.path.join(path, "tokenizer.json")
        for file in (vocab_file, settings_file):
            if not os.path.exists(file):
                raise FileNotFoundError(f"{file} is missing: is {path} a saved tokenizer?")
        with open(vocab_file, encoding="utf-8") as f:
            vocabulary = f.read().split("\n")[:-1]
        with open(settings_file, encoding="utf-8") as f:
            settings = json.load(f)
        return cls(vocabulary, lowercase=settings["lowercase"])


def _write_atomic(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
