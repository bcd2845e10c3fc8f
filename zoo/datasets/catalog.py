"""The named datasets and the user's own files, loaded as `Examples`.

Every dataset comes in its original published format (see `formats`), from a folder the user
names, the cache, or a verified download (see `sources`). Two are embedded and never need a
download: scikit-learn's `digits`, and the Tatoeba samples shipped in `zoo/data/samples/`.

>>> from zoo import datasets
>>> test = datasets.load("digits", "test")
>>> len(test), test.inputs.shape[1:], test.label_names[:3]
(360, (8, 8, 1), ('0', '1', '2'))
>>> pairs = datasets.load("tatoeba-en-es-sample", "test")
>>> len(pairs), isinstance(pairs.inputs[0], str)
(500, True)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zoo import schema
from zoo.datasets import formats
from zoo.datasets.errors import DataFormatError, DatasetError
from zoo.datasets.sources import RemoteFile, fetch, sha256_of
from zoo.registry import Registry, did_you_mean


@dataclass(frozen=True)
class Examples:
    """One split of a dataset, in memory.

    Attributes:
        inputs: float32 images `[n, height, width, channels]` in [0, 1], or a list of strings.
        targets: int class indices into `label_names` (a NumPy array), or a list of reference
            strings (translation), or None.
        label_names: the class names, in index order, or None.
        files: `(relative path, sha256)` of every file the examples were read from.
        description: where the examples come from, in words.
    """

    inputs: object
    targets: object
    label_names: tuple | None = None
    files: list = field(default_factory=list)
    description: str = ""

    def __len__(self) -> int:
        return len(self.inputs)

    def take(self, n: int) -> Examples:
        """The first `n` examples."""
        targets = None if self.targets is None else self.targets[:n]
        return dataclasses.replace(self, inputs=self.inputs[:n], targets=targets)

    def sha256(self) -> str:
        """sha256 of exactly these examples: their inputs, targets and class names (not the
        files they came from), so that a corrected file, even of the same size, is new data."""
        digest = hashlib.sha256()
        for part in (self.inputs, self.targets):
            if isinstance(part, np.ndarray) and part.dtype != object:
                digest.update(f"{part.dtype.str}{part.shape}\0".encode())
                digest.update(np.ascontiguousarray(part).tobytes())
            else:
                digest.update(b"none\0" if part is None else f"list {len(part)}\0".encode())
                for item in part if part is not None else ():
                    data = str(item).encode("utf-8", "surrogatepass")
                    digest.update(len(data).to_bytes(8, "little") + data)
        digest.update(json.dumps(self.label_names).encode())
        return digest.hexdigest()

    def digests(self) -> np.ndarray:
        """One uint64 per example, `[n]`: the first 8 bytes of the sha256 of its input and
        target (a class by its name, so that two files numbering their classes differently
        still agree). Equal examples have equal digests wherever they were read from (a PNG
        folder or an .npz of the same pixels, a TSV or a CSV of the same text and label);
        the harness compares a benchmark's with a model's training examples by them."""
        names = self.label_names
        out = np.empty(len(self), np.uint64)
        for i in range(len(self)):
            digest = hashlib.sha256(_item_bytes(self.inputs[i]))
            if self.targets is not None:
                target = self.targets[i]
                if names is not None and isinstance(target, int | np.integer):
                    target = names[int(target)]
                digest.update(b"\0target\0" + _item_bytes(target))
            out[i] = int.from_bytes(digest.digest()[:8], "little")
        return out


def _item_bytes(item) -> bytes:
    """One input or target as bytes that only an equal value has: a string's UTF-8, an
    image's shape and pixels at 8 bits (`round(x * 255)` of floats in [0, 1], so that an
    image saved to a PNG or an 8-bit .npz is the example it was made from), another array's
    dtype, shape and bytes, anything else its `str`."""
    if isinstance(item, np.ndarray):
        if item.dtype.kind == "f":
            item = np.round(item * 255.0).astype(np.uint8)
        return f"array {item.dtype.str}{item.shape}\0".encode() + np.ascontiguousarray(
            item).tobytes()
    if isinstance(item, bytes):
        return b"bytes\0" + item
    return b"str\0" + str(item).encode("utf-8", "surrogatepass")


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset is. `labels`: a classification dataset's class names, in index order
    (what a model trained on it predicts, class by class), known without reading its files."""

    name: str
    task: str
    splits: tuple
    description: str
    licence: str
    loader: object = field(repr=False)
    labels: tuple | None = None


