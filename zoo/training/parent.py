"""What a recipe's `init_from` model (its parent: a zoo run or entry, or a converted checkpoint,
`zoo convert`) fixes about the run that starts from it: the tokenizer, the token embedding's
size and the architecture of the part the family transfers (`Family.transfer`, e.g. BERT's
backbone).

A parent's token embeddings are indexed by its own tokenizer's ids, so the run reads text with
that tokenizer (`zoo.training.train`), and its model has the parent's embedding rows: a
checkpoint may have more rows than its tokenizer has tokens (embeddings padded to a round
size), never fewer. The part's other settings must be the parent's too: the sizes for its
weights to fit, and the computation (activation, layer-norm epsilon, pre/post-LN), which a copy
of the weights alone would silently change. Dropout is a training setting and may differ.
"""

from __future__ import annotations

import inspect
import json

from zoo import entries
from zoo.training.errors import RecipeError

#: Settings of the transferred part a fine-tune may choose for itself: Keras' bookkeeping and
#: dropout (training only; the outputs at inference are the parent's).
FREE = frozenset({"name", "trainable", "dtype", "dropout"})


def need_tokenizer(recipe, init_dir) -> None:
    """RecipeError when `init_dir` is a converted checkpoint without a zoo tokenizer
    (`tokenizer/`): its token embeddings are indexed by ids of a tokenizer zoo cannot read,
    and a tokenizer learned from the recipe's texts would give unrelated ids."""
    record = entries.conversion(init_dir)
    if record is None or (init_dir / "tokenizer").is_dir():
        return
    notes = [n for n in record.get("notes", []) if str(n).lower().startswith("tokenizer")]
    raise RecipeError(
        f"init_from '{recipe.init_from}' is a converted checkpoint without a tokenizer zoo "
        f"reads ({init_dir} has no tokenizer/; converted from {record.get('location')}"
        f"{': ' + notes[0] if notes else ''}). Its token embeddings are indexed by that "
        "tokenizer's ids, so a tokenizer learned from the recipe's texts would read them "
        "wrongly: convert a source that holds its tokenizer files (vocab.txt, tokenizer.json) "
        "with `zoo convert`, or train from scratch (no init_from).")


def transferred(source, part: str):
    """The part of a loaded parent a fine-tune starts from: `source.<part>`, or `source`
    itself when it is that part alone (a converted backbone)."""
    return getattr(source, part, source)


def dims(recipe, dims: tuple, trained, tokenizer) -> tuple:
    """`(defaults, fixed)` model dims (`zoo.tasks`) with the parent part's `vocabulary_size`
    fixed instead of the tokenizer's, when the part has more embedding rows than the
    tokenizer has tokens.

    Raises:
        RecipeError: the tokenizer has more tokens than the part's embeddings (its last ids
            would look up no embedding), naming both counts.
    """
    defaults, fixed = dims
    rows = getattr(trained, "vocabulary_size", None)
    tokens = fixed.get("vocabulary_size")
    if not isinstance(rows, int) or tokens is None or rows == tokens:
        return dims
    if tokens > rows:
        raise RecipeError(
            f"init_from '{recipe.init_from}': its tokenizer has {tokens} tokens, more than "
            f"the {rows} token embeddings of its model: ids {rows} to {tokens - 1} would look "
            "up no embedding. Its tokenizer and weights do not belong together; check the "
            "source's vocabulary file against its config's vocab_size and convert it again.")
    return defaults, {**fixed, "vocabulary_size": rows}


def check_same(recipe, part: str, trained, built) -> None:
    """RecipeError when the recipe's `built` part differs from the parent's `trained` one in
    any setting but those in `FREE`, naming each (the parent's value, the recipe's) and the
    `model_overrides` that give the parent's."""
    theirs, ours = _settings(trained), _settings(built)
    differing = sorted(key for key in (set(theirs) | set(ours)) - FREE
                       if theirs.get(key) != ours.get(key))
    if not differing:
        return
    listed = ", ".join(f"{key} {theirs.get(key)!r} (the recipe's {ours.get(key)!r})"
                       for key in differing)
    settable = [key for key in differing if key != "vocabulary_size" and key in theirs]
    fix = ("; set model_overrides = {"
           + ", ".join(f"{key} = {json.dumps(theirs[key])}" for key in settable) + "}"
           if settable else "")
    raise RecipeError(
        f"init_from '{recipe.init_from}': its {part} differs from the recipe's {recipe.model}: "
        f"{listed}{fix} in the recipe, so that the model is the one whose weights it starts "
        "from.")


def _settings(layer) -> dict:
    """`layer.get_config()` with the constructor's default for each argument it leaves out (a
    config may omit a setting at its default, as BERT's does `activation` "gelu")."""
    defaults = {name: parameter.default
                for name, parameter in inspect.signature(type(layer).__init__).parameters.items()
                if parameter.default is not inspect.Parameter.empty}
    return {**defaults, **layer.get_config()}
