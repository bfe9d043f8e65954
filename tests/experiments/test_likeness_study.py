"""experiments.likeness_study: one table row per join, share and beat set, on rows of DS1's shape;
rows built before the likeness channel are refused."""

from __future__ import annotations

import numpy as np

from experiments.likeness_study import JOINS, main
from experiments.threshold_study import TARGETS
from trainer.robust_fit import WINDOW_MS, save_rows
from trainer.splits import DS1


def _rows(n_records: int, seed: int = 0, likeness: bool = True) -> list[tuple]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_records):
        cls = np.array(["N"] * 190 + ["V"] * 10)
        mse = np.exp(rng.normal(-7 + 0.1 * i, 0.2, 200) + (cls == "V") * 0.3)
        feats = rng.normal(0, 0.05, (200, 2)) + (cls == "V")[:, None] * np.array([-0.02, 0.03])
        like = (rng.normal(-3 + 0.1 * i, 0.3, 200) + (cls == "V") * 3.0).astype(np.float32)
        rows.append((cls, mse, feats, like) if likeness else (cls, mse, feats))
    return rows


def _table(out: str) -> dict[tuple[str, str, str], list[str]]:
    cells = {}
    for line in out.splitlines():
        c = [x.strip() for x in line.strip("|").split("|")]
        if c[0] in JOINS:
            cells[(c[0], c[1], c[3])] = c
    return cells


def test_every_join_share_and_set_has_a_row_and_the_channel_lifts_what_the_network_misses(tmp_path, capsys):
    save_rows(tmp_path / "ds1_ref.npz", _rows(len(DS1)), WINDOW_MS)
    for tag, seed in (("ds2_ref", 1), ("ds2_det", 2)):
        save_rows(tmp_path / f"{tag}.npz", _rows(22, seed=seed), WINDOW_MS)
    assert main(["--fit", str(tmp_path)]) == 0
    cells = _table(capsys.readouterr().out)
    assert len(cells) == len(JOINS) * len(TARGETS) * 3
    # the V beats here differ little in error and much in likeness: joining the channel ranks them better
    auc = {j: float(cells[(j, "1.0%", "DS2 det")][4]) for j in JOINS}
    assert auc["max"] > auc["off"] and auc["sum"] > auc["off"]


def test_rows_without_likeness_values_are_refused(tmp_path, capsys):
    for tag, n in (("ds1_ref", len(DS1)), ("ds2_ref", 22), ("ds2_det", 22)):
        save_rows(tmp_path / f"{tag}.npz", _rows(n, likeness=False), WINDOW_MS)
    assert main(["--fit", str(tmp_path)]) == 2
    assert "without likeness values" in capsys.readouterr().err
