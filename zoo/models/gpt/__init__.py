"""gpt family: see presets.py for its variants."""
