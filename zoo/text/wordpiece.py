"""WordPiece tokenization on tensorflow-text: learned from raw text, run in-graph."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

import tensorflow as tf
import tensorflow_text as tf_text

from zoo import atomic, textio
from zoo.text.ids import id_rows

VOCABULARY_FILE = "vocab.txt"
SETTINGS_FILE = "tokenizer.json"

# `train` refuses a `vocabulary_size` that leaves fewer than this many tokens
# beside the special ones: too few to hold even a small alphabet.
MIN_LEARNED_TOKENS = 16
# Word pieces seen fewer times than this in the training text are not learned.
_MIN_FREQUENCY = 2

# Characters of scripts written without spaces between words (RE2 class): Han, hiragana,
# katakana (with the prolonged sound mark), bopomofo, CJK symbols and punctuation (、。「」),
# CJK compatibility forms and full-width forms (，！？ and full-width digits).
_CJK = (r"[\p{Han}\x{3000}-\x{303F}\x{3040}-\x{30FF}\x{3100}-\x{312F}\x{31F0}-\x{31FF}"
        r"\x{FE30}-\x{FE4F}\x{FF00}-\x{FFEF}]")

# Splitting on punctuation forgets where the spaces were. `detokenize` joins
# words with spaces, then these rules (RE2 patterns, applied in order, each
# `times` times so that overlapping matches such as "a-b-c" are all rejoined)
# put the common cases back. On the 237,928 sentences of the Tatoeba
# English-Spanish corpus (lowercase=False), 99.98% come back exactly.
_REJOIN_RULES = (
    # closing marks attach to the word before, opening marks to the word after
    (r" +([.,!?;:%)\]}»…])", r"\1", 1),
    (r"([¿¡(\[{«]) +", r"\1", 1),
    # initials and abbreviations: "a. m." -> "a.m.", "U. S. A." -> "U.S.A."
    (r"(^|[^\pL\pN])(\pL)\. (\pL)\.", r"\1\2.\3.", 2),
    # apostrophes: contractions ("don't", "Tom's"), after one letter ("o'clock",
    # "O'Brien"), a pair of single quotes ("the word 'hi'"), then a lone one
    # after an s is a plural possessive ("the boys' room")
    (r"([\pL\pN]) +(['’]) +((?i:s|t|m|d|ll|re|ve)\b)", r"\1\2\3", 1),
    (r"(^|[^\pL\pN])(\pL) +(['’]) +((?i:clock)\b|\p{Lu})", r"\1\2\3\4", 1),
    (r"(^|\s)' +([^']*?) +'(\s|$|[.,!?;:])", r"\1'\2'\3", 2),
    (r"([sS]) +(['’])( \pL|[.,!?;:]|$)", r"\1\2\3", 1),
    # hyphens and slashes inside words; separators inside numbers
    (r"([\pL\pN]) +([-/]) +([\pL\pN])", r"\1\2\3", 2),
    (r"(\pN)([.:]) +(\pN)", r"\1\2\3", 2),
    (r"(\pN), +(\pN\pN\pN)\b", r"\1,\2", 2),
    # a currency sign before a number; paired double quotes hug their contents
    (r"([$€£]) +(\pN)", r"\1\2", 1),
    (r'" *([^"]*?) *"', r'"\1"', 1),
    # Chinese and Japanese write no spaces between words, but the splitter makes each Han
    # character a word: no space between CJK characters (Han, kana, CJK and full-width
    # punctuation), nor between them and digits ("3个", "2024年"), non-ASCII punctuation
    # ("“你好”") or ASCII closing marks; the space beside a Latin word or after an ASCII
    # comma or full stop stays ("I like 苹果", "Hello, 世界").
    (rf"({_CJK}) +({_CJK}|\pN|[^\P{{P}}\x00-\x7F]|[.,!?;:%)\]}}])", r"\1\2", 2),
    (rf"({_CJK}|\pN|[^\P{{P}}\x00-\x7F]|[(\[{{]) +({_CJK})", r"\1\2", 2),
    # CJK closing marks attach to the word before, opening ones to the word after, whatever
    # script it is ("TensorFlow。"); curly quotes opened after or closed before CJK hug their
    # contents ("他说：“OK”。"); elsewhere they keep today's spacing
    (r" +([、。，．！？：；」』）］｝】〕〗〙〛〉》])", r"\1", 1),
    (r"([「『（［｛【〔〖〘〚〈《]) +", r"\1", 1),
    (rf"({_CJK}[“‘]) +", r"\1", 1),
    (rf" +([”’]{_CJK})", r"\1", 1),
)


class WordPieceTokenizer:
    """A WordPiece tokenizer whose vocabulary is learned from text (tensorflow-text inside).

    Text is normalised, split on whitespace and punctuation (every punctuation
    mark becomes a word of its own), and each word is split into the longest
    word pieces found in the vocabulary; a piece that continues a word starts
    with `##`. A word holding a character that is not in the vocabulary becomes
    a single `[UNK]`. Both `tokenize` and `detokenize` are TensorFlow ops, so
    they run eagerly, inside `tf.function` and inside `tf.data.Dataset.map`.

    The first seven ids are the special tokens `[PAD] [START] [END] [UNK]
    [CLS] [SEP] [MASK]` (ids 0 to 6), available as `pad_id`, `start_id`,
    `end_id`, `unk_id`, `cls_id`, `sep_id` and `mask_id`. `tokenize` never
    adds them; the model's input pipeline does. A vocabulary of Google's BERT
    (`vocab.txt` of a converted checkpoint) holds no `[START]` or `[END]` and
    has its special tokens where it puts them (`[PAD]` 0, `[UNK]` 100, `[CLS]`
    101, `[SEP]` 102, `[MASK]` 103 in the released ones): the ids are found in
    it, and `start_id` and `end_id` are None.

    Rules (`rules`). "zoo", the default, is described below. "bert" follows
    Google's BERT `BasicTokenizer` as Transformers' `BertTokenizer` runs it, for
    converted checkpoints: control characters, NUL and U+FFFD are removed (not
    made spaces); with `lowercase` accents are stripped (NFD, marks Mn removed)
    and letters lowercased, with no other normalisation (no NFKC case folding:
    "ß" and "ﬁ" stay as they are); without it text is left exactly as given (no
    NFC); the special tokens `[PAD] [UNK] [CLS] [SEP] [MASK]` written in the
    text stay whole; a word of more than 100 characters becomes `[UNK]`.

    Normalisation. With `lowercase=True` text is case-folded and accents are
    stripped ("Qué" becomes "que", "Straße" becomes "strasse"). With
    `lowercase=False` case and accents are kept, and text is put in Unicode
    NFC form; use this for translation targets. Runs of whitespace count as
    one space either way.

    Round trips. `detokenize(tokenize(text))` gives back the normalised text
    when every character is in the vocabulary, up to spacing around
    punctuation: `detokenize` joins the words with spaces, then re-attaches
    punctuation by rule (closing marks such as `. , ! ? ; : ) »` to the word
    before, opening marks such as `¿ ¡ ( «` to the word after, apostrophes
    and hyphens inside words, `:` `.` `,` inside numbers, and paired double
    quotes). Chinese and Japanese come back without spaces between their
    characters (each Han character is split off as a word of its own): none
    between CJK characters, kana and CJK punctuation, nor between them and
    digits or non-ASCII punctuation ("我有3个苹果。", "他说：“你好”。"); a space
    stays beside a Latin word ("I like 苹果"). Spacing the rules cannot know is
    lost: "a - b" comes back as "a-b", "我喜欢Python" as "我喜欢 Python", and a
    single quote used as a quotation mark may stay spaced out. Words that
    became `[UNK]` come back as the text `[UNK]`.

    Args:
        vocabulary: list of str. The tokens, one per id; the first seven must
            be `SPECIAL_TOKENS` in order, or, for a vocabulary without
            `[START]` and `[END]` (BERT's), it must hold `BERT_SPECIAL_TOKENS`
            anywhere. Usually made by `train` or read by `load`.
        lowercase: bool. Case-fold and strip accents before splitting.
            Defaults to `True`.
        sequence_length: int or None. If set, `tokenize` keeps at most this
            many ids per string (the output stays ragged). Defaults to `None`,
            no limit.
        rules: "zoo" (the default) or "bert" (see Rules).

    Example:

    >>> tokenizer = WordPieceTokenizer.train(
    ...     ["The cat sat.", "The cats sat down!", "A dog sat."] * 3, vocabulary_size=60)
    >>> tokenizer.vocabulary[:4]
    ['[PAD]', '[START]', '[END]', '[UNK]']
    >>> ids = tokenizer.tokenize(["The dog sat down."])
    >>> tokenizer.detokenize(ids).numpy().tolist()
    [b'the dog sat down.']
    >>> tokenizer.detokenize(tokenizer.tokenize(["A fox sat."])).numpy().tolist()
    [b'a [UNK] sat.']
    """

    SPECIAL_TOKENS = ("[PAD]", "[START]", "[END]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
    #: The special tokens of Google's BERT vocabularies, found wherever they are.
    BERT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
    #: The tokenization rules: zoo's own, or those of Google's BERT (see the class).
    RULES = ("zoo", "bert")
    pad_id, start_id, end_id, unk_id, cls_id, sep_id, mask_id = range(7)

    def __init__(
        self,
        vocabulary: list[str],
        lowercase: bool = True,
        sequence_length: int | None = None,
        rules: str = "zoo",
    ):
        self.vocabulary = _checked_vocabulary(vocabulary, self.SPECIAL_TOKENS,
                                              self.BERT_SPECIAL_TOKENS)
        if tuple(self.vocabulary[: len(self.SPECIAL_TOKENS)]) != self.SPECIAL_TOKENS:
            index = {token: i for i, token in enumerate(self.vocabulary)}
            self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (
                index[token] for token in self.BERT_SPECIAL_TOKENS)
            self.start_id = self.end_id = None
        if rules not in self.RULES:
            raise ValueError(f"rules must be one of {', '.join(self.RULES)}, got {rules!r}.")
        self.rules = rules
        if not isinstance(lowercase, bool):
            raise ValueError(f"lowercase must be True or False, got {lowercase!r}.")
        if sequence_length is not None and (
            isinstance(sequence_length, bool)
            or not isinstance(sequence_length, int)
            or sequence_length < 1
        ):
            raise ValueError(
                f"sequence_length must be a positive int or None, got {sequence_length!r}."
            )
        self.lowercase = lowercase
        self.sequence_length = sequence_length
        table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(self.vocabulary, tf.string),
                tf.range(len(self.vocabulary), dtype=tf.int64),
            ),
            default_value=self.unk_id,
        )
        if rules == "bert":
            self._tokenizer = _BertRulesTokenizer(table, lowercase)
        else:
            self._tokenizer = tf_text.BertTokenizer(
                table,
                token_out_type=tf.int32,
                unknown_token="[UNK]",
                **_splitting_options(lowercase),
            )

    @property
    def vocabulary_size(self) -> int:
        """The number of tokens, special tokens included."""
        return len(self.vocabulary)

    @property
    def bert_tokenizer(self) -> tf.Module:
        """The tensorflow-text tokenizer underneath (a `tf_text.BertTokenizer` under the "zoo"
        rules). A SavedModel that tokenizes in its graph keeps it as an attribute, which
        tracks the vocabulary table as an asset."""
        return self._tokenizer

    def word_pieces(self, texts) -> tf.RaggedTensor:
        """Word-piece ids of a 1-D batch of strings, per word: int32 `[batch, words, pieces]`
        (TF Hub's BERT `tokenize` signature); `tokenize` merges the last two axes.

        >>> tokenizer = WordPieceTokenizer.train(["low lower lowest"] * 2, vocabulary_size=40)
        >>> tokenizer.word_pieces(["low lower"]).shape.rank
        3
        """
        return self._tokenizer.tokenize(_spaces_to_ascii(tf.convert_to_tensor(texts, tf.string)))

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocabulary_size: int = 8000,
        lowercase: bool = True,
        sequence_length: int | None = None,
    ) -> WordPieceTokenizer:
        """Learns a vocabulary from `texts` and returns a tokenizer that uses it.

        Uses tensorflow-text's `bert_vocab_from_dataset`. The vocabulary holds
        the special tokens (ids 0 to 6), then every character of the text
        (alone and as a `##` continuation), then the most frequent word pieces;
        pieces seen fewer than twice are left out, so a small text may give a
        vocabulary smaller than `vocabulary_size`. Learning takes seconds:
        about 2.5 s for the 4,000 English sentences of the shipped Tatoeba
        sample on two CPU cores.

        Args:
            texts: iterable of str. The training text, one string per item.
            vocabulary_size: int. The largest number of tokens, special tokens
                included; at least `7 + MIN_LEARNED_TOKENS`. If the text has
                more distinct characters than half the room left, the rarest
                characters are left out (words holding them become `[UNK]`).
            lowercase: bool. As in the constructor.
            sequence_length: int or None. As in the constructor.

        Example:

        >>> tokenizer = WordPieceTokenizer.train(["Hola, ¿qué tal?"] * 2, lowercase=False)
        >>> ids = tokenizer.tokenize(["Hola, ¿qué tal?", "¿Qué?"])
        >>> [text.decode() for text in tokenizer.detokenize(ids).numpy()]
        ['Hola, ¿qué tal?', '¿[UNK]?']
        """
        from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset

        specials = len(cls.SPECIAL_TOKENS)
        if (
            isinstance(vocabulary_size, bool)
            or not isinstance(vocabulary_size, int)
            or vocabulary_size < specials + MIN_LEARNED_TOKENS
        ):
            raise ValueError(
                f"vocabulary_size must be an int of at least {specials + MIN_LEARNED_TOKENS} "
                f"({specials} special tokens + {MIN_LEARNED_TOKENS} learned ones), "
                f"got {vocabulary_size!r}."
            )
        if isinstance(texts, str | bytes):
            raise ValueError("texts must be an iterable of strings, not a single string.")
        texts = [_as_str(text) for text in texts]
        if not any(text.strip() for text in texts):
            raise ValueError("Cannot learn a vocabulary: texts holds no words.")
        room = vocabulary_size - specials
        vocabulary = bert_vocab_from_dataset.bert_vocab_from_dataset(
            tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string))
            .batch(1024)
            .map(_spaces_to_ascii),
            vocab_size=vocabulary_size,
            reserved_tokens=list(cls.SPECIAL_TOKENS),
            bert_tokenizer_params=_splitting_options(lowercase),
            # Each character takes two entries (alone and as "##c").
            learn_params={"lower_thresh": _MIN_FREQUENCY, "max_unique_chars": room // 2},
        )
        vocabulary = _trimmed(list(dict.fromkeys(vocabulary)), vocabulary_size)
        return cls(vocabulary, lowercase=lowercase, sequence_length=sequence_length)

    def tokenize(self, texts) -> tf.RaggedTensor:
        """Splits strings into word-piece ids; no special tokens are added.

        Args:
            texts: str, list of str, or a string tensor of rank 0 or 1.

        Returns:
            For a batch of strings, an int32 `tf.RaggedTensor` of shape
            `[batch, None]`. For a single string (rank 0), the int32 ids as a
            1-D `tf.Tensor`, as is usual inside `tf.data.Dataset.map`.
            At most `sequence_length` ids per string when that is set.

        Example:

        >>> tokenizer = WordPieceTokenizer.train(["low lower lowest"] * 2, vocabulary_size=40)
        >>> ids = tokenizer.tokenize(["lowest", "low lower"])
        >>> [[tokenizer.vocabulary[i] for i in row] for row in ids.to_list()]
        [['lowest'], ['low', 'lower']]
        >>> tokenizer.tokenize("low").numpy().tolist() == ids[1, :1].numpy().tolist()
        True
        """
        texts = tf.convert_to_tensor(texts, tf.string)
        rank = texts.shape.rank
        if rank not in (0, 1):
            raise ValueError(f"tokenize takes a string or a 1-D batch of strings, got rank {rank}.")
        batch = texts[tf.newaxis] if rank == 0 else texts
        ids = self._tokenizer.tokenize(_spaces_to_ascii(batch)).merge_dims(-2, -1)
        if self.sequence_length is not None:
            ids = ids[:, : self.sequence_length]
        return ids[0] if rank == 0 else ids

    def encode(self, text: str):
        """The int32 ids of one (long) string as a NumPy array `[tokens]`, all of them
        whatever `sequence_length` is (that cuts each sequence a model reads, not a corpus):
        a language model's text as one token stream.

        >>> tokenizer = WordPieceTokenizer.train(["low lower lowest"] * 2, vocabulary_size=40,
        ...                                      sequence_length=1)
        >>> [tokenizer.vocabulary[i] for i in tokenizer.tokenize("low lower")]  # cut
        ['low']
        >>> [tokenizer.vocabulary[i] for i in tokenizer.encode("low lower")]
        ['low', 'lower']
        """
        batch = _spaces_to_ascii(tf.constant([_as_str(text)]))
        return self._tokenizer.tokenize(batch).merge_dims(-2, -1)[0].numpy()

    def detokenize(self, ids) -> tf.Tensor:
        """Turns ids back into text.

        `[PAD]`, `[START]` and `[END]` are dropped, and so is everything after
        the first `[END]` (a BERT vocabulary has only `[PAD]`). Word pieces are joined into words, words are joined
        with spaces and punctuation is re-attached (see the class docstring).
        Ids outside the vocabulary read as `[UNK]`.

        Args:
            ids: int tensor of shape `[batch, length]` (dense, e.g. padded with
                0, or ragged), nested lists of ints, or a 1-D int tensor for a
                single sequence.

        Returns:
            A 1-D `tf.string` tensor with one string per row, or a scalar
            string for 1-D input.
        """
        ids, single = id_rows(ids, tf.int32)
        if single:
            return self.detokenize(ids)[0]
        ids = tf.ragged.map_flat_values(
            lambda v: tf.where((v < 0) | (v >= self.vocabulary_size), self.unk_id, v), ids
        )
        dropped = [i for i in (self.pad_id, self.start_id, self.end_id) if i is not None]
        keep = ids != dropped[0]
        for i in dropped[1:]:
            keep = tf.logical_and(keep, ids != i)
        if self.end_id is not None:
            after_end = tf.math.cumsum(tf.cast(ids == self.end_id, tf.int32), axis=1) > 0
            keep = tf.logical_and(tf.logical_not(after_end), keep)
        words = self._tokenizer.detokenize(tf.ragged.boolean_mask(ids, keep))
        text = tf.strings.reduce_join(words, axis=-1, separator=" ")
        for pattern, rewrite, times in _REJOIN_RULES:
            for _ in range(times):
                text = tf.strings.regex_replace(text, pattern, rewrite)
        return text

    def get_config(self) -> dict:
        """The constructor arguments, JSON-serializable: `WordPieceTokenizer(**config)`
        (`rules` only when not "zoo", so configs read as before it existed)."""
        config = {
            "vocabulary": list(self.vocabulary),
            "lowercase": self.lowercase,
            "sequence_length": self.sequence_length,
        }
        if self.rules != "zoo":
            config["rules"] = self.rules
        return config

    def save(self, path) -> None:
        """Writes `vocab.txt` (one token a line) and `tokenizer.json` into directory `path`.

        Each file is written to a temporary file first and then moved into
        place, so a reader never sees half a file.

        Example:

        >>> import tempfile
        >>> tokenizer = WordPieceTokenizer.train(["to be or not to be"] * 2, vocabulary_size=40)
        >>> folder = tempfile.mkdtemp()
        >>> tokenizer.save(folder)
        >>> WordPieceTokenizer.load(folder).get_config() == tokenizer.get_config()
        True
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        vocab_bytes = ("\n".join(self.vocabulary) + "\n").encode("utf-8")
        settings = {
            "class": type(self).__name__,
            "lowercase": self.lowercase,
            "sequence_length": self.sequence_length,
            "vocabulary_size": self.vocabulary_size,
            "vocabulary_sha256": hashlib.sha256(vocab_bytes).hexdigest(),
        }
        if self.rules != "zoo":
            settings["rules"] = self.rules
        atomic.write_bytes(path / VOCABULARY_FILE, vocab_bytes)
        atomic.write_bytes(path / SETTINGS_FILE, (json.dumps(settings, indent=2) + "\n").encode())

    @classmethod
    def load(cls, path) -> WordPieceTokenizer:
        """Reads a tokenizer written by `save` from directory `path`."""
        path = Path(path)
        vocab_file, settings_file = path / VOCABULARY_FILE, path / SETTINGS_FILE
        for file in (vocab_file, settings_file):
            if not file.is_file():
                raise FileNotFoundError(f"{file} is missing: is {path} a saved tokenizer?")
        vocab_bytes = vocab_file.read_bytes()
        settings = textio.read_json(settings_file)
        expected = settings.get("vocabulary_sha256")
        if expected is not None and hashlib.sha256(vocab_bytes).hexdigest() != expected:
            raise ValueError(
                f"{vocab_file} does not match {settings_file} (its sha256 differs): "
                "the two files come from different saves."
            )
        vocabulary = vocab_bytes.decode(textio.codec("utf-8")).split("\n")
        if vocabulary and vocabulary[-1] == "":
            vocabulary.pop()
        return cls(
            vocabulary,
            lowercase=settings.get("lowercase", True),
            sequence_length=settings.get("sequence_length"),
            rules=settings.get("rules", "zoo"),
        )


def _spaces_to_ascii(texts):
    """Every Unicode space or separator (no-break space, ...) becomes " ".

    tensorflow-text splits words on ASCII whitespace only; without this a
    no-break space would stay inside a word.
    """
    return tf.strings.regex_replace(texts, r"\p{Z}", " ")


def _splitting_options(lowercase):
    """BertTokenizer / BasicTokenizer arguments, shared by learning and tokenizing."""
    if lowercase:
        return {"lower_case": True}  # case folding, NFD, accents (Mn) removed
    return {"lower_case": False, "normalization_form": "NFC"}


def _checked_vocabulary(vocabulary, specials, bert_specials):
    if isinstance(vocabulary, str | bytes | os.PathLike):
        raise ValueError(
            "vocabulary must be a list of tokens; to read a saved tokenizer use "
            "WordPieceTokenizer.load(path)."
        )
    vocabulary = [_as_str(token) for token in vocabulary]
    if not vocabulary:
        raise ValueError("The vocabulary is empty; learn one with WordPieceTokenizer.train(texts).")
    zoo_layout = tuple(vocabulary[: len(specials)]) == specials
    bert_layout = not zoo_layout and set(bert_specials) <= set(vocabulary) and not (
        {"[START]", "[END]"} & set(vocabulary))
    if not (zoo_layout or bert_layout):
        raise ValueError(
            f"The vocabulary must start with the special tokens {list(specials)} in this order "
            f"(zoo's), or hold {list(bert_specials)} and neither [START] nor [END] (Google "
            f"BERT's), got {vocabulary[: len(specials)]} first."
        )
    if len(vocabulary) == len(specials) or len(set(vocabulary) - set(specials)) == 0:
        raise ValueError("The vocabulary holds only the special tokens.")
    seen = set()
    for token in vocabulary:
        if not token or any(char.isspace() for char in token):
            raise ValueError(f"Vocabulary tokens must be non-empty without spaces, got {token!r}.")
        if token in seen:
            raise ValueError(f"The vocabulary holds {token!r} twice; tokens must be unique.")
        seen.add(token)
    return vocabulary


def _trimmed(vocabulary, size):
    """Cuts a learned vocabulary to `size`, keeping every character and the most frequent pieces.

    The learner lists the special tokens, then single characters, then word
    pieces by falling frequency, and can overshoot its target size.
    """
    if len(vocabulary) <= size:
        return vocabulary
    needed = [
        token
        for token in vocabulary
        if len(token) == 1 or (len(token) == 3 and token.startswith("##"))
    ]
    needed = set(needed) | set(WordPieceTokenizer.SPECIAL_TOKENS)
    room = size - len(needed)
    kept = []
    for token in vocabulary:
        if token in needed:
            kept.append(token)
        elif room > 0:
            kept.append(token)
            room -= 1
    return kept


def _as_str(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if not isinstance(value, str):
        raise ValueError(f"Expected a string, got {type(value).__name__}: {value!r}.")
    return value




# The special tokens Transformers' BertTokenizer keeps whole when a text holds them.
_BERT_SPECIALS_PATTERN = r"\[PAD\]|\[UNK\]|\[CLS\]|\[SEP\]|\[MASK\]"
# Google BERT's splitting: whitespace, ASCII and Unicode punctuation, CJK ideographs.
_BERT_SPLIT = (r"[!-/]|[:-@]|[\[-`]|[{-~]|[\p{P}]|[\x{4E00}-\x{9FFF}]|[\x{3400}-\x{4DBF}]"
               r"|[\x{20000}-\x{2A6DF}]|[\x{2A700}-\x{2B73F}]|[\x{2B740}-\x{2B81F}]"
               r"|[\x{2B820}-\x{2CEAF}]|[\x{F900}-\x{FAFF}]|[\x{2F800}-\x{2FA1F}]")
# Transformers' WordPiece: a word of more characters is unknown.
_BERT_MAX_WORD_CHARACTERS = 100


class _BertRulesTokenizer(tf.Module):
    """Google BERT's tokenization as Transformers' `BertTokenizer` runs it (the "bert" rules
    of `WordPieceTokenizer`): `tokenize` -> ids `[batch, words, pieces]`, `detokenize`."""

    def __init__(self, table, lowercase):
        super().__init__()
        self.lowercase = lowercase
        # Words over the character limit are replaced by "[UNK]" before this sees them; the
        # byte limit only has to let every shorter word through (4 bytes a character at most).
        self.wordpiece = tf_text.WordpieceTokenizer(
            table, suffix_indicator="##", max_bytes_per_word=4 * _BERT_MAX_WORD_CHARACTERS,
            token_out_type=tf.int32, unknown_token="[UNK]")

    def _normalized(self, texts):
        if not self.lowercase:
            return texts
        texts = tf_text.normalize_utf8(texts, "NFD")
        texts = tf.strings.regex_replace(texts, r"\p{Mn}", "")
        return tf.strings.lower(texts, encoding="utf-8")

    def words(self, texts):
        """`[batch, words]` strings: special tokens kept whole, the rest normalised and split.
        Control characters go first (regex_split stops at a NUL)."""
        texts = tf.strings.regex_replace(texts, r"[\x00\x{FFFD}]|[^\P{C}\t\n\r]", "")
        texts = tf.strings.regex_replace(texts, r"[\t\n\r\p{Z}]", " ")
        segments = tf_text.regex_split(texts, _BERT_SPECIALS_PATTERN, _BERT_SPECIALS_PATTERN)
        special = tf.strings.regex_full_match(segments.flat_values, _BERT_SPECIALS_PATTERN)
        flat = tf.where(special, segments.flat_values, self._normalized(segments.flat_values))
        keep = f"{_BERT_SPECIALS_PATTERN}|{_BERT_SPLIT}"
        words = tf_text.regex_split(flat, rf"{keep}|\s+", keep)
        words = segments.with_flat_values(words).merge_dims(-2, -1)
        long = tf.strings.length(words.flat_values, unit="UTF8_CHAR") > _BERT_MAX_WORD_CHARACTERS
        return words.with_flat_values(tf.where(long, "[UNK]", words.flat_values))

    def tokenize(self, texts):
        return self.wordpiece.tokenize(self.words(texts))

    def detokenize(self, ids):
        return self.wordpiece.detokenize(ids)
