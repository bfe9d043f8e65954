"""The reviewer's decisions on rhythm events, saved beside the beat review as ``<record>.events.json``.

An event is confirmed or dismissed as a beat is; the decision must outlive the session and survive
recomputation, so it is keyed by the event's kind and first beat's sample (``Event.key``), and the
file also keeps each event's times so a decision whose event is no longer found is still listed.
The file sits where the beat review (``<record>.rev``, :mod:`ecgviewer.core.review`) sits: beside
the record, or in the user data directory when the record's folder cannot be written; the same
functions of review.py decide. Written atomically (:mod:`ecgviewer.core.atomic`), never over a
record file. JSON rather than WFDB annotations: an event spans an interval and has no beat symbol.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

from ecgviewer.core import review
from ecgviewer.core.atomic import write_text_atomic
from ecgviewer.core.events import Event
from ecgviewer.core.review import ReviewState

MAGIC = "ecgviewer-events"
FORMAT_VERSION = 1
SUFFIX = "events.json"


def events_path(rev_path: Path, record_path: Path) -> Path:
    """``<record>.events.json`` in the folder of a ``.rev`` path."""
    return rev_path.with_name(f"{record_path.name}.{SUFFIX}")


class EventReviewError(Exception):
    """An event review file cannot be read; the message names the file."""


class EventReviewStore:
    """Confirmed and dismissed events of one record; saves after every change."""

    def __init__(self, record_path: str | os.PathLike[str], n_samples: int, fs: float,
                 record_name: str | None = None) -> None:
        self.record_path = Path(record_path)
        self.record_name = record_name or self.record_path.name
        self.n_samples, self.fs = int(n_samples), float(fs)
        folder = self.record_path.parent
        beside = not review.is_bundled(self.record_path) and review.dir_writable(folder)
        rev = review.sidecar_path(self.record_path) if beside else review.fallback_path(self.record_path)
        self.save_path = events_path(rev, self.record_path)
        self.decisions: dict[str, dict] = {}
        #: Template relabels: template id (str) -> {"label", "first_sample", "count"}, re-applied only to
        #: a template that still starts at the same beat with the same count.
        self.template_labels: dict[str, dict] = {}
        self.message = ""
        self.foreign: Path | None = None  # a file we could not use: moved aside on the first save
        self._load()

    @classmethod
    def for_record(cls, record) -> EventReviewStore:
        return cls(record.path, record.n_samples, record.fs, record.name)

    def _candidates(self) -> list[Path]:
        places = [review.sidecar_path(self.record_path), review.fallback_path(self.record_path)]
        paths = [events_path(p, self.record_path) for p in places]
        return [self.save_path] + [p for p in paths if p != self.save_path]

    def _load(self) -> None:
        path = next((p for p in self._candidates() if p.is_file()), None)
        if path is None:
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != MAGIC:
                raise EventReviewError(f"{path}: not an ecgviewer event review file")
            if int(data.get("v", 0)) > FORMAT_VERSION:
                raise EventReviewError(f"{path}: made by a newer ecgviewer (version {data.get('v')})")
            if int(data["n_samples"]) != self.n_samples or abs(float(data["fs"]) - self.fs) > 1e-6 * self.fs:
                raise EventReviewError(f"{path}: made for another version of the record (length or rate differ)")
            decisions = {str(k): dict(v) for k, v in data["decisions"].items()}
            labels = {str(k): dict(v) for k, v in data.get("template_labels", {}).items()}
            for v in decisions.values():
                ReviewState[str(v["state"]).upper()]
        except EventReviewError as e:
            self.message, self.foreign = str(e), path
            return
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            self.message = f"{path}: event review file cannot be read ({type(e).__name__})"
            self.foreign = path
            return
        self.decisions, self.template_labels = decisions, labels
        self.message = f"Restored {len(decisions)} event decision{'s' if len(decisions) != 1 else ''}."

    def state(self, event: Event) -> ReviewState:
        d = self.decisions.get(event.key)
        return ReviewState[d["state"].upper()] if d else ReviewState.UNREVIEWED

    def set(self, events: Event | Iterable[Event], state: ReviewState) -> None:
        """Confirm, dismiss or (UNREVIEWED) forget one or several events; saves at once."""
        for e in [events] if isinstance(events, Event) else list(events):
            if state == ReviewState.UNREVIEWED:
                self.decisions.pop(e.key, None)
            else:
                self.decisions[e.key] = {"state": state.name.lower(), "kind": e.kind, "start": round(e.start, 3),
                                         "end": round(e.end, 3), "beats": e.beats}
        self.save()

    def set_template_label(self, template, label: str, first_sample: int) -> None:
        """Remember that the whole ``template`` (a core Template) was relabelled ``label``; saves."""
        self.template_labels[str(template.id)] = {"label": label, "first_sample": int(first_sample),
                                                  "count": template.count}
        self.save()

    def template_label(self, template, first_sample: int) -> str | None:
        d = self.template_labels.get(str(template.id))
        if d and d["first_sample"] == int(first_sample) and d["count"] == template.count:
            return str(d["label"])
        return None

    def labels_for(self, templates, sample) -> dict[int, str]:
        """The saved relabels that still fit ``templates`` (a core TemplateSet of beats at ``sample``)."""
        out = {}
        for t in templates.templates:
            label = self.template_label(t, int(sample[t.members[0]]))
            if label is not None:
                out[t.id] = label
        return out

    def decided(self) -> dict[str, str]:
        """Event key -> "confirmed" or "dismissed"."""
        return {k: v["state"] for k, v in self.decisions.items()}

    def counts(self) -> dict[str, int]:
        out = {"confirmed": 0, "dismissed": 0}
        for d in self.decisions.values():
            out[d["state"]] = out.get(d["state"], 0) + 1
        return out

    def save(self) -> Path:
        """Write the file now; a file that could not be used is first renamed ``*.old-<time>.json``."""
        self.save_path.parent.mkdir(parents=True, exist_ok=True)
        if self.foreign is not None and self.foreign == self.save_path and self.foreign.is_file():
            stamp = time.strftime("%Y%m%dT%H%M%S")
            os.replace(self.foreign, self.foreign.with_name(f"{self.record_path.name}.events.old-{stamp}.json"))
        self.foreign = None
        data = {"format": MAGIC, "v": FORMAT_VERSION, "record": self.record_name, "n_samples": self.n_samples,
                "fs": self.fs, "decisions": dict(sorted(self.decisions.items())),
                "template_labels": self.template_labels}
        write_text_atomic(self.save_path, json.dumps(data, indent=1) + "\n", fsync=True)
        return self.save_path
