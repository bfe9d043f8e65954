"""experiments.record_spread_study: the table runs on rows of DS1's shape and refuses other rows."""

from __future__ import annotations

import numpy as np

from experiments.record_spread_study import FLOORS, main
from experiments.threshold_study import TARGETS
from trainer.robust_fit import WINDOW_MS, save_rows
from trainer.splits import DS1


def _rows(n_records: int, seed: int = 0) -> list[tuple]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_records):  # records of their own centres and spreads, a few PVCs each
        cls = np.array(["N"] * 190 + ["V"] * 10)
        mse = np.exp(rng.normal(-7 + 0.1 * i, 0.2 + 0.02 * i, 200) + (cls == "V") * 2.0)
        feats = rng.normal(0, 0.05, (200, 2)) + (cls == "V")[:, None] * np.array([-0.4, 0.6])
        rows.append((cls, mse, feats))
    return rows


def test_the_table_has_a_row_per_floor_share_and_set(tmp_path, capsys):
    fit, judge = tmp_path / "ds1_ref.npz", tmp_path / "ds2_det.npz"
    save_rows(fit, _rows(len(DS1)), WINDOW_MS)
    save_rows(judge, _rows(22, seed=1), WINDOW_MS)
    assert main(["--fit", str(fit), "--judge", str(judge)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == len(FLOORS) * len(TARGETS) * 2
    assert sum("| ds1_ref |" in r for r in rows) == sum("| ds2_det |" in r for r in rows)
    assert all("208 " in r for r in rows if "| ds1_ref |" in r)  # the guard's record is read by name


def test_rows_not_of_ds1_are_refused(tmp_path, capsys):
    fit = tmp_path / "x.npz"
    save_rows(fit, _rows(5), WINDOW_MS)
    assert main(["--fit", str(fit), "--judge", str(fit)]) == 2
    assert "not DS1's 22 records" in capsys.readouterr().err
