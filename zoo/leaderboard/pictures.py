"""Pictures for the pages, with no plotting library: SVG plots (scores against size or speed,
training curves) and matrices, PNG image grids.

Every string drawn in an SVG is escaped; numbers are formatted with fixed precision so that
the same records give byte-identical files.

>>> svg = confusion_svg([[3, 1], [0, 4]], ["cat", "<dog>"])
>>> svg.startswith("<svg") and "&lt;dog&gt;" in svg and "<dog>" not in svg
True
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from dataclasses import dataclass
from html import escape


def _f(x: float) -> str:
    return f"{x:.1f}"


#: The font of every picture: a sans-serif the reader's system has.
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'


@dataclass(frozen=True)
class _Frame:
    """The plotting box of a `width` x `height` picture: margins around it (`left` for the
    y ticks and label, `bottom` for the x ticks and label) and the data ranges it spans
    (`x0`..`x1` in the x axis' own units, e.g. powers of ten; `y0`..`y1`)."""

    width: int
    height: int
    x0: float
    x1: float
    y0: float
    y1: float
    left: int = 80
    right: int = 14
    top: int = 14
    bottom: int = 50

    def x(self, value: float) -> float:
        return self.left + (value - self.x0) / (self.x1 - self.x0) * (
            self.width - self.left - self.right)

    def y(self, value: float) -> float:
        return self.top + (self.y1 - value) / (self.y1 - self.y0) * (
            self.height - self.top - self.bottom)


def _padded(values) -> tuple[float, float]:
    """A y range around `values` with 8% room above and below (a flat line gets some)."""
    y0, y1 = min(values), max(values)
    pad = (y1 - y0) * 0.08 or abs(y1) * 0.05 or 1.0
    return y0 - pad, y1 + pad


def _no_data(width, y_label) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="{width}" '
            f'height="60" viewBox="0 0 {width} 60" {FONT} role="img" '
            f'aria-label="{escape(y_label)}: no data"><text x="8" y="30" font-size="13">'
            'No data to plot</text></svg>')


def _axes(frame: _Frame, x_ticks, x_label, y_label, aria, y_ticks=None) -> list[str]:
    """The opening of a plot: the `<svg>` (labelled `aria` for screen readers), the box, the x
    ticks (`[(x in the axis' units, text)]`), the y ticks (values; None: five evenly spaced
    over the range), and both axis labels (classes `x-label` and `y-label`), in 13 px text."""
    f, width, height = frame, frame.width, frame.height
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" {FONT} role="img" '
           f'aria-label="{escape(aria)}">',
           f'<rect x="{f.left}" y="{f.top}" width="{width - f.left - f.right}" '
           f'height="{height - f.top - f.bottom}" fill="none" stroke="#999"/>']
    for value, text in x_ticks:
        x = f.x(value)
        out.append(f'<line x1="{_f(x)}" y1="{height - f.bottom}" x2="{_f(x)}" '
                   f'y2="{height - f.bottom + 5}" stroke="#333"/>')
        out.append(f'<text class="tick" x="{_f(x)}" y="{height - f.bottom + 19}" '
                   f'text-anchor="middle" font-size="13">{escape(text)}</text>')
    if y_ticks is None:
        y_ticks = [f.y0 + (f.y1 - f.y0) * i / 4 for i in range(5)]
    for y in y_ticks:
        out.append(f'<text class="tick" x="{f.left - 6}" y="{_f(f.y(y) + 4)}" '
                   f'text-anchor="end" font-size="13">{y:.4g}</text>')
    out.append(f'<text class="x-label" x="{(f.left + width - f.right) / 2:.1f}" '
               f'y="{height - 8}" text-anchor="middle" font-size="13">{escape(x_label)}</text>')
    middle = (f.top + height - f.bottom) / 2
    out.append(f'<text class="y-label" x="15" y="{middle:.1f}" text-anchor="middle" '
               f'font-size="13" transform="rotate(-90 15 {middle:.1f})">{escape(y_label)}</text>')
    return out


