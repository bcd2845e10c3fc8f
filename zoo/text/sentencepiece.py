"""SentencePiece tokenization on tensorflow-text, as Marian's (and Transformers'
`MarianTokenizer`) does it: a SentencePiece model splits text into pieces, a separate
vocabulary (`vocab.json`, piece -> id) numbers them, and `</s>` ends a source sentence.

Marian's ids are not the SentencePiece model's own: one vocabulary often serves a source and a
target model (`source.spm`, `target.spm`), so the pieces are looked up by their text; a piece
the vocabulary lacks reads as `<unk>`. Both `tokenize` and `detokenize` are TensorFlow ops
(eager, `tf.function`, `tf.data.Dataset.map`).

Equal to `MarianTokenizer` (checked against Transformers on a test corpus,
`tests/test_convert_marian.py`): the ids of `tokenizer(text)["input_ids"]` without the final
`</s>` (zoo's input pipeline adds it, `zoo.text.features.sequence_ids`), a leading language
code `>>xx<<` included, and the text of `decode(ids, skip_special_tokens=True)`. Not the same:
a special token written out inside the text (the string "</s>") is split by SentencePiece
like any text, where Transformers reads it as the token; bytes of an incomplete UTF-8
character in a decoded byte-fallback model stay as they are, where SentencePiece writes
U+FFFD.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import tensorflow as tf
import tensorflow_text as tf_text

from zoo import atomic, textio
from zoo.text.ids import id_rows

SETTINGS_FILE = "tokenizer.json"
SOURCE_MODEL_FILE, TARGET_MODEL_FILE = "source.spm", "target.spm"
VOCABULARY_FILE, TARGET_VOCABULARY_FILE = "vocab.json", "target_vocab.json"
#: The word-boundary mark of SentencePiece pieces.
SPACE_MARK = "\u2581"
# Python's str.strip() whitespace, as RE2 spells it.
_SPACE = r"[\s\x{0b}\x{1c}-\x{1f}\x{85}\p{Z}]"
# SentencePiece's piece types (sentencepiece_model.proto) and its text for an unknown piece.
_NORMAL, _UNKNOWN, _CONTROL, _BYTE = 1, 2, 3, 6
_UNKNOWN_SURFACE = " \u2047 "


def model_pieces(model: bytes) -> list[tuple[str, int]]:
    """`(piece, type)` of every piece of a serialized SentencePiece `ModelProto`, by id
    (types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte).

    Reads the protocol-buffer wire format directly (field 1 of the model: the pieces; in a
    piece, field 1 its text, field 3 its type), so zoo needs no `sentencepiece` package.

    Raises:
        ValueError: bytes that are not a SentencePiece model.
    """
    pieces = []
    for field, value in _fields(model):
        if field == 1:
            piece, kind = None, _NORMAL
            for inner, data in _fields(value):
                if inner == 1:
                    piece = data.decode("utf-8")
                elif inner == 3:
                    kind = data
            if piece is None:
                raise ValueError("Not a SentencePiece model: a piece without text.")
            pieces.append((piece, kind))
    if not pieces:
        raise ValueError("Not a SentencePiece model: it holds no pieces.")
    return pieces


def _fields(data: bytes):
    """`(field number, value)` of a protocol-buffer message: ints for varints, bytes for
    length-delimited fields (fixed-width fields are skipped)."""
    position, end = 0, len(data)

    def varint():
        nonlocal position
        result = shift = 0
        while True:
            if position >= end:
                raise ValueError("Not a SentencePiece model: truncated.")
            byte = data[position]
            position += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    while position < end:
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            yield field, varint()
        elif wire == 2:
            size = varint()
            if position + size > end:
                raise ValueError("Not a SentencePiece model: truncated.")
            yield field, data[position:position + size]
            position += size
        elif wire in (1, 5):
            position += 8 if wire == 1 else 4
        else:
            raise ValueError(f"Not a SentencePiece model: wire type {wire}.")


class SentencePieceTokenizer:
    """Marian's tokenizer: SentencePiece models + a piece -> id vocabulary (see the module).

    Args:
        source_model: bytes. The serialized SentencePiece model of the source language
            (`source.spm`).
        vocabulary: dict piece -> id (`vocab.json`): the source ids, and the target's too
            unless `target_vocabulary` is given. Must hold the special tokens.
        target_model: bytes or None. The target language's model (`target.spm`); None: the
            source model. Used by `tokenize_target`.
        target_vocabulary: dict or None. A separate target vocabulary (Marian's
            `separate_vocabs`): `tokenize_target` and `detokenize` use it.
        unk_token, eos_token, pad_token: str. Marian's `<unk>`, `</s>`, `<pad>`.
        start_token: str or None. The decoder's start token; None: `pad_token` (Marian's
            decoders start from the pad id).
        special_tokens: list of str. Further tokens `detokenize` drops (Transformers'
            additional special tokens).
        sequence_length: int or None. At most this many ids per string from `tokenize`.

    `end_id` is `</s>`, `pad_id` and `start_id` the pad id (for zoo's input pipeline).

    Example (a model and vocabulary of a converted Marian checkpoint):

    >>> from zoo.text.sentencepiece import SentencePieceTokenizer  # doctest: +SKIP
    >>> tokenizer = SentencePieceTokenizer.load("entry/tokenizer")  # doctest: +SKIP
    >>> tokenizer.detokenize(tokenizer.tokenize(["Hello world"]))  # doctest: +SKIP
    """

    def __init__(self, source_model: bytes, vocabulary: dict, target_model: bytes | None = None,
                 target_vocabulary: dict | None = None, unk_token: str = "<unk>",
                 eos_token: str = "</s>", pad_token: str = "<pad>",
                 start_token: str | None = None, special_tokens=(),
                 sequence_length: int | None = None):
        self.source_model = bytes(source_model)
        self.target_model = None if target_model is None else bytes(target_model)
        self.vocabulary_map = _checked_vocabulary(vocabulary, "vocabulary")
        self.target_vocabulary_map = (None if target_vocabulary is None else
                                      _checked_vocabulary(target_vocabulary, "target_vocabulary"))
        self.unk_token, self.eos_token, self.pad_token = unk_token, eos_token, pad_token
        self.start_token = pad_token if start_token is None else start_token
        self.special_tokens = [str(token) for token in special_tokens]
        if sequence_length is not None and (isinstance(sequence_length, bool) or not isinstance(
                sequence_length, int) or sequence_length < 1):
            raise ValueError(
                f"sequence_length must be a positive int or None, got {sequence_length!r}.")
        self.sequence_length = sequence_length
        decoding = self.target_vocabulary_map or self.vocabulary_map
        for name, vocab in (("vocabulary", self.vocabulary_map),
                            ("target vocabulary", decoding)):
            for token in (unk_token, eos_token, pad_token, self.start_token):
                if token not in vocab:
                    raise ValueError(f"The {name} lacks the special token {token!r}.")
        self.unk_id = self.vocabulary_map[unk_token]
        self.end_id = self.vocabulary_map[eos_token]
        self.pad_id = self.vocabulary_map[pad_token]
        self.start_id = self.vocabulary_map[self.start_token]
        for name, value in (("end", self.end_id), ("pad", self.pad_id),
                            ("start", self.start_id)):
            target_id = decoding[{"end": eos_token, "pad": pad_token,
                                  "start": self.start_token}[name]]
            if target_id != value:
                raise ValueError(f"The {name} token has id {value} in the source vocabulary "
                                 f"but {target_id} in the target vocabulary.")
        self._resources = _Resources(self)

    # --- sizes and tables ------------------------------------------------------

    @property
    def vocabulary_size(self) -> int:
        """Source ids are `0 ... vocabulary_size - 1` (the largest id + 1)."""
        return max(self.vocabulary_map.values()) + 1

    @property
    def target_vocabulary_size(self) -> int:
        """Target ids are `0 ... target_vocabulary_size - 1`."""
        return max((self.target_vocabulary_map or self.vocabulary_map).values()) + 1

    @property
    def vocabulary(self) -> list[str]:
        """The source pieces by id ("" for an id the vocabulary skips)."""
        pieces = [""] * self.vocabulary_size
        for piece, index in self.vocabulary_map.items():
            pieces[index] = piece
        return pieces

    @property
    def bert_tokenizer(self) -> tf.Module:
        """The TensorFlow resources (SentencePiece models, lookup tables) as one `tf.Module`:
        a SavedModel that tokenizes in its graph keeps it as an attribute (the name zoo's
        export parts read for every tokenizer)."""
        return self._resources

    # --- tokenizing ---------------------------------------------------------------

    def tokenize(self, texts) -> tf.RaggedTensor:
        """Source ids of strings, without `</s>`: int32 `[batch, None]` ragged (a 1-D tensor
        for one string). A leading `>>xx<<` (a language code) is one token, as Marian reads it.
        """
        return self._tokenize(texts, "source", self._resources.source_ids)

    def tokenize_target(self, texts) -> tf.RaggedTensor:
        """Target ids (Transformers' `text_target`): the target model and vocabulary."""
        return self._tokenize(texts, "target", self._resources.target_ids)

    def _tokenize(self, texts, side, table):
        if not tf.executing_eagerly():
            return self._pieces_to_ids(texts, getattr(self._resources, side), table)
        try:
            return self._pieces_to_ids(texts, getattr(self._resources, side), table)
        except tf.errors.NotFoundError:
            # tensorflow-text's SentencePiece model is a kernel-owned resource, which
            # TensorFlow drops when it clears its eager caches (`tf.random.set_seed` does):
            # made again from the model's bytes.
            self._resources.make_models()
            return self._pieces_to_ids(texts, getattr(self._resources, side), table)

    def _pieces_to_ids(self, texts, model, table):
        texts = tf.convert_to_tensor(texts, tf.string)
        rank = texts.shape.rank
        if rank not in (0, 1):
            raise ValueError(f"tokenize takes a string or a 1-D batch of strings, got rank {rank}.")
        batch = texts[tf.newaxis] if rank == 0 else texts
        code = tf.strings.regex_replace(batch, r"(?s)^(>>.*?<<)?.*$", r"\1",
                                        replace_global=False)
        rest = tf.strings.regex_replace(batch, r"(?s)^>>.*?<<", "", replace_global=False)
        codes = tf.ragged.boolean_mask(code[:, None], tf.not_equal(code, "")[:, None])
        pieces = tf.concat([codes, model.tokenize(rest)], axis=1)
        ids = tf.ragged.map_flat_values(table.lookup, pieces)
        if self.sequence_length is not None:
            ids = ids[:, : self.sequence_length]
        return ids[0] if rank == 0 else ids

    def encode(self, text: str):
        """The int32 ids of one string as a NumPy array, whatever `sequence_length` is."""
        batch = tf.constant([text])
        limit, self.sequence_length = self.sequence_length, None
        try:
            return self.tokenize(batch)[0].numpy()
        finally:
            self.sequence_length = limit

    def detokenize(self, ids) -> tf.Tensor:
        """Target ids back to text, as `MarianTokenizer.decode(ids, skip_special_tokens=True)`:
        special tokens (`</s>`, `<pad>`, `<unk>` and the further ones) are dropped, the other
        pieces joined as SentencePiece decodes them (`\u2581` becomes a space; a control piece
        is empty, a byte piece its byte; a piece the SentencePiece model lacks stays as
        written), and spaces at both ends stripped. An id outside the vocabulary reads as "".

        Args:
            ids: int `[batch, length]` (dense or ragged) or `[length]`.

        Returns:
            `tf.string` `[batch]` (a scalar for 1-D input).
        """
        ids, single = id_rows(ids, tf.int64)
        if single:
            return self.detokenize(ids)[0]
        keep = tf.ragged.map_flat_values(
            lambda v: tf.equal(self._resources.skipped.lookup(v), 0), ids)
        surfaces = tf.ragged.map_flat_values(self._resources.surfaces.lookup,
                                             tf.ragged.boolean_mask(ids, keep))
        text = tf.strings.reduce_join(surfaces, axis=-1)
        text = tf.strings.regex_replace(text, SPACE_MARK, " ")
        return tf.strings.regex_replace(text, rf"^{_SPACE}+|{_SPACE}+$", "")

    # --- saving -----------------------------------------------------------------------

    def get_config(self) -> dict:
        """The settings `tokenizer.json` keeps (the models and vocabularies are files)."""
        return {"unk_token": self.unk_token, "eos_token": self.eos_token,
                "pad_token": self.pad_token, "start_token": self.start_token,
                "special_tokens": list(self.special_tokens),
                "sequence_length": self.sequence_length}

    def save(self, path) -> None:
        """Writes `source.spm`, `target.spm` (when it differs), `vocab.json`,
        `target_vocab.json` (when separate) and `tokenizer.json` (with each file's sha256)
        into directory `path`, each atomically."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        files = {SOURCE_MODEL_FILE: self.source_model,
                 VOCABULARY_FILE: _json_bytes(self.vocabulary_map)}
        if self.target_model is not None:
            files[TARGET_MODEL_FILE] = self.target_model
        if self.target_vocabulary_map is not None:
            files[TARGET_VOCABULARY_FILE] = _json_bytes(self.target_vocabulary_map)
        for name, data in files.items():
            atomic.write_bytes(path / name, data)
        settings = {"class": type(self).__name__, **self.get_config(),
                    "sha256": {name: hashlib.sha256(data).hexdigest()
                               for name, data in files.items()}}
        atomic.write_bytes(path / SETTINGS_FILE, _json_bytes(settings))

    @classmethod
    def load(cls, path) -> SentencePieceTokenizer:
        """Reads a tokenizer written by `save` from directory `path`.

        Raises:
            FileNotFoundError: a file `tokenizer.json` names is missing.
            ValueError: a file whose sha256 differs from the one `tokenizer.json` records.
        """
        path = Path(path)
        settings = textio.read_json(path / SETTINGS_FILE)
        data = {}
        for name, digest in settings.get("sha256", {}).items():
            file = path / name
            if not file.is_file():
                raise FileNotFoundError(f"{file} is missing: is {path} a saved tokenizer?")
            data[name] = file.read_bytes()
            if hashlib.sha256(data[name]).hexdigest() != digest:
                raise ValueError(f"{file} does not match {path / SETTINGS_FILE} (its sha256 "
                                 "differs): the files come from different saves.")
        if SOURCE_MODEL_FILE not in data or VOCABULARY_FILE not in data:
            raise FileNotFoundError(f"{path / SETTINGS_FILE} lists no {SOURCE_MODEL_FILE} and "
                                    f"{VOCABULARY_FILE}: is {path} a saved tokenizer?")
        target_vocab = data.get(TARGET_VOCABULARY_FILE)
        return cls(
            data[SOURCE_MODEL_FILE], json.loads(data[VOCABULARY_FILE]),
            target_model=data.get(TARGET_MODEL_FILE),
            target_vocabulary=None if target_vocab is None else json.loads(target_vocab),
            **{key: settings[key] for key in ("unk_token", "eos_token", "pad_token",
                                              "start_token", "special_tokens",
                                              "sequence_length") if key in settings})


class _Resources(tf.Module):
    """The tokenizer's TensorFlow objects: SentencePiece models and lookup tables."""

    def __init__(self, tokenizer: SentencePieceTokenizer):
        super().__init__(name="sentencepiece_tokenizer")
        self._models = (tokenizer.source_model, tokenizer.target_model)
        self.make_models()
        target_model = tokenizer.target_model or tokenizer.source_model
        self.source_ids = _string_table(tokenizer.vocabulary_map, tokenizer.unk_id)
        target_vocab = tokenizer.target_vocabulary_map or tokenizer.vocabulary_map
        self.target_ids = (self.source_ids if tokenizer.target_vocabulary_map is None else
                           _string_table(target_vocab, target_vocab[tokenizer.unk_token]))
        # Transformers decodes pieces with the source model unless the vocabularies are
        # separate (`MarianTokenizer._decode`'s `use_source_tokenizer`).
        decoder_model = (tokenizer.source_model if tokenizer.target_vocabulary_map is None
                         else target_model)
        surfaces = _surfaces(target_vocab, model_pieces(decoder_model))
        ids = sorted(surfaces)
        self.surfaces = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
            tf.constant(ids, tf.int64), tf.constant([surfaces[i] for i in ids], tf.string)), b"")
        specials = {target_vocab[t] for t in (tokenizer.unk_token, tokenizer.eos_token,
                                              tokenizer.pad_token, tokenizer.start_token)}
        specials |= {target_vocab[t] for t in tokenizer.special_tokens if t in target_vocab}
        specials = sorted(specials)
        self.skipped = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
            tf.constant(specials, tf.int64), tf.ones([len(specials)], tf.int32)), 0)


    def make_models(self):
        """(Re)creates the tensorflow-text SentencePiece tokenizers from the models' bytes."""
        source, target = self._models
        self.source = tf_text.SentencepieceTokenizer(model=source, out_type=tf.string)
        self.target = (self.source if target is None else
                       tf_text.SentencepieceTokenizer(model=target, out_type=tf.string))


