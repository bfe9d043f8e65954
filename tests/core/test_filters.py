"""The numpy band-pass is scipy's firwin + filtfilt, which BeatGAN's biosppy filter is built on."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps

from ecgviewer.core.filters import BAND_HZ, bandpass, bandpass_taps


@pytest.mark.parametrize("fs", [360.0, 250.0, 500.0, 128.0, 1000.0])
def test_taps_are_scipys_firwin(fs):
    want = sps.firwin(int(0.3 * fs), list(BAND_HZ), pass_zero=False, fs=fs)
    np.testing.assert_allclose(bandpass_taps(fs), want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("fs,shape", [(360.0, (5000, 2)), (360.0, (4000,)), (250.0, (3000, 3)), (128.0, (200, 1))])
def test_bandpass_is_scipys_filtfilt(fs, shape):
    rng = np.random.default_rng(1)
    x = np.cumsum(rng.normal(size=shape), axis=0) + 50.0  # wander and an offset: the edges matter
    want = sps.filtfilt(sps.firwin(int(0.3 * fs), list(BAND_HZ), pass_zero=False, fs=fs), [1.0], x, axis=0)
    got = bandpass(x.astype(np.float32), fs)
    assert got.shape == x.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())  # float32 out


def test_too_short_gives_zeros():
    assert not bandpass(np.ones((3 * 108, 2), np.float32), 360.0).any()


def test_no_scipy_signal_import(tmp_path):
    import subprocess
    import sys

    code = ("import sys, numpy as np; from ecgviewer.core.filters import bandpass; "
            "bandpass(np.random.randn(4000, 2).astype('float32'), 360.0); print('scipy.signal' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
