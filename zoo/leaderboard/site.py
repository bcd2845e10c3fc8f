"""`zoo leaderboard build`: a static site from the result records.

Pages: an index of benchmarks; one page per benchmark (definition, ranked table with 95%
intervals and the paired test against the leader, plots against parameters and throughput,
flagged runs apart); one page per run (model card, metrics, the training curve when the record
keeps one, per-class report and confusion matrix, example predictions, provenance,
downloads). Machines get `leaderboard.json` and a CSV
per benchmark. Everything from a record is escaped. The site copies no record and no model
archive: it links each where it lies (`Links`), by a path relative to the site, so a served
tree that holds the site and those files (the repository: `leaderboard/`,
`benchmarks/results/`, `benchmarks/exports/`) serves each file once. The output depends on the
records, the exports and where they lie relative to the site only: the same give
byte-identical files. The build goes to a temporary folder that replaces
the old site only when complete, and only a folder that is a site (it holds the `MARKER` file
each build writes) or is empty, unless forced: never a folder of something else.

>>> from zoo.leaderboard import site
>>> report = site.build("benchmarks/results", getfixture("tmp_path") / "site", warn=lambda m: None)
>>> (getfixture("tmp_path") / "site" / "index.html").is_file()
True
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass
from html import escape
from pathlib import Path
from urllib.parse import quote

from zoo import atomic, records, safety, tasks
from zoo.leaderboard import assets, collect, pictures
from zoo.models import catalog
from zoo.registry import UnknownNameError

FLAG_TEXT = {"dirty tree": "evaluated from a checkout with uncommitted changes",
             "--limit": "evaluated on part of the test set",
             "test data in training": "the model saw this test data in training",
             "tokenizer from test data": "its tokenizer was learned from this test data"}


def _training_source(source: dict) -> str:
    """A training source in a few words: "digits/train", or the user's files by name."""
    if source.get("dataset") == "files":
        names = [Path(str(f[0])).name for f in source.get("files") or () if f]
        return f"files {', '.join(names)}" if names else "files"
    return f"{source.get('dataset')}/{source.get('split')}"


def _seen(found: dict, counts: dict) -> str:
    """The record's `contamination` in words: how many evaluated examples the training data
    held (and how many only the dataset's own other split)."""
    text = f"{found['examples_in_training']:,} of {counts.get('evaluated', 0):,}"
    if found.get("by_name"):
        text += " (its training data names this split)"
    if found.get("examples_in_other_splits"):
        text += (f"; {found['examples_in_other_splits']:,} more that the dataset's own training "
                 "split also holds (not counted against it)")
    return text


def e(value) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return escape("" if value is None else str(value), quote=True)


def breakable(value) -> str:
    """`value` escaped for HTML (`e`), with a line-break opportunity (`<wbr>`) after each
    '.', '_' and '-', so that a long name in a heading wraps between its parts on a phone,
    not mid-word (the stylesheet breaks anywhere only when a part alone is wider than the
    screen).

    >>> breakable("vit_tiny.mnist-<b>")
    'vit_<wbr>tiny.<wbr>mnist-<wbr>&lt;b&gt;'
    """
    return re.sub(r"([._-])", r"\1<wbr>", e(value))


def _num(value, digits=4):
    if value is None:
        return "–"
    if isinstance(value, float) and abs(value) < 2 and value != 0:
        return f"{value:.{digits}f}"
    if isinstance(value, float) and value.is_integer():
        return f"{value:,.0f}"
    return f"{value:,.{2 if isinstance(value, float) else 0}f}"


def _pct(metric):
    return f"{_num(metric['value'])} <span class=ci>[{_num(metric['low'])}, {_num(metric['high'])}]</span>"


