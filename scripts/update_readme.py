#!/usr/bin/env python3
"""Regenerates the generated blocks of README.md: the models table (from the registry) and
the results table (from the published leaderboard, `leaderboard/leaderboard.json`).

    python scripts/update_readme.py          # rewrite README.md
    python scripts/update_readme.py --check  # exit 1 if README.md is out of date
"""

import posixpath
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import zoo  # noqa: E402
from zoo.models.catalog import get_spec  # noqa: E402

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"(<!-- models:start -->\n).*?(<!-- models:end -->)", re.S)
RESULTS = re.compile(r"(<!-- results:start -->\n).*?(<!-- results:end -->)", re.S)
BOARD = README.parent / "leaderboard" / "leaderboard.json"


def models_table():
    rows = ["| name | family | parameters | what it is |", "|---|---|---:|---|"]
    for name in zoo.list_models():
        spec = get_spec(name)
        params = "its handles'" if spec.params is None else f"{spec.params:,}"
        rows.append(f"| `{name}` | {spec.family} | {params} | {spec.description} |")
    return "\n".join(rows) + "\n"


def results_table():
    import json

    board = json.loads(BOARD.read_text(encoding="utf-8")) if BOARD.is_file() else {}
    rows = ["| benchmark | leader | main metric [95% interval] | parameters | record |",
            "|---|---|---|---:|---|"]
    for bench in board.get("benchmarks", []):
        if not bench["entries"]:
            continue
        top = bench["entries"][0]
        m = top["main_metric"]
        record = posixpath.normpath(f"leaderboard/{top['record']}")  # linked where it lies
        rows.append(f"| [{bench['id']}](leaderboard/benchmarks/{bench['id']}.html) | "
                    f"`{top['model']}` | {m['name']} {m['value']:.4g} [{m['low']:.4g}, "
                    f"{m['high']:.4g}] | {top['params']:,} | [json]({record}) |")
    if len(rows) == 2:
        rows.append("| (no published results yet) | | | | |")
    newest = board.get("newest_result") or "none"
    return "\n".join(rows) + f"\n\nNewest result: {newest[:10]}.\n"


def render(text):
    text = BLOCK.sub(lambda m: m.group(1) + models_table() + m.group(2), text)
    return RESULTS.sub(lambda m: m.group(1) + results_table() + m.group(2), text)


def main(argv):
    text = README.read_text(encoding="utf-8")
    new = render(text)
    if "--check" in argv:
        if new != text:
            print("README.md is out of date: run python scripts/update_readme.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
