"""experiments.error_aggregate_study: the summaries of a beat's per-tick error, and the judge run."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.error_aggregate_study import AGGREGATES, SETS, aggregates, main
from trainer.robust_fit import save_rows


def test_each_summary_reads_its_part_of_the_window():
    fs, r = 360.0, 140
    err = np.zeros((2, 1, 320))
    err[0, 0, r] = 1.0  # an error on the R peak: inside every window
    err[1, 0, 5] = 1.0  # one 375 ms before it: outside the QRS and core windows
    a = aggregates(err, r, fs)
    assert set(a) == set(AGGREGATES)
    assert a["mean"][0] == a["mean"][1] == pytest.approx(1 / 320)
    assert a["qrs"][0] == pytest.approx(1 / 90) and a["qrs"][1] == 0.0  # -100 .. +150 ms = 90 ticks
    assert a["core"][0] == pytest.approx(1 / 216) and a["core"][1] == 0.0
    assert a["top10"][0] == pytest.approx(1 / 32)  # the worst tenth of 320 ticks
    assert a["smax"][0] == pytest.approx(1 / 18)  # 50 ms = 18 ticks


def test_judge_refits_on_ds1_and_reports_each_summary(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for tag, _, _ in SETS:
        for k in AGGREGATES:
            rows = []
            for _ in range(3):
                cls = np.array(["N"] * 380 + ["V"] * 20)
                mse = np.exp(rng.normal(-7, 0.3, 400) + (cls == "V") * 2.0).astype(np.float32)
                rows.append((cls, mse, rng.normal(0, 0.05, (400, 2))))
            save_rows(tmp_path / f"{tag}_{k}.npz", rows)
    assert main(["judge", "--rows", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("| qrs |") == 6 and "| mean | 1.5% |" in out  # 3 shares x 2 DS2 beat sources
    (tmp_path / "ds2_det_smax.npz").unlink()
    assert main(["judge", "--rows", str(tmp_path)]) == 2
    assert "ds2_det_smax.npz missing" in capsys.readouterr().err
