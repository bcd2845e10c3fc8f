"""Exports published entries in TF Hub's format for the leaderboard's download links.

Writes `benchmarks/exports/<entry>/<part>.tar.gz` (one SavedModel per archive, loadable by URL
with `zoo.hub.load` / `tensorflow_hub.load` once the site is served), `MODEL_CARD.md` and
`model_card.json`. Each entry gets fine-tunable float32 parts when their archives stay under
`--max-mb` in total; otherwise inference-only parts with the weights as the entry stores them
(float16 or int8, `zoo export ENTRY DIR --weights stored`) when those fit, or only the
`classifier` part so stored; otherwise it is listed and skipped (its page shows
`zoo export ENTRY DIR --tar`). Existing exports are kept unless `--force`, since SavedModel
bytes differ between two exports of the same weights.

    python scripts/export_entries.py [ENTRY ...] [--max-mb 8] [--force]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The one copy of the archives: the site links them here (`zoo leaderboard build --exports`).
EXPORTS = ROOT / "benchmarks" / "exports"
# Tried in order until the archives fit: every part fine-tunable; every part as stored; the
# one part a text classifier's users call (it tokenizes raw strings itself), as stored.
ATTEMPTS = [("float32", None), ("stored", None), ("stored", ["classifier"])]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    from zoo import atomic, entries
    from zoo.hub import export

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("entries", nargs="*", help="entries (default: every published one)")
    parser.add_argument("--max-mb", type=float, default=8.0,
                        help="skip entries whose archives total more (default 8 MB)")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    for name in args.entries or entries.list_entries():
        target = EXPORTS / name
        if target.is_dir() and not args.force:
            print(f"{name}: kept {target.relative_to(ROOT)}")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            for attempt, (weights, parts) in enumerate(ATTEMPTS):
                out = Path(tmp) / str(attempt) / name
                try:
                    archives = export.export_entry(name, out, parts=parts, tar=True,
                                                   weights=weights)
                except ValueError as error:  # e.g. no compact export for this kind of model
                    print(f"{name}: {error}")
                    continue
                size = sum(a.stat().st_size for a in archives) / 2**20
                if size <= args.max_mb:
                    break
                print(f"{name}: {size:.1f} MB of {weights} archives ({', '.join(parts or ['all'])}"
                      f" parts), over --max-mb {args.max_mb}")
            else:
                print(f"{name}: skipped")
                continue
            with atomic.staged_folder(target, existing="replace") as staging:  # --force
                for archive in archives:
                    shutil.copy2(archive, staging / archive.name)
                for card in ("MODEL_CARD.md", "model_card.json"):
                    shutil.copy2(out / card, staging / card)
            print(f"{name}: {size:.1f} MB ({weights} weights) -> {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
