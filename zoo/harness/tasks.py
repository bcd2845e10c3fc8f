"""How each benchmark task turns a model and examples into predictions and scores.

A task streams examples through the model in batches (`predict`, a generator
of per-example prediction dicts in example order) and scores the collected
predictions (`score`). The runner owns files, progress and resumption.
"""

from __future__ import annotations

import numpy as np

from zoo.harness import bootstrap, metrics


class EvaluationError(ValueError):
    """The model cannot be evaluated on this benchmark; the message says why and what to do."""


def _stream(values, batch_size, start=0, transform=None):
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


def _forward(model):
    """The model's inference as a `tf.function`. A last batch shorter than the first is
    padded with copies of its first row (rows are independent at inference) and the outputs
    cut back, so it reuses the first batch's trace instead of tracing again."""
    import tensorflow as tf

    fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    sizes = []

    def forward(batch):
        n = int(tf.nest.flatten(batch)[0].shape[0])
        if not sizes:
            sizes.append(n)
        if n >= sizes[0]:
            return fn(batch)
        fill = sizes[0] - n
        padded = tf.nest.map_structure(
            lambda t: tf.concat([t, tf.repeat(t[:1], fill, axis=0)], axis=0), batch)
        return tf.nest.map_structure(lambda t: t[:n], fn(padded))

    return forward


FORWARD_WORKERS = 2


def _ahead(forward, stream, workers=FORWARD_WORKERS):
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
_NEVER = -1e30


def _logits(model, columns=None):
    """The model's logits as numpy, with their columns in the benchmark's label order
    (`columns[j]`: the model's output for label j, None for a label no model class maps to,
    which gets a float64 logit of `_NEVER`; `columns` None: as they are)."""
    forward = _forward(model)
    if columns is None:
        return lambda batch: np.asarray(forward(batch))
    if None not in columns:
        order = np.asarray(columns)
        return lambda batch: np.asarray(forward(batch))[:, order]
    mapped = [j for j, column in enumerate(columns) if column is not None]
    order = np.asarray([columns[j] for j in mapped])

    def reorder(batch):
        logits = np.asarray(forward(batch), dtype="float64")
        out = np.full((len(logits), len(columns)), _NEVER)
        out[:, mapped] = logits[:, order]
        return out

    return reorder


def _finite(values, begin, what):
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


# --- Classification ------------------------------------------------------------------------


def _check_classes(model, spec, columns=None):
    """The model's class count must be the benchmark's, or (`columns` from a --label-map of a
    model with fewer classes) the number of model columns the map uses."""
    expected = len(spec.labels) if columns is None else sum(c is not None for c in columns)
    classes = model.get_config().get("num_classes")
    if classes != expected:
        what = ("labels" if columns is None or None not in columns
                else "labels, of which --label-map maps " + str(expected))
        raise EvaluationError(
            f"The model has {classes} output classes but benchmark '{spec.id}' has "
            f"{len(spec.labels)} {what} ({', '.join(spec.labels or [])}); evaluate a model "
            "built or trained for it."
        )


def predict_image_classification(model, tokenizer, examples, spec, batch_size, start=0,
                                 columns=None):
    expected = tuple(model.inputs[0].shape[1:])
    got = tuple(examples.inputs.shape[1:])
    if expected != got:
        raise EvaluationError(
            f"The model takes images of shape {expected} but benchmark '{spec.id}' has {got}; "
            "build the model with matching image_size and num_channels."
        )
    _check_classes(model, spec, columns)
    for begin, logits in _ahead(_logits(model, columns),
                                _stream(examples.inputs, batch_size, start)):
        yield from _classification_rows(logits, examples.targets[begin:begin + len(logits)], begin)


def _classification_rows(logits, targets, begin):
    _finite(logits, begin, "outputs (logits)")
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = exp / exp.sum(axis=1, keepdims=True)
    for i, (row, target) in enumerate(zip(probs, targets)):
        yield {"index": begin + i, "target": int(target), "prediction": int(row.argmax()),
               "confidence": round(float(row.max()), 6)}


