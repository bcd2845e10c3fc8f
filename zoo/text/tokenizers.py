"""The tokenizers a run or an entry uses, by kind: learn one (`train`) or read a saved one
(`load`, whatever its kind), so that no stage names a tokenizer class.

- "wordpiece": `zoo.text.wordpiece.WordPieceTokenizer` (settings `vocabulary_size`, default
  8000, `lowercase`, default True, `sequence_length`), for word-piece models;
- "characters": `zoo.text.characters.CharacterTokenizer` (no settings: the vocabulary is every
  character of the training text), for character-level language models.

A saved tokenizer's `tokenizer.json` names its class; one without a class is WordPiece (the
first saved ones). TensorFlow loads with the classes, not with this module: recipes check
a tokenizer kind without it.

>>> tokenizer = train(["to be or not"], kind="characters")
>>> type(tokenizer).__name__, tokenizer.vocabulary_size
('CharacterTokenizer', 9)
>>> train(["to be"], kind="charaters")
Traceback (most recent call last):
...
ValueError: Unknown tokenizer kind 'charaters'. Did you mean: 'characters'? Kinds: wordpiece, characters.
"""

from __future__ import annotations

from pathlib import Path

from zoo import textio
from zoo.registry import did_you_mean

SETTINGS_FILE = "tokenizer.json"
#: Tokenizer kind -> `(module, class, default settings, settings it takes)`.
_KINDS = {
    "wordpiece": ("zoo.text.wordpiece", "WordPieceTokenizer",
                  {"vocabulary_size": 8000, "lowercase": True},
                  ("vocabulary_size", "lowercase", "sequence_length")),
    "characters": ("zoo.text.characters", "CharacterTokenizer", {}, ()),
}
#: Kinds zoo reads (`load`, `kind_of`) but does not learn: they come with a converted
#: checkpoint ("sentencepiece": Marian's, `zoo.text.sentencepiece.SentencePieceTokenizer`).
_CONVERTED_KINDS = {
    "sentencepiece": ("zoo.text.sentencepiece", "SentencePieceTokenizer", {}, ()),
}
#: The kinds, in the order messages list them; a recipe's `[tokenizer] kind` is one of them.
KINDS = tuple(_KINDS)
DEFAULT_KIND = "wordpiece"


def _class(module: str, name: str):
    import importlib

    return getattr(importlib.import_module(module), name)


def settings_problems(kind: str, settings: dict) -> list[str]:
    """What is wrong with `settings` for a tokenizer of `kind` (an unknown kind, with the
    closest; a setting that kind does not take): [] when nothing is. Recipes check their
    `[tokenizer]` table with it."""
    if kind not in _KINDS:
        hint = did_you_mean(kind, KINDS)
        return [f"Unknown tokenizer kind {kind!r}.{' ' + hint if hint else ''} Kinds: "
                f"{', '.join(KINDS)}."]
    takes = _KINDS[kind][3]
    return [f"{key} is not a setting of a {kind} tokenizer ("
            f"{'it takes ' + ', '.join(takes) if takes else 'it takes none: its vocabulary is every character of the training text'})"
            for key in settings if key not in takes]


def train(texts, kind: str = DEFAULT_KIND, **settings):
    """A tokenizer of `kind` learned from `texts` (a list of strings) with `settings` (those
    of the kind; the kind's defaults for those left out).

    Raises:
        ValueError: an unknown kind (with the closest), a setting the kind does not take, or
            what the tokenizer's own `train` refuses.
    """
    problems = settings_problems(kind, settings)
    if problems:
        raise ValueError(" ".join(problems))
    module, name, defaults, _ = _KINDS[kind]
    return _class(module, name).train(texts, **{**defaults, **settings})


def kind_of(tokenizer) -> str:
    """The kind of a tokenizer object ("wordpiece", "characters").

    Raises:
        ValueError: a tokenizer of a class zoo does not know.
    """
    for kind, (_, name, _, _) in {**_KINDS, **_CONVERTED_KINDS}.items():
        if type(tokenizer).__name__ == name:
            return kind
    raise ValueError(f"{type(tokenizer).__name__} is not a zoo tokenizer.")


def load(path):
    """The tokenizer saved in directory `path`, of the class its `tokenizer.json` names.

    Raises:
        FileNotFoundError: `path` holds no `tokenizer.json`.
        ValueError: its class is not one of zoo's tokenizers (naming the file and the
            classes), or the tokenizer's own `load` refuses the files.
    """
    file = Path(path) / SETTINGS_FILE
    if not file.is_file():
        raise FileNotFoundError(f"{file} is missing: is {path} a saved tokenizer?")
    name = textio.read_json_object(file).get("class", "WordPieceTokenizer")
    classes = {entry[1]: entry for entry in (*_KINDS.values(), *_CONVERTED_KINDS.values())}
    if name not in classes:
        hint = did_you_mean(name, classes)
        raise ValueError(f"{file} names the tokenizer class {name!r}, which zoo does not know."
                         f"{' ' + hint if hint else ''} Classes: {', '.join(classes)}.")
    module, name, _, _ = classes[name]
    return _class(module, name).load(path)
