"""Streaming examples through a model for the harness, shared by the task kinds' `predict`.

A kind's `predict` is a generator of per-example prediction dicts in example order; these
helpers batch the examples (`stream`), run the model ahead of the caller in threads
(`ahead`), reorder a classifier's logits to a benchmark's labels (`logits`) and refuse NaN or
infinite outputs (`finite`). TensorFlow is imported inside the functions.
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import EvaluationError


def stream(values, batch_size, start=0, transform=None):
    """`(begin, batch)` pairs over `values[start:]`. A numeric array already in memory is
    sliced directly (a view per batch, no copy through `tf.data`); otherwise `tf.data` batches,
    applies `transform` (in-graph preprocessing such as tokenization) and prefetches."""
    import tensorflow as tf

    if transform is None and isinstance(values, np.ndarray) and values.dtype != object:
        for begin in range(start, len(values), batch_size):
            yield begin, values[begin:begin + batch_size]
        return
    data = tf.data.Dataset.from_tensor_slices(values[start:]).batch(batch_size)
    if transform is not None:
        data = data.map(transform, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    begin = start
    for batch in data.prefetch(tf.data.AUTOTUNE):
        yield begin, batch
        begin += batch_size


def forward(model):
    """The model's inference as a `tf.function`. A last batch shorter than the first is
    padded with copies of its first row (rows are independent at inference) and the outputs
    cut back, so it reuses the first batch's trace instead of tracing again."""
    import tensorflow as tf

    fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    sizes = []

    def run(batch):
        n = int(tf.nest.flatten(batch)[0].shape[0])
        if not sizes:
            sizes.append(n)
        if n >= sizes[0]:
            return fn(batch)
        fill = sizes[0] - n
        padded = tf.nest.map_structure(
            lambda t: tf.concat([t, tf.repeat(t[:1], fill, axis=0)], axis=0), batch)
        return tf.nest.map_structure(lambda t: t[:n], fn(padded))

    return run


FORWARD_WORKERS = 2


def ahead(forward, stream, workers=FORWARD_WORKERS):
    """`(begin, outputs)` for each `(begin, batch)` of `stream`, in order, with `forward`
    (returning numpy) running on up to `workers` batches at once in threads, ahead of the
    caller: the model works on batches k+1 and k+2 while the caller turns batch k into rows.

    Two batches at once rather than one: TensorFlow releases the GIL while it computes, and
    a small model's ops leave cores idle inside one batch (intra-op threads wait on each
    other), so a second batch fills them. On 2 CPU cores, ViT-tiny on MNIST (batch 64):
    2.96-3.02 s against 3.99-4.53 s batch by batch, the same logits bit for bit
    (`scripts/bench_performance.py --only harness` measures it against both baselines).
    Results are those of calling `forward` batch by batch; an error raises at its batch."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers, thread_name_prefix="zoo-forward") as pool:
        pending = deque()
        for begin, batch in stream:
            pending.append((begin, pool.submit(forward, batch)))
            if len(pending) > workers:  # one more queued, so no worker idles while we wait
                begin, future = pending.popleft()
                yield begin, future.result()
        while pending:
            begin, future = pending.popleft()
            yield begin, future.result()


#: The logit of a benchmark label that no model class maps to: finite (the NaN/inf check
#: stays meaningful), and so low that its softmax probability is exactly 0.
NEVER = -1e30


def logits(model, columns=None):
    """The model's logits as numpy, with their columns in the benchmark's label order
    (`columns[j]`: the model's output for label j, None for a label no model class maps to,
    which gets a float64 logit of `NEVER`; `columns` None: as they are). A model with a
    `to_logits(outputs)` method (a model zoo did not train: `zoo.harness.foreign`) has its
    outputs, a numpy batch, checked and turned into logits by it first."""
    forward_batch = forward(model)
    to_logits = getattr(model, "to_logits", None)

    def run(batch):
        values = np.asarray(forward_batch(batch))
        return values if to_logits is None else to_logits(values)

    if columns is None:
        return run
    if None not in columns:
        order = np.asarray(columns)
        return lambda batch: run(batch)[:, order]
    mapped = [j for j, column in enumerate(columns) if column is not None]
    order = np.asarray([columns[j] for j in mapped])

    def reorder(batch):
        values = np.asarray(run(batch), dtype="float64")
        out = np.full((len(values), len(columns)), NEVER)
        out[:, mapped] = values[:, order]
        return out

    return reorder


def finite(values, begin, what):
    """`values` (one row per example from `begin`), or an EvaluationError naming the first
    example whose values are NaN or infinite: it has no honest prediction or score."""
    bad = ~np.isfinite(np.asarray(values, dtype="float64").reshape(len(values), -1)).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise EvaluationError(
            f"The model's {what} for example {begin + i} (index from 0) are NaN or infinite "
            f"({int(bad.sum())} example(s) of this batch): no prediction can be scored from "
            "them. Check the model's weights (a diverged training run) and its precision.")
    return values


def need_tokenizer(tokenizer, spec):
    """Raises EvaluationError when a text benchmark's model comes without its tokenizer."""
    if tokenizer is None:
        raise EvaluationError(
            f"Benchmark '{spec.id}' is text: the model needs its tokenizer. Pass --weights with a "
            "run folder (model.keras and tokenizer/) or a .keras file with tokenizer/ beside it."
        )


def only(found, samples, spec):
    """The benchmark's metrics (`spec.metrics`) of a scorer's `found` and `samples`."""
    keep = [k for k in spec.metrics if k in found]
    return {k: found[k] for k in keep}, {k: samples[k] for k in keep}
