"""The leaderboard site: built from real records, checked in a real headless Chromium."""

import functools
import http.server
import json
import os
import re
import shutil
import threading
from pathlib import Path

import pytest
from conftest import SHARED_DATA

from zoo import records
from zoo.harness import runner
from zoo.leaderboard import site

ROOT = Path(__file__).resolve().parents[1]
EVIL = "<script>window.__pwned = 1</script>\"'<b>"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Real records: two models on digits, a --limit run, a VAE run, a record whose strings
    hold markup, and two broken files."""
    import zoo

    folder = tmp_path_factory.mktemp("results")
    for seed in (1, 2):
        import keras

        keras.utils.set_random_seed(seed)
        model = zoo.build("vit_tiny_patch2_8")
        model.save(folder.parent / f"m{seed}.keras")
        runner.run("vit_tiny_patch2_8", "digits", weights=folder.parent / f"m{seed}.keras",
                   results_dir=folder, progress=False)
    runner.run("vit_tiny_patch2_8", "digits", limit=30, results_dir=folder, progress=False)
    if os.path.isdir(SHARED_DATA):
        vae = zoo.build("vae_tiny", image_size=28)
        vae.save(folder.parent / "vae.keras")
        runner.run("vae_tiny", "mnist-vae", weights=folder.parent / "vae.keras", limit=64,
                   data_dir=SHARED_DATA, results_dir=folder, progress=False)
    # The suite runs from a working tree that may be dirty; these stand for clean-tree runs.
    for path in folder.rglob("*.json"):
        record = json.loads(path.read_text())
        record["flags"]["dirty"] = False
        path.write_text(json.dumps(record))
    first = sorted((folder / "digits").glob("*.json"))[0]
    record = json.loads(first.read_text())
    record["run_id"] = "evil-run"
    record["model"]["name"] = EVIL
    record["model"].pop("entry", None)  # an entry name becomes a path: a plain name or skipped
    record["provenance"]["command"] = f"zoo bench run --model '{EVIL}'"
    record["predictions_file"] = "evil-run.predictions.jsonl"
    (folder / "digits" / "evil-run.json").write_text(json.dumps(record))
    rows = [json.loads(line) for line in
            (first.parent / first.name.replace(".json", ".predictions.jsonl")).read_text().splitlines()]
    for row in rows:
        row["text"] = EVIL
    (folder / "digits" / "evil-run.predictions.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows))
    (folder / "digits" / "broken.json").write_text("{not json")
    (folder / "digits" / "not-a-record.json").write_text(json.dumps({"schema": 1}))
    return folder


@pytest.fixture(scope="module")
def built(results, tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "leaderboard"
    warnings = []
    report = site.build(results, out, warn=warnings.append)
    return out, report, warnings


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_build_is_deterministic(results, built, tmp_path):
    out, _, _ = built
    site.build(results, tmp_path / "again", warn=lambda m: None)
    assert _files(out) == _files(tmp_path / "again")


def test_broken_records_are_reported_and_skipped(built):
    out, report, warnings = built
    assert any("broken.json" in w for w in warnings)
    assert any("not-a-record.json" in w and "missing" in w for w in warnings)
    assert (out / "benchmarks" / "digits.html").is_file()
    assert len(report["problems"]) >= 2


def test_markup_from_records_is_escaped_everywhere(built):
    out, _, _ = built
    pages = [p for p in out.rglob("*") if p.suffix in (".html", ".svg")]
    assert pages
    for path in pages:
        text = path.read_text(encoding="utf-8")
        assert "<script>window.__pwned" not in text, path
    entry = (out / "entries" / "evil-run.html").read_text()
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;&quot;&#x27;&lt;b&gt;" in entry


def test_ranking_flags_and_machine_outputs(built):
    out, _, _ = built
    board = json.loads((out / "leaderboard.json").read_text())
    digits = next(b for b in board["benchmarks"] if b["id"] == "digits")
    values = [e["main_metric"]["value"] for e in digits["entries"]]
    assert values == sorted(values, reverse=True) and len(values) >= 2
    assert digits["entries"][0]["significance_vs_leader"] is None
    assert all(e["significance_vs_leader"] is not None for e in digits["entries"][1:])
    flagged = {tuple(f["flags"]) for f in digits["flagged"]}
    assert any("--limit" in f for f in flagged)
    assert all(not f or "dirty tree" in f or "--limit" in f for f in flagged)
    csv_text = (out / "benchmarks" / "digits.csv").read_text()
    assert csv_text.splitlines()[0].startswith("rank,model,run_id,accuracy,accuracy_low")
    html = (out / "benchmarks" / "digits.html").read_text()
    assert "Flagged runs" in html and "digits-params.svg" in html


def _serve(folder):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _serve_site(out, *linked):
    """Serves the folder that holds the site `out` and the folders its pages link (`linked`),
    as the published site serves the repository; returns the server, its origin and the
    site's URL."""
    root = Path(os.path.commonpath([out, *linked]))
    server = _serve(root)
    origin = f"http://127.0.0.1:{server.server_address[1]}/"
    return server, origin, origin + Path(out).relative_to(root).as_posix() + "/"


