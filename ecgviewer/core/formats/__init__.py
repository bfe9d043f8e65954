"""The record formats the viewer reads, and which reader a path goes to.

One module per format (:mod:`.wfdb`, :mod:`.edf`, :mod:`.ishne`), each with ``read(path) -> Record``;
:func:`resolve` picks the reader by the file's first bytes (EDF, BDF and ISHNE all start with a
magic string) and otherwise by extension, and turns every path that cannot be a record (a
folder, a trailing slash, another format) into one :class:`RecordError` line that says why.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ecgviewer.core.errors import RecordError
from ecgviewer.core.formats.base import Record

#: Supported formats and their extensions, as the messages and the Open dialog list them.
SUPPORTED = {
    "WFDB": (".hea", ".dat"),
    "EDF/EDF+": (".edf",),
    "BDF/BDF+": (".bdf",),
    "ISHNE Holter": (".ecg", ".ishne"),
}
#: Extensions of formats clinicians meet that this viewer does not read, to name them in the message.
_OTHER_FORMATS = {
    ".xml": "XML (HL7 aECG or a vendor's export)", ".scp": "SCP-ECG", ".dcm": "DICOM waveform",
    ".mat": "MATLAB", ".csv": "CSV", ".txt": "text", ".json": "JSON", ".pdf": "PDF", ".mfer": "MFER",
    ".mwf": "MFER", ".gdf": "GDF", ".fit": "FIT", ".zip": "ZIP archive", ".gz": "gzip archive",
}
#: First bytes of each magic-tagged format.
_MAGIC = {b"ISHNE1.0": "ishne", b"0       ": "edf", b"\xffBIOSEMI": "bdf"}


def supported_text() -> str:
    """``"WFDB (.hea, .dat), EDF/EDF+ (.edf), ..."`` for messages."""
    return ", ".join(f"{name} ({', '.join(ext)})" for name, ext in SUPPORTED.items())


def dialog_filter() -> str:
    """The Open dialog's file filter: all supported records first, then each format."""
    def pats(exts: tuple[str, ...]) -> str:  # both cases: Linux file dialogs match case-sensitively
        return " ".join(f"*{e} *{e.upper()}" for e in exts)

    every = pats(record_extensions())
    each = ";;".join(f"{name} ({pats(ext)})" for name, ext in SUPPORTED.items())
    return f"ECG records ({every});;{each};;All files (*)"


def record_extensions() -> tuple[str, ...]:
    return tuple(e for ext in SUPPORTED.values() for e in ext)


def sniff(path: Path) -> str | None:
    """"edf", "bdf" or "ishne" by the file's first 8 bytes; None for anything else.

    A file that cannot be opened (permissions, a share gone away) is a RecordError saying so, not
    "not an EDF file"."""
    try:
        with open(path, "rb") as f:
            return _MAGIC.get(f.read(8))
    except OSError as e:
        raise RecordError(path, f"cannot open the file: {e.strerror or type(e).__name__}") from None


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _reader(kind: str) -> Callable[[Path], Record]:
    if kind == "wfdb":
        from ecgviewer.core.formats import wfdb as mod
    elif kind in ("edf", "bdf"):
        from ecgviewer.core.formats import edf as mod
    else:
        from ecgviewer.core.formats import ishne as mod
    return mod.read


def _records_in(folder: Path) -> list[str]:
    try:
        names = sorted(p.name for p in folder.iterdir()
                       if p.is_file() and p.suffix.lower() in (".hea", ".edf", ".bdf", ".ecg", ".ishne"))
    except OSError:
        return []
    return names


def records_in(folder: str | os.PathLike[str]) -> list[Path]:
    """Every record in ``folder``, sorted by name (a WFDB record once, by its name without extension);
    a RecordError naming the folder when it holds none (how ``ecgviewer score`` reads a study)."""
    folder = Path(folder)
    out: list[Path] = []
    for name in _records_in(folder):
        p = folder / name
        if p.suffix.lower() == ".hea":
            out.append(p.with_suffix(""))
        elif not (p.suffix.lower() == ".ecg" and p.with_suffix(".hea").is_file()):  # not a WFDB signal file
            out.append(p)
    if not out:
        raise _directory_error(folder)
    return out


def _directory_error(folder: Path) -> RecordError:
    found = _records_in(folder)
    if not found:
        return RecordError(folder, f"is a folder with no records in it; give a record file: {supported_text()}")
    shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
    return RecordError(folder, f"is a folder, not a record; pick one of its records, e.g. {folder / found[0]} "
                               f"({len(found)} here: {shown})")


#: The other formats' files a record name without extension stands for, after WFDB's ``.hea``.
NAMED_FILES = (".edf", ".bdf", ".ecg", ".ishne")


def record_exists(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a file or folder, or a record name with a file beside it, as :func:`resolve` looks it up."""
    p = Path(path)
    return p.exists() or any(p.with_name(p.name + e).is_file() for e in (".hea", *NAMED_FILES))


def resolve(path: str | os.PathLike[str]) -> tuple[Callable[[Path], Record], Path]:
    """The reader for ``path`` and the path to give it; a RecordError for anything that is no record.

    A path without extension (how WFDB names records, and how the viewer remembers recent files)
    is looked up as ``.hea`` first, then as each other format's file beside it.
    """
    raw = os.fspath(path)
    p = Path(raw)
    if p.is_dir():
        raise _directory_error(p)
    if raw.endswith(("/", os.sep)):
        hint = next((p.with_name(p.name + e) for e in (".hea", ".edf", ".bdf", ".ecg") if p.with_name(p.name + e).is_file()), None)
        where = f"; did you mean {hint}?" if hint else ""
        raise RecordError(p, f"path ends with a slash but is not a folder: give the record without it{where}")
    ext = p.suffix.lower()
    if p.is_file():
        kind = sniff(p)
        if kind is not None:
            return _reader(kind), p
        if ext in (".edf", ".bdf", ".ishne") or (ext == ".ecg" and not p.with_suffix(".hea").is_file()):
            fmt = {".edf": "EDF", ".bdf": "BDF"}.get(ext, "ISHNE")
            if _size(p) == 0:
                raise RecordError(p, f"file is empty (0 bytes): no {fmt} record in it")
            raise RecordError(p, f"not an {fmt} file: it does not start with the {fmt} signature")
        if ext in (".hea", ".dat", ".atr", ".qrs", ".ecg"):
            return _reader("wfdb"), p
        if p.with_suffix(".hea").is_file() and ext and ext not in _OTHER_FORMATS:
            return _reader("wfdb"), p  # another WFDB annotator's file beside its header
        fmt = _OTHER_FORMATS.get(ext)
        named = f"{fmt} files ({ext})" if fmt else (f"'{ext}' files" if ext else "files without an extension")
        raise RecordError(p, f"unsupported format: {named} cannot be read; supported: {supported_text()}")
    if (ext in (".edf", ".bdf", ".ecg", ".ishne") and not p.with_suffix(".hea").is_file()) or ext in _OTHER_FORMATS:
        raise RecordError(p, "file not found")
    if ext not in (".hea", ".dat", ".atr", ".qrs", ".ecg"):
        # a record name: WFDB's .hea first, then the other formats' files of that stem
        for e in NAMED_FILES:
            other = p.with_name(p.name + e)
            if other.is_file() and not p.with_name(p.name + ".hea").is_file():
                return resolve(other)
    return _reader("wfdb"), p