_DATASETS = Registry("dataset")


def _register(name, task, splits, description, licence, labels=None):
    def wrap(loader):
        _DATASETS.register(name, DatasetInfo(name, task, tuple(splits), description, licence,
                                             loader, labels))
        return loader

    return wrap


def _file(path, url, sha256, member=None):
    return RemoteFile(path, url, sha256, member)


# --- Canonical files and their published sha256 ---------------------------------------------

_MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_MULTI30K_URL = "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/"
_IDX_FILES = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
}
_IDX_URLS = {"mnist": _MNIST_URL, "fashion-mnist": _FASHION_URL}
DIGIT_LABELS = tuple(str(i) for i in range(10))
SST2_LABELS = ("negative", "positive")
LANGID_LABELS = ("en", "es")
FASHION_LABELS = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                  "Sneaker", "Bag", "Ankle boot")
SST2_FILES = {
    "train": _file("sst2/train.tsv", "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip",
                   "48eac26399f8456935f81dd9e3a745c1430adb6c62e233ccfe22db4a0d15d1d1",
                   "SST-2/train.tsv"),
    "dev": _file("sst2/dev.tsv", "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip",
                 "54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0",
                 "SST-2/dev.tsv"),
}
TREC_FILES = {
    "train": _file("trec/train_5500.label", "https://cogcomp.seas.upenn.edu/Data/QA/QC/train_5500.label",
                   "9e4c8bdcaffb96ed61041bd64b564183d52793a8e91d84fc3a8646885f466ec3"),
    "test": _file("trec/TREC_10.label", "https://cogcomp.seas.upenn.edu/Data/QA/QC/TREC_10.label",
                  "033f22c028c2bbba9ca682f68ffe204dc1aa6e1cf35dd6207f2d4ca67f0d0e8e"),
}
_MULTI30K_SHA = {
    "train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "test_2016_flickr.en.gz": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
    "test_2016_flickr.de.gz": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
}
_MULTI30K_SPLITS = {"train": "train", "val": "val", "test": "test_2016_flickr"}
SPA_ENG_FILE = _file("spa-eng/spa-eng.zip",
                     "http://storage.googleapis.com/download.tensorflow.org/data/spa-eng.zip",
                     "0c4fd7825d3d872488d38c157f784e035edab4f2ff0df25a2a208790ecb5b58f")
TINYSHAKESPEARE_FILE = _file(
    "tinyshakespeare/input.txt",
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
    "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed")
#: The share of Tiny Shakespeare's characters, from the start, that is the training split
#: (nanoGPT's `int(n * 0.9)`); the rest is the validation split.
TINYSHAKESPEARE_TRAIN_SHARE = 0.9


def remote_files(name: str) -> list[RemoteFile]:
    """Every file the named dataset is read from (empty for the embedded ones)."""
    if name in _IDX_FILES:
        return [_file(f"{name}/{f}", _IDX_URLS[name] + f, sha) for f, sha in _IDX_FILES[name].items()]
    if name == "sst2":
        return list(SST2_FILES.values())
    if name == "trec-6":
        return list(TREC_FILES.values())
    if name == "multi30k-en-de":
        return [_file(f"multi30k/{f}", _MULTI30K_URL + f, sha) for f, sha in _MULTI30K_SHA.items()]
    if name == "spa-eng":
        return [SPA_ENG_FILE]
    if name == "tinyshakespeare":
        return [TINYSHAKESPEARE_FILE]
    return []


def _get(file: RemoteFile, data_dir, progress) -> tuple[Path, tuple]:
    return fetch(file, data_dir=data_dir, progress=progress), (file.path, file.sha256)


def _array_sha(*arrays) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


# --- Images ---------------------------------------------------------------------------------


def _images(pixels, source, scale=255.0):
    """float32 images `[n, h, w, c]` in [0, 1] from `pixels` `[n, h, w]` or `[n, h, w, c]`
    divided by `scale`, checked by `_checked_pixels`."""
    images = pixels.astype("float32") / scale
    return _checked_pixels(images[..., None] if images.ndim == 3 else images, source)


