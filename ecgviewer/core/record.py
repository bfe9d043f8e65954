"""Reading WFDB records: the one loader used by the viewer, the CLI and the trainer.

A record is read whole into float32 millivolts (24 h x 360 Hz x 2 leads is 250 MB), with its beat
annotations when an annotation file exists. Every failure becomes a :class:`RecordError` that
names the file and the problem, so callers can show it to a user without a traceback.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ecgviewer.core.errors import RecordError

#: Unit names (lower case) and the factor that turns them into millivolts.
_TO_MV = {"mv": 1.0, "millivolt": 1.0, "uv": 1e-3, "µv": 1e-3, "microvolt": 1e-3, "v": 1e3, "volt": 1e3}

#: Names of the primary (BeatGAN's first) lead, in order of preference.
PRIMARY_LEADS = ("MLII", "II", "ML2", "ECG", "ECG1", "LEAD II")
#: Names of a second lead, in order of preference (MIT-BIH uses V1, V2, V4 or V5).
SECONDARY_LEADS = ("V1", "V2", "V5", "V4", "V3", "V6", "MLI", "I", "MLIII", "III", "AVF", "AVL", "AVR")


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
    """A loaded record. ``signal`` is (samples, channels) float32 in mV; NaN where the file has gaps."""

    name: str
    path: Path  # record path without extension
    fs: float
    signal: np.ndarray
    channel_names: list[str]
    units: list[str]
    start: _dt.datetime | _dt.time | None = None
    annotations: Annotations | None = None
    comments: list[str] = field(default_factory=list)

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
    first = next((names.index(p) for p in PRIMARY_LEADS if p in names), 0)
    chosen = [first]
    if n_leads >= 2 and len(names) >= 2:
        rest = [i for i in range(len(names)) if i != first]
        second = next((names.index(p) for p in SECONDARY_LEADS if p in names and names.index(p) != first), rest[0])
        chosen.append(second)
    return chosen


def record_base(path: str | os.PathLike[str]) -> Path:
    """The record path without extension, whether given as ``x``, ``x.hea`` or ``x.dat``."""
    p = Path(path)
    if p.suffix.lower() in (".hea", ".dat", ".atr", ".qrs", ".ecg"):
        p = p.with_suffix("")
    return p


def _physical(rec) -> np.ndarray:
    """Digital samples to float32 mV, with the WFDB 'invalid' value turned into NaN."""
    d = rec.d_signal
    gain = np.asarray(rec.adc_gain, dtype=np.float64)
    base = np.asarray(rec.baseline, dtype=np.float64)
    if d is None or d.size == 0:
        raise ValueError("no samples")
    if np.any(gain == 0):
        gain = np.where(gain == 0, 200.0, gain)  # WFDB default gain when the header gives 0
    out = np.empty(d.shape, dtype=np.float32)
    for c in range(d.shape[1]):
        col = d[:, c]
        phys = (col.astype(np.float32) - np.float32(base[c])) / np.float32(gain[c])
        invalid = _invalid_value(rec.fmt[c] if rec.fmt else "16")
        if invalid is not None:
            phys[col == invalid] = np.nan
        out[:, c] = phys
    return out


def _invalid_value(fmt: str) -> int | None:
    # WFDB marks missing samples with the most negative value the format can hold.
    bits = {"8": 8, "16": 16, "61": 16, "80": 8, "160": 16, "212": 12, "310": 10, "311": 10, "24": 24, "32": 32,
            "508": 8, "516": 16, "524": 24}
    b = bits.get(str(fmt))
    return None if b is None else -(2 ** (b - 1))


def _read_wfdb(base: Path):
    import wfdb  # wfdb pulls pandas and matplotlib: import it only when a record is read

    try:
        rec = wfdb.rdrecord(str(base), physical=False, m2s=True, return_res=32)
    except FileNotFoundError as e:
        missing = Path(getattr(e, "filename", "") or "").name or "a signal file"
        raise RecordError(base.with_suffix(".hea"), f"cannot read record: missing file {missing}") from None
    except (ValueError, IndexError, KeyError, TypeError, AttributeError, OSError, EOFError) as e:
        raise RecordError(base.with_suffix(".hea"), f"cannot read record: {_one_line(e)}") from None
    return rec


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]


def _check_header(base: Path) -> None:
    hea = base.with_suffix(".hea")
    if not hea.is_file():
        raise RecordError(hea, "header file (.hea) not found")
    try:
        first = hea.read_text(encoding="latin-1").splitlines()
    except OSError as e:
        raise RecordError(hea, f"cannot read header: {e.strerror}") from None
    lines = [ln for ln in first if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise RecordError(hea, "header is empty")
    fields = lines[0].split()
    if len(fields) < 2 or not re.match(r"^\d+$", fields[1]):
        raise RecordError(hea, "header does not parse: the record line needs a name and a channel count")
    if int(fields[1]) == 0:
        raise RecordError(hea, "record has no signal channels")
    if len(fields) > 2 and not _FS_FIELD.match(fields[2]):
        raise RecordError(hea, f"header does not parse: sampling frequency {fields[2]!r} is not a number")
    if len(fields) > 3 and not fields[3].isdigit():
        raise RecordError(hea, f"header does not parse: sample count {fields[3]!r} is not a whole number")
    # The .dat files named in the header must exist and be long enough.
    n_samples = int(fields[3]) if len(fields) > 3 else None
    if n_samples == 0:
        raise RecordError(hea, "record has no samples (the header gives 0)")
    files: dict[str, list[str]] = {}
    if "/" in fields[0]:
        return  # multi-segment record: wfdb checks each segment
    for ln in lines[1 : 1 + int(fields[1])]:
        parts = ln.split()
        if len(parts) < 2:
            raise RecordError(hea, f"header does not parse: bad signal line {ln.strip()!r}")
        fmt = re.split(r"[x:+]", parts[1])[0]
        if fmt not in _WFDB_FORMATS:
            raise RecordError(hea, f"unsupported signal format {fmt!r} (signal {parts[-1]!r})")
        files.setdefault(parts[0], []).append(fmt)
    for fname, fmts in files.items():
        if fname == "~":
            continue
        dat = base.parent / fname
        if not dat.is_file():
            raise RecordError(dat, "signal file (.dat) not found")
        if dat.stat().st_size == 0:
            raise RecordError(dat, "record has no samples (the signal file is empty)")
        if n_samples:
            need = _bytes_needed(fmts, n_samples)
            if need is not None and dat.stat().st_size < need:
                raise RecordError(
                    dat, f"signal file is truncated: {dat.stat().st_size} bytes, header implies {need}"
                )


#: A header's sampling frequency field: ``fs[/counter_freq[(base_counter)]]``.
_FS_FIELD = re.compile(r"^\d+(\.\d*)?(/\d+(\.\d*)?(\(-?\d+(\.\d*)?\))?)?$")
#: Signal formats wfdb reads (its DAT_FMTS: plain, packed and FLAC-compressed).
_WFDB_FORMATS = frozenset("8 16 32 61 80 160 212 310 311 24 508 516 524".split())


def _bytes_needed(fmts: list[str], n: int) -> int | None:
    bits = {"8": 8, "16": 16, "61": 16, "80": 8, "160": 16, "212": 12, "24": 24, "32": 32}
    try:
        total_bits = sum(bits[f] for f in fmts) * n
    except KeyError:
        return None  # compressed or rare formats: let wfdb decide
    return total_bits // 8


def read_annotations(base: Path, annotator: str = "atr") -> Annotations | None:
    """Annotations of ``annotator`` for a record, or None when there is no such file."""
    f = base.with_name(f"{base.name}.{annotator}")
    if not f.is_file():
        return None
    import wfdb

    try:
        ann = wfdb.rdann(str(base), annotator)
    except Exception as e:  # wfdb raises many types on a broken file
        raise RecordError(f, f"cannot read annotations: {_one_line(e)}") from None
    sample = np.asarray(ann.sample, dtype=np.int64)
    symbol = np.asarray(ann.symbol if ann.symbol is not None else [], dtype=object).astype(str)
    aux = tuple(ann.aux_note) if ann.aux_note is not None else ()
    order = np.argsort(sample, kind="stable")
    return Annotations(annotator, sample[order], symbol[order], tuple(aux[i] for i in order) if aux else ())


def load_record(path: str | os.PathLike[str], annotator: str | None = "atr") -> Record:
    """Load a WFDB record given with or without extension (.hea or .dat).

    Signals come back in mV as float32; ``annotator=None`` skips annotations. Raises
    :class:`RecordError` with a one-line message for every problem with the files.
    """
    base = record_base(path)
    _check_header(base)
    rec = _read_wfdb(base)
    if rec.n_sig == 0 or rec.d_signal is None:
        raise RecordError(base.with_suffix(".hea"), "record has no signal channels")
    if rec.d_signal.shape[0] == 0:
        raise RecordError(base.with_suffix(".hea"), "record has no samples")
    try:
        signal = _physical(rec)
    except ValueError as e:
        raise RecordError(base.with_suffix(".hea"), f"cannot convert samples: {e}") from None
    units = [u or "mV" for u in (rec.units or ["mV"] * rec.n_sig)]
    for c, u in enumerate(units):
        factor = _TO_MV.get(u.strip().lower())
        if factor is not None and factor != 1.0:
            signal[:, c] *= np.float32(factor)
    if not rec.fs or rec.fs <= 0:
        raise RecordError(base.with_suffix(".hea"), "header gives no sampling frequency")
    start: _dt.datetime | _dt.time | None = None
    if rec.base_date is not None and rec.base_time is not None:
        start = _dt.datetime.combine(rec.base_date, rec.base_time)
    elif rec.base_time is not None:
        start = rec.base_time
    anns = read_annotations(base, annotator) if annotator else None
    return Record(
        name=base.name,
        path=base,
        fs=float(rec.fs),
        signal=signal,
        channel_names=[str(n) for n in (rec.sig_name or [f"ch{i + 1}" for i in range(rec.n_sig)])],
        units=["mV" if _TO_MV.get(u.strip().lower()) else u for u in units],
        start=start,
        annotations=anns,
        comments=list(rec.comments or []),
    )
