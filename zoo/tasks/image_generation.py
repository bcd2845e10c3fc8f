"""Image generation (density modelling): images in [0, 1] -> a bound on their likelihood.

A model of this kind has `elbo_terms(images, training=False, sample=True)` -> per-image terms
of its negative ELBO in nats (`{"reconstruction", "kl"}`; zoo's VAE family), `encode(images)`
-> latent means (and log-variances), and `reconstruct(images)`; `sample(n, seed)` if it can.

Training batches are `(images, images, ones)`, binarized stochastically with `binarize =
"stochastic"` (a pixel is 1 with probability its intensity, seeded by the seed and the
batch's position in training); the objective is the negative ELBO (reconstruction + KL,
z sampled while training). Predictions are each test image's terms (one sample of z, seeded
by the benchmark's seed and the batch's number: `seeds`); scores are their means with bootstrap
intervals and, when the benchmark asks (`probe_*` metrics, a `train_split`), a
logistic-regression probe on the latent means.

>>> from zoo import tasks
>>> kind = tasks.get("image_generation")
>>> kind.METRICS[:3], sorted(kind.LOWER_IS_BETTER)
(('negative_elbo', 'reconstruction', 'kl'), ['kl', 'negative_elbo', 'reconstruction'])
"""

from __future__ import annotations

import numpy as np

from zoo import metrics, schema
from zoo.models import seeding
from zoo.tasks import EvaluationError, _dims, _evaluation, _streams

NAME = "image_generation"
TOKENIZED = False
CLASSIFYING = False
#: The ELBO's terms (nats per image; less is better), then the latent probe's scores.
TERMS = ("negative_elbo", "reconstruction", "kl")
METRICS = (*TERMS, "probe_accuracy", "probe_macro_f1")
LOWER_IS_BETTER = frozenset(TERMS)
DATASET_KINDS = ("image_classification",)  # labelled images: the labels serve the probe
FILE_KINDS = ("image_folder", "npz")
BINARIZATIONS = ("stochastic",)
RECIPE_FIELDS = {"binarize": "binarize (of training images)"}
BENCHMARK_PREPROCESSING = {
    "image_scale": _dims.IMAGE_SCALE,
    "binarize": schema.Field(schema.Str(choices=BINARIZATIONS)),
    "binarize_seed": schema.Field(schema.Int(min=0, max=2 ** 32 - 1)),
    "elbo_samples": schema.Field(schema.Int(min=1, max=1)),
    "probe_train_examples": schema.Field(schema.Int(min=1, max=10 ** 9)),
}
BENCHMARK_FIELDS = {}


def model_dims(examples, *, tokenizer=None, max_length=None, label_names=None):
    """`(defaults, fixed)`: the images' `image_size` and `num_channels` as defaults."""
    return _dims.image_dims(examples), {}


def _binarize_batch(images, seed, positions):
    import tensorflow as tf

    noise = tf.random.stateless_uniform(tf.shape(images), seed=tf.stack([seed + 1, positions[0]]))
    return tf.cast(noise < images, images.dtype)


def training_pipeline(examples, batch_size, seed, start_step, *, binarize=None,
                      per_worker_order=False, **settings):
    """Endless `(images, images, ones)` batches (see `zoo.tasks._streams`), binarized
    stochastically with `binarize="stochastic"`. Other settings do not apply.

    Raises:
        ValueError: an unknown binarization, or fewer examples than one batch.
    """
    import tensorflow as tf

    if binarize not in (None, *BINARIZATIONS):
        raise ValueError(f"binarize must be one of {', '.join(BINARIZATIONS)} or None, got "
                         f"{binarize!r}.")
    images = tf.constant(np.asarray(examples.inputs, "float32"))

    def transform(idx, positions, seed):
        x = tf.gather(images, idx)
        if binarize == "stochastic":
            x = _binarize_batch(x, seed, positions)
        return x, x, _streams.ones(idx)

    return _streams.batches(len(examples), batch_size, seed, start_step, transform,
                            per_worker_order=per_worker_order)


def objective(model, x, y, sample_weight, training=True, label_smoothing=0.0):
    """Negative ELBO per image (nats): reconstruction + KL (`model.elbo_terms`, z sampled
    while training); the autoencoder has no KL. `logs` holds each term."""
    terms = model.elbo_terms(x, training=training, sample=training)
    loss = terms["reconstruction"]
    if "kl" in terms:
        loss = loss + terms["kl"]
    return loss, dict(terms)


def validator(recipe, tokenizer, data_dir=None):
    """None: image generation has no validation during training."""
    return None


def seeds(spec) -> dict:
    """Every seed `predict` and `score` draw with on benchmark `spec` (result records keep
    them): `binarization` (with `binarize = "stochastic"`: the test and probe images'
    binarization, `[preprocessing] binarize_seed`, default 0), `posterior_noise` (z ~ q(z|x)
    for the batch of evaluation batch number `b` is drawn from `[posterior_noise, b]`: the
    benchmark's `[bootstrap] seed`, default 0) and `prior_samples` (the report's samples from
    the prior). The probe's logistic regression draws nothing."""
    found = {"posterior_noise": int(spec.bootstrap.get("seed", 0)), "prior_samples": 0}
    if spec.preprocessing.get("binarize") is not None:
        found["binarization"] = int(spec.preprocessing.get("binarize_seed", 0))
    return found


