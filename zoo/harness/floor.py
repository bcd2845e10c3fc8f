"""The untrained floor of a benchmark: what a model scores before it learns anything.

`zoo bench run` without `--weights` builds the model with fresh weights (a fixed seed). A text
task also needs a tokenizer, which an untrained model does not have: `tokenizer` learns one
(`zoo.text.tokenizers`, with the `[tokenizer]` settings of a recipe of that model, else of its
family, for the task: `zoo.training.starter.starting_point`; a character-level model gets a
character tokenizer) from the benchmark's training data (its
`train_split`, or its `[train_files]`), or, for a benchmark that has none, from the test
examples themselves, which the record says (`model.tokenizer.learned_from`) and flags
(`flags.tokenizer_from_test_data`: the floor then knows the test vocabulary; never ranked).
"""

from __future__ import annotations

from zoo import tasks
from zoo.harness import benchmarks
from zoo.models import catalog
from zoo.training import starter

TRAIN, TEST = "training data", "test data"  # what a floor's tokenizer was learned from


def tokenizer(model_name: str, spec, examples, data_dir=None, progress=True):
    """`(tokenizer, info)` for the untrained `model_name` on benchmark `spec` (whose evaluated
    examples are `examples`): `(None, None)` for a task that reads no tokens or a model with
    its own preprocessor. `info` is the record's `model.tokenizer`: what it was learned from
    (`learned_from`, the split, its example count and sha256) and its kind and size.

    Raises:
        DatasetError: the training data cannot be read.
    """
    kind = tasks.get(spec.task)
    if not kind.TOKENIZED or catalog.takes_raw_text(model_name, spec.task):
        return None, None
    from zoo.text import tokenizers

    if spec.train_split is not None:
        source, split = TRAIN, spec.train_split
        texts_from = benchmarks.load_examples(spec, split, data_dir=data_dir, progress=progress)
    else:
        source, split, texts_from = TEST, spec.split, examples
    recipe = starter.starting_point(model_name, spec.task)
    settings = dict(recipe.tokenizer) if recipe is not None else {}
    learned = tokenizers.train(kind.tokenizer_texts(texts_from), **settings)
    return learned, {"learned_from": source, "split": split, "examples": len(texts_from),
                     "examples_sha256": texts_from.sha256(),
                     "kind": tokenizers.kind_of(learned),
                     "vocabulary_size": int(learned.vocabulary_size),
                     "settings": settings, "settings_of": recipe and recipe.entry}
