"""`HubLayer`: a TF Hub model (any SavedModel handle) as a Keras 3 layer.

`hub.KerasLayer` is a Keras 2 layer and cannot sit in a Keras 3 model. `HubLayer` is built
the way `keras.layers.TFSMLayer` is (the SavedModel's own `tf.Variable`s are tracked as Keras
variables, so they train, save in `.keras` files and become mirrored variables when the layer
is made under a `tf.distribute` strategy scope) and adds what TFSMLayer lacks:

- handles (TF Hub / Kaggle URLs, `.tar.gz` URLs and files, `gs://`, `zoo:ENTRY/PART`) resolved
  and cached by `tensorflow_hub`;
- several named inputs: a dict goes to a signature as keyword arguments, and to a
  reusable SavedModel's `__call__` as its one dict argument; inputs are cast to the dtypes
  the model declares;
- `training` passed to `__call__` when the model was traced with it (dropout in fine-tuning);
- `output_key` to pick one output of a dict; without it, a model whose outputs are a dict of
  one (a zoo classifier's `{"logits": ...}`) gives that tensor, as its parts table says
  (strings -> logits), and a dict of several (a BERT encoder's) stays a dict;
- reloading a `.keras` model that contains it (the config keeps the handle, not a cache path;
  fine-tuned weights are restored on top).

>>> import keras, zoo
>>> from zoo.hub import HubLayer
>>> isinstance(HubLayer, type) and issubclass(HubLayer, keras.layers.Layer)
True
"""

from __future__ import annotations

import keras
import tensorflow as tf

from zoo import safety
from zoo.entries import parse_zoo_handle
from zoo.hub.resolve import HubError, load_saved_model


def _concrete_functions(fn):
    if hasattr(fn, "concrete_functions"):
        return list(fn.concrete_functions)
    if hasattr(fn, "get_concrete_function") and not hasattr(fn, "structured_outputs"):
        return [fn.get_concrete_function()]
    return [fn]


def _callables(obj) -> list[str]:
    names = sorted(obj.signatures) if hasattr(obj, "signatures") else []
    if callable(obj):
        names = ["__call__"] + names
    return names