def binarize(images, spec):
    """Stochastic binarization with the benchmark's seed (`seeds`), or none."""
    mode = spec.preprocessing.get("binarize")
    if mode is None:
        return images
    if mode not in BINARIZATIONS:
        raise EvaluationError(f"Benchmark '{spec.id}': unknown binarize mode '{mode}'.")
    rng = np.random.default_rng(seeds(spec)["binarization"])
    return (rng.random(images.shape) < images).astype("float32")


def predict(model, tokenizer, examples, spec, batch_size, start=0, **options):
    """A row per image from `start`: index, target (its class, for the probe) and its
    reconstruction, KL and negative ELBO in nats (5 decimals), from one sample of z: the
    model's seed generators are set from `(seeds(spec)["posterior_noise"], batch number)`
    before each batch, so a batch's noise is the same in a run resumed at `start` (a multiple
    of `batch_size`) as in an uninterrupted one.

    Raises:
        EvaluationError: the model has no ELBO (no `elbo_terms`, or no KL term: a plain
            autoencoder), or NaN / infinite terms.
    """
    if not hasattr(model, "elbo_terms"):
        raise EvaluationError(f"Benchmark '{spec.id}' scores a VAE's ELBO; this model has none.")
    images = binarize(examples.inputs, spec)
    noise_seed, generators = seeds(spec)["posterior_noise"], seeding.seed_generators(model)
    for begin, batch in _evaluation.stream(images, batch_size, start):
        seeding.set_states(generators, noise_seed, begin // batch_size)
        terms = model.elbo_terms(batch)
        if "kl" not in terms:
            raise EvaluationError(
                f"Benchmark '{spec.id}' scores a VAE's ELBO; this model ({type(model).__name__})"
                " has no KL term, so its reconstruction loss bounds no likelihood. Evaluate a "
                "variational model (`zoo list 'vae_*'`).")
        reconstruction = _evaluation.finite(np.asarray(terms["reconstruction"]), begin,
                                            "reconstruction terms")
        kl = _evaluation.finite(np.asarray(terms["kl"]), begin, "KL terms")
        for i in range(len(batch)):
            yield {"index": begin + i, "target": int(examples.targets[begin + i]),
                   "reconstruction": round(float(reconstruction[i]), 5),
                   "kl": round(float(kl[i]), 5),
                   "negative_elbo": round(float(reconstruction[i] + kl[i]), 5)}


def _pictures(model, images, spec):
    """A few test images, their reconstructions (decoded latent means) and prior samples
    (seeded by `seeds(spec)`), as uint8 pixel lists."""

    def pixels(batch):
        return np.clip(np.rint(np.asarray(batch)[..., 0] * 255), 0, 255).astype("uint8").tolist()

    return {"inputs": pixels(images), "reconstructions": pixels(model.reconstruct(images)),
            "samples": (pixels(model.sample(16, seed=seeds(spec)["prior_samples"]))
                        if hasattr(model, "sample") else [])}


def _probe(spec, examples, rows, idx, model, train_examples):
    """Accuracy and macro F1 of a logistic regression fit on the latent means of the
    training split's images, scored on the test images'; each row gains its prediction."""
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
    found, samples = {}, {}
    for name in ("accuracy", "macro_f1"):
        found[f"probe_{name}"] = dict(m[name], probe="LogisticRegression(max_iter=2000) on "
                                      f"latent means of {n_train} training images")
        samples[f"probe_{name}"] = s[name]
    for row, prediction in zip(rows, predictions):
        row["probe_prediction"] = int(prediction)
    return found, samples, report


def score(spec, examples, rows, idx, model=None, load_split=None, **context):
    """Mean negative ELBO, reconstruction and KL (nats per image) with bootstrap intervals;
    with `model` and `load_split` (split name -> examples of the benchmark's dataset), the
    latent probe when the benchmark lists `probe_*` metrics and a `train_split`, and a few
    reconstructions and samples in the report."""
    found, samples = {}, {}
    for name in TERMS:
        m, s = metrics.per_example_mean(name, [r[name] for r in rows], idx=idx,
                                        unit="nats per image")
        found.update(m)
        samples.update(s)
    report = {}
    wants_probe = spec.train_split and any(m.startswith("probe_") for m in spec.metrics)
    if model is not None and load_split is not None and wants_probe:
        m, s, report = _probe(spec, examples, rows, idx, model, load_split(spec.train_split))
        found.update(m)
        samples.update(s)
    if model is not None:
        report["images"] = _pictures(model, binarize(examples.inputs[:8], spec), spec)
    return *_evaluation.only(found, samples, spec), report


expected_input = _dims.image_input


def examples(definition, rows, report):
    """The leaderboard's examples: the pictures `score` keeps in the report."""
    images = (report or {}).get("images") or {}
    return {"title": "Reconstructions and samples", "empty": "None stored.",
            "images": [(key, caption, images.get(key) or []) for key, caption in (
                ("inputs", "test images (binarized)"),
                ("reconstructions", "their reconstructions"),
                ("samples", "samples from the prior"))]}
