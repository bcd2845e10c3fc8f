"""ViT checkpoints of other libraries into zoo's `ViTClassifier`, and back to Transformers.

Sources (each read without importing its library):
- Transformers `ViTModel` / `ViTForImageClassification` (`config.json`, `model.safetensors`,
  `preprocessor_config.json`);
- KerasHub `ViTBackbone` / `ViTImageClassifier` presets (`config.json`, `model.weights.h5`,
  `task.json` + `task.weights.h5`, `preprocessor.json`);
- timm's `vision_transformer` weights as timm writes them for the hub (`config.json` with
  `architecture` and `pretrained_cfg`, `model.safetensors` with a fused `qkv`).

All three are the pre-LN ViT of Dosovitskiy et al. (2021, https://arxiv.org/abs/2010.11929):
patch convolution, class token, learned position embeddings (class token included), exact
GELU, final layer norm, the class token (or the mean of the patches) to a linear head. The
image normalisation a checkpoint expects (mean/std, or KerasHub's scale/offset) becomes the
model's `image_mean` / `image_std`, so the converted model takes images in [0, 1] like every
zoo image model. Anything else (another activation, layer scale, register tokens, ...) is a
`ConversionError` naming the setting.
"""

from __future__ import annotations

import json
import re

import numpy as np

from zoo.checkpoints import fields
from zoo.checkpoints.converted import Converted
from zoo.checkpoints.errors import ConversionError
from zoo.checkpoints.weights import assign, built

_BLOCK = "encoder_block_{}/"


# === Shared ===

def _check_head(source, head):
    if head not in (None, "classifier"):
        raise ConversionError(f"{source.describe()}: zoo's ViT has the head 'classifier' "
                              f"only (images -> logits, or features with 0 classes); got "
                              f"head={head!r}.")


def _build(source, config, values, unused, notes, extra=None) -> Converted:
    """A `ViTClassifier` of `config`, every variable set from `values`."""
    from zoo.models import catalog

    model = built(catalog.model_class("vit", "classifier"), config, source.describe(), "zoo's ViT")
    notes = list(notes) + assign(model, values, source.describe(), unused)
    return Converted(model=model, family="vit", head="classifier", tokenizer=None,
                     notes=notes, source=source, extra=extra or {})


class _Tensors:
    """A checkpoint's tensors, each taken at most once; `left()` names the ones not taken."""

    def __init__(self, tensors: dict, where: str):
        self.tensors, self.where, self.taken = tensors, where, set()

    def __contains__(self, name):
        return name in self.tensors

    def take(self, name):
        if name not in self.tensors:
            raise ConversionError(f"{self.where}: tensor {name} is missing; the checkpoint "
                                  "is not the ViT layout its config describes.")
        self.taken.add(name)
        return np.asarray(self.tensors[name], "float32")

    def left(self):
        return sorted(set(self.tensors) - self.taken)


def _linear(weight):
    """PyTorch `Linear.weight` `[out, in]` -> Keras `Dense` kernel `[in, out]`."""
    return weight.T


def _conv(weight):
    """PyTorch `Conv2d.weight` `[out, in, kh, kw]` -> Keras `Conv2D` kernel `[kh, kw, in, out]`."""
    return weight.transpose(2, 3, 1, 0)


def _pair(value):
    return [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value)] * 2


def _size(value):
    """zoo's `image_size` / `patch_size` argument: an int when square."""
    h, w = _pair(value)
    return h if h == w else [h, w]


def _per_channel(config, field, file, channels, default=fields.REQUIRED):
    """`config[field]` (one number, or one per channel) as one float per channel.

    Raises:
        ConversionError: not numbers, or a list of another length than `channels`.
    """
    values = fields.numbers(config, field, file, default)
    if len(values) == 1:
        values = values * channels
    if len(values) != channels:
        raise ConversionError(f"{file}: {field} is {config[field]}; expected one value per "
                              f"channel ({channels}, num_channels) or one for all.")
    return values


def _affine_to_standardization(converter, file, channels):
    """`pixels * scale + offset` on pixels in [0, 255] (KerasHub's image converter config
    `converter`, read from `file`) as `(images - mean) / std` on images in [0, 1]:
    std = 1 / (255 scale), mean = -offset std."""
    converter = {k: v for k, v in converter.items() if v is not None}
    scale = _per_channel(converter, "scale", file, channels, [1.0])
    offset = _per_channel(converter, "offset", file, channels, [0.0])
    if any(s <= 0 for s in scale):
        raise ConversionError(f"{file}: scale {scale} is not positive; zoo's image "
                              "normalisation divides by a positive std. Convert a preset "
                              "whose image converter scales by a positive factor.")
    std = [1.0 / (255.0 * s) for s in scale]
    return [-o * s for o, s in zip(offset, std)], std


# === Transformers ===

_HF_LAYER = {
    "layernorm_before": "self_attention_norm",
    "attention.attention.query": "self_attention/query",
    "attention.attention.key": "self_attention/key",
    "attention.attention.value": "self_attention/value",
    "attention.output.dense": "self_attention/attention_output",
    "layernorm_after": "feed_forward_norm",
    "intermediate.dense": "feed_forward/intermediate",
    "output.dense": "feed_forward/output",
}
_LAYER_NORM = {"weight": "gamma", "bias": "beta"}
_DENSE = {"weight": "kernel", "bias": "bias"}


