#!/usr/bin/env python3
"""Regenerates the generated blocks of README.md from the registry.

    python scripts/update_readme.py          # rewrite README.md
    python scripts/update_readme.py --check  # exit 1 if README.md is out of date
"""

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import zoo  # noqa: E402
from zoo.models.catalog import get_spec  # noqa: E402

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"(<!-- models:start -->\n).*?(<!-- models:end -->)", re.S)


def models_table():
    rows = ["| name | family | parameters | what it is |", "|---|---|---:|---|"]
    for name in zoo.list_models():
        spec = get_spec(name)
        rows.append(f"| `{name}` | {spec.family} | {spec.params:,} | {spec.description} |")
    return "\n".join(rows) + "\n"


def render(text):
    return BLOCK.sub(lambda m: m.group(1) + models_table() + m.group(2), text)


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
