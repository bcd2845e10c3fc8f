"""Data shipped with zoo."""
