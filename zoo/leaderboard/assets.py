"""The site's stylesheet and its one script (sorting; the pages work without it)."""

STYLE = """:root { --ink: #1d2330; --muted: #5b6475; --line: #d7dbe3; --accent: #1b5e9e;
  --flag: #9c2a00; --tie: #2f7d32; }
* { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
  margin: 0; background: #fff; }
header, main, footer { max-width: 76rem; margin: 0 auto; padding: 0.75rem 1rem; }
header { border-bottom: 1px solid var(--line); }
footer { color: var(--muted); font-size: 0.85rem; border-top: 1px solid var(--line); }
a { color: var(--accent); }
a:focus, button:focus { outline: 3px solid #f2a900; outline-offset: 2px; }
h1 { font-size: 1.6rem; margin: 0.5rem 0; }
h2 { font-size: 1.2rem; margin-top: 1.5rem; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; max-width: 100%; }
.scroll > table > * > tr > :first-child { position: sticky; left: 0; z-index: 1;
  background: #fff; box-shadow: 1px 0 0 var(--line); }
.scroll > table > thead > tr > :first-child { background: #f4f6f9; }
table.ranked > * > tr > :first-child { min-width: 2.5rem; width: 2.5rem; }
table.ranked > * > tr > :nth-child(2) { position: sticky; left: 2.5rem; z-index: 1;
  background: #fff; box-shadow: 1px 0 0 var(--line); }
table.ranked > thead > tr > :nth-child(2) { background: #f4f6f9; }
table.ranked td, table.ranked th { white-space: nowrap; }
table.ranked thead th { white-space: normal; vertical-align: bottom; }
table.ranked details dl { white-space: normal; margin: 0.3rem 0; min-width: 16rem;
  max-width: 24rem; }
table.ranked details dt { font-weight: bold; }
table.ranked details dd { margin: 0; }
tbody th { font-weight: normal; background: none; white-space: normal; }
table.provenance th { font-family: ui-monospace, SFMono-Regular, Menlo, monospace;
  font-size: 0.85rem; white-space: normal; }
table.provenance td { word-break: break-word; }
table { border-collapse: collapse; width: 100%; font-size: 0.92rem; }
caption { text-align: left; color: var(--muted); padding: 0.3rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: 0.35rem 0.5rem; text-align: left;
  vertical-align: top; }
th { background: #f4f6f9; white-space: nowrap; }
h1, dd, li, p { overflow-wrap: anywhere; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
thead th.num { white-space: normal; }  /* a long heading wraps over narrow numbers */
th button { font: inherit; font-weight: bold; background: none; border: 0; padding: 0;
  cursor: pointer; color: inherit; }
th[aria-sort=ascending] button::after { content: " \\25B2"; }
th[aria-sort=descending] button::after { content: " \\25BC"; }
.ci { color: var(--muted); font-size: 0.85em; }
td.lines { white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: 0.9em; }
.tie { color: var(--tie); font-weight: bold; }
.flag { color: var(--flag); }
code, pre { font: 0.85rem/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
pre { background: #f4f6f9; padding: 0.6rem; overflow-x: auto; white-space: pre-wrap;
  word-break: break-word; }
td code { word-break: break-all; }
dl.definition { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
dl.definition dt { font-weight: bold; }
dl.definition dd { margin: 0; word-break: break-word; }
.plots { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0.5rem 0; max-width: 100%; }
svg.plot { display: block; max-width: 100%; height: auto; }
svg.matrix { display: block; }
svg a:focus circle { stroke: #f2a900; stroke-width: 3; }
figure img, main > img { max-width: 100%; height: auto; }
img.pixels { image-rendering: pixelated; width: 100%; max-width: 36rem; }
img.pixels.thumb { width: 3.5rem; height: auto; max-width: none; display: block; }
table.examples { width: auto; }
table.examples thead th { white-space: normal; vertical-align: bottom; font-size: 0.85rem; }
@media (max-width: 40rem) {
  body { font-size: 15px; }
  dl.definition { grid-template-columns: 1fr; }
  th, td { padding: 0.3rem; }
  img.pixels.thumb { width: 2.5rem; }
  table.examples th, table.examples td { padding: 0.3rem 0.2rem; }
}
"""

SORT_JS = """// Sortable tables: each header of a table.sortable becomes a button (keyboard and mouse).
// Without this script the tables are still there, ranked by the main metric.
(function () {
  "use strict";
  function value(cell, numeric) {
    var raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent;
    if (!numeric) { return raw.trim().toLowerCase(); }
    var n = parseFloat(raw);
    return isNaN(n) ? -Infinity : n;
  }
  function sortBy(table, index, th) {
    var numeric = th.getAttribute("data-type") === "num";
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = value(a.cells[index], numeric), y = value(b.cells[index], numeric);
      if (x < y) { return ascending ? -1 : 1; }
      if (x > y) { return ascending ? 1 : -1; }
      return 0;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) {
      cell.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }
  function enhance(table) {
    if (!table.tHead || !table.tBodies.length || table.tBodies[0].rows.length < 2) { return; }
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = th.textContent;
      button.setAttribute("aria-label", "Sort by " + th.textContent);
      button.addEventListener("click", function () { sortBy(table, index, th); });
      th.textContent = "";
      th.appendChild(button);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), enhance);
  });
})();
"""

FAVICON = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16"
 rx="3" fill="#1b5e9e"/><path d="M4 4h8L4 12h8" stroke="#fff" stroke-width="2" fill="none"/></svg>
"""