def load_transformers(source, head=None) -> Converted:
    """A Transformers `ViTModel` or `ViTForImageClassification` folder -> zoo `ViTClassifier`.

    `ViTForImageClassification` gives a classifier of `num_labels` logits; `ViTModel` one with
    `num_classes=0`, whose output is the final-normed class token (`last_hidden_state[:, 0]`;
    the `pooler` (dense + tanh), which `ViTForImageClassification` does not use either, is
    left out and named in the notes). `preprocessor_config.json`'s rescale and normalisation
    become the model's `image_mean` / `image_std`: the model takes `[batch, height, width,
    channels]` images in [0, 1] (NHWC, where Transformers takes NCHW `pixel_values`).

    Raises:
        ConversionError: `hidden_act` other than "gelu" (exact), `qkv_bias=False`, a
            `head_dim` other than hidden_size / heads, a tensor missing, left over or of
            another shape.
    """
    _check_head(source, head)
    where = source.describe()
    cfg = source.config
    file = f"{source.location}/config.json"
    if cfg.get("model_type", "vit") != "vit":
        raise ConversionError(f"{where}: config.json model_type {cfg.get('model_type')!r} is "
                              "not 'vit': zoo reads it as Transformers' ViT (ViTModel, "
                              "ViTForImageClassification) only. A ViT variant (DeiT, BEiT, "
                              "...) has settings zoo's ViT does not represent.")
    act = cfg.get("hidden_act", "gelu")
    if act != "gelu":
        raise ConversionError(
            f"{where}: config.json hidden_act={act!r}; zoo's ViT uses the exact (erf) GELU "
            "only, which Transformers calls 'gelu'. Converting would change the outputs.")
    if not fields.flag(cfg, "qkv_bias", file, True):
        raise ConversionError(f"{where}: config.json qkv_bias=false; zoo's ViT attention "
                              "has query, key and value biases (qkv_bias=true).")
    hidden = fields.integer(cfg, "hidden_size", file, 768, minimum=1)
    heads = fields.integer(cfg, "num_attention_heads", file, 12, minimum=1)
    if cfg.get("head_dim") is not None and \
            fields.integer(cfg, "head_dim", file, minimum=1) != hidden // heads:
        raise ConversionError(f"{where}: config.json head_dim={cfg['head_dim']}; zoo's ViT "
                              f"has hidden_size / num_attention_heads = {hidden // heads}.")
    classifier = source.architecture == "ViTForImageClassification"
    labels = _hf_labels(cfg, file) if classifier else []
    channels = fields.integer(cfg, "num_channels", file, 3, minimum=1)
    config = {
        "image_size": _size(fields.pair(cfg, "image_size", file, [224, 224])),
        "patch_size": _size(fields.pair(cfg, "patch_size", file, [16, 16])),
        "num_channels": channels,
        "num_classes": len(labels),
        "hidden_dim": hidden,
        "num_layers": fields.integer(cfg, "num_hidden_layers", file, 12, minimum=1),
        "num_heads": heads,
        "intermediate_dim": fields.integer(cfg, "intermediate_size", file, 3072, minimum=1),
        "dropout": fields.number(cfg, "hidden_dropout_prob", file, 0.0, 0.0, 1.0),
        "layer_norm_epsilon": fields.number(cfg, "layer_norm_eps", file, 1e-12, 0.0),
        "pooling": "token",
    }
    notes = [f"layer_norm_eps {config['layer_norm_epsilon']:g}; exact GELU; pre-LN"]
    if fields.number(cfg, "attention_probs_dropout_prob", file, 0.0, 0.0, 1.0) != \
            config["dropout"]:
        notes.append(f"dropout {config['dropout']:g} (hidden_dropout_prob) everywhere: zoo's "
                     "ViT has one rate; attention_probs_dropout_prob="
                     f"{cfg['attention_probs_dropout_prob']} applies in training only")
    config.update(_hf_normalisation(source, channels, notes))

    from zoo.checkpoints.readers import safetensors_folder

    raw = safetensors_folder(source.folder)
    prefix = "vit." if any(k.startswith("vit.") for k in raw) else ""
    tensors = _Tensors(raw, where)
    values, unused = {}, {}
    emb = prefix + "embeddings."
    values["patch_embedding/kernel"] = _conv(tensors.take(emb + "patch_embeddings.projection.weight"))
    values["patch_embedding/bias"] = tensors.take(emb + "patch_embeddings.projection.bias")
    values["class_token/token"] = tensors.take(emb + "cls_token")
    values["position_embedding/embeddings"] = tensors.take(emb + "position_embeddings")[0]
    for i in range(config["num_layers"]):
        for theirs, ours in _HF_LAYER.items():
            names = _LAYER_NORM if "norm" in ours else _DENSE
            for their_var, our_var in names.items():
                value = tensors.take(f"{prefix}encoder.layer.{i}.{theirs}.{their_var}")
                values[_BLOCK.format(i) + f"{ours}/{our_var}"] = (
                    _linear(value) if our_var == "kernel" else value)
    values["final_norm/gamma"] = tensors.take(prefix + "layernorm.weight")
    values["final_norm/beta"] = tensors.take(prefix + "layernorm.bias")
    if labels:
        values["head/kernel"] = _linear(tensors.take("classifier.weight"))
        values["head/bias"] = tensors.take("classifier.bias")
    for name in tensors.left():
        if name.startswith(prefix + "pooler."):
            unused[name] = ("ViTModel's pooler (dense + tanh over the class token), which "
                            "ViTForImageClassification does not use either; zoo's features "
                            "are the final-normed class token")
        elif name == emb + "mask_token":
            unused[name] = "the masked-image-modeling mask token, used only in pretraining"
        else:
            raise ConversionError(
                f"{where}: tensor {name} has no place in zoo's ViT ({len(tensors.left())} "
                "tensors left over): the checkpoint has a part Transformers' ViTModel / "
                "ViTForImageClassification layout does not (another head or variant). "
                "Convert a plain ViT checkpoint, or remove the tensors of parts zoo's ViT "
                "does not compute if they are unused.")
    extra = {"labels": labels} if labels and labels != [f"LABEL_{i}" for i in
                                                        range(len(labels))] else {}
    return _build(source, config, values, unused, notes, extra)


