"""lenet family: LeNet-style convolutional image classifiers; see presets.py for its variants."""
