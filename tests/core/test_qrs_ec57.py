"""The EC57 comparison rule of benchmarks/qrs_benchmark.py on the one MIT-BIH record it changes.

Why: the QRS target is judged on the EC57 row, which leaves out ventricular flutter/fibrillation
episodes the way WFDB's bxb does. This checks that the rule removes only what lies inside the
``[`` ... ``]`` episodes of record 207 and touches neither sensitivity nor any other record.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("wfdb")


@pytest.fixture(scope="module")
def bench():
    from benchmarks import qrs_benchmark

    return qrs_benchmark


def test_flutter_episodes_of_207(bench, mitdb: Path) -> None:
    from ecgviewer.core.record import load_record

    rec = load_record(mitdb / "207")
    spans = bench.flutter_intervals(rec)
    assert len(spans) >= 1 and all(a < b for a, b in spans)
    sym = np.asarray(rec.annotations.symbol)
    samples = np.asarray(rec.annotations.sample)
    inside = np.zeros(samples.size, bool)
    for a, b in spans:
        inside |= (samples >= a) & (samples <= b)
    assert "!" in set(sym[inside])  # flutter waves are what the episodes hold
    ref = bench.reference_beats(rec)
    assert bench._outside(ref, spans).size == ref.size  # no reference beat lies inside an episode

    r = bench.run_record(mitdb, "207")
    assert r.vf_tp == r.tp and r.vf_fn == r.fn  # sensitivity untouched
    assert r.vf_fp < r.fp  # detections on the flutter waves no longer count as false positives


def test_records_without_episodes_are_unchanged(bench, mitdb: Path) -> None:
    r = bench.run_record(mitdb, "119")
    assert (r.vf_tp, r.vf_fn, r.vf_fp) == (r.tp, r.fn, r.fp)