def _hf_labels(cfg, file):
    """The class names of a `ViTForImageClassification` config, in class order: `id2label`'s
    (which Transformers lets decide the class count), else `LABEL_0` ... for `num_labels`.

    Raises:
        ConversionError: `id2label` not an object of the ids 0 ... n-1, or `num_labels` not
            a whole number.
    """
    id2label = cfg.get("id2label")
    if id2label:
        if not isinstance(id2label, dict):
            raise ConversionError(f"{file}: id2label is {id2label!r} (a "
                                  f"{type(id2label).__name__}); expected an object of class "
                                  'id -> name ({"0": "cat", "1": "dog"}).')
        expected = [str(i) for i in range(len(id2label))]
        if sorted(map(str, id2label), key=lambda k: (len(k), k)) != expected:
            raise ConversionError(f"{file}: id2label's keys {sorted(map(str, id2label))[:5]} "
                                  f"are not the class ids 0 to {len(id2label) - 1}; give one "
                                  "name per class id.")
        return [str(id2label[k]) for k in expected]
    return [f"LABEL_{i}" for i in range(fields.integer(cfg, "num_labels", file, 2,
                                                       minimum=1))]


def _hf_normalisation(source, channels, notes) -> dict:
    """`preprocessor_config.json` (a ViT image processor) as `image_mean` / `image_std`."""
    file = source.folder / "preprocessor_config.json"
    if not file.is_file():
        notes.append("no preprocessor_config.json: the model takes the images as the "
                     "checkpoint's model took its pixel_values (no normalisation added)")
        return {}
    try:
        pre = json.loads(file.read_text("utf-8"))
    except ValueError as e:
        raise ConversionError(f"{file}: not JSON ({e}).") from None
    if not isinstance(pre, dict):
        raise ConversionError(f"{file}: not a JSON object of image processor settings.")
    name = f"{source.location}/preprocessor_config.json"
    # Transformers' processor: pixels in [0, 255] * rescale_factor, then (x - mean) / std.
    # zoo's images are pixels / 255, so the factor on zoo's images is 255 * rescale_factor.
    factor = 255.0 * fields.number(pre, "rescale_factor", name, 1 / 255, 0.0) \
        if fields.flag(pre, "do_rescale", name, True) else 255.0
    if abs(factor - 1.0) < 1e-6:
        factor = 1.0
    if factor <= 0:
        raise ConversionError(f"{name}: rescale_factor is 0; the image processor would "
                              "make every image zeros. Set it to the checkpoint's (1/255 "
                              "for pixels in [0, 255]).")
    if fields.flag(pre, "do_normalize", name, True):
        mean = _per_channel(pre, "image_mean", name, channels, [0.5])
        std = _per_channel(pre, "image_std", name, channels, [0.5])
        if any(s <= 0 for s in std):
            raise ConversionError(f"{name}: image_std {std} is not positive; the model "
                                  "divides by it. Set the checkpoint's standard deviations.")
    else:
        mean, std = [0.0] * channels, [1.0] * channels
    if factor == 1.0 and mean == [0.0] * channels and std == [1.0] * channels:
        return {}
    mean, std = [m / factor for m in mean], [s / factor for s in std]
    size = pre.get("size") or {}
    if pre.get("do_resize", True) and size:
        notes.append(f"the image processor resizes to {size}; the zoo model takes images of "
                     "its image_size: resize before calling it")
    notes.append(f"images in [0, 1] normalised in the model: mean {mean}, std {std} "
                 "(preprocessor_config.json)")
    return {"image_mean": mean, "image_std": std}


# === KerasHub ===

_KH_BLOCK = re.compile(r"^layers/[^/]+/encoder_layers/(?P<block>[^/]+)/(?P<rest>.+)$")
_KH_SUBLAYER = {
    "layer_norm_1": ("self_attention_norm", ("gamma", "beta")),
    "mha/query_dense": ("self_attention/query", ("kernel", "bias")),
    "mha/key_dense": ("self_attention/key", ("kernel", "bias")),
    "mha/value_dense": ("self_attention/value", ("kernel", "bias")),
    "mha/output_dense": ("self_attention/attention_output", ("kernel", "bias")),
    "layer_norm_2": ("feed_forward_norm", ("gamma", "beta")),
    "mlp/dense_1": ("feed_forward/intermediate", ("kernel", "bias")),
    "mlp/dense_2": ("feed_forward/output", ("kernel", "bias")),
}