def scatter_svg(points, x_label, y_label, higher_is_better=True, width=400, height=300):
    """Main metric (with interval bars) against a positive x (log scale); Pareto front marked.

    The picture is `width` px wide and its text 13 px, so that shrunk to a 358 px phone column
    the text stays at least 11 px. Both axes carry a label (`x_label`, `y_label`: the quantity
    and its unit); each point is marked with its `key` (the rank in the board's table) and has
    a tooltip and, with `href`, a link to its entry page.

    Args:
        points: dicts with `x`, `y`, `low`, `high`, `label`, `href` and optional `key`.
    """
    points = [p for p in points if p["x"] and p["x"] > 0]
    if not points:
        return _no_data(width, y_label)
    xs = [math.log10(p["x"]) for p in points]
    x0, x1 = math.floor(min(xs)), math.ceil(max(xs))
    if x1 == x0:
        x1 += 1
    frame = _Frame(width, height, x0, x1,
                   *_padded([v for p in points for v in (p["low"], p["high"], p["y"])]))
    left, right = frame.left, frame.right

    def sx(x):
        return frame.x(math.log10(x))

    sy = frame.y
    front = pareto_front(points, higher_is_better)
    out = _axes(frame, [(e, _power(e)) for e in range(x0, x1 + 1)],
                f"{x_label} (log scale)", y_label, f"{y_label} against {x_label}")
    if len(front) > 1:
        path = " ".join(f"{_f(sx(p['x']))},{_f(sy(p['y']))}" for p in front)
        out.append(f'<polyline points="{path}" fill="none" stroke="#d95f02" '
                   'stroke-dasharray="4 3"/>')
    for p in points:
        x, y = sx(p["x"]), sy(p["y"])
        on_front = p in front
        key = p.get("key")
        title = escape(f"{'' if key is None else f'#{key} '}{p['label']}: {p['y']:.4g} "
                       f"[{p['low']:.4g}, {p['high']:.4g}], {x_label} {p['x']:,.4g}"
                       f"{' (Pareto front)' if on_front else ''}")
        out.append(f'<line x1="{_f(x)}" y1="{_f(sy(p["low"]))}" x2="{_f(x)}" '
                   f'y2="{_f(sy(p["high"]))}" stroke="#1b5e9e"/>')
        colour = "#d95f02" if on_front else "#1b5e9e"
        mark = (f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{5 if on_front else 4}" fill="{colour}">'
                f'<title>{title}</title></circle>')
        if key is not None:  # the key beside the point, on the side with more room
            anchor, dx = ("end", -8) if x > (left + width - right) / 2 else ("start", 8)
            mark += (f'<text class="key" x="{_f(x + dx)}" y="{_f(y - 6)}" text-anchor="{anchor}" '
                     f'font-size="13" font-weight="bold" fill="{colour}">{escape(str(key))}'
                     f'<title>{title}</title></text>')
        if p.get("href"):
            mark = f'<a href="{escape(p["href"])}">{mark}</a>'
        out.append(mark)
    out.append("</svg>")
    return "\n".join(out)


#: The colours and dash patterns of a line plot's series, in order (told apart without colour).
LINES = (("#1b5e9e", ""), ("#d95f02", ' stroke-dasharray="6 3"'),
         ("#1b9e77", ' stroke-dasharray="2 2"'), ("#7570b3", ' stroke-dasharray="8 3 2 3"'))


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round values (1, 2 or 5 times a power of ten apart) in [low, high].

    >>> nice_ticks(0, 2000), nice_ticks(1.04, 5.65), nice_ticks(0.0012, 0.0031), nice_ticks(3, 3)
    ([0, 500, 1000, 1500, 2000], [2, 3, 4, 5], [0.0015, 0.002, 0.0025, 0.003], [3])
    """
    if high <= low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = min((m * power for m in (1, 2, 5, 10)), key=lambda step: abs(math.log(step / raw)))
    first = math.ceil(low / step)
    ticks = [k * step for k in range(first, math.floor(high / step) + 1)]
    return [int(t) if float(t).is_integer() else round(t, 12) for t in ticks]


def _count(value: float) -> str:
    """A tick of a count axis: 1,500, 20k, 1.5M."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e4, "k")):
        if abs(value) >= size:
            return f"{value / size:.4g}{suffix}"
    return f"{value:,.4g}"


