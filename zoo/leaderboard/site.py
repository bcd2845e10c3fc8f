"""`zoo leaderboard build`: a static site from the result records.

Pages: an index of benchmarks; one page per benchmark (definition, ranked table with 95%
intervals and the paired test against the leader, plots against parameters and throughput,
flagged runs apart); one page per run (model card, metrics, per-class report and confusion
matrix, example predictions, provenance, downloads). Machines get `leaderboard.json` and a CSV
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
from dataclasses import dataclass
from html import escape
from pathlib import Path
from urllib.parse import quote

from zoo import atomic, records, safety, tasks
from zoo.leaderboard import assets, collect, pictures
from zoo.registry import UnknownNameError

FLAG_TEXT = {"dirty tree": "evaluated from a checkout with uncommitted changes",
             "--limit": "evaluated on part of the test set",
             "test data in training": "the model saw this test data in training"}


def e(value) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return escape("" if value is None else str(value), quote=True)


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
            lead = (f'<a href="entries/{e(leader.run_id)}.html">{e(leader.name)}</a>',
                    _pct(leader.main))
        else:
            lead = ("<em>no full run yet</em>", "–")
        rows.append(
            f'<tr><th scope=row><a href="benchmarks/{e(board.id)}.html">{e(board.id)}</a></th>'
            f"<td class=num>{lead[1]}</td><td>{lead[0]}</td>"
            f"<td>{e(definition.get('main_metric'))}"
            f"{'' if definition.get('higher_is_better', True) else ' (lower is better)'}</td>"
            f"<td>{e(definition.get('task'))}</td>"
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
            verdict = f"{sig['delta']:+.4f} (p={sig['p_value']:.3f})"
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
    body = (f"<h1>{e(board.id)}</h1>{_definition_block(board.benchmark)}{_signature(board)}"
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
    heads = "".join(f"<th scope=col{' class=num' if kind_ == 'number' else ''}>{e(head)}</th>"
                    for head, kind_ in shown["columns"])
    items = "".join("<tr>" + "".join(_cell(value, kind_) for value, (_, kind_)
                                     in zip(row, shown["columns"])) + "</tr>"
                    for row in shown["rows"])
    return (f"{title}<p>{e(shown['note'])}</p><div class=scroll><table><thead><tr>{heads}"
            f"</tr></thead><tbody>{items}</tbody></table></div>")


def _cell(value, kind):
    """A table cell of an examples table: a score ("number"), a test index or text."""
    if kind == "number":
        return f"<td class=num>{_num(value)}</td>"
    return f"<td{' class=num' if kind == 'index' else ''}>{e(value)}</td>"


def _figure(entry, key, caption, images, files):
    """A picture grid of an entry page (its PNG added to `files`), or "" without images."""
    grid = pictures.grid_png(images)
    if not grid:
        return ""
    files[f"entries/{entry.run_id}-{key}.png"] = grid
    return (f'<figure><img class=pixels src="{e(entry.run_id)}-{key}.png" alt="{e(caption)}">'
            f"<figcaption>{e(caption)}</figcaption></figure>")


def _usage_block(entry, benchmark_id):
    """How to load and call a published entry, and how to score it again; a run that is not
    a published entry says so (its command is under "Reproduce")."""
    if not entry:
        return ("<p class=usage>Not a published entry: the command under "
                "<a href=\"#reproduce\">Reproduce</a> made this run.</p>")
    return (f"<p class=usage>Use it: <code>import zoo; model = zoo.load(\"{e(entry)}\")</code>, "
            "then <code>model(inputs)</code> or <code>model.predict(inputs)</code>. Score it "
            f"again: <code>zoo bench run --entry {e(entry)} --benchmark {e(benchmark_id)}</code>"
            ".</p>")


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
                f"{t.get('dataset')}/{t.get('split')}"
                + (f" (via {t['via']})" if t.get("via") else "")
                for t in model.get("training_data") or []) or "–"),
            ("training time", _duration(model.get("training_seconds"))),
            ("licence of the benchmark data", d.get("licence"))]
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
    body = f"""<h1>{e(entry.name)} on <a href="../benchmarks/{e(bench['id'])}.html">{e(bench['id'])}</a></h1>
{flags}
{_usage_block(model.get('entry'), bench['id'])}
<h2>Model card</h2><dl class=definition>{card_html}</dl>
<details><summary>Configuration</summary>{_json_block(model.get('config'))}</details>
<details><summary>Training recipe</summary>{_json_block(model.get('recipe'))}</details>
<h2>Metrics</h2><p>Evaluated on {e(_num(bench['examples'].get('evaluated')))} of
{e(_num(bench['examples'].get('total')))} examples; 95% percentile-bootstrap intervals.</p>
<div class=scroll><table><thead><tr><th scope=col>metric</th><th scope=col class=num>value [95% interval]</th>
<th scope=col>settings</th></tr></thead><tbody>{metric_rows}</tbody></table></div>
{confusion}
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
