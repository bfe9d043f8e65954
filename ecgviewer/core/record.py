"""Reading records: the one loader used by the viewer, the CLI and the trainer, for every format.

WFDB, EDF/EDF+, BDF/BDF+ and ISHNE Holter files (one reader each in ``ecgviewer/core/formats``)
all come back as the same :class:`Record`: float32 millivolts, read whole (24 h x 360 Hz x 2 leads
is 250 MB), lead names in the project's spelling, with beat annotations when the file (EDF+) or a
WFDB annotation sidecar (``<record>.atr``, for any format) has them. Every failure becomes a
:class:`RecordError` that names the file and the problem, so callers can show it to a user
without a traceback. See docs/formats.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ecgviewer.core.classes import beat_mask
from ecgviewer.core.errors import RecordError
from ecgviewer.core.formats import resolve, sniff
from ecgviewer.core.formats.base import (
    PRIMARY_LEADS,
    SECONDARY_LEADS,
    Annotations,
    Record,
    choose_leads,
    lead_name,
)
from ecgviewer.core.formats.wfdb import annotation_path, read_annotations

__all__ = ["PRIMARY_LEADS", "SECONDARY_LEADS", "Annotations", "Record", "RecordError", "check_scorable",
           "choose_leads", "lead_name", "load_record", "read_annotations"]

#: The shortest record worth scoring: a standard 10-second strip. The rhythm context averages up
#: to 8 RR intervals, and a threshold set on Holter beats says little about two or three beats.
MIN_SCORE_S = 10.0


def load_record(path: str | os.PathLike[str], annotator: str | None = "atr", *,
                annotator_required: bool = False) -> Record:
    """Load a record of any supported format, given by its file or (WFDB style) without extension.

    Signals come back in mV as float32. Annotations: an EDF+ file's own beat annotations when it
    has them, else the WFDB annotation file ``<record>.<annotator>`` beside it when there is one;
    ``annotator=None`` skips both. ``annotator_required``: a missing ``<record>.<annotator>``, or one
    without beats, is a RecordError instead of "no annotations" (the CLI sets it when the user names
    an annotator). Without it, a sidecar that holds no beats leaves the beats to the QRS detector
    and ``Record.notes`` says so: never a silent fallback.
    Raises :class:`RecordError` with a one-line message for every problem with the files.
    """
    reader, given = resolve(path)
    record = reader(given)
    if annotator is None:
        record.annotations = None
        return record
    sidecar = annotation_path(record.path, annotator)
    if annotator_required and not sidecar.is_file():
        raise RecordError(sidecar, f"annotation file not found (annotator {annotator!r}); "
                                   f"{_annotators_here(record.path)}")
    own_beats = _has_beats(record.annotations)
    if not own_beats or annotator_required:
        anns = read_annotations(record.path, annotator)
        if anns is not None:
            record.annotations = _within(anns, record)
            if not _has_beats(record.annotations):
                _no_beats(record, sidecar, anns, required=annotator_required)
    return record


#: How a note says the beats come from the QRS detector (the viewer says it once, whoever noted it).
DETECTOR_FALLBACK = "beats from the QRS detector"


def _has_beats(anns: Annotations | None) -> bool:
    return anns is not None and bool(beat_mask(anns.symbol).any())


def _no_beats(record: Record, sidecar: Path, anns: Annotations, required: bool) -> None:
    """An annotation file that gives no beats: refused when the user named it, else said in a note."""
    if not sidecar.stat().st_size:
        why = "is empty"
    elif not len(anns):
        why = "holds no annotations"
    elif beat_mask(anns.symbol).any():
        why = "holds no beat annotations within the record"
    else:
        why = f"holds no beat annotations, only {len(anns)} of other kinds"
    if required:
        raise RecordError(sidecar, f"annotation file {why}: no beats to take (annotator {anns.annotator!r})")
    record.notes.append(f"{sidecar.name} {why}: {DETECTOR_FALLBACK}")


def _within(anns: Annotations, record: Record) -> Annotations:
    """Annotations of a file beside the record cut to the record's length (an excerpt of a longer
    recording keeps its whole annotation file); the record's comments say how many were left out."""
    inside = (anns.sample >= 0) & (anns.sample < record.n_samples)
    if inside.all():
        return anns
    record.comments.append(f"{int((~inside).sum())} annotations of {anns.annotator!r} lie outside the record "
                           f"({record.n_samples} samples): left out")
    aux = tuple(a for a, k in zip(anns.aux_note, inside) if k) if len(anns.aux_note) == len(anns.sample) else ()
    return Annotations(anns.annotator, anns.sample[inside], anns.symbol[inside], aux)


def _annotators_here(base: Path) -> str:
    """``"annotators here: atr, qrs"`` or ``"no annotation files beside the record"``."""
    skip = {".hea", ".dat", ".edf", ".bdf", ".ishne", ".rev"}
    try:
        found = sorted(p.suffix[1:] for p in base.parent.glob(f"{base.name}.*")
                       if p.is_file() and p.suffix.lower() not in skip and sniff(p) is None)
    except (OSError, RecordError):
        found = []
    return f"annotators here: {', '.join(found)}" if found else "no annotation files beside the record"


def check_scorable(record: Record, leads: list[int] | None = None) -> None:
    """Refuse to score a record that cannot give meaningful scores: too short, or its model lead flat.

    The viewer still shows such a record; ``ecgviewer score`` and the viewer's scoring say why
    nothing was scored in one line.
    """
    if record.duration < MIN_SCORE_S:
        raise RecordError(record.source or record.path, f"record is too short to score: {record.duration:.1f} s, "
                                                         f"at least {MIN_SCORE_S:g} s needed")
    for c in leads if leads is not None else record.model_leads(1):
        col = record.signal[:, c]
        finite = col[np.isfinite(col)]
        name = record.channel_names[c]
        if finite.size == 0:
            raise RecordError(record.source or record.path, f"lead {name} has no valid samples: nothing to score")
        if float(finite.max() - finite.min()) < 1e-6:
            raise RecordError(record.source or record.path, f"lead {name} is flat (constant {float(finite[0]):.3g} "
                                                             f"{record.units[c]}): nothing to score")