def _checked_pixels(images, source):
    """`images` if every value is a finite number in [0, 1]; else a DataFormatError naming
    `source` (the file) and the first bad image's index: a NaN or infinite pixel would be
    scored (its prediction is arbitrary, its confidence NaN) instead of refused."""
    flat = images.reshape(len(images), int(np.prod(images.shape[1:])))
    for bad, expected in ((~np.isfinite(flat), "finite pixel values (no NaN or infinity)"),
                          ((flat < 0) | (flat > 1), "uint8 pixels or floats in [0, 1]")):
        rows = np.flatnonzero(bad.any(axis=1))
        if rows.size:
            i = int(rows[0])
            values = flat[i][bad[i]]
            raise DataFormatError(
                source, None, expected,
                f"{values[0]} in image {i} (index from 0; {rows.size:,} image(s) affected)")
    return images


@_register("digits", "image_classification", ("train", "test"),
           "scikit-learn's 8x8 handwritten digits (1,797 images), a stratified 80/20 split "
           "(random_state=0): 1,437 train / 360 test. Embedded, no download.",
           "CC BY 4.0 (UCI ML repository)", DIGIT_LABELS)
def _digits(split, data_dir, progress):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    parts = train_test_split(data.images, data.target, test_size=0.2, stratify=data.target,
                             random_state=0)
    images, labels = (parts[0], parts[2]) if split == "train" else (parts[1], parts[3])
    return Examples(
        _images(images, "sklearn:load_digits", 16.0), labels.astype("int32"), DIGIT_LABELS,
        [("sklearn:load_digits", _array_sha(data.images, data.target))],
        "scikit-learn load_digits, stratified 80/20 split, random_state=0",
    )


def _idx_loader(name, label_names):
    def load(split, data_dir, progress):
        prefix = "train" if split == "train" else "t10k"
        files = {f.name: f for f in remote_files(name)}
        images_path, images_sha = _get(files[f"{prefix}-images-idx3-ubyte.gz"], data_dir, progress)
        labels_path, labels_sha = _get(files[f"{prefix}-labels-idx1-ubyte.gz"], data_dir, progress)
        images, labels = formats.read_idx(images_path), formats.read_idx(labels_path)
        if images.ndim != 3 or labels.ndim != 1:
            raise DataFormatError(images_path, None, "an IDX image file beside an IDX label file")
        if len(images) != len(labels):
            raise DataFormatError(labels_path, None, f"{len(images):,} labels, one per image in "
                                  f"{images_path.name}", f"{len(labels):,}")
        return Examples(_images(images, images_path), labels.astype("int32"), label_names,
                        [images_sha, labels_sha], f"{name} {split} (IDX)")

    return load


_register("mnist", "image_classification", ("train", "test"),
          "MNIST (LeCun et al., 1998), 28x28 grayscale digits: 60,000 train / 10,000 test.",
          "No licence stated by the authors", DIGIT_LABELS)(_idx_loader("mnist", DIGIT_LABELS))
_register("fashion-mnist", "image_classification", ("train", "test"),
          "Fashion-MNIST (Xiao et al., 2017), 28x28 grayscale clothing: 60,000 train / 10,000 test.",
          "MIT", FASHION_LABELS)(_idx_loader("fashion-mnist", FASHION_LABELS))


# --- Text classification --------------------------------------------------------------------


def _indices(names, labels):
    position = {name: i for i, name in enumerate(names)}
    return np.array([position[label] for label in labels], "int32")


@_register("sst2", "text_classification", ("train", "dev"),
           "GLUE SST-2 binary sentiment (Socher et al., 2013): 67,349 train / 872 dev "
           "(test labels are not public).", "No licence stated for the data", SST2_LABELS)
def _sst2(split, data_dir, progress):
    path, sha = _get(SST2_FILES[split], data_dir, progress)
    texts, labels = formats.read_labeled_text(path, "sentence", "label", labels=["0", "1"])
    return Examples(texts, _indices(["0", "1"], labels), SST2_LABELS, [sha],
                    f"GLUE SST-2 {split}.tsv")