@keras.saving.register_keras_serializable(package="zoo")
class HubLayer(keras.layers.Layer):
    """A SavedModel from a handle, called like a Keras layer.

    Args:
        handle: str or path. See `zoo.hub.resolve`.
        signature: str or None. A signature name (`"serving_default"`, ...); None calls the
            model's `__call__` (TF Hub's reusable SavedModels), or `serving_default` when the
            model has no `__call__`.
        output_key: str or None. Return only this output of a dict. None: the one output of
            a dict that holds one (`{"logits": x}` gives `x`), else all the outputs as they are.
        trainable: bool. Whether the model's trainable variables are trained (fine-tuning).
        arguments: dict. Extra keyword arguments for every call (e.g. `{"seq_length": 64}`).

    Example (a zoo entry exported in TF Hub's format, then loaded back by handle):

    >>> import keras, numpy as np
    >>> from zoo.hub import HubLayer
    >>> vit = HubLayer("zoo:vit_tiny_patch2_8.digits/classifier")   # doctest: +SKIP
    >>> images = keras.Input((8, 8, 1))                               # doctest: +SKIP
    >>> model = keras.Model(images, vit(images))                      # doctest: +SKIP
    """

    def __init__(self, handle, signature=None, output_key=None, trainable=False,
                 arguments=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(trainable=trainable, **kwargs)
        self.handle = str(handle)
        self.signature = signature
        self.output_key = output_key
        self.arguments = dict(arguments or {})
        self._obj = load_saved_model(self.handle)
        self._fn, self._by_keyword = self._select(signature)
        self._declared_spec = self._declared_inputs()
        self._takes_training = self._accepts_training()
        self._track_saved_model_variables()
        self.built = True

    @property
    def saved_model(self):
        """The loaded SavedModel (its functions, variables and assets, such as a
        preprocessor's vocabulary table): what an export of a model holding this layer
        must carry along."""
        return self._obj

    # --- Loading -----------------------------------------------------------------------------

    @property
    def called(self) -> str:
        """The name of the function the layer calls: a signature's, or `__call__`."""
        return self._called

    @property
    def declared_inputs(self):
        """What the called function declares for its inputs: `{name: tf.TensorSpec}` (a
        signature's named inputs), one `tf.TensorSpec`, or None when it declares nothing."""
        return self._declared_spec

    def _select(self, signature):
        obj = self._obj
        signatures = getattr(obj, "signatures", {})
        if signature is None:
            if callable(obj):
                self._called = "__call__"
                return obj.__call__, False
            signature = "serving_default"
        self._called = signature
        if signature in signatures:
            return signatures[signature], True
        if signature != "serving_default" and callable(getattr(obj, signature, None)):
            return getattr(obj, signature), False
        available = ", ".join(_callables(obj))
        if not available:
            raise HubError(
                f"{self.handle} has no signature and no __call__: nothing in it can be called. "
                "Save the model with one (Keras: model.export(path); TensorFlow: "
                "tf.saved_model.save(module, path, signatures=...)).")
        raise HubError(
            f"{self.handle} has no signature '{signature}'. It has: {available}. Pass one of "
            "those as signature= (None calls __call__)."
        )

    def _declared_inputs(self):
        """What the model declares for its inputs: {name: TensorSpec}, one TensorSpec, or None."""
        for concrete in _concrete_functions(self._fn):
            args, kwargs = concrete.structured_input_signature
            if self._by_keyword:
                return dict(kwargs)
            if args:
                return args[0]
        return None

    def _accepts_training(self) -> bool:
        """Whether the called function takes a `training` argument: by its parameters' names
        (a function of several inputs, such as a generator's options, does not), else, for a
        function that does not name them, by a second positional input."""
        if self._by_keyword:
            return False
        for concrete in _concrete_functions(self._fn):
            parameters = getattr(getattr(concrete, "function_type", None), "parameters", None)
            if parameters is not None:
                if "training" in parameters:
                    return True
                continue
            args, kwargs = concrete.structured_input_signature
            if "training" in kwargs or len(args) > 1:
                return True
        return False

    def _track_saved_model_variables(self):
        trainable, seen = [], set()
        for concrete in _concrete_functions(self._fn):
            for v in concrete.trainable_variables:
                if id(v) not in seen:
                    seen.add(id(v))
                    trainable.append(v)
        others = []
        for concrete in _concrete_functions(self._fn):
            for v in concrete.variables:
                if id(v) not in seen:
                    seen.add(id(v))
                    others.append(v)
        trainable_ids = {id(v) for v in trainable}
        for v in trainable + others:
            # A Keras variable built from a tf.Variable wraps that very variable, so training
            # the Keras variable changes what the SavedModel's functions compute.
            variable = keras.Variable(v, trainable=id(v) in trainable_ids,
                                      dtype=v.dtype, shape=v.shape,
                                      name=v.name.split(":")[0].replace("/", "_"))
            self._track_variable(variable)

    # --- Calling -----------------------------------------------------------------------------

    @staticmethod
    def _cast(value, spec):
        if isinstance(spec, tf.TensorSpec) and isinstance(value, (tf.Tensor, tf.Variable)):
            if value.dtype != spec.dtype and spec.dtype != tf.string:
                return tf.cast(value, spec.dtype)
        return value

    def _prepare(self, inputs):
        spec = self._declared_spec
        if isinstance(inputs, dict):
            if isinstance(spec, dict):
                missing = sorted(set(spec) - set(inputs) - set(self.arguments))
                if missing:
                    raise HubError(
                        f"{self.handle} takes inputs {sorted(spec)}; missing {missing}."
                    )
                return {k: self._cast(tf.convert_to_tensor(v), spec.get(k))
                        for k, v in inputs.items()}
            return {k: tf.convert_to_tensor(v) for k, v in inputs.items()}
        inputs = tf.convert_to_tensor(inputs)
        if self._by_keyword:
            names = [k for k in spec or {} if k not in self.arguments]
            if len(names) != 1:
                raise HubError(
                    f"Signature '{self.signature}' of {self.handle} takes named inputs "
                    f"{sorted(spec or {})}: call the layer with a dict of them."
                )
            return {names[0]: self._cast(inputs, spec[names[0]])}
        return self._cast(inputs, spec)

    def call(self, inputs, training=None):
        inputs = self._prepare(inputs)
        if self._by_keyword:
            outputs = self._fn(**inputs, **self.arguments)
        elif self._takes_training:
            outputs = self._fn(inputs, training=bool(training), **self.arguments)
        else:
            outputs = self._fn(inputs, **self.arguments)
        if self.output_key is not None:
            if not isinstance(outputs, dict) or self.output_key not in outputs:
                keys = sorted(outputs) if isinstance(outputs, dict) else "one tensor"
                raise HubError(
                    f"{self.handle} has no output '{self.output_key}'; its outputs: {keys}."
                )
            outputs = outputs[self.output_key]
        elif isinstance(outputs, dict) and len(outputs) == 1:
            outputs = next(iter(outputs.values()))  # a single-output part: its tensor
        return outputs

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        refuse_in_safe_mode(config.get("handle"), safe_mode)
        return cls(**config)

    def get_config(self):
        config = super().get_config()
        config.update({"handle": self.handle, "signature": self.signature,
                       "output_key": self.output_key, "arguments": self.arguments})
        return config


def refuse_in_safe_mode(handle, safe_mode=None):
    """Rebuilding a layer that runs the graph of the SavedModel at `handle` from a file: allowed
    in safe mode (the default of `zoo.load_model` and `keras.saving.load_model`) only for a
    `zoo:ENTRY/PART` handle, a graph zoo exports itself from a published entry (which loads in
    safe mode in turn). Any other SavedModel's graph can read and write files, so it runs only
    when the user allows code (`safe_mode=False`, `--unsafe-allow-code`); else
    `zoo.safety.UnsafeCodeError`."""
    from keras.src.saving import serialization_lib

    if (serialization_lib.in_safe_mode() if safe_mode is None else safe_mode) is False:
        return
    if parse_zoo_handle(handle) is not None:
        return
    raise safety.UnsafeCodeError(
        f"This model holds a HubLayer, which runs the TensorFlow graph of the SavedModel at "
        f"{handle}; only graphs zoo exports itself (zoo:ENTRY/PART handles) run without your "
        f"say, as a graph can read and write files. If you trust that SavedModel, allow it with "
        f"{safety.FLAG} (in Python: zoo.load_model(path, safe_mode=False), or "
        "keras.saving.load_model(path, safe_mode=False))."
    )


def load(handle, signature=None, output_key=None, trainable=False, arguments=None, **kwargs):
    """A TF Hub model as a Keras 3 layer: `zoo.hub.load(handle)` (see `HubLayer`)."""
    return HubLayer(handle, signature=signature, output_key=output_key, trainable=trainable,
                    arguments=arguments, **kwargs)
