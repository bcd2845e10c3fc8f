"""Parsers for the datasets' original file formats.

Each parser refuses malformed input with a `DataFormatError` naming the file, the line (for
text files) and the format expected, instead of returning silently wrong data.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import random
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np

from zoo import textio
from zoo.datasets.errors import DataFormatError, DatasetError
from zoo.registry import did_you_mean, did_you_mean_path

_GZIP_MAGIC = b"\x1f\x8b"
IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049
TREC_COARSE = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")
SPA_ENG_MEMBER = "spa-eng/spa.txt"
SPA_ENG_SIZES = {"train": 83_276, "val": 17_844, "test": 17_844}
#: The image files an image folder holds (what Pillow reads); any other file in a class folder
#: is refused, except hidden ones (a name starting with ".") and `SKIPPED_FILES`.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
#: Files an operating system leaves in folders, skipped in an image folder.
SKIPPED_FILES = ("thumbs.db", "desktop.ini")


def _missing(path, what: str) -> str:
    """The message for a `what` ("file" or "folder") that is not there: the path, and the
    closest names in its folder (a typo); or that the path is the other one (a folder given
    for a file)."""
    path = Path(path)
    if path.exists():
        other = "folder" if path.is_dir() else "file"
        return f"{path} is a {other}; expected a {what} here"
    hint = did_you_mean_path(path)
    return f"No such {what}: {path}{'. ' + hint if hint else ''}"


def _read_bytes(path) -> bytes:
    """The file's bytes, gunzipped when it starts with the gzip magic number."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise DatasetError(_missing(path, "file")) from None
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as error:
            raise DataFormatError(
                path, None, "a complete gzip file", f"a truncated or corrupt gzip ({error})"
            ) from None
    return data


def _decode(path, data: bytes, encoding: str) -> str:
    """`data` as text; UTF-8 (the default everywhere) drops a leading byte-order mark, which
    would otherwise stay glued to the first sentence (`zoo.textio.codec`)."""
    try:
        codec = textio.codec(encoding)
    except LookupError:
        raise DatasetError(f"{path}: unknown text encoding {encoding!r}.") from None
    if codec == "utf-8-sig":
        codec, data = "utf-8", data.removeprefix(codecs.BOM_UTF8)  # same lines, same offsets
    try:
        return data.decode(codec)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataFormatError(
            path, line, f"text encoded as {encoding}",
            f"undecodable byte(s) {data[error.start:error.end]!r} ({_encoding_hint(data)})",
        ) from None


def _encoding_hint(data: bytes) -> str:
    """What to do about a file that is not in the encoding it was read in: name its encoding
    (a [files] table's `encoding`), or save it as UTF-8."""
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return 'it starts with a UTF-16 byte-order mark: set encoding = "utf-16", or save it ' \
               "as UTF-8"
    return ('a file saved in another encoding: name it with encoding, e.g. encoding = '
            '"cp1252" for one saved by Windows, or save it as UTF-8')


