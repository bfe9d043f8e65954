"""experiments.share_study: the standing share rule picks the largest admissible share, and its
table runs on rows of DS1's shape."""

from __future__ import annotations

import numpy as np

from experiments.share_study import ECTOPY_GUARD, POOLED_BAR, admissible, choose, main
from experiments.threshold_study import TARGETS
from trainer.robust_fit import WINDOW_MS, save_rows
from trainer.splits import DS1


def _rows(n_records: int, seed: int = 0) -> list[tuple]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_records):
        cls = np.array(["N"] * 190 + ["V"] * 10)
        mse = np.exp(rng.normal(-7 + 0.1 * i, 0.2 + 0.02 * i, 200) + (cls == "V") * 2.0)
        feats = rng.normal(0, 0.05, (200, 2)) + (cls == "V")[:, None] * np.array([-0.4, 0.6])
        rows.append((cls, mse, feats))
    return rows


def _ds1(share_208: float) -> dict:
    by_record = [0.0] * len(DS1)
    by_record[DS1.index("208")] = share_208
    return {"by_record": by_record}


def test_the_largest_admissible_share_is_chosen_and_none_when_none_is():
    assert choose([(0.005, True), (0.01, True), (0.015, False), (0.02, True)]) == 0.02
    assert choose([(0.005, False), (0.01, False)]) is None


def test_a_share_is_admissible_only_within_the_pooled_bar_and_the_ectopy_guard():
    assert admissible(_ds1(0.01), [{"n": POOLED_BAR}, {"n": 0.01}])
    assert not admissible(_ds1(0.01), [{"n": POOLED_BAR + 0.001}, {"n": 0.01}])  # one source over the bar
    assert not admissible(_ds1(ECTOPY_GUARD), [{"n": 0.01}])  # 208 at the guard


def test_the_table_has_a_row_per_share_and_set_and_names_the_choice(tmp_path, capsys):
    fit, judged = tmp_path / "ds1_ref.npz", tmp_path / "ds2_det.npz"
    save_rows(fit, _rows(len(DS1)), WINDOW_MS)
    save_rows(judged, _rows(22, seed=1), WINDOW_MS)
    rc = main(["--fit", str(fit), "--judge", str(judged)])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| card rule")]
    assert len(rows) == len(TARGETS) * 2
    verdicts = [(t, r.rstrip(" |").endswith("yes")) for t, r in zip(TARGETS, [r for r in rows if "ds1_ref" in r])]
    chosen = choose(verdicts)
    assert (rc == 0) == (chosen is not None)
    assert out.strip().splitlines()[-1] == ("chosen share: none admissible" if chosen is None
                                            else f"chosen share: {chosen:.1%}")


def test_rows_not_of_ds1_and_a_build_without_a_card_are_refused(tmp_path, capsys):
    fit = tmp_path / "x.npz"
    save_rows(fit, _rows(5), WINDOW_MS)
    assert main(["--fit", str(fit), "--judge", str(fit)]) == 2
    assert "not DS1's 22 records" in capsys.readouterr().err
    assert main(["--build", str(tmp_path / "rows"), "--card", str(tmp_path / "none.json")]) == 2
    assert "--build needs --card" in capsys.readouterr().err