def page(title, body, depth=0, description=""):
    up = "../" * depth
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)} · zoo leaderboard</title>
<meta name="description" content="{e(description or title)}">
<link rel="icon" href="{up}favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="{up}style.css">
<script src="{up}sort.js" defer></script>
</head>
<body>
<header><nav><a href="{up}index.html">zoo leaderboard</a> · <a href="{up}leaderboard.json">leaderboard.json</a></nav></header>
<main>
{body}
</main>
<footer>Built by <code>zoo leaderboard build</code> from the result records in <code>benchmarks/results/</code>.</footer>
</body>
</html>
"""


def _entry_href(entry, depth):
    return f"{'../' * depth}entries/{e(entry.run_id)}.html"


@dataclass(frozen=True)
class Links:
    """Where the site lies (`site`) and the exported TF Hub archives it links
    (`exports/<entry>/<part>.tar.gz` beside `model_card.json`, written by
    `scripts/export_entries.py`; None: none). Pages link records, predictions and archives
    where they lie, by paths relative to the page: nothing is copied into the site."""

    site: Path
    exports: Path | None = None

    def href(self, target, depth: int) -> str:
        """The URL of the file `target` from a page `depth` folders below the site's root
        (percent-encoded; escape it for HTML). Paths are taken as given (absolute, links not
        followed): a server follows the same links.

        >>> Links(Path("/r/leaderboard")).href(Path("/r/benchmarks/results/a b.json"), 1)
        '../../benchmarks/results/a%20b.json'
        """
        relative = os.path.relpath(os.path.abspath(target), os.path.abspath(self.site))
        return quote("../" * depth + Path(relative).as_posix())

    def archives(self, entry: str | None) -> list[Path]:
        """The exported archives of `entry`, sorted; none without `exports` or an entry."""
        if not entry or self.exports is None:
            return []
        return sorted((Path(self.exports) / entry).glob("*.tar.gz"))

    def export_weights(self, entry: str) -> str:
        """How the archives of `entry` hold their weights ("float32", "float16" or "int8", as
        their `model_card.json` says)."""
        try:
            card = json.loads((Path(self.exports) / entry / "model_card.json").read_text("utf-8"))
        except (OSError, TypeError, ValueError):
            return "float32"
        return str(card.get("weights", "float32"))


def _command(record):
    model = record["model"]
    parts = []
    if model.get("entry"):
        parts.append(f"zoo train {model['entry']}")
    parts.append(record["provenance"].get("command", ""))
    return " && ".join(p for p in parts if p)


# --- Index ---------------------------------------------------------------------------------


def index_page(boards, newest):
    rows = []
    for board in boards:
        definition = board.benchmark["definition"]
        if board.ranked:
            leader = board.ranked[0]
            lead = (f'<a href="entries/{e(leader.run_id)}.html">{breakable(leader.name)}</a>',
                    _pct(leader.main))
        else:
            lead = ("<em>no full run yet</em>", "–")
        rows.append(
            f'<tr><th scope=row><a href="benchmarks/{e(board.id)}.html">{breakable(board.id)}'
            f"</a></th><td class=num>{lead[1]}</td><td>{lead[0]}</td>"
            f"<td>{e(definition.get('main_metric'))}"
            f"{'' if definition.get('higher_is_better', True) else ' (lower is better)'}</td>"
            f"<td>{breakable(definition.get('task'))}</td>"
            f"<td class=num>{len(board.ranked)}</td><td class=num>{len(board.flagged)}</td></tr>")
    body = f"""<h1>zoo leaderboard</h1>
