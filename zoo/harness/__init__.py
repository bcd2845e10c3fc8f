"""The evaluation harness: benchmarks as data, metrics with intervals, result records."""
