"""EDF, EDF+, BDF and BDF+ files, read with edfio.

edfio (https://github.com/the-siesta-group/edfio) was chosen over pyedflib: it is pure Python on
numpy, so a damaged file can only raise an exception, never crash the process in C code (the
fuzz tests rely on this), it installs from one wheel on every platform the installers build for,
it memory-maps EDF data (a 24 h Holter is not read twice), and it reads and writes EDF+
annotations, which the tests use to carry MIT-BIH beats.

EDF+ annotations whose text is a WFDB annotation symbol (``N``, ``V``, ``A``, ``+``...) become the
record's annotations, so an EDF+ export that marks beats that way scores against its own labels;
other texts are kept as comment annotations. Channels come at one rate: the rate of the lead the
model reads, other-rate channels (a 32 Hz accelerometer beside a 256 Hz ECG) are left out and
named in the record's comments. Discontinuous files (EDF+D) with gaps are refused (their gaps are
not placed on the time axis); an EDF+D file without gaps (``edfio.Edf.is_continuous``) is read.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from pathlib import Path

import numpy as np

from ecgviewer.core.errors import RecordError
from ecgviewer.core.formats.base import (
    TO_MV,
    Annotations,
    Record,
    check_fs,
    check_signal,
    choose_leads,
    clean_name,
    lead_name,
    one_line,
)

#: Symbols WFDB defines (beats and the rest), the texts read as annotation symbols.
WFDB_SYMBOLS = frozenset([
    "N", "L", "R", "B", "A", "a", "J", "S", "V", "r", "F", "e", "j", "n", "E", "/", "f", "Q", "?",  # beats
    "|", "~", "+", "s", "T", "*", "D", "=", '"', "@", "x", "(", ")", "p", "t", "u", "`", "'", "^", "[", "!", "]",
    "{", "}",
])
#: Annotator name given to annotations read from the file itself.
ANNOTATOR = "edf+"


def _number(path: Path, raw: bytes, what: str, whole: bool = False) -> float:
    text = raw.decode("latin-1").strip()
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        raise RecordError(path, f"header field {what!r} is not a {'whole ' if whole else ''}number: "
                                f"{clean_name(text)[:20]!r}") from None
    if not np.isfinite(value):
        raise RecordError(path, f"header field {what!r} is not a finite number: {text[:20]!r}")
    return value


def _check_header(path: Path, is_bdf: bool) -> int:
    """The header's sizes and numbers, checked before edfio reads them, for messages that name the field."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(256)
        if len(head) < 256:
            raise RecordError(path, f"file is too short for an EDF header: {size} bytes, the header alone is 256")
        ns = int(_number(path, head[252:256], "number of signals", whole=True))
        if not 1 <= ns <= 4096:
            raise RecordError(path, f"header gives {ns} signals: not a record")
        declared = int(_number(path, head[184:192], "bytes in header", whole=True))
        if declared != 256 * (ns + 1):
            raise RecordError(path, f"header size is wrong: it says {declared} bytes, {ns} signals need {256 * (ns + 1)}")
        sig = f.read(256 * ns)
    if len(sig) < 256 * ns:
        raise RecordError(path, f"file is truncated inside the header: {size} bytes, the header alone is {256 * (ns + 1)}")
    n_records = int(_number(path, head[236:244], "number of data records", whole=True))
    duration = _number(path, head[244:252], "data record duration")

    def field(offset: int, width: int, i: int) -> bytes:
        start = offset * ns + width * i
        return sig[start:start + width]

    labels = [clean_name(field(0, 16, i).decode("latin-1")) for i in range(ns)]
    per_record = []
    for i, label in enumerate(labels):
        ordinary = label not in ("EDF Annotations", "BDF Annotations")
        spr = int(_number(path, field(216, 8, i), f"samples per data record of {label!r}", whole=True))
        if spr <= 0:
            raise RecordError(path, f"channel {label!r}: {spr} samples per data record")
        per_record.append(spr)
        for off, w, what in ((104, 8, "physical minimum"), (112, 8, "physical maximum"), (120, 8, "digital minimum"),
                             (128, 8, "digital maximum")):
            _number(path, field(off, w, i), f"{what} of {label!r}", whole=what.startswith("digital"))
        if ordinary and duration <= 0:
            raise RecordError(path, f"data record duration {duration:g} s is not positive")
    record_bytes = sum(per_record) * (3 if is_bdf else 2)
    have = (size - 256 * (ns + 1)) // record_bytes
    if n_records == -1:  # allowed while recording: the file's length decides
        n_records = have
    if n_records <= 0:
        raise RecordError(path, "record has no samples (no data records)")
    if have < n_records:
        raise RecordError(path, f"file is truncated: {have} of the header's {n_records} data records are there")
    return n_records


