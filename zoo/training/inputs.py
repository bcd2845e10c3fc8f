"""Training input: a recipe's examples as an endless, deterministic `tf.data` pipeline.

Each task kind builds its own (`zoo.tasks.<kind>.training_pipeline`, over the shared streams
of `zoo.tasks._streams`): the pipeline yields `(x, y, sample_weight)` global batches, and the
batch at any step is a pure function of the seed and the step, so a run resumed at step `s`
sees exactly the batches an uninterrupted run would have seen from `s` on. Text batches are
padded to their longest sequence (rounded up to a multiple of 8), not to `max_length`.
(Dropout and other noise drawn inside the model are seeded per step by the training loop:
`zoo.training.loop`.)

>>> import numpy as np
>>> from zoo.datasets import Examples
>>> from zoo.training import inputs
>>> examples = Examples(np.zeros((10, 8, 8, 1), "float32"), np.arange(10) % 3)
>>> data = inputs.pipeline("image_classification", examples, batch_size=4, seed=0, start_step=0)
>>> x, y, w = next(iter(data))
>>> tuple(x.shape), tuple(y.shape), tuple(w.shape)
((4, 8, 8, 1), (4,), (4,))
"""

from __future__ import annotations

from zoo import tasks
from zoo.training.recipes import BATCHINGS


def pipeline(task, examples, batch_size, seed, start_step, tokenizer=None, max_length=128,
             max_predictions=20, binarize=None, augment=None, raw_text=False,
             per_worker_order=False, batching="random"):
    """The training pipeline of task kind `task` over `examples` (a `zoo.datasets.Examples`):
    `zoo.tasks.get(task).training_pipeline` with the recipe's settings.

    Yields `(x, y, sample_weight)`; the weights are ones except for masked-LM. `raw_text=True`
    yields the strings themselves (models with their own preprocessor, such as
    `zoo.hub.HubTextClassifier`). `batching="by_length"` (a kind whose `RECIPE_FIELDS` has
    "batching": translation) draws batches of examples of similar length instead of random
    ones. `per_worker_order=True` (parameter-server training, where every worker runs this
    pipeline for itself) adds a per-process random offset to the seed, so that workers read
    different batches; such a run's batches are then not a function of the seed alone.

    Raises:
        UnknownNameError: an unknown task kind (with the closest names).
        ValueError: an unknown batching or one the kind does not read, no tokenizer for a
            tokenized kind, fewer examples than one batch.
    """
    kind = tasks.get(task)
    if batching not in BATCHINGS:
        raise ValueError(f"batching must be one of {', '.join(BATCHINGS)}, got {batching!r}.")
    if batching != "random" and "batching" not in kind.RECIPE_FIELDS:
        readers = [name for name in tasks.names() if "batching" in tasks.get(name).RECIPE_FIELDS]
        raise ValueError(f"batching={batching!r} is for {' or '.join(readers)}, not {task}.")
    return kind.training_pipeline(
        examples, batch_size, seed, start_step, tokenizer=tokenizer, max_length=max_length,
        max_predictions=max_predictions, binarize=binarize, augment=augment, raw_text=raw_text,
        per_worker_order=per_worker_order, batching=batching)