<p>Newest result: <time>{e(newest or "none")}</time>. Every number below comes from a result
record that carries the model, the data, the settings and the command that made it.</p>
<div class=scroll><table>
<caption>Benchmarks and their leaders</caption>
<thead><tr><th scope=col>benchmark</th><th scope=col class=num>leader's score [95% interval]</th>
<th scope=col>leader</th><th scope=col>main metric</th><th scope=col>task</th>
<th scope=col class=num>ranked</th><th scope=col class=num>flagged</th></tr></thead>
<tbody>
{chr(10).join(rows) if rows else '<tr><td colspan=7>No result records yet.</td></tr>'}
</tbody></table></div>
<h2 id="how-to-read">How to read this</h2>
<ul>
<li><strong>Intervals.</strong> Each score has a 95% percentile-bootstrap interval: the test
set is resampled with replacement (1,000 times, from a fixed seed) and the score recomputed;
the interval holds the middle 95% of those scores. It shows how much the score depends on
which test examples happened to be drawn.</li>
<li><strong>Significance.</strong> Every model on a benchmark is scored on the same resamples,
so two models are compared pairwise: the difference is recomputed on each resample, and a
difference whose 95% interval excludes zero (two-sided p &lt; 0.05) is significant. Rows marked
<span class=tie>≈ leader</span> are not significantly different from the leader.</li>
<li><strong>Ranking.</strong> Only full runs are ranked: evaluated on the whole test set, from a
clean checkout, by a model that did not train on the test data. Other runs are listed under
"Flagged runs" with the reason.</li>
<li><strong>Throughput</strong> is examples per second during evaluation, on the hardware named
beside it; compare it only between rows measured on the same hardware.</li>
</ul>"""
    return page("zoo leaderboard", body, 0, "Benchmarks, leaders and how to read the scores")


# --- Benchmark pages -------------------------------------------------------------------------


def _definition_block(benchmark):
    d = benchmark["definition"]
    items = [("dataset", f"{d.get('dataset')} / {d.get('split')}"),
             ("examples", f"{benchmark['examples'].get('total', 0):,}"),
             ("version", d.get("version")), ("task", d.get("task")),
             ("metrics", ", ".join(d.get("metrics") or [])), ("main metric", d.get("main_metric")),
             ("data sha256", benchmark.get("data_sha256")), ("licence", d.get("licence"))]
    if d.get("labels"):
        items.append(("labels", ", ".join(d["labels"])))
    if d.get("bleu"):
        items.append(("sacrebleu settings", json.dumps(d["bleu"], sort_keys=True)))
    if d.get("decoding"):
        items.append(("decoding", json.dumps(d["decoding"], sort_keys=True)))
    if d.get("samples"):
        items.append(("samples", json.dumps(d["samples"], sort_keys=True, ensure_ascii=False)))
    if d.get("preprocessing"):
        items.append(("preprocessing", json.dumps(d["preprocessing"], sort_keys=True)))
    dl = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in items)
    return f"<p>{e(d.get('description'))}</p>\n<dl class=definition>{dl}</dl>"


def _signature(board):
    for entry in board.ranked + board.flagged:
        sig = entry.record["metrics"].get("bleu", {}).get("signature")
        if sig:
            return f"<p>BLEU signature: <code>{e(sig)}</code></p>"
    return ""


def _sort_attr(value):
    return f' data-sort="{e(value)}"' if value is not None else ""


def _ranked_table(board, metrics, depth):
    """The ranked runs, one line each at 1280 px: the main metric with its interval, the other
    metrics' values (their intervals are on the entry page), and the long hardware, date and
    command folded into a `<details>` per row. The rank and model columns stay in view when
    the table scrolls sideways in its box (a phone)."""
    main = board.benchmark["definition"].get("main_metric")
    others = [m for m in metrics if m != main]
    head = ["#", "model", f"{main} [95% interval]", *others, "vs leader", "parameters",
            "examples/s", "training time", "run"]
    numeric = {"#", f"{main} [95% interval]", *others, "parameters", "examples/s",
               "training time"}
    ths = "".join(
        f'<th scope=col{" class=num" if h in numeric else ""}'
        f'{" data-type=num" if h in numeric else ""}>{e(h.replace("_", " "))}</th>'
        for h in head)  # spaces, not underscores: headers wrap, the rows stay one line
    rows = []
    for rank, entry in enumerate(board.ranked, 1):
        r = entry.record
        cells = [f"<td class=num{_sort_attr(rank)}>{rank}</td>",
                 f'<th scope=row{_sort_attr(entry.name)}><a href="{_entry_href(entry, depth)}">'
                 f"{e(entry.name)}</a></th>",
                 f"<td class=num{_sort_attr(entry.main['value'])}>{_pct(entry.main)}</td>"]
        for m in others:
            metric = r["metrics"].get(m)
            cells.append(f"<td class=num{_sort_attr(metric and metric['value'])}>"
                         f"{_num(metric['value']) if metric else '–'}</td>")
        sig = entry.significance
        if sig is None:
            verdict = "leader"
        elif sig["significant"]:
            # The paired test's delta is the leader's score minus this run's; the row shows
            # this run's difference from the leader (more nats per character: "+").
            verdict = (f'<span title="this run\'s {e(main)} minus the leader\'s">'
                       f"{-sig['delta']:+.4f}</span> (p={sig['p_value']:.3f})")
        else:
            verdict = f'<span class=tie>≈ leader</span> (p={sig["p_value"]:.3f})'
        cells.append(f"<td>{verdict}</td>")
        params = r["model"].get("params")
        speed = r["throughput"].get("examples_per_second")
        seconds = r["model"].get("training_seconds")
        cells += [f"<td class=num{_sort_attr(params)}>{_num(params)}</td>",
                  f"<td class=num{_sort_attr(speed)}>{_num(speed)}</td>",
                  f"<td class=num{_sort_attr(seconds)}>{_duration(seconds)}</td>",
                  f"<td{_sort_attr(r['created'])}><details><summary>{e(r['created'][:10])}"
                  f"</summary><dl><dt>hardware</dt><dd>{e(r['throughput'].get('hardware'))}</dd>"
                  f"<dt>reproduce</dt><dd><code>{e(_command(r))}</code></dd></dl></details></td>"]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (f'<div class=scroll><table class="sortable ranked"><caption>Full runs, ranked by '
            f'{e(main)} (sort by any column: its header is a button; open a run\'s date for its '
            f'hardware and command)</caption><thead><tr>{ths}</tr></thead><tbody>'
            f'{"".join(rows) or "<tr><td colspan=99>No full run yet.</td></tr>"}'
            f"</tbody></table></div>")


def _duration(seconds):
    if not seconds:
        return "–"
    minutes = seconds / 60
    return f"{minutes:,.1f} min" if minutes < 120 else f"{minutes / 60:,.1f} h"


def _flagged_table(board, depth):
    if not board.flagged:
        return ""
    rows = []
    for entry in board.flagged:
        m = entry.main
        reasons = ", ".join(entry.flags) or "older benchmark version or superseded run"
        rows.append(f'<tr><th scope=row><a href="{_entry_href(entry, depth)}">{e(entry.name)}</a></th>'
                    f"<td class=num>{_pct(m)}</td><td class=flag>{e(reasons)}</td>"
                    f"<td>{e(entry.record['benchmark']['examples'].get('evaluated'))}</td>"
                    f"<td>{e(entry.record['created'][:10])}</td></tr>")
    return ("<h2>Flagged runs (not ranked)</h2><div class=scroll><table><thead><tr>"
            "<th scope=col>model</th><th scope=col class=num>score [95% interval]</th>"
            "<th scope=col>why not ranked</th><th scope=col>examples</th><th scope=col>date</th>"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def benchmark_page(board, files):
    d = board.benchmark["definition"]
    metrics = list(d.get("metrics") or [])
    higher = d.get("higher_is_better", True)
    points = [{"x": en.record["model"].get("params"), "y": en.main["value"],
               "low": en.main["low"], "high": en.main["high"], "label": en.name, "key": rank,
               "href": f"../entries/{en.run_id}.html"}
              for rank, en in enumerate(board.ranked, 1)]
    speed_points = [dict(p, x=en.record["throughput"].get("examples_per_second"))
                    for p, en in zip(points, board.ranked)]
    main = d.get("main_metric", "")
    y_label = _axis_label(main, board.ranked[0].main if board.ranked else {})
    params_svg = pictures.scatter_svg(points, "parameters (count)", y_label, higher)
    speed_svg = pictures.scatter_svg(speed_points, "examples per second", y_label, higher)
    files[f"benchmarks/{board.id}-params.svg"] = params_svg.encode()
    files[f"benchmarks/{board.id}-speed.svg"] = speed_svg.encode()
    plots = "" if not board.ranked else f"""<h2>Score against size and speed</h2>