def _open(path: Path, is_bdf: bool):
    import edfio  # imported late: only EDF/BDF users pay for it

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # latin-1 decodes every byte, so non-ASCII labels and names never stop the read
            doc = (edfio.read_bdf(path, header_encoding="latin-1") if is_bdf
                   else edfio.read_edf(path, lazy_load_data=True, header_encoding="latin-1"))
    except Exception as e:  # noqa: BLE001 - edfio raises many types on a broken header; all mean "cannot read"
        raise RecordError(path, f"cannot read {'BDF' if is_bdf else 'EDF'} header: {one_line(e)}") from None
    # edfio warns of a part record at the end or more records than the header says: _check_header
    # has made sure the header's records are all there, and read() keeps only those.
    del caught
    return doc


def _fmt(doc, is_bdf: bool) -> str:
    base = "BDF" if is_bdf else "EDF"
    try:
        reserved = str(doc.reserved).strip().upper()
    except Exception:  # noqa: BLE001 - a damaged reserved field means plain EDF
        reserved = ""
    if reserved.startswith(("EDF+D", "BDF+D")):
        return base + "+D"
    return base + "+" if reserved.startswith(("EDF+", "BDF+")) else base


def _start(doc) -> _dt.datetime | _dt.time | None:
    try:
        time = doc.starttime
    except Exception:  # noqa: BLE001 - an unreadable start is no reason to refuse the record
        return None
    try:
        return _dt.datetime.combine(doc.startdate, time)
    except Exception:  # noqa: BLE001 - anonymised or damaged date: keep the time of day
        return time


def _physical(path: Path, sig, label: str) -> np.ndarray:
    """Digital samples to float32 physical values (edfio's own would be float64: twice the memory)."""
    try:
        dmin, dmax = float(sig.digital_min), float(sig.digital_max)
        pmin, pmax = float(sig.physical_min), float(sig.physical_max)
        digital = sig.digital
    except Exception as e:  # noqa: BLE001 - a damaged numeric field
        raise RecordError(path, f"channel {label!r}: cannot read its samples or ranges ({one_line(e)})") from None
    if not all(np.isfinite(v) for v in (dmin, dmax, pmin, pmax)):
        raise RecordError(path, f"channel {label!r}: physical or digital range is not a number")
    if dmax <= dmin:
        raise RecordError(path, f"channel {label!r}: digital range {dmin:g}..{dmax:g} is empty or reversed")
    if pmax == pmin:
        raise RecordError(path, f"channel {label!r}: physical range {pmin:g}..{pmax:g} is empty")
    gain = (pmax - pmin) / (dmax - dmin)
    offset = pmin - gain * dmin
    return (np.asarray(digital, dtype=np.float32) * np.float32(gain) + np.float32(offset)).astype(np.float32)


def _annotations(path: Path, doc, fs: float, n: int) -> tuple[Annotations | None, int]:
    """The file's EDF+ annotations as WFDB-style ones (sample at ``fs``), and how many beats they mark."""
    try:
        items = list(doc.annotations)
    except Exception as e:  # noqa: BLE001 - a damaged annotation signal
        raise RecordError(path, f"cannot read EDF+ annotations: {one_line(e)}") from None
    sample, symbol, aux = [], [], []
    for a in items:
        text = str(a.text).strip()
        try:
            s = round(float(a.onset) * fs)
        except (ValueError, OverflowError):
            continue
        if not text or not 0 <= s < n:
            continue  # the time-keeping annotations have no text; onsets outside the record mean nothing here
        if text in WFDB_SYMBOLS:
            sample.append(s)
            symbol.append(text)
            aux.append("")
        else:
            sample.append(s)
            symbol.append('"')
            aux.append(clean_name(text))
    if not sample:
        return None, 0
    order = np.argsort(np.asarray(sample, dtype=np.int64), kind="stable")
    sym = np.asarray(symbol, dtype=object).astype(str)[order]
    from ecgviewer.core.classes import beat_mask

    return (Annotations(ANNOTATOR, np.asarray(sample, dtype=np.int64)[order], sym, tuple(aux[i] for i in order)),
            int(beat_mask(sym).sum()))


