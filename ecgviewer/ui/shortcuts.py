"""The key map: one table, so the menus, the help dialog and the tests all read the same keys."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shortcut:
    name: str  # action id used by MainWindow.actions
    text: str  # menu text
    keys: tuple[str, ...]  # QKeySequence strings, first one shown in menus
    help: str


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("open", "&Open record...", ("Ctrl+O",), "Open a record (WFDB .hea/.dat, EDF, BDF, ISHNE .ecg)"),
    Shortcut("quit", "&Quit", ("Ctrl+Q",), "Quit"),
    Shortcut("page_left", "Page &left", ("PgUp", "Shift+Left"), "Move one screen back in time"),
    Shortcut("page_right", "Page &right", ("PgDown", "Shift+Right"), "Move one screen forward in time"),
    Shortcut("start", "Go to &start", ("Home",), "Go to the start of the record"),
    Shortcut("end", "Go to &end", ("End",), "Go to the end of the record"),
    Shortcut("zoom_in", "Time zoom &in", ("Ctrl++", "Ctrl+=", "]"), "Show less time (zoom in)"),
    Shortcut("zoom_out", "Time zoom &out", ("Ctrl+-", "["), "Show more time (zoom out)"),
    Shortcut("whole", "&Whole record", ("Ctrl+0",), "Show the whole record"),
    Shortcut("amp_up", "Amplitude &+", ("+", "="), "Larger amplitude (gain x2)"),
    Shortcut("amp_down", "Amplitude &-", ("-",), "Smaller amplitude (gain /2)"),
    Shortcut("calibrated", "&Calibrated 25 mm/s, 10 mm/mV", ("C",), "Toggle calibrated paper speed and gain"),
    Shortcut("heatmap", "&Heat map", ("H",), "Toggle the reconstruction-error heat map"),
    Shortcut("heat_more", "Heat map more opaque", ("O",), "Heat map opacity +10%"),
    Shortcut("heat_less", "Heat map more transparent", ("Shift+O",), "Heat map opacity -10%"),
    Shortcut("next_flag", "&Next flagged beat", ("N",), "Select the next flagged beat in the table"),
    Shortcut("prev_flag", "&Previous flagged beat", ("P",), "Select the previous flagged beat in the table"),
    Shortcut("threshold", "Set &threshold...", ("T",), "Focus the threshold box"),
    Shortcut("table", "Focus flagged-beats &table", ("F",), "Focus the flagged-beats table (arrows move, Enter centres)"),
    Shortcut("confirm", "&Confirm beat", ("A",), "Review: confirm the selected beat as anomalous (accept the flag)"),
    Shortcut("dismiss", "&Dismiss beat", ("D",), "Review: dismiss the selected beat's flag"),
    Shortcut("unreview", "Mark &unreviewed", ("U",), "Review: back to unreviewed"),
    Shortcut("note", "Edit &note...", ("E",), "Review: edit the selected beat's note (Enter saves, Esc leaves)"),
    Shortcut("undo", "&Undo", ("Ctrl+Z",), "Undo the last review change"),
    Shortcut("redo", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo the review change undone last"),
    Shortcut("calipers", "&Calipers", ("M",), "Toggle calipers: drag on a lead to measure time, rate and mV"),
    Shortcut("export_csv", "Export &CSV...", ("Ctrl+E",), "Export every beat (score, flag, review, note) as CSV"),
    Shortcut("export_pdf", "Export &PDF report...", ("Ctrl+P",), "PDF report: summary and strips at 25 mm/s, 10 mm/mV"),
    Shortcut("cancel", "&Cancel scoring", ("Esc",), "Stop scoring in the background"),
    Shortcut("help_keys", "&Keyboard shortcuts", ("F1",), "This list"),
    Shortcut("about", "&About ecgviewer", ("Ctrl+Shift+A",), "Version, model and licences"),
)

#: Recent files get Ctrl+1 .. Ctrl+8 (built at run time from the recent list).
RECENT_KEYS = tuple(f"Ctrl+{i}" for i in range(1, 9))

#: Keys handled by widgets rather than actions, listed in the help too.
OTHER_KEYS: tuple[tuple[str, str], ...] = (
    ("Ctrl+1 .. Ctrl+8", "Open a recent record"),
    ("Up / Down (table)", "Previous / next row: selects and centres that beat"),
    ("Enter (table)", "Centre the current row's beat"),
    ("Mouse wheel / drag", "Zoom / pan the signal; drag the threshold line on the score track"),
    ("Click overview", "Jump to that time"),
    ("Drag (calipers on)", "Measure between two points: Δt ms, bpm, ΔmV"),
    ("Mouse over trace", "Time (h:mm:ss.mmm) and amplitude (mV) in the status bar"),
    ("Enter / Esc (note field)", "Save the note / leave without saving"),
)


def by_name() -> dict[str, Shortcut]:
    return {s.name: s for s in SHORTCUTS}


def help_rows() -> list[tuple[str, str]]:
    """(keys, description) rows for the help dialog."""
    rows = [(", ".join(s.keys), s.help) for s in SHORTCUTS]
    rows.extend(OTHER_KEYS)
    return rows