@_register("trec-6", "text_classification", ("train", "test"),
           "TREC question classification (Li and Roth, 2002), 6 coarse classes: 5,452 train / "
           "500 test (TREC-10).", "No licence stated for the data", formats.TREC_COARSE)
def _trec(split, data_dir, progress):
    path, sha = _get(TREC_FILES[split], data_dir, progress)
    questions, coarse, _ = formats.read_trec(path)
    return Examples(questions, _indices(formats.TREC_COARSE, coarse), formats.TREC_COARSE, [sha],
                    f"TREC {Path(TREC_FILES[split].path).name}, coarse labels")


def _sample_pairs(split):
    from zoo.data import samples

    name = "tatoeba_en_es.tsv" if split == "train" else "tatoeba_en_es.test.tsv"
    path = samples.path(name)
    english, spanish = formats.read_parallel_tsv(path, header=True)
    return english, spanish, (f"zoo/data/samples/{name}", sha256_of(path))


@_register("tatoeba-langid-sample", "text_classification", ("train", "test"),
           "Which language, English or Spanish? Both sides of the shipped Tatoeba sample: "
           "8,000 train / 1,000 test sentences. Embedded, no download.", "CC BY 2.0 (Tatoeba)",
           LANGID_LABELS)
def _langid(split, data_dir, progress):
    english, spanish, sha = _sample_pairs(split)
    labels = np.array([0] * len(english) + [1] * len(spanish), "int32")
    return Examples(english + spanish, labels, LANGID_LABELS, [sha],
                    f"shipped Tatoeba sample ({split}), English then Spanish sentences")


# --- Translation ----------------------------------------------------------------------------


@_register("tatoeba-en-es-sample", "translation", ("train", "test"),
           "English to Spanish, the shipped Tatoeba sample: 4,000 train / 500 test pairs drawn "
           "from the spa-eng split. Embedded, no download.", "CC BY 2.0 (Tatoeba)")
def _tatoeba_sample(split, data_dir, progress):
    english, spanish, sha = _sample_pairs(split)
    return Examples(english, spanish, None, [sha], f"shipped Tatoeba en-es sample ({split})")


@_register("multi30k-en-de", "translation", ("train", "val", "test"),
           "Multi30k task 1 (Elliott et al., 2016), English to German, raw text: 29,000 train / "
           "1,014 val / 1,000 test (test_2016_flickr).",
           "Non-commercial research and education only")
def _multi30k(split, data_dir, progress):
    stem = _MULTI30K_SPLITS[split]
    files = {f.name: f for f in remote_files("multi30k-en-de")}
    source, source_sha = _get(files[f"{stem}.en.gz"], data_dir, progress)
    target, target_sha = _get(files[f"{stem}.de.gz"], data_dir, progress)
    english, german = formats.read_parallel(source, target)
    return Examples(english, german, None, [source_sha, target_sha], f"Multi30k {stem} en-de")


@_register("spa-eng", "translation", ("train", "val", "test"),
           "Tatoeba English to Spanish (spa-eng.zip, 118,964 pairs), split with "
           "random.Random(42): 83,276 train / 17,844 val / 17,844 test.", "CC BY 2.0 (Tatoeba)")
def _spa_eng(split, data_dir, progress):
    path, sha = _get(SPA_ENG_FILE, data_dir, progress)
    pairs = formats.spa_eng_split(formats.read_spa_eng_zip(path), split)
    return Examples([e for e, _ in pairs], [s for _, s in pairs], None, [sha],
                    f"spa-eng.zip, {split} split of random.Random(42)")


# --- Language modelling -------------------------------------------------------------------


@_register("tinyshakespeare", "language_modeling", ("train", "val"),
           "Tiny Shakespeare (Karpathy, 2015): 1,115,394 characters of Shakespeare's plays in "
           "one text, split by position as nanoGPT does: the first 90% train (1,003,854 "
           "characters), the last 10% val (111,540).", "Public domain")
def _tinyshakespeare(split, data_dir, progress):
    path, sha = _get(TINYSHAKESPEARE_FILE, data_dir, progress)
    text = formats.read_text(path)
    cut = int(len(text) * TINYSHAKESPEARE_TRAIN_SHARE)
    start, end = (0, cut) if split == "train" else (cut, len(text))
    return Examples([text[start:end]], None, None, [sha],
                    f"Tiny Shakespeare input.txt, {split} split: characters {start:,} to {end:,}")


