"""Other libraries' checkpoints as numpy, and the checked assignment of them to a zoo model.

The building blocks a family's converter (`zoo/models/<family>/convert.py`) uses:
`errors.ConversionError`, `converted.Source` / `converted.Converted`, `readers` (safetensors,
TensorFlow checkpoints, Keras `.weights.h5`; never a pickle) and `weights.assign`. The stage
that finds a source and the family that reads it is `zoo.convert`.
"""