def load_keras_hub(source, head=None) -> Converted:
    """A KerasHub `ViTBackbone` or `ViTImageClassifier` preset folder -> zoo `ViTClassifier`.

    KerasHub's ViT is zoo's layout (pre-LN blocks, class token, position embeddings over
    class token and patches, exact GELU, final layer norm). A backbone preset becomes a model
    with `num_classes=0` whose output is the final-normed class token (`backbone(x)[:, 0]`),
    or, without a class token, the mean over the patches. A classifier preset's `pooling`
    ("token" or "gap") is kept. The image converter's `scale` / `offset` (on pixels in
    [0, 255]) become `image_mean` / `image_std`, so the model takes images in [0, 1].

    Raises:
        ConversionError: `use_mha_bias`, `use_mlp_bias` or `use_patch_bias` false; a
            classifier with `intermediate_dim` (a tanh pre-logits layer), an `activation`, or
            pooling that zoo's ViT does not compute ("gap" over patches and class token,
            "token" without a class token); tensors missing or left over.
    """
    _check_head(source, head)
    folder = source.folder
    file = f"{source.location}/config.json"
    backbone = source.config.get("config", {})
    if not isinstance(backbone, dict):
        raise ConversionError(f"{file}: config is {backbone!r}; expected the backbone's "
                              "arguments as an object (KerasHub's serialised ViTBackbone).")
    for flag in ("use_mha_bias", "use_mlp_bias", "use_patch_bias"):
        if not fields.flag(backbone, flag, file, True):
            raise ConversionError(f"{file}: {flag}=false; zoo's ViT has "
                                  "biases in every attention, MLP and patch projection.")
    if backbone.get("data_format", "channels_last") != "channels_last":
        raise ConversionError(f"{file}: data_format="
                              f"{backbone['data_format']!r}; zoo's ViT takes channels_last.")
    height, width, channels = _image_shape(backbone, file)
    class_token = fields.flag(backbone, "use_class_token", file, True)
    hidden = fields.integer(backbone, "hidden_dim", file, minimum=1)
    config = {
        "image_size": _size([height, width]),
        "patch_size": _size(fields.pair(backbone, "patch_size", file)),
        "num_channels": channels,
        "num_classes": 0,
        "hidden_dim": hidden,
        "num_layers": fields.integer(backbone, "num_layers", file, minimum=1),
        "num_heads": fields.integer(backbone, "num_heads", file, minimum=1),
        "intermediate_dim": fields.integer(backbone, "mlp_dim", file, minimum=1),
        "dropout": fields.number(backbone, "dropout_rate", file, 0.0, 0.0, 1.0),
        "layer_norm_epsilon": fields.number(backbone, "layer_norm_epsilon", file, 1e-6, 0.0),
        "pooling": "token" if class_token else "gap",
    }
    notes = [f"layer_norm_epsilon {config['layer_norm_epsilon']:g}; exact GELU; pre-LN"]
    if fields.number(backbone, "attention_dropout", file, 0.0, 0.0, 1.0) != config["dropout"]:
        notes.append(f"dropout {config['dropout']:g} (dropout_rate) everywhere: zoo's ViT has "
                     "one rate; attention_dropout applies in training only")
    task = None
    if source.architecture == "ViTImageClassifier":
        task = _json(folder / "task.json").get("config", {})
        _check_keras_hub_task(task, class_token, folder / "task.json")
        config["pooling"] = task.get("pooling", "token")
        config["num_classes"] = fields.integer(task, "num_classes",
                                               f"{source.location}/task.json", minimum=1)
    elif not class_token:
        notes.append("a backbone without a class token: the features are the mean of its "
                     "outputs over the patches (KerasHub's classifier pooling 'gap')")
    config.update(_keras_hub_normalisation(folder, source.location, channels, notes))

    from zoo.checkpoints.readers import keras_weights_h5

    values = _keras_hub_backbone_values(keras_weights_h5(folder / "model.weights.h5"),
                                        config, class_token, f"{folder / 'model.weights.h5'}")
    if task is not None:
        head_arrays = {k: v for k, v in keras_weights_h5(folder / "task.weights.h5").items()
                       if not k.startswith("optimizer/")}
        kernel = [k for k in head_arrays if k.endswith("/vars/0")]
        if len(head_arrays) != 2 or len(kernel) != 1:
            raise ConversionError(f"{folder / 'task.weights.h5'}: expected one Dense layer "
                                  f"(kernel and bias), found {sorted(head_arrays)}.")
        values["head/kernel"] = head_arrays[kernel[0]]
        values["head/bias"] = head_arrays[kernel[0][:-1] + "1"]
    return _build(source, config, values, {}, notes)


def _image_shape(backbone, file):
    """KerasHub's `image_shape` `[height, width, channels]` as three ints.

    Raises:
        ConversionError: not a list of three positive whole numbers (KerasHub allows
            `[None, None, 3]`; zoo's ViT has a fixed image size and position table).
    """
    shape = backbone.get("image_shape")
    if not isinstance(shape, list) or len(shape) != 3:
        raise ConversionError(f"{file}: image_shape is {shape!r}; expected [height, width, "
                              "channels].")
    try:
        return [fields.integer({"image_shape": v}, "image_shape", file, minimum=1)
                for v in shape]
    except ConversionError:
        raise ConversionError(f"{file}: image_shape is {shape!r}; expected three positive "
                              "whole numbers (zoo's ViT has a fixed image size, which its "
                              "position embeddings fix too).") from None


def _json(file):
    if not file.is_file():
        raise ConversionError(f"{file} is missing; download the whole KerasHub preset "
                              "folder (its files go together).")
    try:
        return json.loads(file.read_text("utf-8"))
    except ValueError as e:
        raise ConversionError(f"{file}: not JSON ({e}).") from None


