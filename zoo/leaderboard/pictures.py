"""Pictures for the pages, with no plotting library: SVG plots and matrices, PNG image grids.

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
from html import escape


def _f(x: float) -> str:
    return f"{x:.1f}"


#: The font of every picture: a sans-serif the reader's system has.
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'


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
    left, right, top, bottom = 80, 14, 14, 50
    if not points:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="{width}" '
                f'height="60" viewBox="0 0 {width} 60" {FONT} role="img" '
                f'aria-label="{escape(y_label)}: no data"><text x="8" y="30" font-size="13">'
                'No data to plot</text></svg>')
    xs = [math.log10(p["x"]) for p in points]
    x0, x1 = math.floor(min(xs)), math.ceil(max(xs))
    if x1 == x0:
        x1 += 1
    ys = [v for p in points for v in (p["low"], p["high"], p["y"])]
    y0, y1 = min(ys), max(ys)
    pad = (y1 - y0) * 0.08 or abs(y1) * 0.05 or 1.0
    y0, y1 = y0 - pad, y1 + pad

    def sx(x):
        return left + (math.log10(x) - x0) / (x1 - x0) * (width - left - right)

    def sy(y):
        return top + (y1 - y) / (y1 - y0) * (height - top - bottom)

    front = pareto_front(points, higher_is_better)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" {FONT} role="img" '
           f'aria-label="{escape(y_label)} against {escape(x_label)}">',
           f'<rect x="{left}" y="{top}" width="{width - left - right}" '
           f'height="{height - top - bottom}" fill="none" stroke="#999"/>']
    for e in range(x0, x1 + 1):
        x = sx(10 ** e)
        out.append(f'<line x1="{_f(x)}" y1="{height - bottom}" x2="{_f(x)}" '
                   f'y2="{height - bottom + 5}" stroke="#333"/>')
        out.append(f'<text class="tick" x="{_f(x)}" y="{height - bottom + 19}" '
                   f'text-anchor="middle" font-size="13">{escape(_power(e))}</text>')
    for i in range(5):
        y = y0 + (y1 - y0) * i / 4
        out.append(f'<text class="tick" x="{left - 6}" y="{_f(sy(y) + 4)}" text-anchor="end" '
                   f'font-size="13">{y:.4g}</text>')
    out.append(f'<text class="x-label" x="{(left + width - right) / 2:.1f}" y="{height - 8}" '
               f'text-anchor="middle" font-size="13">{escape(x_label)} (log scale)</text>')
    middle = (top + height - bottom) / 2
    out.append(f'<text class="y-label" x="15" y="{middle:.1f}" text-anchor="middle" '
               f'font-size="13" transform="rotate(-90 15 {middle:.1f})">{escape(y_label)}</text>')
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


def png(pixels) -> bytes:
    """An 8-bit grayscale PNG from rows of 0..255 values."""
    height, width = len(pixels), len(pixels[0])
    raw = b"".join(b"\x00" + bytes(int(v) for v in row) for row in pixels)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def grid_png(images, columns=8, gap=2):
    """Images (lists of pixel rows, one size) tiled into one PNG, on a white background."""
    if not images:
        return None
    h, w = len(images[0]), len(images[0][0])
    rows = math.ceil(len(images) / columns)
    width, height = columns * (w + gap) - gap, rows * (h + gap) - gap
    canvas = [[255] * width for _ in range(height)]
    for k, image in enumerate(images):
        top, left = (k // columns) * (h + gap), (k % columns) * (w + gap)
        for r in range(h):
            canvas[top + r][left:left + w] = image[r]
    return png(canvas)


def data_uri(png_bytes: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode("ascii")