def line_svg(series, x_label, y_label, width=400, height=300):
    """Lines of y against x (both linear): a training curve's series against the step.

    Sized and lettered as `scatter_svg` (13 px text at 400 px wide: at least 11 px on a 358 px
    phone column), on its axes (`_axes`): x ticks at round counts, both axes labelled. Each
    series has its own colour and dash pattern and, with more than one, a key in the top right
    corner; its tooltip gives its last point.

    Args:
        series: `(label, xs, ys)` triples, xs rising; at most `len(LINES)` are drawn.
    """
    series = [(label, xs, ys) for label, xs, ys in series[:len(LINES)] if xs]
    if not series:
        return _no_data(width, y_label)
    x0 = min(xs[0] for _, xs, _ in series)
    x1 = max(xs[-1] for _, xs, _ in series)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    # Room on the right for half of the last x tick's text ("5,000" is centred on the edge).
    frame = _Frame(width, height, x0, x1, *_padded([y for _, _, ys in series for y in ys]),
                   right=26)
    out = _axes(frame, [(t, _count(t)) for t in nice_ticks(x0, x1, 6)], x_label, y_label,
                f"{y_label} against {x_label}", nice_ticks(frame.y0, frame.y1))
    for k, ((label, xs, ys), (colour, dash)) in enumerate(zip(series, LINES)):
        title = escape(f"{label}: {ys[-1]:.4g} at {x_label} {xs[-1]:,}")
        if len(xs) == 1:
            out.append(f'<circle cx="{_f(frame.x(xs[0]))}" cy="{_f(frame.y(ys[0]))}" r="3" '
                       f'fill="{colour}"><title>{title}</title></circle>')
        else:
            path = " ".join(f"{_f(frame.x(x))},{_f(frame.y(y))}" for x, y in zip(xs, ys))
            out.append(f'<polyline class="series" points="{path}" fill="none" '
                       f'stroke="{colour}" stroke-width="2"{dash}><title>{title}</title>'
                       "</polyline>")
        if len(series) > 1:  # a key: a stroke of the line, then its label
            y = frame.top + 16 + 18 * k
            right = width - frame.right - 8
            out.append(f'<line x1="{right - 24}" y1="{y - 4}" x2="{right}" y2="{y - 4}" '
                       f'stroke="{colour}" stroke-width="2"{dash}/>')
            out.append(f'<text class="key" x="{right - 30}" y="{y}" text-anchor="end" '
                       f'font-size="13" fill="{colour}">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _power(e: int) -> str:
    return {0: "1", 1: "10", 2: "100", 3: "1k", 4: "10k", 5: "100k", 6: "1M", 7: "10M",
            8: "100M", 9: "1G"}.get(e, f"1e{e}")


def pareto_front(points, higher_is_better=True):
    """Points no other point beats on both axes (smaller x, better y), sorted by x."""
    sign = 1 if higher_is_better else -1
    front, best = [], -math.inf
    for p in sorted(points, key=lambda p: (p["x"], -sign * p["y"])):
        if sign * p["y"] > best:
            front.append(p)
            best = sign * p["y"]
    return front


def confusion_svg(matrix, labels, cell=None):
    """A confusion matrix as a heat map: rows true, columns predicted, counts in the cells.

    Meant to be shown at its own size (its text is 12-13 px), scrolling in a box if wider."""
    n = len(labels)
    cell = cell or (36 if n <= 10 else 24)
    margin = 110
    size = margin + n * cell + 10
    peak = max((max(row) for row in matrix), default=0) or 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
           f'viewBox="0 0 {size} {size}" class="matrix" {FONT} role="img" '
           'aria-label="Confusion matrix">',
           f'<text x="{margin + n * cell / 2:.1f}" y="12" text-anchor="middle" '
           'font-size="13" class="x-label">predicted (columns)</text>',
           f'<text x="12" y="{margin + n * cell / 2:.1f}" text-anchor="middle" font-size="13" '
           f'class="y-label" transform="rotate(-90 12 {margin + n * cell / 2:.1f})">true (rows)</text>']
    for j, label in enumerate(labels):
        x = margin + j * cell + cell / 2
        out.append(f'<text x="{x:.1f}" y="{margin - 6}" font-size="12" text-anchor="start" '
                   f'transform="rotate(-60 {x:.1f} {margin - 6})">{escape(str(label))}</text>')
    for i, row in enumerate(matrix):
        y = margin + i * cell
        out.append(f'<text x="{margin - 6}" y="{y + cell / 2 + 4:.1f}" font-size="12" '
                   f'text-anchor="end">{escape(str(labels[i]))}</text>')
        for j, count in enumerate(row):
            shade = count / peak
            fill = f"rgb({int(255 - 200 * shade)},{int(255 - 150 * shade)},255)"
            out.append(f'<rect x="{margin + j * cell}" y="{y}" width="{cell}" height="{cell}" '
                       f'fill="{fill}" stroke="#fff"><title>true {escape(str(labels[i]))}, '
                       f'predicted {escape(str(labels[j]))}: {count}</title></rect>')
            if count:
                colour = "#fff" if shade > 0.6 else "#000"
                out.append(f'<text x="{margin + j * cell + cell / 2:.1f}" '
                           f'y="{y + cell / 2 + 4:.1f}" font-size="12" text-anchor="middle" '
                           f'fill="{colour}">{count}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _rgb(pixels) -> bool:
    """Whether an image's pixels are [red, green, blue] triples (else grey values)."""
    return isinstance(pixels[0][0], list | tuple)


def png(pixels) -> bytes:
    """An 8-bit PNG from rows of pixels: grey values 0..255 (grayscale), or [red, green, blue]
    triples (RGB)."""
    height, width = len(pixels), len(pixels[0])
    rgb = _rgb(pixels)
    raw = b"".join(b"\x00" + bytes(int(v) for pixel in row for v in (pixel if rgb else (pixel,)))
                   for row in pixels)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2 if rgb else 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def grid_png(images, columns=8, gap=2):
    """Images (lists of pixel rows, one size) tiled into one PNG, on a white background."""
    if not images:
        return None
    h, w = len(images[0]), len(images[0][0])
    rows = math.ceil(len(images) / columns)
    width, height = columns * (w + gap) - gap, rows * (h + gap) - gap
    white = [255, 255, 255] if _rgb(images[0]) else 255
    canvas = [[white] * width for _ in range(height)]
    for k, image in enumerate(images):
        top, left = (k // columns) * (h + gap), (k % columns) * (w + gap)
        for r in range(h):
            canvas[top + r][left:left + w] = image[r]
    return png(canvas)


def data_uri(png_bytes: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode("ascii")