# --- Public interface -----------------------------------------------------------------------


def list_datasets(pattern: str | None = None) -> list[str]:
    """Names of the datasets `load` knows."""
    return _DATASETS.names(pattern)


def info(name: str) -> DatasetInfo:
    """What a dataset is: task, splits, description, licence."""
    try:
        return _DATASETS.get(name)
    except KeyError as error:
        raise DatasetError(str(error.args[0]) if error.args else str(error)) from None


def load(name: str, split: str, data_dir=None, progress: bool = True) -> Examples:
    """One split of a named dataset.

    Args:
        name: one of `list_datasets()`.
        split: one of the dataset's splits (`info(name).splits`).
        data_dir: a folder holding the dataset's files under their relative paths (e.g.
            `mnist/t10k-images-idx3-ubyte.gz`); default env `ZOO_DATA_DIR`, else the cache,
            filled by download.
        progress: show download progress on stderr.
    """
    dataset = info(name)
    if split not in dataset.splits:
        raise DatasetError(
            f"Dataset '{name}' has no split '{split}'; splits: {', '.join(dataset.splits)}."
        )
    return dataset.loader(split, data_dir, progress)


def _declared_labels(path, labels, found):
    names = tuple(str(label) for label in labels) if labels else tuple(sorted(set(found)))
    return names


def _known_encoding(options):
    import codecs

    if "encoding" in options:
        try:
            codecs.lookup(options["encoding"])
        except LookupError:
            return f"encoding must be a text encoding Python knows (e.g. \"utf-8\"), got " \
                   f"{options['encoding']!r}"
    return None


def _columns_by_index_without_header(options):
    """A file without a header has no column names: both columns are numbers, given (the
    defaults, "text" and "label", are names)."""
    if options.get("header", True) is False:
        named = [k for k in ("text_column", "label_column")
                 if not isinstance(options.get(k, "name"), int)]
        if named:
            return (f"with header = false, {' and '.join(named)} must be column numbers "
                    "(0 for the first), e.g. text_column = 0 and label_column = 1")
    return None


def _one_translation_layout(options):
    single, pair = "path" in options, ("source_path" in options, "target_path" in options)
    if single == any(pair) or (not single and not all(pair)):
        return ("translation files are either path (a source<TAB>target file) or "
                "source_path and target_path (line-aligned files), not both or neither")
    if "header" in options and not single:
        return "header applies to a source<TAB>target file (path) only"
    return None


_F = schema.Field
_KIND = _F(schema.Str())
_PATH = _F(schema.Path(), required=True)
_COLUMN = _F(schema.OneOf(schema.Str(), schema.Int(min=0)))
#: What each kind of the user's own files takes (`load_files`, a benchmark's [files] table).
FILES = schema.Tagged("kind", {
    "text_classification": schema.Table({
        "kind": _KIND, "path": _PATH, "text_column": _COLUMN, "label_column": _COLUMN,
        "delimiter": _F(schema.Str(pattern=r"(?s).", empty=True,
                                   what='one character, e.g. "\\t" or ","')),
        "header": _F(schema.Bool()),
        "encoding": _F(schema.Str()),
    }, rules=(_known_encoding, _columns_by_index_without_header)),
    "translation": schema.Table({
        "kind": _KIND, "path": _F(schema.Path()), "source_path": _F(schema.Path()),
        "target_path": _F(schema.Path()), "header": _F(schema.Bool()),
        "encoding": _F(schema.Str()),
    }, rules=(_one_translation_layout, _known_encoding)),
    "image_folder": schema.Table({"kind": _KIND, "path": _PATH}),
    "npz": schema.Table({"kind": _KIND, "path": _PATH}),
    "text": schema.Table({"kind": _KIND, "path": _PATH, "encoding": _F(schema.Str())},
                         rules=(_known_encoding,)),
}, what="a table with a kind (text_classification, translation, image_folder, npz or text) "
        "and its options")
