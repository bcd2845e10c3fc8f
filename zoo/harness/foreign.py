"""A model zoo did not train, loaded and wrapped so that the harness scores it as its own.

`load(location, adapter, spec, examples)` opens a `.keras` file (in Keras' safe mode unless
the user allows code) or a SavedModel (a folder, a `.tar.gz` file or URL, a TF Hub / Kaggle /
`zoo:` handle, resolved and cached by `zoo.hub`; a SavedModel runs its graph, no Python), and
wraps it in a `ForeignClassifier`: a Keras model that takes the benchmark's own inputs (images
in [0, 1] or raw strings), feeds the model as its adapter (`zoo.harness.adapter`) says and
returns one score per class. The harness's task kinds then predict and score it like any zoo
classifier; an adapter that does not fit the model (a shape, a dtype, an output) is refused
before the first batch, naming the adapter field that would fix it.

What the result record keeps (`Foreign`): the source (kind, location as given, the sha256 of
every file and of the whole), the adapter as run, and the parameter count: a `.keras` model's
`count_params()`, or the floating-point variables of the SavedModel (the model's weights, not
its random-seed or step counters).

TensorFlow and Keras are imported with this module: the harness imports it only for such a run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from zoo import entries, provenance
from zoo.harness.adapter import (
    REMOTE,
    AdapterError,
    check_for,
    default_name,
    model_inputs,
)
from zoo.hub.layer import HubLayer
from zoo.hub.resolve import resolve as resolve_handle
from zoo.models import catalog
from zoo.registry import did_you_mean_path
from zoo.tasks import EvaluationError

#: Tolerances of a row of probabilities: each value in [0, 1], the row's sum 1.
PROBABILITY_SLACK = 1e-5
SUM_SLACK = 1e-3
#: How many examples are run through the model before the benchmark is (checks the adapter).
PROBE_EXAMPLES = 4


@dataclass
class Foreign:
    """A loaded model zoo did not train: the wrapper the harness calls (`model`), its name and
    class names, and what the result record keeps: `source` (`model.source`), `adapter`
    (`evaluation.adapter`), `weights` (`model.weights`: location and sha256), `params` and
    `class_name` (a `.keras` model's class, or "SavedModel")."""

    model: object
    name: str
    labels: tuple
    source: dict
    adapter: dict
    weights: dict
    params: int
    class_name: str


# --- Files ----------------------------------------------------------------------------------


def file_hashes(folder) -> list[list[str]]:
    """`[[relative path, sha256], ...]` of every file under `folder`, sorted by path."""
    folder = Path(folder)
    return [[path.relative_to(folder).as_posix(), provenance.sha256_file(path)]
            for path in sorted(folder.rglob("*")) if path.is_file()]


def tree_sha256(files) -> str:
    """One sha256 for a list of `[path, sha256]` (`file_hashes`): equal only for the same files
    with the same contents."""
    digest = hashlib.sha256()
    for path, sha in files:
        digest.update(f"{path}\0{sha}\n".encode())
    return digest.hexdigest()


def _saved_model_source(location: str) -> tuple[str, dict]:
    """`(local folder, source table)` of a SavedModel handle (downloaded and cached by
    `zoo.hub.resolve`; `HubError` naming the handle otherwise)."""
    folder = resolve_handle(location)
    files = file_hashes(folder)
    source = {"kind": "saved_model", "location": location, "sha256": tree_sha256(files),
              "files": files, "archive_sha256": None}
    local = Path(location).expanduser()
    if not location.startswith(REMOTE) and local.is_file():
        source["archive_sha256"] = provenance.sha256_file(local)
    return folder, source


def _open(location: str, adapter, safe_mode: bool):
    """`(inner model, source table)`: a `.keras` file loaded in Keras' safe mode (unless
    `safe_mode` is False), or a SavedModel as a `HubLayer` calling the adapter's signature."""
    if location.lower().endswith(".keras"):
        if location.startswith(REMOTE):
            raise EvaluationError(f"{location}: a .keras file is read from disk; download it "
                                  "and give its path to --model.")
        path = Path(location).expanduser()
        if not path.is_file():
            hint = did_you_mean_path(path)
            raise EvaluationError(f"No model file at {location}.{' ' + hint if hint else ''} "
                                  "--model takes a .keras file, a SavedModel folder or .tar.gz, "
                                  "a URL or a handle.")
        if adapter.signature is not None:
            raise AdapterError(f"{adapter.where}: signature applies to a SavedModel; "
                               f"{location} is a .keras file, called as it is.")
        inner = catalog.load_model(path, safe_mode=safe_mode)
        sha = provenance.sha256_file(path)
        return inner, {"kind": "keras", "location": location, "sha256": sha,
                       "files": [[path.name, sha]], "archive_sha256": None}
    _refuse_zoo_folder(location)
    _, source = _saved_model_source(location)
    inner = HubLayer(location, signature=adapter.signature, output_key=adapter.output_key,
                     name="saved_model")
    return inner, source


def _refuse_zoo_folder(location: str) -> None:
    """A folder zoo wrote (a training run, a published entry) is scored as zoo's own model,
    with its recipe and class names: EvaluationError saying how."""
    folder = Path(location).expanduser()
    if location.startswith(REMOTE) or not folder.is_dir():
        return
    if entries.is_entry_folder(folder):
        raise EvaluationError(f"{location} is a published zoo entry: score it with --entry "
                              f"{folder.name} (or --model NAME --weights {location}).")
    if (folder / "model.keras").is_file():
        raise EvaluationError(f"{location} is a zoo run folder: score it with --model NAME "
                              f"--weights {location} (NAME: the model its recipe names).")


def _params(inner) -> int:
    """The parameter count: a Keras model's own, or the floating-point variables of a
    SavedModel (its `variables`, else those its function reads)."""
    if not isinstance(inner, HubLayer):
        return int(inner.count_params())
    variables = getattr(inner.saved_model, "variables", None)
    if variables is None:
        variables = inner.weights
    total, seen = 0, set()
    for variable in variables:
        key = getattr(variable, "path", None) or variable.name
        if key in seen or not tf.as_dtype(variable.dtype).is_floating:
            continue
        seen.add(key)
        total += int(np.prod(variable.shape))
    return total


# --- What the model takes -------------------------------------------------------------------


def _declared(inner, where, has_preprocessor):
    """`(dtype name, shape without the batch)` of the model's one input, or None when it does
    not declare it. EvaluationError for a model with several inputs (fed one)."""
    if isinstance(inner, HubLayer):
        spec = inner.declared_inputs
        if isinstance(spec, dict):
            if len(spec) != 1:
                if has_preprocessor:
                    return None  # the preprocessor gives the named inputs
                raise EvaluationError(
                    f"{inner.handle} ({inner.called}) takes the named inputs "
                    f"{', '.join(sorted(spec))}; zoo feeds a model one input (images or "
                    f"strings), or a text preprocessor's outputs: name one in {where} "
                    "(preprocessor = HANDLE) or choose another signature.")
            (spec,) = spec.values()
        if not isinstance(spec, tf.TensorSpec):
            return None
        return spec.dtype.name, tuple(spec.shape[1:])
    try:
        inputs = inner.inputs  # a subclassed model that was never built declares none
    except (AttributeError, ValueError):
        return None
    if not inputs:
        return None
    if len(inputs) != 1:
        raise EvaluationError(f"The model takes {len(inputs)} inputs; zoo feeds a model one "
                              "(images or strings).")
    return str(inputs[0].dtype), tuple(inputs[0].shape[1:])


@dataclass(frozen=True)
class ImageFeed:
    """How images in [0, 1], `[n, height, width, channels]`, become the model's inputs:
    resized to `size`, grey repeated into `channels`, scaled to `input_range`, standardised by
    `mean` and `std`, laid out as `layout`, and rounded to `dtype` when it is an integer."""

    size: tuple
    channels: int
    input_range: tuple
    mean: object
    std: object
    layout: str
    dtype: str

    def shape(self) -> tuple:
        """The shape of one image as the model gets it."""
        height, width = self.size
        if self.layout == "flat":
            return (height * width * self.channels,)
        if self.layout == "channels_first":
            return (self.channels, height, width)
        return (height, width, self.channels)

    def __call__(self, x):
        x = tf.cast(x, tf.float32)
        if tuple(x.shape[1:3]) != tuple(self.size):
            x = tf.image.resize(x, self.size, method="bilinear")
        if x.shape[-1] != self.channels:
            x = tf.repeat(x, self.channels, axis=-1)  # grey into each channel (checked)
        low, high = self.input_range
        if (low, high) != (0, 1):
            x = low + x * (high - low)
        if self.mean is not None:
            x = x - tf.constant(self.mean, tf.float32)
        if self.std is not None:
            x = x / tf.constant(self.std, tf.float32)
        if self.layout == "channels_first":
            x = tf.transpose(x, [0, 3, 1, 2])
        elif self.layout == "flat":
            x = tf.reshape(x, [tf.shape(x)[0], int(np.prod(self.shape()))])
        dtype = tf.as_dtype(self.dtype)
        if dtype.is_integer:  # a model of uint8 pixels: rounded, not truncated
            x = tf.cast(tf.clip_by_value(tf.round(x), dtype.min, dtype.max), dtype)
        return x


def _image_feed(adapter, spec, examples, declared) -> ImageFeed:
    """The `ImageFeed` the adapter declares for the benchmark's images, checked against what
    the model declares (`declared`); EvaluationError naming the fields to change."""
    height, width, channels = (int(d) for d in examples.inputs.shape[1:])
    size = adapter.image_size
    size = (height, width) if size is None else (size, size) if isinstance(size, int) \
        else tuple(size)
    wanted = adapter.channels or channels
    if wanted != channels and channels != 1:
        raise AdapterError(f"{adapter.where}: channels = {wanted}, but benchmark '{spec.id}' "
                           f"has {channels}-channel images; an adapter repeats a grey image "
                           "into channels, and changes no other count.")
    dtype = declared[0] if declared and declared[0] != "string" else "float32"
    feed = ImageFeed(size, wanted, tuple(adapter.input_range), adapter.mean, adapter.std,
                     adapter.layout, dtype)
    if declared is None:
        return feed
    dtype, shape = declared
    fits = len(shape) == len(feed.shape()) and all(
        d is None or d == f for d, f in zip(shape, feed.shape()))
    if dtype == "string" or not fits:
        shown = tuple("N" if d is None else d for d in shape)
        raise EvaluationError(
            f"The model takes {dtype} inputs of shape {shown} per example, but benchmark "
            f"'{spec.id}' has images of {(height, width, channels)}, fed as {feed.shape()} "
            f"({adapter.where}: image_size {list(size)}, channels {wanted}, layout "
            f"{adapter.layout}): "
            + ("it is not an image model." if dtype == "string" else
               "set image_size, channels or layout in the adapter to what the model takes."))
    return feed


def _check_text(adapter, spec, declared, location):
    """A text model takes strings, unless its adapter names a preprocessor."""
    if adapter.preprocessor is None and declared is not None and declared[0] != "string":
        shown = tuple("N" if d is None else d for d in declared[1])
        raise EvaluationError(
            f"{location} takes {declared[0]} inputs of shape {shown} per example, not the "
            f"strings of benchmark '{spec.id}': name the SavedModel that turns strings into "
            f"its inputs in {adapter.where} (preprocessor = HANDLE).")


# --- The wrapper ----------------------------------------------------------------------------


class _Adapted(keras.layers.Layer):
    """The benchmark's inputs through the adapter into the model; one score per class out."""

    def __init__(self, inner, feed=None, preprocessor=None, output_key=None, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.inner = inner
        self.feed = feed
        self.preprocessor = preprocessor
        self.output_key = output_key

    def call(self, x):
        if self.feed is not None:
            x = self.feed(x)
        elif self.preprocessor is not None:
            x = self.preprocessor(x)
        y = self.inner(x, training=False)
        if isinstance(y, dict):
            if self.output_key in y:
                y = y[self.output_key]
            else:
                raise EvaluationError(
                    f"The model returns the outputs {', '.join(sorted(y))}: say which holds "
                    "the class scores with output_key in the adapter.")
        if isinstance(y, list | tuple):
            raise EvaluationError(f"The model returns {len(y)} outputs; zoo scores one (the "
                                  "class scores).")
        return tf.cast(y, tf.float32)


class ForeignClassifier(keras.Model):
    """A model zoo did not train, as the harness calls a classifier: the benchmark's images
    (float32 in [0, 1], `image_shape`) or raw strings (`takes_strings`) in, one score per
    class out (`num_classes`). `to_logits` turns a batch of its outputs into logits
    (probabilities are checked and become log-probabilities); `count_params` is `params`."""

    def __init__(self, adapted, image_shape, num_classes, outputs, where, params, config):
        text = image_shape is None
        x = (keras.Input(shape=(), dtype="string", name="text") if text
             else keras.Input(shape=image_shape, name="images"))
        super().__init__(inputs=x, outputs=adapted(x), name="foreign")
        self.takes_strings = text
        self.num_classes = num_classes
        self.outputs_are = outputs
        self.where = where
        self.params = params
        self._foreign_config = config

    def get_config(self):
        return {"num_classes": self.num_classes, **self._foreign_config}

    def count_params(self):
        return self.params

    def to_logits(self, values):
        """A batch of outputs, `[n, num_classes]`, as logits (float64 log-probabilities for
        probabilities). EvaluationError for another shape, or for "probabilities" that are not
        (a value outside [0, 1], a row that does not sum to 1)."""
        values = np.asarray(values)
        if values.ndim != 2 or values.shape[1] != self.num_classes:
            raise EvaluationError(
                f"The model's outputs have the shape {tuple(values.shape)}; zoo scores one per "
                f"class: {self.num_classes}, as many as {self.where} names labels.")
        if self.outputs_are == "logits":
            return values
        values = values.astype("float64")
        finite = np.isfinite(values).all(axis=1)  # NaN rows: refused as such by the kind
        sums = values.sum(axis=1)
        bad = finite & ((values < -PROBABILITY_SLACK).any(axis=1)
                        | (values > 1 + PROBABILITY_SLACK).any(axis=1)
                        | (np.abs(sums - 1) > SUM_SLACK))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise AdapterError(
                f"{self.where}: outputs = \"probabilities\", but the model's outputs for an "
                f"example range from {values[i].min():.4g} to {values[i].max():.4g} and sum to "
                f"{sums[i]:.4g}, which probabilities do not: if they are logits, set "
                "outputs = \"logits\".")
        return np.log(np.maximum(values, np.finfo("float64").tiny))


def _probe(adapted, examples, text):
    """The first examples through the adapter and the model, called directly (eagerly, not
    traced by Keras, whose symbolic call would bury the reason of a failure): a misfit fails
    here, before the benchmark, with its own message. Returns the outputs (numpy)."""
    n = min(PROBE_EXAMPLES, len(examples))
    if text:
        batch = tf.constant([str(t) for t in examples.inputs[:n]])
    else:
        batch = tf.constant(np.asarray(examples.inputs[:n], "float32"))
    return np.asarray(adapted.call(batch))


def _failed(location, where, error) -> EvaluationError:
    """One line: calling the model failed, and the innermost reason (Keras puts "Exception
    encountered when calling ..." and terminal colours around a layer's own message)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    while lines and lines[0].startswith(("Exception encountered when calling",
                                         "Could not automatically infer")):
        lines = lines[1:]
    reason = lines[0] if lines else type(error).__name__
    return EvaluationError(f"Calling {location} as {where} says failed: {reason[:500]}")


def load(location, adapter, spec, examples, safe_mode=True) -> Foreign:
    """The model at `location` (see the module docstring), wrapped for benchmark `spec` as
    `adapter` (`zoo.harness.adapter.Adapter`) says, and checked on the first `examples`.

    Raises:
        EvaluationError (AdapterError for the adapter's fields): a benchmark of a task kind an
            outside model cannot be scored on, adapter fields of the other input kind, no
            labels, inputs or outputs that do not fit the model.
        HubError: a SavedModel handle that cannot be resolved. UnsafeCodeError,
            ModelFileError: a `.keras` file that holds code or cannot be loaded.
    """
    location = str(location)
    check_for(adapter, spec, location)
    inputs = model_inputs(spec.task)
    inner, source = _open(location, adapter, safe_mode)
    preprocessor = None
    if adapter.preprocessor is not None:
        _, pre_source = _saved_model_source(adapter.preprocessor)
        preprocessor = HubLayer(adapter.preprocessor, name="preprocessor")
        source["preprocessor"] = {k: pre_source[k] for k in ("location", "sha256", "files")}
    declared = _declared(inner, adapter.where, preprocessor is not None)
    feed = None
    if inputs == "images":
        feed = _image_feed(adapter, spec, examples, declared)
    else:
        _check_text(adapter, spec, declared, location)
    settings = adapter.settings()
    if isinstance(inner, HubLayer):
        settings["signature"] = inner.called
    if feed is not None:
        settings.update(image_size=list(feed.size), channels=feed.channels)
    params = _params(inner)
    record = {"file": adapter.file, "file_sha256": adapter.file_sha256,
              "options": list(adapter.options), **settings}
    config = {"source": location, "adapter": settings,
              "model": inner.get_config() if isinstance(inner, keras.Model) else None}
    adapted = _Adapted(inner, feed, preprocessor, adapter.output_key, name="adapted")
    try:
        outputs = _probe(adapted, examples, feed is None)
        model = ForeignClassifier(
            adapted, None if feed is None else tuple(int(d) for d in examples.inputs.shape[1:]),
            len(adapter.labels), adapter.outputs, adapter.where, params, config)
    except EvaluationError:
        raise
    except Exception as error:  # noqa: BLE001 - a model zoo did not write may raise anything
        raise _failed(location, adapter.where, error) from None
    model.to_logits(outputs)  # the outputs' shape, and probabilities that are not
    return Foreign(model, adapter.name or default_name(location), tuple(adapter.labels), source,
                   record, {"path": location, "sha256": source["sha256"]}, params,
                   "SavedModel" if isinstance(inner, HubLayer) else type(inner).__name__)