def _check_keras_hub_task(task, class_token, file):
    if task.get("intermediate_dim") is not None:
        raise ConversionError(f"{file}: intermediate_dim={task['intermediate_dim']} (a tanh "
                              "pre-logits layer); zoo's ViT head is one linear layer.")
    if task.get("activation") not in (None, "linear"):
        raise ConversionError(f"{file}: activation={task['activation']!r}; zoo's ViT "
                              "outputs logits (activation None).")
    pooling = task.get("pooling", "token")
    if pooling not in ("token", "gap"):
        raise ConversionError(f"{file}: pooling={pooling!r}; zoo's ViT pools 'token' or 'gap'.")
    if pooling == "gap" and class_token:
        raise ConversionError(f"{file}: pooling='gap' with use_class_token=true averages the "
                              "class token with the patches; zoo's 'gap' ViT has no class "
                              "token.")
    if pooling == "token" and not class_token:
        raise ConversionError(f"{file}: pooling='token' with use_class_token=false reads the "
                              "first patch; zoo's 'token' pooling reads a class token.")


def _keras_hub_normalisation(folder, location, channels, notes) -> dict:
    """The preset's image converter (`preprocessor.json`, else `image_converter.json`)."""
    converter, name = None, None
    if (folder / "preprocessor.json").is_file():
        converter = (_json(folder / "preprocessor.json").get("config", {})
                     .get("image_converter"))
        name = f"{location}/preprocessor.json image_converter"
    elif (folder / "image_converter.json").is_file():
        converter = _json(folder / "image_converter.json")
        name = f"{location}/image_converter.json"
    if not converter:
        notes.append("no image converter in the preset: the model takes the images as the "
                     "backbone took them (no normalisation added)")
        return {}
    cfg = converter.get("config", {})
    mean, std = _affine_to_standardization(cfg, name, channels)
    notes.append(f"images in [0, 1] normalised in the model: mean {mean}, std {std} (the "
                 "image converter's scale and offset on pixels in [0, 255])")
    if cfg.get("image_size"):
        notes.append(f"the image converter resizes to {cfg['image_size']}; the zoo model "
                     "takes images of its image_size: resize before calling it")
    return {"image_mean": mean, "image_std": std}


def _keras_hub_backbone_values(arrays, config, class_token, where) -> dict:
    hidden = config["hidden_dim"]
    values, blocks, left = {}, {}, dict(arrays)

    def take(suffix):
        found = [k for k in left if re.fullmatch(r"layers/[^/]+/" + suffix, k)]
        if len(found) != 1:
            raise ConversionError(f"{where}: expected one array layers/*/{suffix}, found "
                                  f"{found or 'none'}.")
        return left.pop(found[0])

    values["patch_embedding/kernel"] = take("patch_embedding/vars/0")
    values["patch_embedding/bias"] = take("patch_embedding/vars/1")
    values["position_embedding/embeddings"] = take("position_embedding/vars/0")
    if class_token:
        values["class_token/token"] = take("vars/0")
    values["final_norm/gamma"] = take("layer_norm/vars/0")
    values["final_norm/beta"] = take("layer_norm/vars/1")
    for name in list(left):
        match = _KH_BLOCK.match(name)
        if match:
            blocks.setdefault(match["block"], {})[match["rest"]] = left.pop(name)
    if left:
        raise ConversionError(f"{where}: arrays with no place in zoo's ViT: {sorted(left)}.")
    # Keras names the blocks vi_t_encoder_block, vi_t_encoder_block_1, ... in order.
    order = sorted(blocks, key=lambda n: int(re.search(r"_(\d+)$", n)[1])
                   if re.search(r"_(\d+)$", n) else 0)
    if len(order) != config["num_layers"]:
        raise ConversionError(f"{where}: {len(order)} encoder blocks, the config says "
                              f"num_layers={config['num_layers']}.")
    for i, block in enumerate(order):
        arrays_of = blocks[block]
        for theirs, (ours, names) in _KH_SUBLAYER.items():
            for index, our_var in enumerate(names):
                key = f"{theirs}/vars/{index}"
                if key not in arrays_of:
                    raise ConversionError(
                        f"{where}: {block}/{key} is missing: the block is not KerasHub's "
                        f"ViT encoder block ({theirs} has {len(names)} arrays there). Convert "
                        "a ViTBackbone preset saved by KerasHub.")
                value = arrays_of.pop(key)
                if theirs.startswith("mha/") and our_var == "kernel":
                    value = value.reshape(hidden, hidden)  # [in, heads, head_dim] or its mirror
                elif theirs.startswith("mha/"):
                    value = value.reshape(hidden)
                values[_BLOCK.format(i) + f"{ours}/{our_var}"] = value
        if arrays_of:
            raise ConversionError(f"{where}: {block} has arrays zoo's ViT block does not: "
                                  f"{sorted(arrays_of)}.")
    return values


# === timm ===