#: A path of the usual shape for each kind of files, for a starting recipe to edit (`zoo init`).
EXAMPLE_PATHS = {"text_classification": "train.tsv", "translation": "train.tsv",
                 "image_folder": "images/train", "npz": "train.npz", "text": "train.txt"}
#: Each `[files]` kind's data, in words (an error naming what a recipe reads).
FILE_KIND_DESCRIPTIONS = {
    "image_folder": "a folder with a subfolder of images per class",
    "npz": "an .npz of images and labels", "text": "a plain-text file",
    "text_classification": "a TSV or CSV file of texts and labels",
    "translation": "a source<TAB>target TSV file"}


def kind_of_path(path, kinds: tuple) -> str:
    """The kind among `kinds` (a task's `FILE_KINDS`) that the files at `path` look like: a
    folder is an image folder, an `.npz` holds images, else the first of `kinds`."""
    if path is not None:
        looks = ("image_folder" if Path(path).is_dir() else
                 "npz" if str(path).lower().endswith(".npz") else None)
        if looks in kinds:
            return looks
    return kinds[0]


#: A label set as a benchmark or recipe file declares it: class names (numbers become
#: strings), in index order, at least two, each once.
LABELS = schema.List(schema.Converted(schema.OneOf(schema.Str(), schema.Int()), str),
                     min_length=2, unique=True)


def files_rule(d: dict, kinds: tuple, what: str, key: str = "files") -> str | None:
    """The rule a benchmark or recipe file (`what`; its fields `d`) keeps about the user's own
    files: `dataset = "files"` exactly when it has a `[files]` table (`key`), whose kind is
    one its task kind reads (`kinds`: the kind's `FILE_KINDS`). None when kept, else the
    problem in words."""
    if (d.get("dataset") == "files") != (key in d):
        return f'a {what} over your own files sets dataset = "files" and a [{key}] table'
    if key in d and d[key]["kind"] not in kinds:
        if not kinds:
            return f"a {d['task']} {what} cannot read your own files (no file kind holds its data)"
        return (f"{key}.kind '{d[key]['kind']}' cannot hold a {d['task']} {what}; use "
                f"{' or '.join(kinds)}")
    return None


def resolve_paths(files: dict, folder) -> dict:
    """A `[files]` table with each path (a key ending in "path") made absolute, relative to
    `folder` (that of the file holding the table)."""
    return {key: str((Path(folder) / value).resolve()) if key.endswith("path") else value
            for key, value in files.items()}


def load_table(files: dict, labels=None) -> Examples:
    """The examples a `[files]` table (as a benchmark or recipe holds it, `kind` included)
    names: `load_files`."""
    options = dict(files)
    return load_files(options.pop("kind"), labels=labels, **options)


def _nonempty(examples: Examples, path, what: str) -> Examples:
    """`examples` (or any sized collection of them, e.g. an array of images), or a
    DataFormatError when there are none (a header-only TSV, empty files, an empty .npz):
    refused when read, before any model is loaded for them."""
    if len(examples) == 0:
        raise DataFormatError(path, None, f"at least one {what}", "none")
    return examples