<p>Each point is a ranked run, numbered by its rank (the # column above; hover or focus a point
for its name, follow it to its page). Bars are 95% intervals; orange points form the Pareto
front (no other model is both smaller, or faster, and better).</p>
<div class=plots><figure>{params_svg}
<figcaption>{e(main)} against parameters (<a href="{e(board.id)}-params.svg">SVG</a>)</figcaption>
</figure><figure>{speed_svg}
<figcaption>{e(main)} against examples per second during evaluation
(<a href="{e(board.id)}-speed.svg">SVG</a>)</figcaption></figure></div>"""
    body = (f"<h1>{breakable(board.id)}</h1>"
            f"{_definition_block(board.benchmark)}{_signature(board)}"
            f'<p><a href="{e(board.id)}.csv">Download this table as CSV</a></p>'
            f"{_ranked_table(board, metrics, 1)}{plots}{_flagged_table(board, 1)}")
    return page(f"{board.id} benchmark", body, 1, d.get("description", ""))


def _axis_label(name, metric):
    """A metric's axis label with its unit: the record's `unit`, else BLEU and chrF are scores
    from 0 to 100 and the other metrics (accuracy, F1, recall) fractions from 0 to 1.

    >>> _axis_label("bleu", {}), _axis_label("accuracy", {}), _axis_label("kl", {"unit": "nats"})
    ('bleu (score, 0–100)', 'accuracy (fraction, 0–1)', 'kl (nats)')
    """
    unit = metric.get("unit") or ("score, 0–100" if name in ("bleu", "chrf")
                                  else "fraction, 0–1")
    return f"{name} ({unit})"


def csv_cell(value):
    """A value as a CSV cell that a spreadsheet shows as text: a string from a record that
    starts like a formula (`=`, `+`, `-`, `@`, tab, carriage return) gets a leading `'`.

    >>> csv_cell("=SUM(A1)"), csv_cell("vit"), csv_cell(-0.5)
    ("'=SUM(A1)", 'vit', -0.5)
    """
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def benchmark_csv(board):
    metrics = list(board.benchmark["definition"].get("metrics") or [])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["rank", "model", "run_id", *[csv_cell(f"{m}{s}") for m in metrics
                                                  for s in ("", "_low", "_high")],
                     "significant_vs_leader", "params", "examples_per_second", "hardware",
                     "date", "flags"])
    for rank, entry in enumerate(board.ranked + board.flagged, 1):
        r = entry.record
        values = []
        for m in metrics:
            metric = r["metrics"].get(m, {})
            values += [metric.get("value"), metric.get("low"), metric.get("high")]
        sig = entry.significance
        writer.writerow([csv_cell(v) for v in (
            rank if entry in board.ranked else "", entry.name, entry.run_id, *values,
            "" if sig is None else sig["significant"], r["model"].get("params"),
            r["throughput"].get("examples_per_second"), r["throughput"].get("hardware"),
            r["created"], ";".join(entry.flags))])
    return out.getvalue()


# --- Entry pages -----------------------------------------------------------------------------


def _json_block(value):
    return f"<pre>{e(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))}</pre>"


def _examples_block(entry, files):
    """The examples section of an entry page, as the record's task kind describes them
    (`zoo.tasks.examples`): a table, or pictures (PNG files added to `files`)."""
    r = entry.record
    definition = r["benchmark"]["definition"]
    rows = entry.predictions  # read and checked with the record (records.PREDICTION)
    if rows is None:
        return "<p>The per-example predictions file is missing.</p>"
    try:
        kind = tasks.get(definition.get("task"))
    except UnknownNameError:  # a plug-in kind this process has not registered
        return ""
    shown = tasks.examples(kind, definition, rows, r.get("report") or {})
    if not shown:
        return ""
    title = f"<h2>{e(shown['title'])}</h2>"
    if "images" in shown:
        return title + ("".join(_figure(entry, key, caption, images, files)
                                for key, caption, images in shown["images"])
                        or f"<p>{e(shown['empty'])}</p>")
    if not shown["rows"]:
        return f"{title}<p>{e(shown['empty'])}</p>"
    heads = "".join(f"<th scope=col{' class=num' if kind_ in ('number', 'index') else ''}>"
                    f"{e(head)}</th>"
                    for head, kind_ in shown["columns"])
    items = "".join("<tr>" + "".join(_cell(value, kind_) for value, (_, kind_)
                                     in zip(row, shown["columns"])) + "</tr>"
                    for row in shown["rows"])
    return (f"{title}<p>{e(shown['note'])}</p><div class=scroll><table class=examples><thead>"
            f"<tr>{heads}</tr></thead><tbody>{items}</tbody></table></div>")


def _cell(value, kind):
    """A table cell of an examples table: a score ("number"), a test index, text, text whose
    line breaks and spaces matter ("lines": generated verse), or an image (uint8 pixel rows,
    `zoo.records.PIXELS`) drawn as a thumbnail in the page."""
    if kind == "number":
        return f"<td class=num>{_num(value)}</td>"
    if kind == "lines":
        return f"<td class=lines>{e(value)}</td>"
    if kind == "image":
        return f"<td>{_thumbnail(value)}</td>"
    return f"<td{' class=num' if kind == 'index' else ''}>{e(value)}</td>"


def _thumbnail(pixels, width=56):
    """An image as an `<img>` `width` CSS pixels wide (its PNG inline, a data URI: no file
    per thumbnail), drawn with sharp pixels."""
    height = round(width * len(pixels) / len(pixels[0]))
    return (f'<img class="pixels thumb" src="{pictures.data_uri(pictures.png(pixels))}" '
            f'width={width} height={height} alt="the test image">')


def _figure(entry, key, caption, images, files):
    """A picture grid of an entry page (its PNG added to `files`), or "" without images."""
    grid = pictures.grid_png(images)
    if not grid:
        return ""
    files[f"entries/{entry.run_id}-{key}.png"] = grid
    return (f'<figure><img class=pixels src="{e(entry.run_id)}-{key}.png" alt="{e(caption)}">'
            f"<figcaption>{e(caption)}</figcaption></figure>")


def _series_label(name) -> str:
    """A training curve's series in words: "loss" is the training loss, "val_X" validation X."""
    if name == "loss":
        return "training loss"
    return f"validation {name[len('val_'):]}" if name.startswith("val_") else name


