#!/usr/bin/env python3
"""Regenerates the shipped Tatoeba English-Spanish sample in zoo/data/samples/.

    python scripts/make_text_samples.py --data-dir DIR

DIR holds the split files `train.tsv.gz` and `test.tsv.gz` (`english<TAB>spanish`
a line; see zoo/data/samples/README.md). A seeded random sample of lines is
kept in the files' order (the corpus is sorted by length, so the first lines
alone would be one-word sentences).
"""

import argparse
import gzip
import hashlib
import os
import random
from pathlib import Path

from zoo import atomic

OUT = Path(__file__).resolve().parent.parent / "zoo" / "data" / "samples"
SAMPLES = {"tatoeba_en_es.tsv": ("train.tsv.gz", 4000), "tatoeba_en_es.test.tsv": ("test.tsv.gz", 500)}
SEED = 0


def sample(path, n):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    for number, line in enumerate(lines, 1):
        if line.count("\t") != 1:
            raise ValueError(f"{path}, line {number}: expected 'english<TAB>spanish', got {line!r}")
    keep = sorted(random.Random(SEED).sample(range(len(lines)), n))
    return [lines[i] for i in keep]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True, help="folder with train.tsv.gz and test.tsv.gz")
    args = parser.parse_args()
    for name, (source, n) in SAMPLES.items():
        text = "english\tspanish\n" + "\n".join(sample(os.path.join(args.data_dir, source), n)) + "\n"
        atomic.write_text(OUT / name, text)
        print(f"{name}: {n} pairs, sha256 {hashlib.sha256(text.encode()).hexdigest()}")


if __name__ == "__main__":
    main()
