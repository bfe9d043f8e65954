"""The viewer opens EDF+ and ISHNE records as it opens WFDB ones: same beats, same flags, reviews beside them."""

from __future__ import annotations

import numpy as np
import pytest
from ui_support import SAMPLE

from ecgviewer.core.formats.base import Annotations, Record
from ecgviewer.core.formats.edf import write_edf
from ecgviewer.core.formats.ishne import write_ishne
from ecgviewer.core.record import load_record

pytest.importorskip("edfio")
wfdb = pytest.importorskip("wfdb")


@pytest.mark.parametrize("fmt", ["edf", "ecg"])
def test_window_opens_edf_and_ishne_like_wfdb(fmt, qtbot, window, tmp_path, scorer, errors):
    src = load_record(SAMPLE)
    n = int(src.n_samples // src.fs * src.fs)  # whole seconds: EDF data records are 1 s, not padded here
    keep = src.annotations.sample < n
    src = Record(src.name, src.path, src.fs, src.signal[:n], src.channel_names, src.units,
                 annotations=Annotations("atr", src.annotations.sample[keep], src.annotations.symbol[keep]))
    path = tmp_path / f"119.{fmt}"
    if fmt == "edf":
        write_edf(path, src, src.annotations, resolution_mv=1 / 200)
    else:
        write_ishne(path, src.signal, src.fs, src.channel_names, resolution_nv=5000)
        wfdb.wrann("119", "atr", src.annotations.sample, src.annotations.symbol, write_dir=str(tmp_path))
    with qtbot.waitSignal(window.scoringDone, timeout=120_000):
        assert window.open_record(path)
    assert not errors
    assert window.record.source == path and window.record.format in ("EDF+", "ISHNE")
    beats = scorer.beats(src)
    result = scorer.score(beats)
    np.testing.assert_array_equal(window.beats.sample, beats.sample)
    np.testing.assert_allclose(window.result.score, result.score, rtol=1e-3)
    # reopening from the recent list (kept without extension) finds the same file
    assert window.open_record(window.settings.recent()[0])
    assert window.record.source == path


def test_window_refuses_a_folder_in_one_dialog(window, tmp_path, errors):
    assert not window.open_record(tmp_path)
    assert len(errors) == 1 and "is a folder with no records in it" in errors[0][1]
