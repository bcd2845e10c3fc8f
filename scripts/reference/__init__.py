"""Reference-fixture makers, one module per source library and family (see
`scripts/make_reference_fixtures.py`)."""
