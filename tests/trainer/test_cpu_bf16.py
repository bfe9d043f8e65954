"""bf16 autocast on CPUs that run it natively (``--cpu-bf16``): it trains, it validates in fp32,
and a CPU that would only emulate bf16 is refused with a message instead of training slowly."""

from __future__ import annotations

import pytest
import torch

import trainer.train as train_mod
from trainer.cli import main as trainer_main
from trainer.train import Trainer, TrainError

native = pytest.mark.skipif(not train_mod.cpu_has_native_bf16(), reason="this CPU has no native bf16")


def _quiet(*_a, **_k) -> None:
    pass


@native
def test_bf16_step_runs_in_bf16_and_learns(n_beats, small_cfg, tmp_path):
    cfg = small_cfg(model="beatgan", width=8, epochs=4, seed=3, lr=4e-3, warmup_frac=0.0, cpu_bf16=True)
    tr = Trainer(cfg, n_beats[:256], n_beats[256:320], tmp_path, log=_quiet)
    seen: list[torch.dtype] = []
    hook = tr.G.encoder.register_forward_hook(lambda _m, _i, out: seen.append(out[0].dtype if isinstance(out, tuple) else out.dtype))
    first = tr.train_step(tr.x[:32])["rec"]
    assert torch.bfloat16 in seen  # the step ran under bf16 autocast
    seen.clear()
    tr.fit(progress=False)
    hist = tr.state.history
    assert hist[-1]["rec"] < 0.6 * first, [h["rec"] for h in hist]
    # held-out error is computed in fp32, as scoring does, whatever the training precision
    seen.clear()
    val = tr.val_mse()
    assert seen and all(d == torch.float32 for d in seen)
    tr.G.eval()
    with torch.no_grad():
        manual = float(((tr.G(tr.x_val) - tr.x_val) ** 2).mean())
    hook.remove()
    assert val == pytest.approx(manual, rel=1e-5)


def test_bf16_refused_where_emulated(monkeypatch, n_beats, small_cfg, tmp_path, capsys):
    monkeypatch.setattr(train_mod, "cpu_has_native_bf16", lambda: False)
    with pytest.raises(TrainError, match="native bf16"):
        Trainer(small_cfg(cpu_bf16=True), n_beats[:64], None, tmp_path, log=_quiet)
    # fp32 is unaffected
    Trainer(small_cfg(), n_beats[:64], None, tmp_path, log=_quiet)
    # and the CLI says it in one line, exit status 2, before any data is read
    rc = trainer_main(["train", "--model", "beatgan", "--cpu-bf16", "true", "--epochs", "1",
                       "--data-dir", str(tmp_path / "no-such-dir"), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc == 2 and "native bf16" in err and "no-such-dir" not in err, err
