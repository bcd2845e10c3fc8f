"""The one error every conversion raises for a source it cannot convert faithfully."""


class ConversionError(ValueError):
    """A checkpoint zoo cannot convert without changing what it computes: an unknown layout or
    architecture, a setting zoo's architecture cannot represent, a tensor that is missing, left
    over or of the wrong shape. The message names the file, field or tensor and what to do."""