def _surfaces(vocabulary: dict, pieces: list) -> dict:
    """id -> the bytes SentencePiece writes for it (see `detokenize`); an id the vocabulary
    lacks but the model has reads as the model's piece (Transformers' fallback)."""
    types = dict(pieces)
    by_id = {index: piece for index, piece in enumerate(p for p, _ in pieces)}
    by_id.update({index: piece for piece, index in vocabulary.items()})
    surfaces = {}
    for index, piece in by_id.items():
        kind = types.get(piece, _NORMAL)
        if kind == _CONTROL:
            surfaces[index] = b""
        elif kind == _UNKNOWN:
            surfaces[index] = _UNKNOWN_SURFACE.encode("utf-8")
        elif kind == _BYTE:
            surfaces[index] = bytes([int(piece[3:-1], 16)])
        else:
            surfaces[index] = piece.encode("utf-8")
    return surfaces


def _string_table(vocabulary: dict, default: int):
    pieces = list(vocabulary)
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
        tf.constant(pieces, tf.string), tf.constant([vocabulary[p] for p in pieces], tf.int32)),
        default)


def _checked_vocabulary(vocabulary, name) -> dict:
    if not isinstance(vocabulary, dict) or not vocabulary:
        raise ValueError(f"{name} must be a non-empty dict piece -> id, got "
                         f"{type(vocabulary).__name__}.")
    ids = list(vocabulary.values())
    if any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in ids):
        raise ValueError(f"{name}: every id must be a non-negative int.")
    if len(set(ids)) != len(ids):
        raise ValueError(f"{name}: two pieces share an id.")
    return {str(piece): int(index) for piece, index in vocabulary.items()}


def _json_bytes(value) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