def _curve_groups(series: dict) -> list[tuple[str, list]]:
    """The plots of a training curve: `(y label, [series name, ...])`, the losses (training
    and validation) on one, each other validation value (BLEU) on its own axis."""
    losses = [name for name in ("loss", "val_loss") if name in series]
    groups = [("loss", losses)] if losses else []
    return groups + [(_series_label(name), [name]) for name in series if name not in losses]


def _curve_block(entry, files) -> str:
    """The training curve of an entry page (the record's `training_curve`: the weights'
    history, drawn by `pictures.line_svg`, one SVG file each beside the page); "" for a record
    without one (untrained, or made before records kept it)."""
    curve = entry.record.get("training_curve")
    if not curve or not curve.get("series"):
        return ""
    series, figures = curve["series"], []
    for i, (y_label, names) in enumerate(_curve_groups(series)):
        lines = [(_series_label(name), list(series[name]["step"]), list(series[name]["value"]))
                 for name in names]
        svg = pictures.line_svg(lines, "training step", y_label)
        name = f"{entry.run_id}-curve-{i}.svg"
        files[f"entries/{name}"] = svg.encode()
        figures.append(f"<figure>{svg}<figcaption>{e(' and '.join(line[0] for line in lines))} "
                       f'against the training step (<a href="{e(name)}">SVG</a>)'
                       "</figcaption></figure>")
    last = max(series.values(), key=lambda s: s["step"][-1])
    took = (f" after {e(_duration(last['seconds'][-1]))} of training"
            if last.get("seconds") and last["seconds"][-1] else "")
    longest = max(len(s["step"]) for s in series.values())
    thinned = (f" Each line shows at most {e(_num(longest))} of its points, evenly spaced."
               if (curve.get("rows") or 0) > longest else "")
    return (f"<h2 id=training-curve>Training curve</h2><p>From the training history of these "
            f"weights (<code>{e(curve.get('source'))}</code>: {e(_num(curve.get('rows')))} "
            f"logged steps, to step {e(_num(last['step'][-1]))}{took}).{thinned}"
            f"{' The training loss is its mean over each logging window.' if 'loss' in series else ''}"
            "</p>"
            f"<div class=plots>{''.join(figures)}</div>")


def _usage_block(record):
    """The line under an entry page's heading: what the model takes (`_inputs`) and, for a
    published entry, how to load and call it and how to score it again; a run that is not a
    published entry says so (its command is under "Reproduce")."""
    model, bench = record["model"], record["benchmark"]
    takes, text, part, parts = _inputs(model, bench["definition"].get("task"))
    entry = model.get("entry")
    if not entry:
        return (f"<p class=usage>It takes {e(takes)}. Not a published entry: the command under "
                "<a href=\"#reproduce\">Reproduce</a> made this run.</p>")
    load = f"<code>import zoo; model = zoo.load(\"{e(entry)}\")</code>"
    if parts:  # the Keras model takes token ids: raw text goes through an exported part
        call = ("<code>model = zoo.hub.load(\"zoo:" + e(entry) + "/" + e(part or "PART")
                + "\")</code>, then <code>model(tf.constant([...]))</code>")
        others = [name for name in parts if name != part]
        use = (f"Use it on {e(takes)}: {call} ({e(parts[part])})" if part else
               f"Use it on {e(takes)} through one of its TF Hub parts: {call}")
        if others:
            use += f"; {'other ' if part else ''}parts: " + ", ".join(
                f"<code>{e(name)}</code> ({e(parts[name])})" for name in others)
        use += (f". {load} gives the Keras model, on token ids from its tokenizer (<code>"
                f"zoo.entries.load_tokenizer(\"{e(entry)}\")</code>).")
    elif text:  # a model that reads strings: called on a tensor of them (Keras' predict
        # takes no string arrays)
        use = f"Use it: {load}, then <code>model(tf.constant([...]))</code> on {e(takes)}."
    else:
        use = f"Use it: {load}, then <code>model.predict(x)</code>, x: {e(takes)}."
    return (f"<p class=usage>{use} Score it again: <code>zoo bench run --entry {e(entry)} "
            f"--benchmark {e(bench['id'])}</code>.</p>")


