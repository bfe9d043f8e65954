"""bf16 autocast on CPUs that run it natively (``--cpu-bf16``): it trains, it validates in fp32,
and a CPU that would only emulate bf16 is refused with a message instead of training slowly.

Native means the CPU's own flags (avx512_bf16 or amx_bf16 in /proc/cpuinfo): oneDNN's
``_is_mkldnn_bf16_supported()`` says True on any AVX-512 CPU, where bf16 ran at 0.4x fp32."""

from __future__ import annotations

import pytest
import torch

import trainer.config as config_mod
from trainer.cli import main as trainer_main
from trainer.config import TrainError
from trainer.train import Trainer

native = pytest.mark.skipif(not config_mod.cpu_has_native_bf16(), reason="this CPU has no native bf16")

# /proc/cpuinfo of an AVX-512 CPU without bf16 (Skylake-SP, trimmed), and of one with AMX
AVX512_ONLY = ("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6148\n"
               "flags\t\t: fpu sse sse2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni\n\n")
AMX = AVX512_ONLY.replace("avx512_vnni", "avx512_vnni amx_bf16 amx_tile amx_int8").replace("Gold 6148", "8480+")


def _cpuinfo(monkeypatch, tmp_path, text: str) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    monkeypatch.setattr(config_mod, "CPUINFO", path)


def _quiet(*_a, **_k) -> None:
    pass


@native
def test_bf16_step_runs_in_bf16_and_learns(n_beats, small_cfg, machine, tmp_path):
    cfg = small_cfg(model="beatgan", width=8, epochs=4, seed=3, lr=4e-3, warmup_frac=0.0)
    tr = Trainer(cfg, n_beats[:256], n_beats[256:320], tmp_path, log=_quiet, machine=machine(cpu_bf16=True))
    seen: list[torch.dtype] = []
    hook = tr.G.encoder.register_forward_hook(lambda _m, _i, out: seen.append(out[0].dtype if isinstance(out, tuple) else out.dtype))
    first = tr.train_step(tr.x[:32])["reconstruction"]
    assert torch.bfloat16 in seen  # the step ran under bf16 autocast
    seen.clear()
    tr.fit(progress=False)
    hist = tr.state.history
    assert hist[-1]["reconstruction"] < 0.6 * first, [h["reconstruction"] for h in hist]
    # held-out error is computed in fp32, as scoring does, whatever the training precision
    seen.clear()
    val = tr.val_mse()
    assert seen and all(d == torch.float32 for d in seen)
    tr.G.eval()
    with torch.no_grad():
        manual = float(((tr.G(tr.x_val) - tr.x_val) ** 2).mean())
    hook.remove()
    assert val == pytest.approx(manual, rel=1e-5)


def test_native_bf16_is_read_from_the_cpu_flags(monkeypatch, tmp_path):
    _cpuinfo(monkeypatch, tmp_path, AVX512_ONLY)
    assert config_mod.cpu_flags() >= {"avx512f", "avx512bw"} and not config_mod.cpu_has_native_bf16()
    _cpuinfo(monkeypatch, tmp_path, AMX)
    assert config_mod.cpu_has_native_bf16()
    _cpuinfo(monkeypatch, tmp_path, AVX512_ONLY.replace("avx512_vnni", "avx512_vnni avx512_bf16"))
    assert config_mod.cpu_has_native_bf16()
    monkeypatch.setattr(config_mod, "CPUINFO", tmp_path / "none")  # no /proc/cpuinfo: not known, so not native
    assert not config_mod.cpu_has_native_bf16()


def test_bf16_refused_where_emulated(monkeypatch, n_beats, small_cfg, machine, tmp_path, capsys):
    _cpuinfo(monkeypatch, tmp_path, AVX512_ONLY)
    with pytest.raises(TrainError, match="native bf16"):
        Trainer(small_cfg(), n_beats[:64], None, tmp_path, log=_quiet, machine=machine(cpu_bf16=True))
    # fp32 is unaffected
    Trainer(small_cfg(), n_beats[:64], None, tmp_path, log=_quiet, machine=machine())
    # and the CLI says it in one line, exit status 2, before any data is read
    rc = trainer_main(["train", "--model", "beatgan", "--cpu-bf16", "true", "--epochs", "1",
                       "--data-dir", str(tmp_path / "no-such-dir"), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc == 2 and "native bf16" in err and "no-such-dir" not in err, err
