"""The review session (Qt-free): one object the viewer's widgets observe; see session.py."""

from __future__ import annotations

from ecgviewer.core.session.beat_list import (
    CLASS,
    COLUMNS,
    LABEL,
    NOTE,
    REVIEW,
    SCORE,
    SHOW_CHOICES,
    TIME,
    BeatFilter,
    BeatList,
    review_text,
)
from ecgviewer.core.session.history import Edit, History
from ecgviewer.core.session.session import BEATS, EVENTS, HISTORY, REVIEWS, SELECTION, THRESHOLD, ReviewSession
from ecgviewer.core.session.snap import snap_to_peak

__all__ = ["BEATS", "CLASS", "COLUMNS", "EVENTS", "HISTORY", "LABEL", "NOTE", "REVIEW", "REVIEWS", "SCORE",
           "SELECTION", "SHOW_CHOICES", "THRESHOLD", "TIME", "BeatFilter", "BeatList", "Edit", "History",
           "ReviewSession", "review_text", "snap_to_peak"]
