"""Trainer for the BeatGAN family: datasets, training, evaluation and the bundled model.

May import ``ecgviewer.core``; nothing in ``ecgviewer`` imports it.
"""
