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


class FileServer:
    """A real HTTP server on 127.0.0.1 serving `folder` (as a static site does), counting GET
    requests per path in `hits`; `url` ends in "/"."""

    def __init__(self, folder):
        import http.server
        import threading

        hits = self.hits = {}

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(folder), **kwargs)

            def do_GET(self):  # noqa: N802
                hits[self.path] = hits.get(self.path, 0) + 1
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path):
    """`(root, url, hits)`: tmp_path/www served on 127.0.0.1, GET requests counted per path."""
    root = tmp_path / "www"
    root.mkdir()
    files = FileServer(root)
    yield root, files.url, files.hits
    files.close()


def closed_port_url() -> str:
    """An http:// URL on 127.0.0.1 where nothing listens (offline, as far as a download goes)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/"
