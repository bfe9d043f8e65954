"""What every reader hands back: one :class:`Record`, whatever the file format.

The viewer, the CLI and the trainer see only this: float32 millivolts, one sampling rate, lead
names in the project's spelling (so :func:`choose_leads` finds MLII in any format) and the beat
annotations when the file or a sidecar has them. The checks here run for every format, so a bad
rate, gain or channel gets the same one-line :class:`RecordError` from each reader.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ecgviewer.core.errors import RecordError

#: Unit names (lower case) and the factor that turns them into millivolts.
TO_MV = {"mv": 1.0, "millivolt": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "microvolt": 1e-3, "v": 1e3, "volt": 1e3,
         "nv": 1e-6,
         "âµv": 1e-3}  # "µV" written as UTF-8 into a header read as latin-1 (EDF headers are ASCII; some writers are not)

#: Names of the primary (BeatGAN's first) lead, in order of preference.
PRIMARY_LEADS = ("MLII", "II", "ML2", "ECG", "ECG1", "LEAD II")
#: Names of a second lead, in order of preference (MIT-BIH uses V1, V2, V4 or V5).
SECONDARY_LEADS = ("V1", "V2", "V5", "V4", "V3", "V6", "MLI", "I", "MLIII", "III", "AVF", "AVL", "AVR")

#: Sampling rates a reader accepts. Below 50 Hz a QRS complex is a few samples wide; above 50 kHz
#: the header is almost certainly wrong (pacemaker-spike Holters sample at up to ~10 kHz).
MIN_FS, MAX_FS = 50.0, 50_000.0
#: A lead whose typical (99th percentile) amplitude exceeds this is read with a wrong gain or unit:
#: a surface ECG stays within a few mV.
MAX_TYPICAL_MV = 100.0


@dataclass(frozen=True)
class Annotations:
    """Annotations of one annotator: sample indices (original rate) and their symbols."""

    annotator: str
    sample: np.ndarray  # int64, sorted
    symbol: np.ndarray  # str
    aux_note: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.sample)


@dataclass
class Record:
    """A loaded record. ``signal`` is (samples, channels) float32 in mV; NaN where the file has gaps.

    ``path`` is the record without extension (``dir/119`` for ``119.hea``, ``119.edf`` or
    ``119.ecg``): sidecars such as the review file are keyed on it. ``source`` is the file read and
    ``format`` its format ("WFDB", "EDF", "EDF+", "BDF", "BDF+", "ISHNE"). ``notes``: what the
    loader had to assume or fall back to that changes how the record reads (an uncalibrated
    channel, an annotation file without beats), one short line each, for every caller to say.
    """

    name: str
    path: Path  # record path without extension
    fs: float
    signal: np.ndarray
    channel_names: list[str]
    units: list[str]
    start: _dt.datetime | _dt.time | None = None
    annotations: Annotations | None = None
    comments: list[str] = field(default_factory=list)
    format: str = "WFDB"
    source: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        return int(self.signal.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.signal.shape[1])

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.n_samples / self.fs

    def only_channel(self, index: int, name: str | None = None) -> Record:
        """This record with channel ``index`` alone (named ``name``, default its own): how a one-lead
        recorder of that lead would look. The trainer cuts MIT-BIH's second leads so, and the studies
        score "a recorder the model never saw"."""
        if not 0 <= index < self.n_channels:
            raise IndexError(f"{self.name}: no channel {index} (it has {self.n_channels})")
        return replace(self, signal=self.signal[:, [index]], channel_names=[name or self.channel_names[index]],
                       units=self.units[index:index + 1])

    def second_channel(self) -> int:
        """The first channel the one-lead model does not read (MIT-BIH: V1, V2, V4 or V5)."""
        first = self.model_leads(1)[0] if self.n_channels else 0
        others = [i for i in range(self.n_channels) if i != first]
        if not others:
            raise IndexError(f"{self.name}: one channel only, no second lead")
        return others[0]

    def model_leads(self, n_leads: int = 1) -> list[int]:
        """Channel indices the model reads: see :func:`choose_leads`."""
        return choose_leads(self.channel_names, n_leads)


def _norm(name: str) -> str:
    return re.sub(r"\s+", " ", name.strip().upper())


def choose_leads(channel_names: list[str], n_leads: int = 1) -> list[int]:
    """Pick the model's leads by name: MLII (or II, or ECG) first, then a chest lead.

    Falls back to position when no name matches. Returns fewer than ``n_leads`` indices only when
    the record has fewer channels; a one-lead record gives the model its single lead.
    """
    names = [_norm(n) for n in channel_names]
    if not names:
        return []
    # no named primary lead: the first channel that is an ECG lead at all, so that a
    # polysomnography file's EEG in channel 0 is not read as the ECG ("ECG L" in channel 5)
    fallback = next((i for i, n in enumerate(channel_names) if is_ecg_label(n)), 0)
    first = next((names.index(p) for p in PRIMARY_LEADS if p in names), fallback)
    chosen = [first]
    if n_leads >= 2 and len(names) >= 2:
        rest = [i for i in range(len(names)) if i != first]
        second = next((names.index(p) for p in SECONDARY_LEADS if p in names and names.index(p) != first), rest[0])
        chosen.append(second)
    return chosen


#: Lead names in the project's spelling, keyed by their normalised form (upper case, no spaces).
_LEADS = {n.replace(" ", ""): n for n in ("MLII", "MLI", "MLIII", "ML2", "I", "II", "III", "aVR", "aVL", "aVF",
                                          "V1", "V2", "V3", "V4", "V5", "V6", "X", "Y", "Z", "ECG")}
_LEADS.update({"AVR": "aVR", "AVL": "aVL", "AVF": "aVF", "VR": "aVR", "VL": "aVL", "VF": "aVF",
               "ML2": "MLII", "MLII": "MLII", "EKG": "ECG"})
_LEAD_PREFIX = re.compile(r"^(ECG|EKG|LEAD|DERIVATION|CH(ANNEL)?)[\s_:.\-]*", re.IGNORECASE)


def lead_name(label: str) -> str:
    """A file's channel label in the project's lead spelling: ``"ECG II"`` -> ``"II"``, ``"EKG V1"`` -> ``"V1"``.

    EDF labels carry a type prefix (EDF+ spells ECG leads ``"ECG II"``, ``"ECG V1"``) that
    :func:`choose_leads` would not match; a label that is not a known lead comes back stripped of
    spaces only, so nothing is invented.
    """
    text = label.strip()
    key = re.sub(r"[\s_\-]", "", text).upper()
    if key in _LEADS:
        return _LEADS[key]
    rest = text
    for _ in range(3):  # "ECG Lead II": each type prefix in turn
        stripped = _LEAD_PREFIX.sub("", rest)
        if stripped == rest:
            break
        rest = stripped
        if re.sub(r"[\s_\-]", "", rest).upper() in _LEADS:
            return _LEADS[re.sub(r"[\s_\-]", "", rest).upper()]
    return text


#: Labels of channels that are no ECG (polysomnography, Holters with other sensors).
_NOT_ECG = re.compile(r"^(EEG|EOG|EMG|RESP|SPO2|SAO2|PLETH|PULSE|FLOW|NASAL|THOR|ABD|SNORE|POS|BODY|TEMP|ACC|LIGHT"
                      r"|LEG|CHIN|PTT|PPG|HR\b|EVENT|MARKER|ANNOT)", re.IGNORECASE)
_ECG_LIKE = re.compile(r"^(ECG|EKG|ML|CM|CC|MOD|D[1-3]\b|V[1-6]|A?V[RLF]\b|I{1,3}\b|LEAD|X\b|Y\b|Z\b)", re.IGNORECASE)


def is_ecg_label(label: str) -> bool:
    """Whether a channel label names an ECG lead (``ECG L``, ``EKG1``, ``ECG1-ECG2``, ``V5``, ``II``)
    rather than another signal of the recording (``EEG C3-M2``, ``SpO2``, ``Resp``)."""
    text = label.strip()
    if not text or _NOT_ECG.match(text):
        return False
    return lead_name(text) in _LEADS.values() or bool(_ECG_LIKE.match(text))


def one_line(e: BaseException) -> str:
    """First line of an exception's message (or its type), cut to 300 characters."""
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]


