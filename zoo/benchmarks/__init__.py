"""Benchmark definitions shipped with zoo, one TOML file per benchmark (`zoo.harness.benchmarks`
reads them; `$ZOO_BENCHMARKS_PATH` adds a user's own)."""