def _need_tokenizer(tokenizer, spec):
    if tokenizer is None:
        raise EvaluationError(
            f"Benchmark '{spec.id}' is text: the model needs its tokenizer. Pass --weights with a "
            "run folder (model.keras and tokenizer/) or a .keras file with tokenizer/ beside it."
        )


def predict_text_classification(model, tokenizer, examples, spec, batch_size, start=0,
                                columns=None):
    from zoo.text import features

    _check_classes(model, spec, columns)
    texts = np.array(examples.inputs, dtype=object)
    if getattr(model, "takes_strings", False):  # a TF Hub preprocessor inside the model
        to_inputs = None
    else:
        _need_tokenizer(tokenizer, spec)
        max_length = int(spec.preprocessing.get("max_length", 128))
        max_length = min(max_length, model.get_config().get("max_sequence_length", max_length))

        def to_inputs(t):
            return features.bert_inputs(tokenizer, t, max_length)

    for begin, logits in _ahead(_logits(model, columns),
                                _stream(texts, batch_size, start, to_inputs)):
        rows = _classification_rows(logits, examples.targets[begin:begin + len(logits)], begin)
        for row in rows:
            yield dict(row, text=examples.inputs[row["index"]])


def score_classification(spec, examples, rows, idx):
    y_true = np.array([r["target"] for r in rows])
    y_pred = np.array([r["prediction"] for r in rows])
    found, samples, report = metrics.classification(
        y_true, y_pred, labels=list(range(len(spec.labels))), label_names=list(spec.labels),
        idx=idx,
    )
    return {k: found[k] for k in spec.metrics}, {k: samples[k] for k in spec.metrics}, report


# --- Translation ---------------------------------------------------------------------------


def predict_translation(model, tokenizer, examples, spec, batch_size, start=0):
    from zoo.text import features

    _need_tokenizer(tokenizer, spec)
    decoding = {"beam_width": 4, "length_penalty": 0.6, "max_length": 64, **spec.decoding}
    max_source = min(int(spec.preprocessing.get("max_length", 64)), model.max_sequence_length)
    max_target = min(int(decoding["max_length"]), model.max_sequence_length - 1)

    def source_ids(texts):
        return features.sequence_ids(tokenizer, texts, max_source)

    def translate(ids):
        out = model.generate(ids, max_length=max_target, beam_width=int(decoding["beam_width"]),
                             length_penalty=float(decoding["length_penalty"]))
        return [t.decode("utf-8") for t in tokenizer.detokenize(out).numpy()]

    texts = np.array(examples.inputs, dtype=object)
    for begin, hypotheses in _ahead(translate, _stream(texts, batch_size, start, source_ids)):
        for i, text in enumerate(hypotheses):
            yield {"index": begin + i, "source": examples.inputs[begin + i],
                   "reference": examples.targets[begin + i], "hypothesis": text}


def score_translation(spec, examples, rows, idx):
    found, samples, sentence = metrics.translation(
        [r["hypothesis"] for r in rows], [r["reference"] for r in rows], spec.bleu, idx=idx
    )
    for row, value in zip(rows, sentence):
        row["sentence_bleu"] = round(value, 4)
    return {k: found[k] for k in spec.metrics}, {k: samples[k] for k in spec.metrics}, {}


# --- Image generation (VAE) ----------------------------------------------------------------


def binarize(images, spec):
    """Stochastic binarization with the benchmark's seed (or none)."""
    mode = spec.preprocessing.get("binarize")
    if mode is None:
        return images
    if mode != "stochastic":
        raise EvaluationError(f"Benchmark '{spec.id}': unknown binarize mode '{mode}'.")
    rng = np.random.default_rng(int(spec.preprocessing.get("binarize_seed", 0)))
    return (rng.random(images.shape) < images).astype("float32")


