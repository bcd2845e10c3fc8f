"""TF Hub: load any TF Hub model as a Keras 3 layer; export zoo models in TF Hub's formats.

- `zoo.hub.load(handle, ...)` / `zoo.hub.HubLayer`: a SavedModel (local folder, `.tar.gz`,
  TF Hub / Kaggle URL, `gs://`, `zoo:ENTRY/PART`) as a trainable Keras 3 layer.
- `zoo.hub.export.export_entry(entry, dir)` (`zoo export ENTRY DIR`): SavedModels that follow
  TF Hub's common signatures.

>>> from zoo import hub
>>> sorted(hub.export.parts_table()["bert_classifier"])
['classifier', 'encoder', 'preprocessor']
"""

from zoo.hub.resolve import HubError, cache_dir, resolve

__all__ = ["HubError", "HubLayer", "cache_dir", "export", "load", "resolve"]


def __getattr__(name):
    # Keras and TensorFlow load only when a layer or an export is asked for.
    if name in ("HubLayer", "load"):
        from zoo.hub import layer

        return getattr(layer, name)
    if name == "export":
        import importlib

        return importlib.import_module("zoo.hub.export")
    raise AttributeError(f"module 'zoo.hub' has no attribute {name!r}")
