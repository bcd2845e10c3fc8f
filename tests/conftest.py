import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest  # noqa: E402

# Two logical CPU devices, so that MirroredStrategy tests run real all-reduces on one CPU. This
# must happen before TensorFlow initialises, hence here, at collection.
os.environ.setdefault("ZOO_CPU_DEVICES", "2")
from zoo.training.strategies import split_cpu  # noqa: E402

split_cpu(int(os.environ["ZOO_CPU_DEVICES"]))

def _shared_data():
    """The reference datasets (see ../shared/data/README.md): $ZOO_SHARED_DATA, else
    ../shared/data beside the checkout, else /work/shared/data."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.environ.get("ZOO_SHARED_DATA", ""),
                  os.path.join(here, "..", "..", "shared", "data"), "/work/shared/data"]
    for candidate in candidates:
        if candidate and os.path.isdir(candidate):
            return os.path.normpath(candidate)
    return os.path.normpath(candidates[1])


SHARED_DATA = _shared_data()


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts from the same global seed and default dtype policy."""
    import keras

    keras.utils.set_random_seed(1234)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")