def predict_image_generation(model, tokenizer, examples, spec, batch_size, start=0):
    import keras

    if not hasattr(model, "negative_elbo"):
        raise EvaluationError(f"Benchmark '{spec.id}' scores a VAE's ELBO; this model has none.")
    images = binarize(examples.inputs, spec)
    from zoo.models.vae.vae import kl_divergence

    for begin, batch in _stream(images, batch_size, start):
        end = begin + len(batch)
        keras.utils.set_random_seed(int(spec.bootstrap.get("seed", 0)) + begin)
        z_mean, z_log_var = model.encode(batch)
        z = model.reparameterize(z_mean, z_log_var)
        logits = model.decoder(z, training=False)
        reconstruction = _finite(np.asarray(model.reconstruction_nats(batch, logits)), begin,
                                 "reconstruction terms")
        kl = _finite(np.asarray(kl_divergence(z_mean, z_log_var)), begin, "KL terms")
        for i in range(end - begin):
            yield {"index": begin + i, "target": int(examples.targets[begin + i]),
                   "reconstruction": round(float(reconstruction[i]), 5),
                   "kl": round(float(kl[i]), 5),
                   "negative_elbo": round(float(reconstruction[i] + kl[i]), 5)}


def _vae_pictures(model, images, spec):
    """A few test images, their reconstructions and prior samples, as uint8 pixel lists."""
    import keras

    keras.utils.set_random_seed(int(spec.bootstrap.get("seed", 0)))

    def pixels(batch):
        return np.clip(np.rint(np.asarray(batch)[..., 0] * 255), 0, 255).astype("uint8").tolist()

    return {"inputs": pixels(images), "reconstructions": pixels(model.reconstruct(images)),
            "samples": pixels(model.sample(16, seed=0)) if hasattr(model, "sample") else []}


def score_image_generation(spec, examples, rows, idx, model=None, train_examples=None):
    found, samples = {}, {}
    for name in ("negative_elbo", "reconstruction", "kl"):
        m, s = metrics.per_example_mean(name, [r[name] for r in rows], idx=idx, unit="nats per image")
        found.update(m)
        samples.update(s)
    report = {}
    if model is not None and train_examples is not None:
        from sklearn.linear_model import LogisticRegression

        n_train = int(spec.preprocessing.get("probe_train_examples", len(train_examples)))
        train_x = binarize(train_examples.inputs[:n_train], spec)
        z_train = np.asarray(model.encode(train_x)[0])
        z_test = np.asarray(model.encode(binarize(examples.inputs, spec))[0])[: len(rows)]
        probe = LogisticRegression(max_iter=2000)
        probe.fit(z_train, train_examples.targets[:n_train])
        predictions = probe.predict(z_test)
        m, s, report = metrics.classification(
            [r["target"] for r in rows], predictions, labels=list(range(len(spec.labels))),
            label_names=list(spec.labels), idx=idx,
        )
        for name in ("accuracy", "macro_f1"):
            found[f"probe_{name}"] = dict(m[name], probe="LogisticRegression(max_iter=2000) on "
                                          f"latent means of {n_train} training images")
            samples[f"probe_{name}"] = s[name]
        for row, prediction in zip(rows, predictions):
            row["probe_prediction"] = int(prediction)
    if model is not None:
        report["images"] = _vae_pictures(model, binarize(examples.inputs[:8], spec), spec)
    keep = [k for k in spec.metrics if k in found]
    return {k: found[k] for k in keep}, {k: samples[k] for k in keep}, report


TASKS = {
    "image_classification": (predict_image_classification, score_classification),
    "text_classification": (predict_text_classification, score_classification),
    "translation": (predict_translation, score_translation),
    "image_generation": (predict_image_generation, score_image_generation),
}


def bootstrap_indices(spec, n):
    return bootstrap.indices(
        n,
        int(spec.bootstrap.get("resamples", bootstrap.DEFAULT_RESAMPLES)),
        int(spec.bootstrap.get("seed", bootstrap.DEFAULT_SEED)),
    )
