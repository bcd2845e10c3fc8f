"""The model families. Importing this package does not import TensorFlow."""