def _repository_tree(tmp_path):
    """A folder laid out as the published tree: `benchmarks/` (a link to the checkout's: the
    committed records and exports) beside the site's `leaderboard/`, which is built there."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "benchmarks").symlink_to(ROOT / "benchmarks")
    site.build(tree / "benchmarks" / "results", tree / "leaderboard", warn=lambda m: None,
               exports_dir=tree / "benchmarks" / "exports")
    return tree


def _chromium():
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (binary and driver):
        if os.environ.get("CI"):
            pytest.fail("CI needs Debian's chromium and chromium-driver (.ci/run installs them)")
        pytest.skip("headless Chromium not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1200,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


@pytest.mark.browser
def test_pages_in_headless_chromium(results, built, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    out, _, _ = built
    server, origin, base = _serve_site(out, results)  # the pages link the records in `results`
    browser = _chromium()
    try:
        pages = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html"))
        seen_links = set()
        for relative in pages:
            browser.get(base + relative)
            errors = [m for m in browser.get_log("browser") if m["level"] == "SEVERE"]
            assert not errors, (relative, errors)
            assert browser.execute_script("return window.__pwned === undefined")
            broken = browser.execute_script(
                "return Array.from(document.images).filter(i => !(i.complete && "
                "i.naturalWidth > 0)).map(i => i.src)")
            assert not broken, (relative, broken)
            seen_links.update(browser.execute_script(  # HTML and inline-SVG links alike
                "return Array.from(document.querySelectorAll('a[href], link[href]')).map("
                "a => new URL(a.getAttribute('href'), document.baseURI).href)"))
            for element in browser.find_elements(By.CSS_SELECTOR, "script[src]"):
                seen_links.add(element.get_attribute("src"))
        import urllib.request

        for link in sorted(seen_links):
            assert link.startswith(origin), f"external link {link}"
            with urllib.request.urlopen(link.split("#")[0]) as response:
                assert response.status == 200, link

        # Sorting with the keyboard alone: focus the "examples/s" header button, press Enter.
        browser.get(base + "benchmarks/digits.html")
        table = browser.find_element(By.CSS_SELECTOR, "table.sortable")

        def first_column(index):
            return [row.find_elements(By.TAG_NAME, "td")[index].get_attribute("data-sort")
                    for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")]

        headers = table.find_elements(By.CSS_SELECTOR, "thead th")
        names = [h.text.strip() for h in headers]
        rank = names.index("#")
        button = headers[rank].find_element(By.TAG_NAME, "button")
        body = browser.find_element(By.TAG_NAME, "body")
        for _ in range(60):  # tab until the rank header's button has focus
            body = browser.switch_to.active_element
            if body == button:
                break
            body.send_keys(Keys.TAB)
        assert browser.switch_to.active_element == button
        before = [float(v) for v in first_column(rank)]
        button.send_keys(Keys.ENTER)  # ascending: already in rank order
        button.send_keys(Keys.ENTER)  # descending
        after = [float(v) for v in first_column(rank)]
        assert after == sorted(before, reverse=True) and after != before
        assert headers[rank].get_attribute("aria-sort") == "descending"

        browser.set_window_size(390, 844)  # a phone
        shot = tmp_path / "digits.png"
        assert browser.save_screenshot(str(shot))
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert browser.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1")
    finally:
        browser.quit()
        server.shutdown()


#: Per page, in the browser: [page width, window width, smallest drawn SVG text in px, plots
#: lacking an x or y axis label, the ranked table's [box scroll width, box width, tallest row
#: / line height], index: the right edge of the first leader's score, the places where a
#: heading's line ends mid-word (not at a space or after '.', '_', '-' or '/')].
_LAYOUT_JS = r"""
const pictures = Array.from(document.querySelectorAll('svg.plot, svg.matrix'));
const texts = Array.from(document.querySelectorAll('svg text')).map(t => {
  const svg = t.ownerSVGElement;
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  return parseFloat(getComputedStyle(t).fontSize) * scale; });
const unlabelled = pictures.filter(svg => !['x-label', 'y-label'].every(
  c => (svg.querySelector('text.' + c) || {textContent: ''}).textContent.trim())).length;
const ranked = document.querySelector('table.ranked');
let table = null;
if (ranked) {
  const box = ranked.parentElement;
  const line = parseFloat(getComputedStyle(ranked.tBodies[0].rows[0].cells[0]).lineHeight);
  const tallest = Math.max(...Array.from(ranked.tBodies[0].rows).map(
    r => r.getBoundingClientRect().height));
  table = [box.scrollWidth, box.clientWidth, tallest / line];
}
const score = document.querySelector('main table tbody tr td.num');
const breaks = [];  // where a heading's line ends other than at a space or after . _ - /
for (const h of document.querySelectorAll('h1, h2')) {
  const walker = document.createTreeWalker(h, NodeFilter.SHOW_TEXT);
  let top = null, before = '';
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    for (let i = 0; i < n.data.length; i++) {
      const range = document.createRange();
      range.setStart(n, i);
      range.setEnd(n, i + 1);
      const box = range.getClientRects()[0];
      if (box && box.width) {
        const wrapped = top !== null && box.top > top + 2;
        if (wrapped && !/[\s._\-\/]/.test(before) && /\S/.test(n.data[i]))
          breaks.push(h.textContent.trim() + ': ' + before + '|' + n.data[i]);
        top = box.top;
      }
      before = n.data[i];
    }
  }
}
return [document.documentElement.scrollWidth, window.innerWidth,
        texts.length ? Math.min(...texts) : null, unlabelled, table,
        score ? score.getBoundingClientRect().right : null, breaks];