def _split_lines(text: str) -> list[str]:
    """Split on "\\n" only (not on the Unicode separators `str.splitlines` honours)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


# --------------------------------------------------------------------------- IDX (MNIST)


def read_idx(path) -> np.ndarray:
    """Read an IDX file (plain or gzip): uint8 [count, rows, cols] images or [count] labels."""
    data = _read_bytes(path)
    if len(data) < 8:
        raise DataFormatError(path, None, "an IDX header of at least 8 bytes", f"{len(data)} bytes")
    magic, count = int.from_bytes(data[0:4], "big"), int.from_bytes(data[4:8], "big")
    if magic == IDX_IMAGES_MAGIC:
        if len(data) < 16:
            raise DataFormatError(
                path, None, "a 16-byte IDX image header", f"{len(data)} bytes"
            )
        rows, cols = int.from_bytes(data[8:12], "big"), int.from_bytes(data[12:16], "big")
        shape, offset = (count, rows, cols), 16
        what = f"{count} images of {rows}x{cols}"
    elif magic == IDX_LABELS_MAGIC:
        shape, offset = (count,), 8
        what = f"{count} labels"
    else:
        raise DataFormatError(
            path, None,
            f"IDX magic number {IDX_IMAGES_MAGIC} (images) or {IDX_LABELS_MAGIC} (labels)",
            magic,
        )
    size = int(np.prod(shape))
    if len(data) - offset != size:
        raise DataFormatError(
            path, None,
            f"{size:,} bytes of data after the {offset}-byte header ({what}, from the header)",
            f"{len(data) - offset:,}",
        )
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape).copy()


# --------------------------------------------------------------------------- text


def _column_index(path, header: list[str] | None, column, role: str) -> int:
    if isinstance(column, int):
        return column
    if header is None:
        raise ValueError(f"With header=False the {role} column must be an int index, got {column!r}.")
    if column not in header:
        hint = did_you_mean(column, header)
        raise DataFormatError(
            path, 1, f"a header naming the {role} column {column!r}", f"columns {header} ("
            + (hint if hint else "a file without a header line: set header = false, and "
               "text_column and label_column to column numbers, 0 for the first") + ")")
    return header.index(column)


def read_labeled_text(
    path,
    text_column,
    label_column,
    delimiter: str = "\t",
    header: bool = True,
    encoding: str = "utf-8",
    labels=None,
    quoting: int | None = None,
) -> tuple[list[str], list[str] | None]:
    """Read texts and labels from a TSV/CSV file (plain or gzip).

    Columns are names when `header` is True (ints are accepted too), else int indices.
    `label_column=None` reads texts only and returns None for the labels. `quoting` defaults
    to `csv.QUOTE_NONE` for tab-separated files (SST-2 has no quoting) and to
    `csv.QUOTE_MINIMAL` otherwise. Blank lines are skipped.
    """
    text = _decode(path, _read_bytes(path), encoding)
    if quoting is None:
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    allowed = None if labels is None else [str(label) for label in labels]
    separator = "tab" if delimiter == "\t" else repr(delimiter)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    names = None
    width = None
    texts: list[str] = []
    targets: list[str] = []
    try:
        for row in reader:
            if not row or row == [""]:
                continue
            line = reader.line_num
            if header and names is None:
                names, width = row, len(row)
                text_index = _column_index(path, names, text_column, "text")
                label_index = (
                    None if label_column is None
                    else _column_index(path, names, label_column, "label")
                )
                continue
            if width is None:
                width = len(row)
                text_index = _column_index(path, None, text_column, "text")
                label_index = (
                    None if label_column is None
                    else _column_index(path, None, label_column, "label")
                )
                needed = max(text_index, -1 if label_index is None else label_index) + 1
                if width < needed:
                    raise DataFormatError(
                        path, line, f"at least {needed} {separator}-separated fields", len(row)
                    )
            if len(row) != width:
                raise DataFormatError(
                    path, line, f"{width} {separator}-separated fields", len(row)
                )
            sentence = row[text_index]
            if not sentence.strip():
                raise DataFormatError(path, line, f"a non-empty text in column {text_column!r}",
                                      "an empty one")
            texts.append(sentence)
            if label_index is not None:
                label = row[label_index].strip()
                if allowed is not None and label not in allowed:
                    raise DataFormatError(
                        path, line, f"a label in {{{', '.join(allowed)}}}", repr(label)
                    )
                targets.append(label)
    except csv.Error as error:
        raise DataFormatError(path, reader.line_num, f"well-formed {separator}-separated fields",
                              str(error)) from None
    if header and names is None:
        raise DataFormatError(path, 1, "a header line", "an empty file")
    return texts, (None if label_column is None else targets)


_TREC_LINE = re.compile(r"^([A-Z]+):(\S+) (.*\S.*)$")


def read_trec(path) -> tuple[list[str], list[str], list[str]]:
    """Read a TREC question-classification file: ISO-8859-1 lines "COARSE:fine question"."""
    questions, coarse, fine = [], [], []
    for number, line in enumerate(_split_lines(_decode(path, _read_bytes(path), "iso-8859-1")), 1):
        if not line.strip():
            continue
        match = _TREC_LINE.match(line)
        if match is None or match.group(1) not in TREC_COARSE:
            raise DataFormatError(
                path, number,
                f"'COARSE:fine question' with COARSE one of {', '.join(TREC_COARSE)}",
                repr(line[:80]),
            )
        coarse.append(match.group(1))
        fine.append(f"{match.group(1)}:{match.group(2)}")
        questions.append(match.group(3).strip())
    return questions, coarse, fine


def read_text(path, encoding: str = "utf-8") -> str:
    """The whole text of a file (plain or gzip), line breaks and all, each as "\\n": "\\r\\n"
    (Windows) and a lone "\\r" are read as "\\n", as Python's text mode reads them (and
    nanoGPT, which reads its text so), so that a text has one token stream and one score
    whichever system saved it. UTF-8 drops a leading byte-order mark. Undecodable bytes are
    refused with their line.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.txt"
    >>> _ = path.write_bytes(b"to be\\r\\nor not\\r")
    >>> read_text(path)
    'to be\\nor not\\n'
    """
    return _decode(path, _read_bytes(path), encoding).replace("\r\n", "\n").replace("\r", "\n")


def read_lines(path, encoding: str = "utf-8") -> list[str]:
    """Text (plain or gzip; UTF-8 unless `encoding` says), one item a line, without line
    endings."""
    return _split_lines(_decode(path, _read_bytes(path), encoding))


def read_parallel(source_path, target_path, encoding: str = "utf-8") -> tuple[list[str],
                                                                             list[str]]:
    """Line-aligned source and target files (both in `encoding`); both must have the same
    number of non-empty lines."""
    sources, targets = read_lines(source_path, encoding), read_lines(target_path, encoding)
    if len(sources) != len(targets):
        raise DataFormatError(
            source_path, None,
            f"as many lines as {target_path} ({len(targets):,}), line-aligned",
            f"{len(sources):,} lines",
        )
    for number, (source, target) in enumerate(zip(sources, targets), 1):
        for path, side in ((source_path, source), (target_path, target)):
            if not side.strip():
                raise DataFormatError(path, number, "a non-empty sentence", "an empty line")
    return sources, targets


def _pairs_from_tsv(path, text: str, header: bool) -> list[tuple[str, str]]:
    pairs = []
    for number, line in enumerate(_split_lines(text), 1):
        if header and number == 1:
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            raise DataFormatError(
                path, number, "'source<TAB>target' with two non-empty fields", repr(line[:80])
            )
        pairs.append((fields[0], fields[1]))
    return pairs


def read_parallel_tsv(path, header: bool = False,
                      encoding: str = "utf-8") -> tuple[list[str], list[str]]:
    """'source<TAB>target' lines (plain or gzip; UTF-8 unless `encoding` says)."""
    pairs = _pairs_from_tsv(path, _decode(path, _read_bytes(path), encoding), header)
    return [s for s, _ in pairs], [t for _, t in pairs]


def read_spa_eng_zip(path) -> list[tuple[str, str]]:
    """The (English, Spanish) pairs of `spa-eng/spa.txt` inside `spa-eng.zip`, in file order."""
    try:
        with zipfile.ZipFile(path) as zf:
            if SPA_ENG_MEMBER not in zf.namelist():
                raise DataFormatError(path, None, f"a zip with the member {SPA_ENG_MEMBER}",
                                      f"members {zf.namelist()[:10]}")
            data = zf.read(SPA_ENG_MEMBER)
    except (zipfile.BadZipFile, EOFError, zlib.error) as error:
        raise DataFormatError(path, None, "a zip file", f"a corrupt one ({error})") from None
    where = f"{path}:{SPA_ENG_MEMBER}"
    return _pairs_from_tsv(where, _decode(where, data, "utf-8"), header=False)


def spa_eng_split(pairs: list, split: str) -> list:
    """The deterministic spa-eng split: shuffle indices 0..N-1 with `random.Random(42)`,
    slice 70% train / 15% val / 15% test (83,276 / 17,844 / 17,844 of 118,964), and keep
    each split in the original line order."""
    if split not in SPA_ENG_SIZES:
        raise ValueError(f"Unknown spa-eng split {split!r}; splits: {', '.join(SPA_ENG_SIZES)}.")
    n = len(pairs)
    held_out = int(n * 0.15)
    indices = list(range(n))
    random.Random(42).shuffle(indices)
    bounds = {"train": (0, n - 2 * held_out), "val": (n - 2 * held_out, n - held_out),
              "test": (n - held_out, n)}
    start, stop = bounds[split]
    return [pairs[i] for i in sorted(indices[start:stop])]


# --------------------------------------------------------------------------- images


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise DatasetError(
            "Reading PNG/JPEG image folders needs Pillow: pip install pillow "
            "(or give the images as an .npz file with 'images' and 'labels' arrays)."
        ) from None
    return Image


#: How each Pillow image mode becomes pixels (see `read_image_folder`).
_GREY_8BIT = ("1", "L", "LA", "La")
_COLOUR_8BIT = ("P", "PA", "RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LAB", "HSV")
_GREY_16BIT = ("I;16", "I;16B", "I;16L", "I;16N")


def _bad_pixel(file, bad, values, expected):
    """A DataFormatError naming the first pixel (row, column) where `bad` holds."""
    row, col = (int(i) for i in np.argwhere(bad)[0][:2])
    raise DataFormatError(file, None, expected,
                          f"{values[row, col]} at pixel (row {row}, column {col}) "
                          f"({int(bad.any(axis=-1).sum() if bad.ndim == 3 else bad.sum()):,} "
                          "pixel(s) affected)")


def _grey_palette(img) -> bool:
    """Whether a palette image's colours are all grey (red = green = blue): a grey image saved
    as a GIF, read as grey as it was saved."""
    palette = img.getpalette("RGB") or []
    return all(palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette), 3))


def _image_pixels(img, file) -> np.ndarray:
    """One opened image as `[h, w]` (grey) or `[h, w, 3]` (colour) pixels: uint8 for 8-bit
    images, float32 in [0, 1] for 16-bit and floating-point ones. By Pillow mode:

    - "1", "L", "LA", "La", and "P", "PA" of a grey palette (a grey GIF): 8-bit grey (alpha
      dropped); "P", "PA" of colours, "RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LAB",
      "HSV": converted to 8-bit RGB (alpha dropped).
    - "I;16" (and its byte orders), 16-bit grey (a 16-bit PNG): divided by 65535.
    - "I", 32-bit integer grey: values must be in [0, 65535] (a 16-bit image opened as "I")
      and are divided by 65535; others are refused (no scale is known for them).
    - "F", floating-point grey (e.g. a float32 TIFF): values must be finite and in [0, 1],
      used as they are; NaN, infinity or values outside are refused with the pixel.
    - any other mode: refused, naming it.
    """
    mode = img.mode
    if mode in ("P", "PA") and _grey_palette(img):
        return np.asarray(img.convert("L"), dtype=np.uint8)
    if mode in _GREY_8BIT:
        return np.asarray((img.convert("LA") if mode == "La" else img).convert("L"),
                          dtype=np.uint8)
    if mode in _COLOUR_8BIT:
        return np.asarray(img.convert("RGB"), dtype=np.uint8)
    values = np.asarray(img)
    if mode in _GREY_16BIT:
        return values.astype("float32") / 65535.0
    if mode == "I":
        bad = (values < 0) | (values > 65535)
        if bad.any():
            _bad_pixel(file, bad, values, "32-bit integer pixels in 0..65535 (16-bit grey)")
        return values.astype("float32") / 65535.0
    if mode == "F":
        values = values.astype("float32")
        bad = ~np.isfinite(values)
        if bad.any():
            _bad_pixel(file, bad, values, "finite pixel values (no NaN or infinity)")
        bad = (values < 0) | (values > 1)
        if bad.any():
            _bad_pixel(file, bad, values, "floating-point pixels in [0, 1]")
        return values
    raise DataFormatError(file, None, "an image in a grey, colour, 16-bit or float mode "
                          "(Pillow modes " + ", ".join(_GREY_8BIT + _COLOUR_8BIT + _GREY_16BIT)
                          + ", I, F)", f"mode {mode!r}")


def _skipped(path: Path) -> bool:
    """A hidden file or folder, or one an operating system leaves (`SKIPPED_FILES`)."""
    return path.name.startswith(".") or path.name.lower() in SKIPPED_FILES


def _image_files(root: Path, classes: list) -> list:
    """`[(class folder, image file)]` in sorted order. Every other entry of a class folder (a
    text file, a subfolder) and an image outside the class folders are refused, naming it: a
    file that is silently left out changes the examples without a word."""
    shown = ", ".join(IMAGE_SUFFIXES)
    strays = sorted(p for p in root.iterdir()
                    if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not _skipped(p))
    if strays:
        raise DataFormatError(strays[0], None, "images inside one subfolder per class (its "
                              "name is the class)", f"an image outside the class folders; move "
                              f"it into its class's folder ({len(strays):,} such image(s))")
    found = []
    for folder in classes:
        for file in sorted(folder.iterdir()):
            if _skipped(file):
                continue
            if not file.is_file() or file.suffix.lower() not in IMAGE_SUFFIXES:
                raise DataFormatError(
                    file, None, f"only image files ({shown}) in the class folder "
                    f"{folder.name}", f"{'a folder' if file.is_dir() else 'another file'}; "
                    f"move it out of {folder} (hidden files, starting with '.', are skipped)")
            found.append((folder, file))
    return found


def read_image_folder(root) -> tuple[np.ndarray, list[str]]:
    """Images from `root/<class>/*` (`IMAGE_SUFFIXES`: PNG, JPEG, BMP, GIF, TIFF, WebP) as
    [n, h, w, c] and their class names: uint8 when every image is 8-bit, else float32 in
    [0, 1] (8-bit images divided by 255).

    Classes and files are read in sorted order. Grayscale images get one channel, others are
    converted to RGB; all images must share one size and channel count. Another file in a
    class folder, or an image beside them, is refused (hidden files are skipped). How each
    Pillow mode is read (16-bit scaled by 65535, floats kept in [0, 1], NaN/infinity refused
    with the file and pixel, unknown modes refused): see `_image_pixels`.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(_missing(root, "folder"))
    image_module = _pillow()
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not _skipped(p))
    if not classes:
        raise DataFormatError(root, None, "one subfolder per class holding images",
                              "no subfolders")
    images, labels = [], []
    first_shape, first_file = None, None
    for folder, file in _image_files(root, classes):
        try:
            with image_module.open(file) as img:
                img.load()
                array = _image_pixels(img, file)
        except DataFormatError:
            raise
        except Exception as error:  # Pillow raises many types for unreadable images.
            raise DataFormatError(file, None, f"a readable {file.suffix.lstrip('.').upper()} "
                                  "image", f"{type(error).__name__}: {error}") from None
        if array.ndim == 2:
            array = array[:, :, None]
        if first_shape is None:
            first_shape, first_file = array.shape, file
        elif array.shape != first_shape:
            raise DataFormatError(
                file, None,
                f"the size of the other images, {first_shape[0]}x{first_shape[1]}x"
                f"{first_shape[2]} (as {first_file.name})",
                f"{array.shape[0]}x{array.shape[1]}x{array.shape[2]}; save every image at one "
                "size, all grey or all colour",
            )
        images.append(array)
        labels.append(folder.name)
    if not images:
        raise DataFormatError(root, None, "images in the class subfolders", "none")
    if all(image.dtype == np.uint8 for image in images):
        return np.stack(images), labels
    return np.stack([image.astype("float32") / 255.0 if image.dtype == np.uint8 else image
                     for image in images]), labels


def read_npz(path) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels from an .npz file with keys `images`/`x` and `labels`/`y`."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(_missing(path, "file"))
    with open(path, "rb") as f:
        start = f.read(4)
    if start != b"PK\x03\x04":  # an .npz is a zip of .npy arrays
        raise DataFormatError(path, None, "a NumPy .npz file (np.savez: a zip of arrays)",
                              f"a file that starts with {start!r}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = list(npz.keys())
            image_key = next((k for k in ("images", "x") if k in keys), None)
            label_key = next((k for k in ("labels", "y") if k in keys), None)
            if image_key is None or label_key is None:
                raise DataFormatError(path, None, "arrays named 'images' (or 'x') and 'labels' "
                                      "(or 'y')", f"arrays {keys}")
            images, labels = npz[image_key], npz[label_key]
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, zlib.error) as error:
        raise DataFormatError(path, None, "a NumPy .npz file", f"{error}") from None
    if len(images) != len(labels):
        raise DataFormatError(path, None, f"as many labels as images ({len(images):,})",
                              f"{len(labels):,} labels")
    return images, labels
