"""The Qt-free domain core: records, filtering, beats, models and scoring.

Everything here is shared by the viewer, the command line, the trainer and the evaluation, and
must never import Qt (checked by import-linter in CI).
"""