"""


@pytest.mark.browser
def test_every_page_reads_on_a_phone_and_a_laptop(tmp_path):
    """The committed records' site at 390 and 1280 px: no page scrolls sideways, the index
    shows the leaders' scores on a phone, a ranked table fits a laptop one line per run, every
    plot is inline with labelled axes, text of 11 px or more, and points that link to their
    runs; a long name in a heading wraps between its parts, never mid-word (it broke as
    "vit_tiny_patch4_28.mni|st" on a phone); image entry pages show their misclassified
    images as thumbnails."""
    from selenium.webdriver.common.by import By

    tree = _repository_tree(tmp_path)
    out = tree / "leaderboard"
    server, _, base = _serve_site(out, tree)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    pages = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html"))
    assert any(p.startswith("benchmarks/multi30k-en-de") for p in pages)
    shoot = {"index.html", "benchmarks/multi30k-en-de.html",
             next(p for p in pages if p.startswith("entries/") and ".mnist-mnist-" in p)}
    browser = _chromium()
    try:
        for width in (390, 1280):
            browser.set_window_size(width, 900)
            for relative in pages:
                browser.get(base + relative)
                page_width, window, smallest, unlabelled, table, score, breaks = (
                    browser.execute_script(_LAYOUT_JS))
                where = f"{relative} at {width} px"
                assert page_width <= window, f"{where} scrolls sideways ({page_width} px)"
                assert not breaks, f"{where}: a heading breaks mid-word: {breaks}"
                if "Misclassified examples" in browser.page_source and ".mnist-" in relative:
                    thumbs = browser.execute_script(
                        "return Array.from(document.querySelectorAll('td img.thumb')).map("
                        "i => [i.complete, i.naturalWidth, i.getBoundingClientRect().width])")
                    assert len(thumbs) == 15 and all(
                        done and natural == 28 and 40 <= shown <= 56
                        for done, natural, shown in thumbs), (where, thumbs)
                assert unlabelled == 0, f"{where}: {unlabelled} plots without axis labels"
                assert smallest is None or smallest >= 11, f"{where}: {smallest:.1f} px text"
                assert not browser.find_elements(By.CSS_SELECTOR, "img[src$='.svg']"), where
                if relative == "index.html":
                    assert score <= window, f"{where}: the leader's score is off screen"
                if table and width == 1280:
                    assert table[0] <= table[1], f"{where}: the ranked table is too wide {table}"
                    assert table[2] < 2, f"{where}: a ranked row takes two lines {table}"
                if relative.startswith("benchmarks/"):
                    ranked = browser.find_elements(By.CSS_SELECTOR, "table.ranked tbody tr")
                    for plot in browser.find_elements(By.CSS_SELECTOR, "svg.plot"):
                        links = plot.find_elements(By.CSS_SELECTOR, "a circle title")
                        keys = [k.text for k in plot.find_elements(By.CSS_SELECTOR, "text.key")]
                        assert len(links) == len(ranked) and keys == [
                            str(i) for i in range(1, len(ranked) + 1)], where
                if relative in shoot:
                    name = relative.replace("/", "_").replace(".html", f"-{width}.png")
                    assert browser.save_screenshot(str(shots / name))
        # A point of a plot is a working link to its run.
        browser.set_window_size(1280, 900)
        browser.get(base + "benchmarks/sst2.html")
        href = browser.execute_script(
            "return document.querySelector('svg.plot a').href.baseVal")
        assert href.startswith("../entries/") and (out / "benchmarks" / href).resolve().is_file()
    finally:
        browser.quit()
        server.shutdown()
    assert len(list(shots.glob("*.png"))) == 6, sorted(shots.iterdir())
    print(f"screenshots in {shots}")


def test_entry_pages_say_how_to_use_the_entry_and_tabulate_provenance(tmp_path):
    """Each entry page has a usage line: the input the entry takes (the words of `zoo
    entries`), how to load and call it (a text model that takes token ids through its TF Hub
    part, on raw strings) and how to score it again; provenance is a table with the raw JSON
    one click away; an image entry's errors are thumbnails with their true and predicted
    classes and confidence (no empty text column, no "look it up")."""
    import base64
    import struct
    from html import escape

    import zoo

    out = tmp_path / "site"
    site.build(ROOT / "benchmarks" / "results", out, warn=lambda m: None)
    usages = {}
    for path in sorted((ROOT / "benchmarks" / "results").glob("*/*.json")):
        record = json.loads(path.read_text())
        entry, bench = record["model"]["entry"], record["benchmark"]["id"]
        html = (out / "entries" / f"{record['run_id']}.html").read_text()
        usage = usages[entry] = html.split("<p class=usage>")[1].split("</p>")[0]
        assert f'zoo.load("{entry}")' in usage, path
        assert escape(zoo.entries.expected_input(entry)) in usage, (path, usage)
        assert f"zoo bench run --entry {entry} --benchmark {bench}" in usage, path
        assert "<table class=provenance>" in html and "<summary>Raw JSON</summary>" in html
        assert "provenance.<wbr>git.<wbr>commit" in html
        assert "<th scope=row>seeds.<wbr>bootstrap</th><td>20261122</td>" in html
        if record["benchmark"]["definition"]["task"] == "image_classification":
            errors = html.split("<h2>Misclassified examples</h2>")[1].split("<h2")[0]
            assert "<th scope=col>text</th>" not in errors and "look it up" not in errors
            heads = re.findall(r"<th scope=col[^>]*>([^<]+)</th>", errors)
            assert heads == ["image", "test index", "true", "predicted", "confidence"], heads
            rows = errors.split("<tbody>")[1].split("<tr>")[1:]
            wrong = [r for r in records.read_predictions(path)
                     if r["prediction"] != r["target"]]
            assert len(rows) == min(15, len(wrong)) > 0
            size = record["model"]["config"]["image_size"]
            for row in rows:
                png = base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"',
                                                 row).group(1))
                assert png[:8] == b"\x89PNG\r\n\x1a\n"
                assert struct.unpack(">II", png[16:24]) == (size, size)
    assert ('<code>model = zoo.hub.load("zoo:bert_mini.sst2/classifier")</code>, then '
            "<code>model(tf.constant([...]))</code> (raw strings -&gt; logits)"
            in usages["bert_mini.sst2"])
    assert ('zoo.hub.load("zoo:transformer_small.spa-eng/translator")'
            in usages["transformer_small.spa-eng"])
    assert ('zoo.load("hub_bert_classifier.sst2")</code>, then <code>model(tf.constant([...]))'
            in usages["hub_bert_classifier.sst2"])
    assert ('zoo.load("vit_tiny_patch4_28.mnist")</code>, then <code>model.predict(x)</code>, '
            "x: images (N, 28, 28, 1) float32 in [0, 1]" in usages["vit_tiny_patch4_28.mnist"])


def test_image_scores_keep_the_first_errors_pixels_as_the_committed_records_show(tmp_path):
    """`zoo bench run` of an image classifier keeps its first 15 errors' pixels in the report
    (the entry page's thumbnails). The committed records' thumbnails (added to them from the
    benchmark data at their recorded indices) are what scoring the entry again keeps (digits),
    and the benchmark data's images at those indices (MNIST, Fashion-MNIST)."""
    import zoo
    from zoo import datasets
    from zoo.harness import benchmarks
    from zoo.tasks import _classification

    committed = {path.parent.name: path
                 for path in (ROOT / "benchmarks" / "results").glob("*/*.json")}
    fresh, _ = runner.run("vit_tiny_patch2_8", "digits", results_dir=tmp_path, progress=False,
                          weights=zoo.entries.folder("vit_tiny_patch2_8.digits"))
    want = json.loads(committed["digits"].read_text())["report"]["images"]
    assert json.loads(json.dumps(fresh["report"]["images"])) == want
    assert len(want["misclassified"]) == 10 and len(want["misclassified"][0]) == 8
    if not os.path.isdir(SHARED_DATA):
        return
    for benchmark in ("mnist", "fashion-mnist"):
        spec = benchmarks.get(benchmark)
        examples = datasets.load(spec.dataset, spec.split, data_dir=SHARED_DATA)
        rows = records.read_predictions(committed[benchmark])
        want = json.loads(committed[benchmark].read_text())["report"]["images"]
        assert _classification.error_pixels(examples, rows) == want["misclassified"]
        assert len(want["misclassified"]) == 15


def test_colour_images_are_kept_and_shown_in_colour(tmp_path):
    """An RGB benchmark's errors are kept as [red, green, blue] pixels and drawn as RGB PNGs,
    large images averaged down to at most 64 pixels a side; a picture list that mixes grey
    and RGB pixels is refused (the record is skipped)."""
    import base64
    import zlib

    import numpy as np

    from zoo.datasets import Examples
    from zoo.leaderboard import pictures
    from zoo.tasks import _classification

    images = np.random.default_rng(0).random((12, 4, 6, 3)).astype("float32")
    rows = [{"index": i, "target": 0, "prediction": i % 2} for i in range(12)]
    pixels = _classification.error_pixels(Examples(images, np.zeros(12, int)), rows)
    assert np.array_equal(pixels, np.rint(images[1::2] * 255).astype("uint8"))
    large = np.zeros((2, 224, 200, 3), "float32")
    large[1, :4, :4] = 1.0  # one 4x4 block of the error (index 1): one white pixel
    thumbnail = np.array(_classification.error_pixels(Examples(large, np.zeros(2, int)),
                                                      rows[:2]))
    assert thumbnail.shape == (1, 56, 50, 3) and thumbnail.sum() == 3 * 255

    png = pictures.png(pixels[0])
    assert png[25] == 2  # IHDR colour type: RGB
    idat = png[png.index(b"IDAT") + 4:png.index(b"IEND") - 8]
    raw = zlib.decompress(idat)
    assert [raw[k * 19] for k in range(4)] == [0] * 4  # a filter byte before each row
    assert list(raw[1:19]) == [v for pixel in pixels[0][0] for v in pixel]

    results = tmp_path / "results"
    _record(results, "colour-run", _set("report.images", {"misclassified": pixels}),
            rows="".join(json.dumps(dict(r, confidence=0.5)) + "\n" for r in rows))
    warnings = []
    site.build(results, tmp_path / "site", warn=warnings.append)
    assert warnings == []
    html = (tmp_path / "site" / "entries" / "colour-run.html").read_text()
    shown = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(shown) == 6 and base64.b64decode(shown[0]) == png


def test_the_published_site_is_what_the_committed_records_build():
    published = ROOT / "leaderboard"
    assert published.is_dir(), "leaderboard/ must be committed (zoo leaderboard build)"
    fresh, _ = site.render(ROOT / "benchmarks" / "results", warn=lambda m: None, at=published,
                           exports_dir=ROOT / "benchmarks" / "exports")
    committed = _files(published)
    stale = sorted(set(fresh) ^ set(committed)) + sorted(
        k for k in set(fresh) & set(committed) if fresh[k] != committed[k])
    assert not stale, f"leaderboard/ is stale; run `zoo leaderboard build`. Differs: {stale[:10]}"


def test_the_site_links_each_record_and_archive_where_it_lies_and_copies_none(tmp_path):
    """Git holds each record, predictions file and TF Hub archive once: the site's pages and
    leaderboard.json link them in `benchmarks/` by relative paths that resolve from where each
    page lies, and the site holds no copy (it was 54 MB of copies)."""
    from urllib.parse import unquote

    tree = _repository_tree(tmp_path)
    out = tree / "leaderboard"
    kept = [p for p in out.rglob("*") if p.is_file()]
    assert not [p for p in kept if p.suffix in (".jsonl", ".gz") or p.parent.name == "records"]
    assert sum(p.stat().st_size for p in kept) < 2e6
    targets = set()
    for page in out.rglob("*.html"):
        for href in re.findall(r'href="([^"#]+)"', page.read_text(encoding="utf-8")):
            target = (page.parent / unquote(href)).resolve()
            assert target.is_file(), f"{page.relative_to(out)}: broken link {href}"
            targets.add(target)
    results, exports = ROOT / "benchmarks" / "results", ROOT / "benchmarks" / "exports"
    committed = {p.resolve() for p in results.rglob("*.json*")} | {
        p.resolve() for p in exports.glob("*/*.tar.gz")}
    assert committed <= targets, sorted(committed - targets)[:5]  # every one, in place
    board = json.loads((out / "leaderboard.json").read_text())
    for bench in board["benchmarks"]:
        for entry in bench["entries"]:
            assert (out / entry["record"]).resolve().is_relative_to(results.resolve()), entry


def test_cli_build(tmp_path, results, capsys):
    from zoo.cli import main

    assert main(["leaderboard", "build", "--results", str(results), "--out",
                 str(tmp_path / "lb")]) == 0
    assert re.search(r"wrote \d+ files", capsys.readouterr().out)
    assert main(["leaderboard", "serve", "--dir", str(tmp_path / "nothing")]) == 2


# --- Records from anyone: checked before use, never a path outside, never live markup --------

COMMITTED = sorted((ROOT / "benchmarks" / "results" / "digits").glob("*[0-9a-f].json"))[0]


def _record(folder, name, change=None, rows=None, benchmark="digits"):
    """Writes a copy of a committed record (and its predictions) as `name` under `folder`,
    after `change(record)`; returns the record's path."""
    record = json.loads(COMMITTED.read_text())
    record["run_id"] = name
    record["predictions_file"] = f"{name}.predictions.jsonl"
    if change is not None:
        change(record)
    where = folder / benchmark
    where.mkdir(parents=True, exist_ok=True)
    path = where / f"{name}.json"
    path.write_text(json.dumps(record))
    if rows is None:
        rows = COMMITTED.with_name(COMMITTED.name.replace(".json", ".predictions.jsonl")).read_text()
    if isinstance(record.get("predictions_file"), str) and "/" not in record["predictions_file"]:
        (where / record["predictions_file"]).write_text(rows)
    return path


def _set(path, value):
    def change(record):
        *parents, last = path.split(".")
        target = record
        for key in parents:
            target = target[key]
        target[last] = value
    return change


def _site_text(out):
    return {p.relative_to(out).as_posix(): p.read_bytes().decode("utf-8", "replace")
            for p in out.rglob("*") if p.is_file()}


def test_record_values_never_become_paths_outside_the_site_or_the_results(tmp_path):
    results, out = tmp_path / "results", tmp_path / "site"
    escape = tmp_path / "escaped"
    secret = tmp_path / "secret.predictions.jsonl"
    secret.write_text('{"index": 0, "text": "SECRET-OUTSIDE-THE-RESULTS"}\n')
    good = _record(results, "good-run")
    bad = {
        "benchmark.id": _record(results, "bad-benchmark", _set(
            "benchmark.id", "../" * 12 + str(escape).lstrip("/"))),
        "run_id": _record(results, "bad-run-id", _set("run_id", "../../escaped-run")),
        "model.entry": _record(results, "bad-entry", _set("model.entry", "../../../../../etc")),
        "predictions_file": _record(results, "bad-predictions", _set(
            "predictions_file", "../../secret.predictions.jsonl")),
    }
    # A record that is a link to a file outside the results, and one whose predictions are.
    outside = _record(tmp_path / "elsewhere", "linked-run")
    (results / "digits" / "linked-run.json").symlink_to(outside)
    linked = _record(results, "linked-predictions")
    predictions = linked.with_name("linked-predictions.predictions.jsonl")
    predictions.unlink()
    predictions.symlink_to(secret)
    warnings = []
    report = site.build(results, out, warn=warnings.append)
    for field, path in bad.items():
        assert any(str(path) in w and field in w for w in warnings), (field, warnings)
    for path in (results / "digits" / "linked-run.json", linked):
        assert any(str(path) in w and "outside" in w for w in warnings), (path, warnings)
    assert len(report["problems"]) == 6
    assert not list(tmp_path.glob("escaped*")), "the build wrote outside --out"
    texts = _site_text(out)
    assert not any("SECRET-OUTSIDE" in text for text in texts.values())
    assert "entries/good-run.html" in texts and good.exists()
    pages = sorted(p for p in texts if p.startswith("entries/") and p.endswith(".html"))
    assert pages == ["entries/good-run.html"]


@pytest.mark.parametrize("field, change, rows", [
    ("model.params", _set("model.params", "about a million"), None),
    ("model.params", _set("model.params", -5), None),
    ("created", _set("created", 20261123), None),
    ("created", _set("created", "yesterday"), None),
    ("main_metric.value", _set("main_metric.value", "0.9"), None),
    ("throughput.examples_per_second", _set("throughput.examples_per_second", [1]), None),
    ("benchmark.examples.total", _set("benchmark.examples.total", "360"), None),
    ("metrics", _set("metrics", [1, 2]), None),
    ("report.confusion_matrix", _set("report.confusion_matrix", [[1, 2], [3]]), None),
    ("report.label_names", _set("report.label_names", ["0", "1"]), None),
    ("report.images", _set("report", {"images": {"samples": [[[0, 300]]]}}), None),
    ("report.images.misclassified", _set("report", {"images": {
        "misclassified": [[[0, [1, 2, 3]]]]}}), None),
    ("flags.dirty", _set("flags.dirty", "no"), None),
    ("model.training_data", _set("model.training_data", "sst2"), None),
    ("line 2", None, '{"index": 0, "prediction": 1, "target": 1}\n[1, 2]\n'),
    ("confidence", None, '{"index": 0, "prediction": 1, "target": 1, "confidence": "high"}\n'),
])
def test_a_record_of_the_wrong_types_is_skipped_with_a_warning(tmp_path, field, change, rows):
    results = tmp_path / "results"
    _record(results, "good-run")
    bad = _record(results, "bad-run", change, rows)
    warnings = []
    report = site.build(results, tmp_path / "site", warn=warnings.append)
    assert len(warnings) == 1 and str(bad) in warnings[0] and field in warnings[0], warnings
    assert report["problems"] == warnings
    assert (tmp_path / "site" / "entries" / "good-run.html").is_file()
    assert not (tmp_path / "site" / "entries" / "bad-run.html").exists()


def test_strings_from_records_are_inert_in_html_svg_and_csv(tmp_path):
    formula = '=HYPERLINK("http://evil.example/","click")'

    def change(record):
        record["model"]["name"] = formula
        record["model"].pop("entry")
        record["throughput"]["hardware"] = "@SUM(1+1)" + EVIL
        record["benchmark"]["definition"]["description"] = EVIL
        record["benchmark"]["definition"]["labels"] = [EVIL + str(i) for i in range(10)]
        record["report"]["label_names"] = [EVIL + str(i) for i in range(10)]
        record["report"]["per_class"] = {EVIL: {"precision": 1.0}}
        record["model"]["training_data"] = [{"dataset": EVIL, "split": EVIL, "via": EVIL}]
        record["metrics"]["accuracy"]["signature"] = EVIL

    results = tmp_path / "results"
    _record(results, "evil-strings", change,
            rows=json.dumps({"index": 0, "prediction": 1, "target": 2, "confidence": 0.5,
                             "text": EVIL}) + "\n")
    warnings = []
    site.build(results, tmp_path / "site", warn=warnings.append)
    assert not warnings
    texts = _site_text(tmp_path / "site")
    for name, text in texts.items():
        if name.endswith((".html", ".svg")):
            assert "<script>window.__pwned" not in text and "<b>" not in text, name
    assert "&lt;script&gt;window.__pwned" in texts["entries/evil-strings-confusion.svg"]
    import csv
    import io

    [row] = list(csv.DictReader(io.StringIO(texts["benchmarks/digits.csv"])))
    assert row["model"] == "'" + formula and row["hardware"].startswith("'@SUM")


def test_the_build_replaces_only_a_site(tmp_path, monkeypatch, capsys):
    from zoo.cli import main

    results = tmp_path / "results"
    _record(results, "good-run")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    assert main(["leaderboard", "build", "--results", str(results), "--out", str(mine)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("zoo leaderboard: error: ") and "--force" in error
    assert (mine / "thesis.tex").read_text() == "years of work"
    assert not list(tmp_path.glob(".mine*"))
    with pytest.raises(site.SiteError, match="not a zoo leaderboard site.*--force"):
        site.build(results, mine, warn=lambda m: None)

    # `--out .`: a clear refusal, no traceback (and the working folder is left alone).
    monkeypatch.chdir(mine)
    assert main(["leaderboard", "build", "--results", str(results), "--out", "."]) == 2
    assert "not a zoo leaderboard site" in capsys.readouterr().err
    assert (mine / "thesis.tex").is_file()
    # A folder holding the records is never replaced, even with --force.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(site.SiteError, match="would delete them"):
        site.build(results, tmp_path, warn=lambda m: None, force=True)
    # A site built before, an empty folder, or --force: replaced.
    assert main(["leaderboard", "build", "--results", str(results), "--out", "mine",
                 "--force"]) == 0
    assert not (mine / "thesis.tex").exists() and (mine / site.MARKER).is_file()
    (mine / "stale.html").write_text("old page")
    site.build(results, mine, warn=lambda m: None)
    assert not (mine / "stale.html").exists() and (mine / "index.html").is_file()
    (tmp_path / "empty").mkdir()
    site.build(results, tmp_path / "empty", warn=lambda m: None)
    with pytest.raises(site.SiteError, match="is a file"):
        site.build(results, mine / "index.html", warn=lambda m: None, force=True)


DEEP = "[" * 100_000 + "]" * 100_000


def _raw(text):
    def change(record):
        record["__raw__"] = text
    return change


@pytest.mark.parametrize("field, change, rows", [
    # JSON nested past Python's recursion limit: RecursionError while reading.
    ("cannot read", _raw('{"run_id": ' + DEEP + "}"), None),
    # Integers beyond a float (10**400) or beyond any real model: OverflowError when shown.
    ("model.params", _set("model.params", 10**400), None),
    ("model.params", _set("model.params", 10**15), None),
    ("main_metric.value", _set("main_metric.value", 10**400), None),
    ("metrics.accuracy.value", _set("metrics.accuracy.value", 10**400), None),
    ("benchmark.examples.total", _set("benchmark.examples.total", 10**400), None),
    ("model.training_seconds", _set("model.training_seconds", 10**400), None),
    ("report.confusion_matrix", _set("report.confusion_matrix",
                                     [[10**400] * 10 for _ in range(10)]), None),
    ("report.confusion_matrix", lambda r: r["report"].update(
        confusion_matrix=[[0] * 2001 for _ in range(2001)],
        label_names=[str(i) for i in range(2001)]), None),
    # Dates that have the shape of ISO 8601 but are no time at all.
    ("created", _set("created", "2026-99-99T00:00:00Z"), None),
    ("created", _set("created", "2026-02-30T25:61:00"), None),
    ("line 2", None, '{"index": 0, "prediction": 1, "target": 1}\n' + DEEP + "\n"),
    ("index", None, '{"index": ' + str(10**400) + ', "prediction": 1, "target": 1}\n'),
])
def test_a_hostile_record_is_skipped_with_a_warning(tmp_path, field, change, rows):
    """Deep nesting, huge numbers and impossible dates skip the record, naming its file; the
    build goes on (they were RecursionError and OverflowError tracebacks, or accepted)."""
    from zoo.cli import main

    results = tmp_path / "results"
    _record(results, "good-run")
    bad = _record(results, "bad-run", change, rows)
    record = json.loads(bad.read_text())
    if "__raw__" in record:
        bad.write_text(record["__raw__"])
    warnings = []
    report = site.build(results, tmp_path / "site", warn=warnings.append)
    assert len(warnings) == 1 and str(bad) in warnings[0] and field in warnings[0], warnings
    assert report["problems"] == warnings
    assert (tmp_path / "site" / "entries" / "good-run.html").is_file()
    assert not (tmp_path / "site" / "entries" / "bad-run.html").exists()
    assert main(["leaderboard", "build", "--results", str(results), "--out",
                 str(tmp_path / "site")]) == 0


def test_a_real_date_with_a_zone_or_fraction_is_accepted(tmp_path):
    results = tmp_path / "results"
    for name, created in (("z", "2026-01-31T12:00:00Z"), ("offset", "2026-01-31T12:00:00.5+02:00"),
                          ("day", "2026-01-31")):
        _record(results, name, _set("created", created))
    warnings = []
    site.build(results, tmp_path / "site", warn=warnings.append)
    assert warnings == []


def test_the_site_is_never_built_inside_the_results(tmp_path, capsys):
    """`--out RESULTS/site` would be read back as records by every later build: refused."""
    from zoo.cli import main

    results = tmp_path / "results"
    _record(results, "good-run")
    with pytest.raises(site.SiteError, match="inside the results folder"):
        site.build(results, results / "site", warn=lambda m: None, force=True)
    assert main(["leaderboard", "build", "--results", str(results), "--out",
                 str(results / "digits" / "site")]) == 2
    error = capsys.readouterr().err
    assert "inside the results folder" in error and len(error.strip().splitlines()) == 1
    assert not (results / "site").exists() and not (results / "digits" / "site").exists()


# --- Training curves ---------------------------------------------------------------------------

VERSE = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"
         "\nFirst Citizen:\nYou are all resolved rather to die than to famish?\n") * 3
VERSE_BENCHMARK = '''id = "verse"
version = 1
task = "language_modeling"
description = "a few lines of verse"
dataset = "files"
split = "test"
metrics = ["nats_per_char"]
main_metric = "nats_per_char"
[files]
kind = "text"
path = "verse.txt"
[preprocessing]
context_length = 16
segment_length = 50
[samples]
prompts = ["All:"]
max_new_tokens = 4
'''


@pytest.fixture(scope="module")
def curves(tmp_path_factory):
    """A real short training run (a one-block GPT, 6 steps on a text file, the loss logged
    every step and the validation loss every 3), scored from its run folder and, published,
    as an entry, and a site built from both records and an untrained run's."""
    import zoo
    from zoo import entries
    from zoo.training import recipes

    folder = tmp_path_factory.mktemp("curves")
    (folder / "train.txt").write_text(VERSE, encoding="utf-8")
    (folder / "verse.txt").write_text(VERSE[::-1], encoding="utf-8")
    (folder / "verse.toml").write_text(VERSE_BENCHMARK, encoding="utf-8")
    recipe = recipes.get("gpt_char_small.tinyshakespeare").replace(
        entry="mine.verse", benchmark=None, dataset="files",
        files={"kind": "text", "path": str(folder / "train.txt")}, steps=6, batch_size=4,
        max_length=16, log_every=1, checkpoint_every=6,
        model_overrides={"num_layers": 1, "num_heads": 2, "hidden_dim": 32,
                         "intermediate_dim": 64},
        validation={"files": {"kind": "text", "path": str(folder / "verse.txt")},
                    "examples": 2, "every": 3})
    run = zoo.train(recipe, out=folder / "run", log=lambda *_: None)["run_dir"]
    entry = entries.publish(run, dest_root=folder / "entries")
    results = folder / "results"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOO_BENCHMARKS_PATH", str(folder))
        patch.setenv("ZOO_CACHE_DIR", str(folder / "cache"))
        for weights in (run, entry, None):
            runner.run("gpt_char_small", "verse", weights=weights, results_dir=results,
                       progress=False)
    site.build(results, folder / "site", warn=lambda m: None)
    return folder, run, entry


def _history(folder):
    return [json.loads(line) for line in (folder / "history.jsonl").read_text().splitlines()]


def test_a_training_run_and_its_entry_are_scored_with_their_training_curve(curves):
    """`zoo bench run` keeps the history of the run or entry folder it scores in the record;
    `zoo publish` copies the history into the entry."""
    folder, run, entry = curves
    history = _history(run)
    assert (entry / "history.jsonl").read_bytes() == (run / "history.jsonl").read_bytes()
    assert [row["step"] for row in history] == [1, 2, 3, 4, 5, 6]
    read = [records.read(p) for p in sorted((folder / "results" / "verse").glob("*[0-9a-f].json"))]
    trained = [r for r in read if not r["flags"]["untrained"]]
    assert len(trained) == 2 and len(read) == 3
    for record in trained:
        curve = record["training_curve"]
        assert curve["rows"] == 6 and curve["source"] == "history.jsonl"
        assert curve["series"]["loss"] == {"step": [1, 2, 3, 4, 5, 6],
                                           "value": [row["loss"] for row in history],
                                           "seconds": [row["seconds"] for row in history]}
        assert curve["series"]["val_loss"]["step"] == [3, 6]
        assert curve["series"]["val_loss"]["value"] == [history[2]["val_loss"],
                                                        history[5]["val_loss"]]
    assert [r["training_curve"] for r in read if r["flags"]["untrained"]] == [None]


def test_an_entry_page_draws_the_training_curve_with_labelled_axes(curves):
    folder, _, _ = curves
    pages = {p: p.read_text() for p in (folder / "site" / "entries").glob("*.html")}
    drawn = [p for p, text in pages.items() if "Training curve" in text]
    assert len(drawn) == 2 and len(pages) == 3
    for page in drawn:
        text = pages[page]
        [svg] = re.findall(r'<svg[^>]*class="plot".*?</svg>', text, re.S)
        assert '<text class="x-label"' in svg and ">training step</text>" in svg
        assert '<text class="y-label"' in svg and ">loss</text>" in svg
        assert svg.count('<polyline class="series"') == 2  # training and validation loss
        assert ">training loss</text>" in svg and ">validation loss</text>" in svg  # the key
        assert ("From the training history of these weights (<code>history.jsonl</code>: 6 "
                "logged steps, to step 6 after") in " ".join(text.split())
        svg_file = page.with_name(page.stem + "-curve-0.svg")
        assert svg_file.read_text() == svg and f'href="{svg_file.name}"' in text
    # The untrained run's page has no such section, not even an empty one.
    [bare] = [text for p, text in pages.items() if p not in drawn]
    assert "id=training-curve" not in bare and "Training curve" not in bare
    assert "-curve-" not in bare and 'class="plot"' not in bare


def test_pages_of_records_without_a_training_curve_show_no_section(built):
    """Records of `.keras` files (no run folder), untrained runs and every record made before
    records kept the history: no training-curve section, heading or picture."""
    out, _, _ = built
    for page in (out / "entries").glob("*.html"):
        assert "Training curve" not in page.read_text(), page.name
    assert not list((out / "entries").glob("*-curve-*.svg"))


@pytest.mark.browser
def test_a_training_curve_reads_on_a_phone_and_a_laptop(curves, tmp_path):
    """The curve of a long run (5,000 steps, losses and a validation BLEU, thinned to 200
    points) on its entry page at 390 and 1280 px: inline, axes labelled, no text under 11 px,
    nothing scrolls sideways, the last x tick inside the picture."""
    import math

    folder, _, _ = curves
    results = tmp_path / "results"
    shutil.copytree(folder / "results", results)
    path = next(p for p in sorted((results / "verse").glob("*[0-9a-f].json"))
                if json.loads(p.read_text())["training_curve"])
    record = json.loads(path.read_text())
    rows = [{"step": s, "loss": 4 * math.exp(-s / 800) + 1.4, "seconds": s / 10}
            for s in range(10, 5001, 10)]
    for row in rows[49::50]:
        row.update(val_loss=row["loss"] + 0.1, val_bleu=40 - 30 * math.exp(-row["step"] / 999))
    record["training_curve"] = records.training_curve(rows, "history.jsonl", "0" * 64)
    path.write_text(json.dumps(record))
    site.build(results, tmp_path / "site", warn=lambda m: None)
    server, _, base = _serve_site(tmp_path / "site", results)
    browser = _chromium()
    try:
        for width in (390, 1280):
            browser.set_window_size(width, 900)
            browser.get(f"{base}entries/{path.stem}.html")
            page_width, window, smallest, unlabelled, _, _, _ = browser.execute_script(
                _LAYOUT_JS)
            plots = browser.execute_script(
                "return Array.from(document.querySelectorAll('#training-curve ~ .plots svg"
                ".plot')).map(s => { const box = s.getBoundingClientRect(); return [box.right,"
                " Math.max(...Array.from(s.querySelectorAll('text.tick')).map("
                "t => t.getBoundingClientRect().right))]; })")
            assert page_width <= window and unlabelled == 0 and smallest >= 11, width
            assert len(plots) == 2 and all(ticks <= right for right, ticks in plots), plots
    finally:
        browser.quit()
        server.shutdown()
