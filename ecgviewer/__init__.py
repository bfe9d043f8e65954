"""ecgviewer: review long ECG recordings with a neural network that flags anomalous beats."""

__version__ = "0.1.0"
