"""Self-adaptation in the viewer: a setting and a Beats-menu toggle; the scoring job runs it (pytest-qt)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ecgviewer.core import adapt
from ecgviewer.core.record import load_record

from ui_support import SAMPLE, open_and_score

pytestmark = pytest.mark.skipif(not adapt.available(), reason="self-adaptation needs PyTorch")


def test_toggle_is_the_setting_and_reaches_the_scoring_job(qtbot, window):
    assert not window.adapt_action.isChecked() and window.adapt_config() is None  # off by default
    window.adapt_action.setChecked(True)
    assert window.settings.get("scoring/adapt") is True and window.adapt_config() is not None
    window.adapt_action.setChecked(False)
    assert window.settings.get("scoring/adapt") is False and window.adapt_config() is None
    assert open_and_score(qtbot, window, SAMPLE)
    assert window._job is None or window._job.worker.adapt is None
    window.adapt_action.setChecked(True)
    assert window.settings.get("scoring/adapt") is True


def test_a_record_the_model_knows_scores_as_without(qtbot, window, scored_119):
    """119's MLII: the gate leaves the model alone, so the viewer's scores are the plain ones."""
    window.adapt_action.setChecked(True)
    assert open_and_score(qtbot, window, SAMPLE)
    assert window.scorer.adapt_log is not None and window.scorer.adapt_log.stopped == "not needed"
    np.testing.assert_array_equal(window.result.score, scored_119[1].score)
    assert not any("self-adapted" in n for n in window._notes)


def test_an_unseen_lead_is_adapted_and_the_info_line_says_so(qtbot, window, monkeypatch):
    """119's second lead (V5) given as the only lead: the viewer adapts and says how, in the info line."""
    rec = load_record(SAMPLE)
    one = dataclasses.replace(rec, signal=rec.signal[:, [1]], channel_names=["ECG"], units=rec.units[1:2])
    monkeypatch.setattr(window, "adapt_config", lambda: adapt.AdaptConfig(steps=20, budget_s=None, gate=None))
    with qtbot.waitSignal(window.scoringDone, timeout=120_000):
        window.set_record(one)
    log = window.scorer.adapt_log
    assert log is not None and log.steps == 20
    assert any("self-adapted on" in n for n in window._notes) and "self-adapted" in window.info.text()
