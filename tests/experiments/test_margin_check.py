"""experiments.margin_check on a real record through the bundled card: V beats reconstruct worse."""

from __future__ import annotations

import pytest

from testdata import MITDB, have_mitdb


@pytest.mark.skipif(not have_mitdb("119"), reason="MIT-BIH 119 not found")
def test_bundled_model_keeps_a_margin_on_119(capsys):
    from ecgviewer.core.resources import bundled_model_path
    from experiments.margin_check import main

    assert main([str(bundled_model_path()), "--data", str(MITDB), "--records", "119"]) == 0
    row = capsys.readouterr().out.strip().splitlines()[-1]
    ratio = float(row.split("|")[2])
    assert ratio > 5.0  # 119's PVCs reconstruct many times worse than its normal beats