#: timm's plain ViT architectures (`vision_transformer.py`) and their head counts: the one
#: shape fact the weights do not hold. Other `vit_*` names set what the weights do not show
#: either (quick or tanh GELU, layer-norm epsilon 1e-5, SwiGLU, ...) and are refused.
TIMM_HEADS = {
    "vit_tiny_patch16_224": 3, "vit_tiny_patch16_384": 3,
    "vit_small_patch32_224": 6, "vit_small_patch32_384": 6, "vit_small_patch16_224": 6,
    "vit_small_patch16_384": 6, "vit_small_patch8_224": 6,
    "vit_base_patch32_224": 12, "vit_base_patch32_384": 12, "vit_base_patch16_224": 12,
    "vit_base_patch16_384": 12, "vit_base_patch8_224": 12,
    "vit_large_patch32_224": 16, "vit_large_patch32_384": 16, "vit_large_patch16_224": 16,
    "vit_large_patch16_384": 16, "vit_large_patch14_224": 16,
    "vit_huge_patch14_224": 16, "vit_giant_patch14_224": 16, "vit_gigantic_patch14_224": 16,
    "vit_medium_patch16_gap_240": 8, "vit_medium_patch16_gap_256": 8,
    "vit_medium_patch16_gap_384": 8, "vit_base_patch16_gap_224": 16,
    "vit_huge_patch14_gap_224": 16, "vit_huge_patch16_gap_448": 16,
    "vit_giant_patch16_gap_224": 16,
}
#: `model_args` that only change what zoo reads from the weights and config anyway.
_TIMM_ARGS = {"img_size", "patch_size", "in_chans", "num_classes", "global_pool", "embed_dim",
              "depth", "num_heads", "mlp_ratio", "qkv_bias", "class_token", "fc_norm",
              "drop_rate", "pos_drop_rate", "proj_drop_rate", "attn_drop_rate",
              "drop_path_rate", "patch_drop_rate", "weight_init", "dynamic_img_size",
              "dynamic_img_pad", "no_embed_class", "reg_tokens", "qk_norm", "init_values",
              "pre_norm", "final_norm"}