def _inputs(model, task) -> tuple[str, bool, str | None, dict]:
    """`(what the model takes, in words; whether that is text; its whole-model TF Hub part or
    None; {part: what it computes})`. The words are its task kind's `expected_input` of the
    record's config (as `zoo entries` prints them). The parts are the model's TF Hub export
    parts when its kind feeds it tokens and the model does not read raw text itself (raw text
    then goes through a part), else empty; the whole model is the part named as its head, or
    its only part. A kind or model this process does not know, or a config it cannot read,
    gives plain words and no parts."""
    config = model.get("config")
    try:
        kind = tasks.get(task)
        takes = str(tasks.expected_input(kind, config if isinstance(config, dict) else {}))
    except (UnknownNameError, TypeError, ValueError, AttributeError):
        return f"inputs of a {task} model", False, None, {}
    try:
        head = catalog.head_for(model["name"], task) if kind.TOKENIZED else None
    except UnknownNameError:  # a model registered by a plug-in this process has not loaded
        head = None
    spec = None if head is None else catalog.family_of(model["name"]).heads[head]
    if spec is None or spec.raw_text or not spec.parts:
        return takes, kind.TOKENIZED, None, {}
    parts = {name: part.text for name, part in spec.parts.items()}
    whole = head if head in parts else (next(iter(parts)) if len(parts) == 1 else None)
    return takes, True, whole, parts


def _flat(value, prefix=""):
    """`(dotted key, leaf value)` pairs of nested dicts, keys sorted; lists stay whole."""
    if isinstance(value, dict) and value:
        return [pair for key in sorted(value) for pair in _flat(value[key], f"{prefix}{key}.")]
    return [(prefix[:-1], value)]


def _provenance_block(r):
    """Provenance, evaluation settings, the seeds used, throughput and flags as a two-column
    table (nested keys dotted, lists and empty values as compact JSON), the raw JSON one click
    away."""
    raw = {"provenance": r.get("provenance"), "evaluation": r.get("evaluation"),
           "seeds": r.get("seeds"), "throughput": r.get("throughput"), "flags": r.get("flags")}

    def cell(value):
        if isinstance(value, bool):
            return "yes" if value else "no"
        if value is None:
            return "–"
        if isinstance(value, (list, dict)):
            return json.dumps(value, sort_keys=True, ensure_ascii=False) if value else "–"
        return value

    rows = "".join(f"<tr><th scope=row>{e(key).replace('.', '.<wbr>')}</th>"
                   f"<td>{e(cell(value))}</td></tr>"
                   for key, value in _flat(raw))
    return (f"<div class=scroll><table class=provenance><tbody>{rows}</tbody></table></div>"
            f"<details><summary>Raw JSON</summary>{_json_block(raw)}</details>")


def _source_card(source) -> list:
    """Model card rows of a model zoo did not train (`model.source`); none for zoo's own."""
    if not source:
        return []
    rows = [("trained by", "not zoo: an outside model, benchmarked as it is"),
            ("source", source.get("location")),
            ("source kind", {"keras": ".keras file"}.get(source.get("kind"), "SavedModel")),
            ("sha256 of its files", source.get("sha256"))]
    if source.get("archive_sha256"):
        rows.append(("sha256 of its archive", source["archive_sha256"]))
    if source.get("preprocessor"):
        rows += [("text preprocessor", source["preprocessor"].get("location")),
                 ("preprocessor sha256", source["preprocessor"].get("sha256"))]
    return rows


def _outside_note(record) -> str:
    """The line under the heading of a model zoo did not train (`model.source`): that zoo did
    not train it, where it came from, and why its training data is unknown; "" otherwise."""
    source = record["model"].get("source")
    if not source:
        return ""
    return ("<p class=usage role=note>Not trained by zoo: an outside model from "
            f"<code>{e(source.get('location'))}</code>, called through the adapter below. Its "
            "training data is unknown to zoo (so whether it saw this test set is unknown). The "
            "command under <a href=\"#reproduce\">Reproduce</a> made this run.</p>")


def _adapter_block(record) -> str:
    """The adapter a model zoo did not train was called through (`evaluation.adapter`: its
    file, options and every setting) as a table; "" for zoo's own models."""
    adapter = (record.get("evaluation") or {}).get("adapter")
    if not adapter:
        return ""
    rows = "".join(
        f"<tr><th scope=row>{e(key)}</th><td>{e(_plain_cell(value))}</td></tr>"
        for key, value in sorted(adapter.items()))
    return ("<h2 id=adapter>Adapter</h2><p>How zoo called this model (declared as data: "
            "<code>zoo bench run --adapter FILE</code>, <code>--adapt KEY=VALUE</code>).</p>"
            f"<div class=scroll><table class=provenance><tbody>{rows}</tbody></table></div>")