def check_fs(path: Path, fs: float) -> float:
    """The sampling rate, or a RecordError when it is not a number or outside MIN_FS..MAX_FS."""
    try:
        fs = float(fs)
    except (TypeError, ValueError):
        raise RecordError(path, f"sampling rate {fs!r} is not a number") from None
    if not math.isfinite(fs) or fs <= 0:
        raise RecordError(path, f"sampling rate {fs:g} Hz is not a positive number")
    if not MIN_FS <= fs <= MAX_FS:
        raise RecordError(path, f"sampling rate {fs:g} Hz is outside {MIN_FS:g}-{MAX_FS:g} Hz: the header looks wrong")
    return fs


def check_signal(path: Path, signal: np.ndarray, names: list[str], units: list[str]) -> None:
    """Refuse what no viewer can show: no samples, infinities, absurd amplitudes.

    Flat or missing channels are kept: a clinician opens a lead-off recording to see that it is
    one; :func:`check_scorable` refuses to score it.
    """
    if signal.ndim != 2 or signal.shape[1] == 0:
        raise RecordError(path, "record has no signal channels")
    if signal.shape[0] == 0:
        raise RecordError(path, "record has no samples")
    for c in range(signal.shape[1]):
        col = signal[:: max(1, signal.shape[0] // 200_000), c]
        if np.isinf(col).any() or np.isinf(signal[:, c]).any():
            raise RecordError(path, f"channel {names[c]!r} has infinite values: the gain looks wrong")
        finite = col[np.isfinite(col)]
        if finite.size == 0 or units[c] != "mV":
            continue  # an unknown unit is shown as it is, not judged
        typical = float(np.percentile(np.abs(finite), 99))
        if typical > MAX_TYPICAL_MV:
            raise RecordError(path, f"channel {names[c]!r} reads {typical:.3g} mV: the gain or unit looks wrong")


def clean_name(text: str) -> str:
    """A header string fit to show: NULs, control characters and padding removed."""
    return re.sub(r"[\x00-\x1f\x7f]", "", text).strip()