def load_timm(source, head=None) -> Converted:
    """timm ViT weights (`config.json` + `model.safetensors`, timm's hub layout) -> zoo
    `ViTClassifier`, without importing timm.

    Reads the architecture name (one of `TIMM_HEADS`' plain ViTs; `model_args` may override
    its sizes), `global_pool` ("token": the class token; "avg": the mean of the patches,
    which zoo computes after the final norm, i.e. timm's `fc_norm=False`), `num_classes`, and
    `pretrained_cfg`'s `input_size`, `mean`, `std` (the model's `image_mean` /
    `image_std`). timm's fused `blocks.N.attn.qkv` is split into query, key and value.

    Raises:
        ConversionError: naming each timm setting zoo's ViT cannot compute: another
            architecture, `class_token` with "avg" pooling or none with "token",
            `no_embed_class`, `reg_tokens`, `qk_norm`, layer scale (`init_values`),
            `fc_norm`, `pre_norm`, `final_norm=False`, `qkv_bias=False`, pooling other than
            "token" / "avg"; a tensor missing or left over.
    """
    _check_head(source, head)
    where = source.describe()
    cfg = source.config
    file = f"{source.location}/config.json"
    arch = str(cfg.get("architecture", source.architecture)).split(".")[0]
    args = cfg.get("model_args") or {}
    pretrained = cfg.get("pretrained_cfg") or {}
    for field, value in (("model_args", args), ("pretrained_cfg", pretrained)):
        if not isinstance(value, dict):
            raise ConversionError(f"{file}: {field} is {value!r}; expected an object (timm's "
                                  f"{field} of keyword arguments).")
    if arch not in TIMM_HEADS:
        raise ConversionError(
            f"{where}: timm architecture {arch!r} is not one of the plain ViTs zoo converts "
            f"({', '.join(sorted(TIMM_HEADS))}): its variants set activations, norms or "
            "blocks its weights do not show.")
    odd = sorted(set(args) - _TIMM_ARGS)
    if odd:
        raise ConversionError(f"{where}: config.json model_args sets {', '.join(odd)}, which "
                              "zoo's ViT does not represent (it converts timm's defaults).")
    from zoo.checkpoints.readers import safetensors_folder

    tensors = _Tensors(safetensors_folder(source.folder), where)
    pool = cfg.get("global_pool", args.get("global_pool", "token"))
    _check_timm_settings(tensors, pool, where)
    proj = tensors.take("patch_embed.proj.weight")
    hidden, channels, ph, pw = proj.shape
    depth = len({n.split(".")[1] for n in tensors.tensors if n.startswith("blocks.")})
    heads = fields.integer(args, "num_heads", f"{file} model_args", TIMM_HEADS[arch],
                           minimum=1)
    image = _timm_image_size(pretrained, args, file)
    num_classes = (fields.integer(cfg, "num_classes", file, minimum=0) if "num_classes" in cfg
                   else fields.integer(args, "num_classes", f"{file} model_args", 1000,
                                       minimum=0))
    positions = tensors.tensors["pos_embed"].shape[1] if "pos_embed" in tensors else 0
    patches = (image[0] // ph) * (image[1] // pw)
    expected = patches + (1 if pool == "token" else 0)
    if positions != expected:
        raise ConversionError(
            f"{where}: pos_embed holds {positions} positions; zoo's ViT needs {expected} "
            f"({patches} patches of {image[0]}x{image[1]} images{' + class token' if pool == 'token' else ''}"
            "). Position embeddings not over the class token are timm's no_embed_class, "
            "which zoo does not represent; otherwise pretrained_cfg input_size is wrong.")
    config = {
        "image_size": _size(image),
        "patch_size": _size([ph, pw]),
        "num_channels": int(channels),
        "num_classes": num_classes,
        "hidden_dim": int(hidden),
        "num_layers": depth,
        "num_heads": heads,
        "intermediate_dim": int(tensors.tensors["blocks.0.mlp.fc1.weight"].shape[0]),
        "dropout": fields.number(args, "drop_rate", f"{file} model_args", 0.0, 0.0, 1.0),
        "layer_norm_epsilon": 1e-6,
        "pooling": "token" if pool == "token" else "gap",
    }
    notes = ["layer-norm epsilon 1e-6 and exact GELU (timm's ViT defaults)",
             f"global_pool {pool!r} -> zoo pooling {config['pooling']!r}"]
    if pretrained.get("mean") is not None and pretrained.get("std") is not None:
        name = f"{file} pretrained_cfg"
        config["image_mean"] = _per_channel(pretrained, "mean", name, config["num_channels"])
        config["image_std"] = _per_channel(pretrained, "std", name, config["num_channels"])
        if any(s <= 0 for s in config["image_std"]):
            raise ConversionError(f"{name}: std {config['image_std']} is not positive; the "
                                  "model divides by it. Set the checkpoint's deviations.")
        notes.append(f"images in [0, 1] normalised in the model: mean {config['image_mean']}, "
                     f"std {config['image_std']} (pretrained_cfg)")
    values = {"patch_embedding/kernel": _conv(proj),
              "patch_embedding/bias": tensors.take("patch_embed.proj.bias"),
              "position_embedding/embeddings": tensors.take("pos_embed")[0]}
    if pool == "token":
        values["class_token/token"] = tensors.take("cls_token")
    for i in range(depth):
        b, ours = f"blocks.{i}.", _BLOCK.format(i)
        qkv_w, qkv_b = tensors.take(b + "attn.qkv.weight"), tensors.take(b + "attn.qkv.bias")
        for j, name in enumerate(("query", "key", "value")):
            rows = slice(j * hidden, (j + 1) * hidden)
            values[ours + f"self_attention/{name}/kernel"] = _linear(qkv_w[rows])
            values[ours + f"self_attention/{name}/bias"] = qkv_b[rows]
        for theirs, mine in (("attn.proj", "self_attention/attention_output"),
                             ("mlp.fc1", "feed_forward/intermediate"),
                             ("mlp.fc2", "feed_forward/output")):
            values[ours + mine + "/kernel"] = _linear(tensors.take(b + theirs + ".weight"))
            values[ours + mine + "/bias"] = tensors.take(b + theirs + ".bias")
        for theirs, mine in (("norm1", "self_attention_norm"), ("norm2", "feed_forward_norm")):
            values[ours + mine + "/gamma"] = tensors.take(b + theirs + ".weight")
            values[ours + mine + "/beta"] = tensors.take(b + theirs + ".bias")
    values["final_norm/gamma"] = tensors.take("norm.weight")
    values["final_norm/beta"] = tensors.take("norm.bias")
    if num_classes:
        values["head/kernel"] = _linear(tensors.take("head.weight"))
        values["head/bias"] = tensors.take("head.bias")
    if tensors.left():
        raise ConversionError(f"{where}: tensors with no place in zoo's ViT: "
                              f"{', '.join(tensors.left()[:8])}; they belong to a timm "
                              "setting zoo does not compute. Convert a plain vit_* "
                              "checkpoint (timm's defaults for its architecture).")
    extra = {}
    if isinstance(cfg.get("label_names"), list):
        extra["labels"] = [str(n) for n in cfg["label_names"]]
    return _build(source, config, values, {}, notes, extra)


def _timm_image_size(pretrained, args, file) -> list[int]:
    """`[height, width]`: `pretrained_cfg.input_size` `[channels, height, width]`, else
    `model_args.img_size`, else timm's 224.

    Raises:
        ConversionError: either of another form or type.
    """
    if "input_size" not in pretrained:
        return fields.pair(args, "img_size", f"{file} model_args", [224, 224])
    size = pretrained["input_size"]
    if not (isinstance(size, list) and len(size) == 3 and all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
        raise ConversionError(f"{file} pretrained_cfg: input_size is {size!r}; expected "
                              "[channels, height, width], three positive whole numbers.")
    return size[1:]


def _check_timm_settings(tensors, pool, where):
    """Every timm setting the weights show that zoo's ViT does not compute, named at once."""
    names = tensors.tensors
    found = []
    if pool not in ("token", "avg"):
        found.append(f"global_pool={pool!r} (zoo pools 'token' or 'avg')")
    if pool == "token" and "cls_token" not in names:
        found.append("class_token=False with global_pool='token'")
    if pool == "avg" and "cls_token" in names:
        found.append("class_token=True with global_pool='avg' (zoo's average-pooled ViT has "
                     "no class token)")
    if "reg_token" in names:
        found.append(f"reg_tokens={names['reg_token'].shape[1]}")
    if any(".attn.q_norm." in n or ".attn.k_norm." in n for n in names):
        found.append("qk_norm=True")
    if any(".ls1." in n or ".ls2." in n for n in names):
        found.append("init_values (layer scale ls1/ls2)")
    if "fc_norm.weight" in names:
        found.append("fc_norm=True (a norm after pooling; zoo normalises before pooling)")
    if "norm_pre.weight" in names:
        found.append("pre_norm=True (a norm before the blocks)")
    if "norm.weight" not in names and "fc_norm.weight" not in names:
        found.append("final_norm=False")
    if "blocks.0.attn.qkv.weight" in names and "blocks.0.attn.qkv.bias" not in names:
        found.append("qkv_bias=False")
    if any(n.startswith("attn_pool.") for n in names):
        found.append("attention pooling (global_pool='map')")
    if "pos_embed" not in names:
        found.append("no position embedding (pos_embed='none' or rotary)")
    fc1, fc2 = names.get("blocks.0.mlp.fc1.weight"), names.get("blocks.0.mlp.fc2.weight")
    if fc1 is not None and fc2 is not None and fc1.shape[0] != fc2.shape[1]:
        found.append("a gated MLP (mlp_layer SwiGLU)")
    if found:
        raise ConversionError(f"{where}: timm settings zoo's ViT does not represent: "
                              f"{'; '.join(found)}.")


# === Export to Transformers ===

def to_transformers(model, tokenizer=None, labels=None):
    """A zoo ViT in Transformers' layout: `(config, tensors, files)`.

    `config` is `config.json` (`ViTForImageClassification`, or `ViTModel` for a model with
    `num_classes=0`); `tensors` maps Transformers' names to float32 numpy arrays (PyTorch
    layouts: `Linear` `[out, in]`, `Conv2d` `[out, in, kh, kw]`); `files` holds
    `preprocessor_config.json` (a `ViTImageProcessor` rescaling by 1/255 and normalising by
    the model's `image_mean` / `image_std`, none when it has none), so that Transformers'
    processor on pixels in [0, 255] feeds the network what zoo's model computes from images
    in [0, 1]. A `ViTModel` export has no pooler (zoo has none): Transformers initialises
    one at random, and its `pooler_output` is not zoo's; `last_hidden_state[:, 0]` is.
    `tokenizer` is unused (ViT has none). `labels`: a classifier's class names, one per class
    in class order (config.json's `id2label` and `label2id`); None: `LABEL_0` ...

    Raises:
        ConversionError: a model Transformers' ViT cannot represent (pooling "gap"), or
            `labels` for a model without a classifier or of another length than its classes.
    """
    del tokenizer
    if getattr(model, "pooling", None) != "token":
        raise ConversionError(f"{model.name}: pooling={getattr(model, 'pooling', None)!r}; "
                              "Transformers' ViT classifies from the class token (pooling "
                              "'token') only.")
    weights = {w.path: np.asarray(w.numpy(), "float32") for w in model.weights}
    classifier = bool(model.num_classes)
    prefix = "vit." if classifier else ""
    emb = prefix + "embeddings."
    tensors = {
        emb + "patch_embeddings.projection.weight":
            weights["patch_embedding/kernel"].transpose(3, 2, 0, 1),
        emb + "patch_embeddings.projection.bias": weights["patch_embedding/bias"],
        emb + "cls_token": weights["class_token/token"],
        emb + "position_embeddings": weights["position_embedding/embeddings"][None],
        prefix + "layernorm.weight": weights["final_norm/gamma"],
        prefix + "layernorm.bias": weights["final_norm/beta"],
    }
    for i in range(model.num_layers):
        for theirs, ours in _HF_LAYER.items():
            names = _LAYER_NORM if "norm" in ours else _DENSE
            for their_var, our_var in names.items():
                value = weights[_BLOCK.format(i) + f"{ours}/{our_var}"]
                tensors[f"{prefix}encoder.layer.{i}.{theirs}.{their_var}"] = (
                    value.T if our_var == "kernel" else value)
    if classifier:
        tensors["classifier.weight"] = weights["head/kernel"].T
        tensors["classifier.bias"] = weights["head/bias"]
        names = [f"LABEL_{i}" for i in range(model.num_classes)] if labels is None \
            else [str(name) for name in labels]
        if len(names) != model.num_classes or len(set(names)) != len(names):
            raise ConversionError(f"{model.name}: {len(names)} class names "
                                  f"({len(set(names))} distinct) for a classifier of "
                                  f"{model.num_classes} classes; give one distinct name per "
                                  "class, in class order.")
        labels = {str(i): name for i, name in enumerate(names)}
    elif labels:
        raise ConversionError(f"{model.name}: class names {list(labels)[:3]} for a model "
                              "without a classifier (num_classes=0); export it without them.")
    else:
        labels = {}
    tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    image, patch = _pair(model.image_size), _pair(model.patch_size)
    config = {
        "architectures": ["ViTForImageClassification" if classifier else "ViTModel"],
        "model_type": "vit",
        "hidden_size": model.hidden_dim,
        "num_hidden_layers": model.num_layers,
        "num_attention_heads": model.num_heads,
        "intermediate_size": model.intermediate_dim,
        "hidden_act": "gelu",
        "hidden_dropout_prob": model.dropout,
        "attention_probs_dropout_prob": model.dropout,
        "initializer_range": 0.02,
        "layer_norm_eps": model.layer_norm_epsilon,
        "image_size": image[0] if image[0] == image[1] else image,
        "patch_size": patch[0] if patch[0] == patch[1] else patch,
        "num_channels": model.num_channels,
        "qkv_bias": True,
        "encoder_stride": patch[0],
        "dtype": "float32",
    }
    if classifier:
        config["id2label"] = labels
        config["label2id"] = {v: int(k) for k, v in labels.items()}
    normalize = model.image_mean is not None
    processor = {
        "image_processor_type": "ViTImageProcessor",
        "do_resize": True,
        "size": {"height": image[0], "width": image[1]},
        "resample": 2,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": normalize,
        "image_mean": list(model.image_mean) if normalize else [0.0] * model.num_channels,
        "image_std": list(model.image_std) if normalize else [1.0] * model.num_channels,
    }
    files = {"preprocessor_config.json": json.dumps(processor, indent=2) + "\n"}
    return config, tensors, files