def _plain_cell(value):
    """A value of a record as table text: yes/no, "–" for none, compact JSON for lists and
    tables."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or value == [] or value == {}:
        return "–"
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


def entry_page(entry, files, links):
    r = entry.record
    model, bench = r["model"], r["benchmark"]
    d = bench["definition"]
    flags = "".join(f'<p class=flag role=note>Not ranked: {e(FLAG_TEXT.get(f, f))}.</p>'
                    for f in entry.flags)
    metric_rows = "".join(
        f"<tr><th scope=row>{e(k)}</th><td class=num>{_pct(v)}</td>"
        f"<td>{e(', '.join(f'{a}={b}' for a, b in sorted(v.items()) if a not in ('value', 'low', 'high')))}</td></tr>"
        for k, v in r["metrics"].items())
    card = [("model", model["name"]), ("entry", model.get("entry")),
            ("family", model.get("family")), ("class", model.get("class")),
            ("parameters", _num(model.get("params"))),
            ("weights sha256", (model.get("weights") or {}).get("sha256")),
            ("training data", ", ".join(
                _training_source(t) + (f" (via {t['via']})" if t.get("via") else "")
                for t in model.get("training_data") or []) or "–"),
            ("training time", _duration(model.get("training_seconds"))),
            ("licence of the benchmark data", d.get("licence"))]
    if r.get("contamination"):  # records from before zoo compared examples lack it
        card.insert(-2, ("test examples seen in training",
                         _seen(r["contamination"], r["benchmark"]["examples"])))
    card += _source_card(model.get("source"))
    card_html = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in card)
    report = r.get("report") or {}
    confusion = ""
    if report.get("confusion_matrix"):
        name = f"entries/{entry.run_id}-confusion.svg"
        matrix_svg = pictures.confusion_svg(report["confusion_matrix"],
                                            report.get("label_names") or [])
        files[name] = matrix_svg.encode()
        per_class = report.get("per_class", {})
        class_rows = "".join(
            f"<tr><th scope=row>{e(label)}</th><td class=num>{_num(v.get('precision'))}</td>"
            f"<td class=num>{_num(v.get('recall'))}</td><td class=num>{_num(v.get('f1-score'))}</td>"
            f"<td class=num>{_num(v.get('support'))}</td></tr>"
            for label, v in per_class.items() if isinstance(v, dict) and label not in (
                "macro avg", "weighted avg", "micro avg"))
        confusion = (f"<h2>Per-class report</h2><div class=scroll><table><thead><tr>"
                     "<th scope=col>class</th><th scope=col class=num>precision</th>"
                     "<th scope=col class=num>recall</th><th scope=col class=num>F1</th>"
                     "<th scope=col class=num>support</th></tr></thead>"
                     f"<tbody>{class_rows}</tbody></table></div>"
                     "<h2>Confusion matrix</h2><p>Rows are true classes, columns predicted "
                     f'(<a href="{e(entry.run_id)}-confusion.svg">SVG</a>).</p>'
                     f"<div class=scroll>{matrix_svg}</div>")
    downloads = [f'<li><a href="{e(links.href(entry.path, 1))}">result record (JSON)</a></li>']
    if entry.predictions is not None:  # a file beside the record (collect._check)
        predictions = records.predictions_path(entry.path, entry.record)
        downloads.append(f'<li><a href="{e(links.href(predictions, 1))}">per-example '
                         "predictions (JSON lines)</a></li>")
    name = model.get("entry")
    parts = links.archives(name)
    weights = links.export_weights(name) if parts else None
    kind = ("float32, fine-tunable" if weights == "float32" else
            f"{weights} weights as in the entry, inference only")
    for part in parts:
        downloads.append(f'<li><a href="{e(links.href(part, 1))}">TF Hub SavedModel: '
                         f"{e(part.name[:-len('.tar.gz')])} (.tar.gz, {e(kind)}; a handle for "
                         "<code>zoo.hub.load</code> or <code>hub.load</code>)</a></li>")
    if name:
        downloads.append(f"<li>TF Hub format{' (every part)' if parts else ''}: "
                         f"<code>zoo export {e(name)} DIR --tar</code>, or the handle "
                         f"<code>zoo:{e(name)}/PART</code> in <code>zoo.hub.load</code></li>")
    board_link = f'<a href="../benchmarks/{e(bench["id"])}.html">{breakable(bench["id"])}</a>'
    body = f"""<h1>{breakable(entry.name)} on {board_link}</h1>
{flags}
{_outside_note(r) or _usage_block(r)}
<h2>Model card</h2><dl class=definition>{card_html}</dl>
{_adapter_block(r)}
<details><summary>Configuration</summary>{_json_block(model.get('config'))}</details>
<details><summary>Training recipe</summary>{_json_block(model.get('recipe'))}</details>
<h2>Metrics</h2><p>Evaluated on {e(_num(bench['examples'].get('evaluated')))} of
{e(_num(bench['examples'].get('total')))} examples; 95% percentile-bootstrap intervals.</p>
<div class=scroll><table><thead><tr><th scope=col>metric</th><th scope=col class=num>value [95% interval]</th>
<th scope=col>settings</th></tr></thead><tbody>{metric_rows}</tbody></table></div>
{_curve_block(entry, files)}{confusion}
{_examples_block(entry, files)}
<h2 id=reproduce>Reproduce</h2><pre>{e(_command(r))}</pre>
<h2>Provenance</h2>{_provenance_block(r)}
<h2>Downloads</h2><ul>{''.join(downloads)}</ul>"""
    return page(f"{entry.name} on {bench['id']}", body, 1)


# --- Build -----------------------------------------------------------------------------------


def _summary(boards, newest, links):
    out = {"newest_result": newest, "benchmarks": []}
    for board in boards:
        out["benchmarks"].append({
            "id": board.id, "version": board.benchmark["version"],
            "main_metric": board.benchmark["definition"].get("main_metric"),
            "entries": [{
                "rank": rank, "model": en.name, "run_id": en.run_id,
                "main_metric": en.main, "metrics": en.record["metrics"],
                "params": en.record["model"].get("params"),
                "examples_per_second": en.record["throughput"].get("examples_per_second"),
                "hardware": en.record["throughput"].get("hardware"),
                "significance_vs_leader": en.significance, "created": en.record["created"],
                "record": links.href(en.path, 0)}
                for rank, en in enumerate(board.ranked, 1)],
            "flagged": [{"model": en.name, "run_id": en.run_id, "flags": en.flags,
                         "main_metric": en.main} for en in board.flagged],
        })
    return out


def render(results_dir, warn=print, at="leaderboard", exports_dir=None) -> tuple[dict, list]:
    """All files of the site that will lie at `at` as `{relative path: bytes}`, and the
    problems met. Pages link the records in `results_dir` and the archives in `exports_dir`
    (None: none) by paths relative to `at` (`Links`)."""
    links = Links(Path(at), None if exports_dir is None else Path(exports_dir))
    boards, problems = collect.load(results_dir, warn=warn)
    everything = [en for b in boards for en in b.ranked + b.flagged]
    newest = max((en.record["created"] for en in everything), default=None)
    files = {"style.css": assets.STYLE.encode(), "sort.js": assets.SORT_JS.encode(),
             "favicon.svg": assets.FAVICON.encode(), MARKER: MARKER_TEXT.encode()}
    files["index.html"] = index_page(boards, newest and newest[:10]).encode()
    for board in boards:
        files[f"benchmarks/{board.id}.html"] = benchmark_page(board, files).encode()
        files[f"benchmarks/{board.id}.csv"] = benchmark_csv(board).encode()
        for entry in board.ranked + board.flagged:
            files[f"entries/{entry.run_id}.html"] = entry_page(entry, files, links).encode()
    files["leaderboard.json"] = (json.dumps(_summary(boards, newest, links), indent=2,
                                            sort_keys=True, ensure_ascii=False) + "\n").encode()
    return files, problems


#: A file every built site holds. `build` replaces a folder only when it holds this file (or
#: is empty, or is a site built before the marker existed), unless told to with `force`.
MARKER = ".zoo-leaderboard"
MARKER_TEXT = ("This folder is a site built by `zoo leaderboard build`, which replaces all of it "
               "on every build.\n")


class SiteError(ValueError):
    """An output folder the build will not replace; the message says why and what to do."""


def is_site(folder) -> bool:
    """Whether `folder` holds a site `build` wrote (its marker; or, from before the marker, an
    index.html with the build's footer beside leaderboard.json)."""
    folder = Path(folder)
    if (folder / MARKER).is_file():
        return True
    try:
        index = (folder / "index.html").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return (folder / "leaderboard.json").is_file() and "<code>zoo leaderboard build</code>" in index


def check_out(out, results_dir, force=False) -> Path:
    """The absolute folder the site may replace, or `SiteError`: the file system's root, a
    folder that holds the records (replacing it would delete them), a folder inside the
    records (later builds would read the site's copies as records), a file, or, unless
    `force`, a non-empty folder that is not a site (`is_site`)."""
    out = Path(out).expanduser().resolve()
    if out.parent == out:
        raise SiteError(f"--out {out} is the root of the file system; choose a folder for the "
                        "site.")
    results = Path(results_dir).expanduser().resolve()
    if results.is_relative_to(out):
        raise SiteError(f"--out {out} holds the result records ({results_dir}); building there "
                        "would delete them. Choose another --out.")
    if out.is_relative_to(results):
        raise SiteError(f"--out {out} is inside the results folder {results_dir}; every later "
                        "build would read the site's JSON files as records. Choose "
                        "an --out outside it.")
    if not out.exists():
        return out
    if not out.is_dir():
        raise SiteError(f"--out {out} is a file; the site is a folder. Choose another --out.")
    if force or is_site(out) or not any(out.iterdir()):
        return out
    raise SiteError(f"--out {out} is a folder that is not a zoo leaderboard site (it has no "
                    f"{MARKER} file) and the build replaces the whole folder; choose another "
                    "--out, or pass --force to replace its contents.")


def build(results_dir="benchmarks/results", out="leaderboard", warn=print, force=False,
          exports_dir=None) -> dict:
    """Writes the site to `out` (replacing it only once the new one is complete), linking the
    records in `results_dir` and the TF Hub archives in `exports_dir` (None: none) where they
    lie (`render`).

    The new site is written into a temporary folder beside `out` and then swapped in; `out`
    must be missing, empty or a site built before (`check_out`, `SiteError`) unless `force`."""
    at = Path(os.path.abspath(Path(out).expanduser()))  # as given: links are relative to it
    out = check_out(out, results_dir, force)
    files, problems = render(results_dir, warn=warn, at=at, exports_dir=exports_dir)
    with atomic.staged_folder(out, existing="replace") as staging:
        for relative, data in sorted(files.items()):
            path = staging / relative
            if not safety.inside(staging, path):  # names from records are checked; be sure
                raise SiteError(f"refusing to write {relative!r} outside the site")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return {"files": len(files), "problems": problems, "out": str(out)}