def load_files(kind: str, labels=None, **options) -> Examples:
    """Examples from a user's own files, by kind:

    - `text_classification`: `path` to a TSV/CSV, `text_column`, `label_column` (names when
      the file has a header, else column numbers), optional `delimiter` ("\\t"; "," for .csv
      files), `header` (true) and `encoding` ("utf-8"). Labels must be among `labels` when
      given.
    - `translation`: `source_path` and `target_path` (line-aligned files), or `path` to a
      `source<TAB>target` TSV (optional `header`, false); optional `encoding` ("utf-8").
    - `image_folder`: `path` to a folder with one subfolder of images (PNG, JPEG, BMP, GIF, TIFF,
      WebP) per class; any other file in them is refused, hidden ones skipped.
    - `npz`: `path` to an .npz with `images` ([n, h, w] or [n, h, w, c], uint8 or finite
      floats in [0, 1]) and `labels` (ints, or strings among `labels`).
    - `text`: `path` to a plain-text file (optional `encoding`, "utf-8"): one document, its
      whole text (language modelling).

    Options are checked against `FILES` (an unknown or misspelt option, a wrong type: a
    DatasetError naming it). Text files are UTF-8 (a byte-order mark is dropped). Files with
    no example are refused.
    """
    try:
        options = schema.validate({"kind": kind, **options}, FILES, "load_files",
                                  error=DatasetError)
    except DatasetError as error:
        if isinstance(kind, str) and kind not in FILES.variants:
            hint = did_you_mean(kind, FILES.variants)
            raise DatasetError(f"Unknown file kind '{kind}'.{' ' + hint if hint else ''} "
                               f"Choose {', '.join(FILES.variants)}.") from None
        raise error from None
    options.pop("kind")
    if kind == "text_classification":
        path = Path(options.pop("path"))
        delimiter = options.pop("delimiter", "," if path.suffix.lower() == ".csv" else "\t")
        texts, found = formats.read_labeled_text(
            path, options.pop("text_column", "text"), options.pop("label_column", "label"),
            delimiter=delimiter, header=options.pop("header", True), labels=labels, **options)
        names = _declared_labels(path, labels, found)
        return _nonempty(Examples(texts, _indices(names, found), names,
                                  [(str(path), sha256_of(path))],
                                  f"{path.name} (text classification)"), path, "labeled text")
    if kind == "translation":
        encoding = options.pop("encoding", "utf-8")
        if "path" in options:
            path = Path(options.pop("path"))
            sources, targets = formats.read_parallel_tsv(path, header=options.pop("header", False),
                                                         encoding=encoding)
            files = [(str(path), sha256_of(path))]
        else:
            path, target = Path(options.pop("source_path")), Path(options.pop("target_path"))
            sources, targets = formats.read_parallel(path, target, encoding)
            files = [(str(path), sha256_of(path)), (str(target), sha256_of(target))]
        return _nonempty(Examples(sources, targets, None, files, "parallel text (translation)"),
                         path, "sentence pair")
    path = Path(options.pop("path"))
    if kind == "text":
        text = formats.read_text(path, options.pop("encoding", "utf-8"))
        if not text:
            raise DataFormatError(path, None, "at least one character of text", "an empty file")
        return Examples([text], None, None, [(str(path), sha256_of(path))],
                        f"{path.name} (plain text)")
    if kind == "image_folder":
        images, found = formats.read_image_folder(path)
        names = _declared_labels(path, labels, found)
        unknown = sorted(set(found) - set(names))
        if unknown:
            raise DataFormatError(path, None, f"class folders among {', '.join(names)}",
                                  f"folders {', '.join(unknown)}")
        digest = _array_sha(images, np.array(found))
        pixels = _images(images, path) if images.dtype == np.uint8 else _images(images, path, 1.0)
        return Examples(pixels, _indices(names, found), names,
                        [(str(path), digest)], f"image folder {path.name}")
    return _load_npz(path, labels)


def _load_npz(path, labels) -> Examples:
    images, raw = formats.read_npz(path)
    _nonempty(images, path, "image")  # before its shape is judged: an empty array has any
    if images.ndim not in (3, 4):
        raise DataFormatError(path, None, "images of shape [n, h, w] or [n, h, w, c]",
                              f"shape {list(images.shape)}")
    if images.dtype.kind not in "buif":
        raise DataFormatError(path, None, "uint8, boolean or floating-point images",
                              f"dtype {images.dtype}")
    images = _images(images, path) if images.dtype == np.uint8 else _images(images, path, 1.0)
    if raw.dtype.kind in "iu":
        targets = raw.astype("int32")
        names = tuple(str(label) for label in labels) if labels else tuple(
            str(i) for i in range(int(targets.max()) + 1 if len(targets) else 0))
        bad = np.flatnonzero((targets < 0) | (targets >= len(names)))
        if bad.size:
            raise DataFormatError(path, None, f"labels in 0..{len(names) - 1}",
                                  f"{targets[bad[0]]} at index {bad[0]}")
    else:
        found = [str(label) for label in raw]
        names = _declared_labels(path, labels, found)
        unknown = sorted(set(found) - set(names))
        if unknown:
            raise DataFormatError(path, None, f"labels among {', '.join(names)}",
                                  f"{', '.join(unknown[:5])}")
        targets = _indices(names, found)
    return _nonempty(Examples(images, targets, names, [(str(path), sha256_of(path))],
                              f"{path.name} (images)"), path, "image")