def read(path: Path) -> Record:
    """Read an EDF/EDF+/BDF/BDF+ file; its EDF+ annotations become the record's annotations."""
    with open(path, "rb") as f:
        is_bdf = f.read(1) == b"\xff"
    n_records = _check_header(path, is_bdf)
    doc = _open(path, is_bdf)
    fmt = _fmt(doc, is_bdf)
    if fmt.endswith("+D"):
        try:
            continuous = bool(doc.is_continuous)
        except Exception:  # noqa: BLE001 - damaged time-keeping annotations: the gaps cannot be placed
            continuous = False
        if not continuous:
            raise RecordError(path, f"discontinuous {fmt} files are not supported: export the recording as {fmt[:-1]}C")
        # some recorders label every export +D; one without gaps is read as the continuous file it is
    try:
        signals = list(doc.signals)
        labels = [clean_name(s.label) for s in signals]
        rates = [float(s.sampling_frequency) for s in signals]
        dims = [clean_name(s.physical_dimension) for s in signals]
    except Exception as e:  # noqa: BLE001 - damaged signal header fields
        raise RecordError(path, f"cannot read signal headers: {one_line(e)}") from None
    if not signals:
        raise RecordError(path, "record has no signal channels (annotations only)")
    names = [lead_name(lb) or f"ch{i + 1}" for i, lb in enumerate(labels)]
    main = choose_leads(names, 1)[0]
    fs = check_fs(path, rates[main])
    keep = [i for i, r in enumerate(rates) if abs(r - fs) < 1e-9 * fs]
    comments = [f"{fmt} file {path.name}"]
    dropped = [f"{labels[i] or names[i]} ({rates[i]:g} Hz)" for i in range(len(signals)) if i not in keep]
    if dropped:
        comments.append(f"left out (other sampling rate than {fs:g} Hz): {', '.join(dropped)}")
    cols = [_physical(path, signals[i], labels[i]) for i in keep]
    try:  # only the header's data records (edfio reads any extra whole ones too)
        n = min(min(len(c) for c in cols), n_records * int(signals[main].samples_per_data_record))
    except Exception as e:  # noqa: BLE001 - a damaged field that _check_header let through
        raise RecordError(path, f"cannot read samples per data record: {one_line(e)}") from None
    if n == 0:
        raise RecordError(path, "record has no samples")
    signal = np.empty((n, len(cols)), dtype=np.float32)
    units = []
    for j, (i, col) in enumerate(zip(keep, cols)):
        factor = TO_MV.get(dims[i].lower())
        signal[:, j] = col[:n] * np.float32(factor) if factor else col[:n]
        units.append("mV" if factor else (dims[i] or "?"))
    names = [names[i] for i in keep]
    check_signal(path, signal, names, units)
    annotations, _ = _annotations(path, doc, fs, n)
    return Record(name=path.stem, path=path.with_suffix(""), fs=fs, signal=signal, channel_names=names, units=units,
                  start=_start(doc), annotations=annotations, comments=comments, format=fmt, source=path)


def write_edf(path: Path, record: Record, annotations: Annotations | None = None, bdf: bool = False,
              resolution_mv: float | None = None) -> None:
    """Write ``record`` as EDF+ (or BDF+), its beats as EDF+ annotations: for tests and conversion.

    By default each channel's physical range is its own min..max (NaN written as the range's
    minimum), so the quantisation step is range / 65535 (EDF) or range / 16777215 (BDF). With
    ``resolution_mv`` the step is that value instead (digital 0 is 0 mV), so a record digitised at
    that step (MIT-BIH: 0.005 mV) is stored exactly. Labels get the EDF+
    ``ECG`` prefix. Data records are 1 s; a last part second is filled up with the last sample, so
    the EDF can be up to one second longer than the record.
    """
    import edfio

    cls, sig_cls = (edfio.Bdf, edfio.BdfSignal) if bdf else (edfio.Edf, edfio.EdfSignal)
    drange = (-8388608, 8388607) if bdf else (-32768, 32767)
    if not float(record.fs).is_integer():
        raise ValueError(f"write_edf writes 1-second data records: {record.fs} Hz is not a whole number")
    n = record.n_samples
    pad = -n % int(record.fs)  # EDF holds whole data records: the last one is filled with the last sample
    signals = []
    for c, name in enumerate(record.channel_names):
        x = np.asarray(record.signal[:, c], dtype=np.float64)
        x = np.concatenate([x, np.repeat(x[-1:], pad)])
        finite = x[np.isfinite(x)]
        if resolution_mv is not None:
            lo, hi = drange[0] * resolution_mv, drange[1] * resolution_mv
            x = np.clip(x, lo, hi)
        else:
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
        if hi <= lo:
            lo, hi = lo - 1.0, hi + 1.0
        x = np.where(np.isfinite(x), x, lo)
        signals.append(sig_cls(x, record.fs, label=f"ECG {name}", physical_dimension="mV",
                               physical_range=(lo, hi), digital_range=drange))
    anns = []
    if annotations is not None:
        anns = [edfio.EdfAnnotation(float(s) / record.fs, None, str(sym))
                for s, sym in zip(annotations.sample, annotations.symbol) if s < n]
    doc = cls(signals, annotations=anns, data_record_duration=1)
    doc.write(path)
