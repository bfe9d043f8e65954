"""The anomaly model at run time: its card, its networks and the two engines that run them.

- ``card``: the typed, versioned model card, read and verified (schema, fields, recipe, rows).
- ``loader``: card + hash-checked weights -> a ``LoadedModel`` ready to score.
- ``netconfig``: the generator's architecture (no torch needed to check it).
- ``networks``: the BeatGAN generator (encoder + decoder) in torch.
- ``inference``: the generator run by torch or by ONNX Runtime behind one numpy call.

Nothing here trains or writes a model: that is the trainer's (``trainer/export.py``). Importing this
package imports no torch; only the torch backend does.
"""
