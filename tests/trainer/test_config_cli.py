"""The recipe, the machine and the CLI: fixed choices refused in one line, every option explained,
presets named and identified, the export kept away from the bundled model."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, fields, replace
from pathlib import Path

import pytest
import torch

from ecgviewer.core.model.card import recipe_id as card_recipe_id
from trainer import cli
from trainer.config import (
    PRESETS,
    MachineConfig,
    TrainConfig,
    TrainError,
    exact_preset,
    preset,
    recipe_differences,
    recipe_fields,
    recipe_id,
)
from trainer.losses import LossTerms
from trainer.train import Trainer

ROOT = Path(__file__).resolve().parents[2]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_option_of_every_subcommand_has_help():
    subs = _subparsers(cli.build_parser())
    assert {"dataset", "train", "evaluate", "report", "export", "card", "onnx"} <= subs.keys()
    for name, sub in subs.items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            label = f"{name} {'/'.join(action.option_strings) or action.dest}"
            assert action.help and action.help.strip() and action.help != argparse.SUPPRESS, label
            # not the old generated "(default X)" with nothing before it
            assert not action.help.startswith("(default"), label


def test_every_recipe_and_machine_field_is_an_option_with_its_help():
    train = _subparsers(cli.build_parser())["train"]
    by_dest = {a.dest: a for a in train._actions}
    for f in fields(TrainConfig) + fields(MachineConfig):
        assert f.metadata["help"].strip(), f.name
        assert f.name in by_dest, f.name
        if f.name != "preset":  # --preset's help says how to use it; the field's what it records
            assert by_dest[f.name].help.startswith(f.metadata["help"]), f.name


@pytest.mark.parametrize("argv,needle", [
    (["--con-place", "bogus"], "--con-place: invalid choice: 'bogus'"),
    (["--amp", "maybe"], "--amp: expected true or false, got 'maybe'"),
    (["--cpu-bf16", "yes please"], "--cpu-bf16: expected true or false"),
    (["--preset", "gpt"], "--preset: invalid choice: 'gpt'"),
    (["--model", "vae"], "--model: invalid choice: 'vae'"),
    (["--n-leads", "3"], "--n-leads: invalid choice: 3"),
    (["--device", "tpu9"], "--device: expected auto, cpu, cuda, cuda:N or mps"),
    (["--epochs", "three"], "--epochs: invalid int value: 'three'"),
])
def test_bad_values_are_refused_in_one_line(argv, needle, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["train", *argv])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert needle in err and err.count("\n") == 1, err


def test_bools_read_as_documented():
    assert [cli.parse_bool(s) for s in ("true", "True", "1", "yes", "on")] == [True] * 5
    assert [cli.parse_bool(s) for s in ("false", "FALSE", "0", "no", "off")] == [False] * 5


def test_the_config_refuses_what_argparse_cannot_see():
    with pytest.raises(TrainError, match="--con-place must be one of disc, enc"):
        TrainConfig(con_place="bogus")
    with pytest.raises(TrainError, match="--model must be one of"):
        TrainConfig(model="vae")
    with pytest.raises(TrainError, match="--preset must be one of"):
        TrainConfig(preset="nope")
    with pytest.raises(TrainError, match="--batch must be at least 1"):
        TrainConfig(batch=0)
    with pytest.raises(TrainError, match="--threads"):
        MachineConfig(threads=-1)


def test_cli_builds_recipe_and_machine_apart():
    args = cli.build_parser().parse_args(["train", "--preset", "si-beatgan-v2", "--epochs", "5", "--device", "cpu",
                                          "--threads", "1", "--cpu-bf16", "false", "--amp", "false"])
    cfg, machine = cli._config(args)
    assert cfg == replace(preset("si-beatgan-v2"), epochs=5) and cfg.preset == "si-beatgan-v2"
    assert machine == MachineConfig(device="cpu", amp=False, cpu_bf16=False, threads=1)
    # without a preset: the model's defaults, as before presets existed
    cfg, machine = cli._config(cli.build_parser().parse_args(["train", "--model", "si-beatgan", "--width", "16"]))
    assert cfg == TrainConfig(model="si-beatgan", width=16) and machine == MachineConfig()


def test_presets_are_named_explained_and_identified():
    assert {"beatgan", "si-beatgan", "si-beatgan-v2", "small-student"} <= PRESETS.keys()
    ids = set()
    for name, p in PRESETS.items():
        assert p.why.strip() and "\n" not in p.why, name
        cfg = preset(name)
        assert cfg.preset == name and exact_preset(cfg) == name
        ids.add(recipe_id(cfg))
    assert len(ids) == len(PRESETS)  # no two presets are the same recipe
    # the label is not the recipe: the same fields reached by options have the same id
    v2 = preset("si-beatgan-v2")
    assert recipe_id(replace(v2, preset="")) == recipe_id(v2) and not recipe_differences(asdict(v2), replace(v2, preset=""))
    assert recipe_id(replace(v2, epochs=4)) != recipe_id(v2) and exact_preset(replace(v2, epochs=4)) is None
    assert exact_preset(preset("small-student", teacher="runs/t/fold{fold}/ckpt.pt")) == "small-student"


def test_the_bundled_model_is_the_si_beatgan_v2_preset():
    """The card's recipe (written before presets, with the machine options in it) is the preset's:
    the preset has the id the card stores, which the core checks without the trainer."""
    card = json.loads((ROOT / "resources" / "models" / "si-beatgan-v2.json").read_text())
    assert recipe_id(preset("si-beatgan-v2")) == card["recipe"]["id"] == card_recipe_id(card["recipe"]["config"])
    assert recipe_id(card["recipe"]["config"]) == card["recipe"]["id"]
    assert exact_preset(TrainConfig.from_dict(card["recipe"]["config"])) == "si-beatgan-v2"


def test_recipe_id_is_pinned():
    """The id is a hash of every recipe field: a new field or default changes every id, which must be
    a deliberate decision (cards and result rows are matched by it), not an accident."""
    assert recipe_id(TrainConfig()) == "64a2906b77d101cd"
    assert recipe_id(preset("si-beatgan-v2")) == "95f498b9a24c4345"  # the bundled card's
    saved = {**asdict(preset("si-beatgan-v2")), "device": "cuda", "threads": 8}  # machine options are ignored
    assert recipe_id(dict(reversed(saved.items()))) == "95f498b9a24c4345"
    assert recipe_id(replace(preset("si-beatgan-v2"), kd_out=1, w_adv=1)) == "95f498b9a24c4345"  # 1 is 1.0
    # a saved recipe that predates a field is that field at its default
    assert recipe_id({k: v for k, v in saved.items() if k != "proj_dim"}) == "95f498b9a24c4345"


def test_small_student_needs_its_teacher(capsys, tmp_path):
    rc = cli.main(["train", "--preset", "small-student", "--data-dir", str(tmp_path / "none")])
    err = capsys.readouterr().err
    assert rc == 2 and "--teacher" in err and err.count("\n") == 1, err


def test_export_needs_an_output_and_keeps_off_the_bundled_model(capsys, tmp_path, monkeypatch):
    with pytest.raises(SystemExit) as e:
        cli.main(["export", "--data-dir", str(tmp_path)])
    assert e.value.code == 2 and "--output" in capsys.readouterr().err
    for target in (ROOT / "resources" / "models" / "si-beatgan-v2", ROOT / "resources" / "models" / "x" / "y"):
        rc = cli.main(["export", "--output", str(target), "--data-dir", str(tmp_path / "none")])
        err = capsys.readouterr().err
        assert rc == 2 and "--force" in err and "none" not in err, err  # refused before any data is read
    monkeypatch.chdir(ROOT)
    assert cli.main(["export", "--output", "resources/models/new", "--data-dir", str(tmp_path / "none")]) == 2
    # elsewhere, or with --force, it goes on (here to the missing data: not to the bundled folder)
    rc = cli.main(["export", "--output", str(tmp_path / "m"), "--data-dir", str(tmp_path / "none")])
    assert rc == 2 and "none" in capsys.readouterr().err
    rc = cli.main(["export", "--output", "resources/models/new", "--force", "--data-dir", str(tmp_path / "none")])
    assert rc == 2 and "none" in capsys.readouterr().err


def test_loss_terms_are_a_weighted_left_fold_logged_by_name():
    t = LossTerms()
    a, b, c = torch.tensor(0.1), torch.tensor(0.2), torch.tensor(0.3)
    t.add("reconstruction", a)
    t.add("adversarial", b, 2.0)
    t.add("contrastive", c, 0.5)
    assert torch.equal(t.total(), (1.0 * a + 2.0 * b) + 0.5 * c)
    assert t.logged(("distillation",)) == pytest.approx({"reconstruction": 0.1, "adversarial": 0.2,
                                                          "contrastive": 0.3, "distillation": 0.0})


def test_checkpoint_names_its_recipe_and_machine(n_beats, small_cfg, machine, tmp_path):
    cfg = replace(small_cfg(), preset="beatgan")
    Trainer(cfg, n_beats[:64], None, tmp_path, log=lambda *_: None, machine=machine()).fit(progress=False)
    ck = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    assert ck["cfg"] == asdict(cfg) and ck["cfg"]["preset"] == "beatgan"
    assert ck["recipe_id"] == recipe_id(cfg)
    assert ck["machine"] == asdict(machine())
    assert {"G", "D", "opt_g", "opt_d", "epoch", "step_in_epoch"} <= ck.keys()


def test_a_switch_off_leaves_the_recipe_id_alone_and_on_changes_it():
    """The tolerance augmentations came after recipes were named: off, they are no part of the id
    (the bundled card and every result row keep theirs); on, they are a new recipe."""
    v2 = preset("si-beatgan-v2")
    assert "aug_shift" not in recipe_fields(v2) and recipe_id(v2) == "95f498b9a24c4345"
    for kw in (dict(aug_shift=8), dict(aug_invert=0.2), dict(other_lead=0.3, align="peak")):
        on = replace(v2, **kw)
        assert recipe_id(on) != recipe_id(v2) and set(kw) <= set(recipe_fields(on))
        assert recipe_differences(asdict(v2), on) == sorted(kw)


def test_the_window_rule_is_part_of_the_recipe(monkeypatch, tmp_path):
    """Aligned training windows are another recipe than windows at the marks (every recipe up to
    2.1.0): --align peak changes the id, and the trainer cuts the set it names."""
    v2 = preset("si-beatgan-v2")
    assert v2.align == "none" and recipe_id(v2) == "95f498b9a24c4345"
    assert recipe_id(replace(v2, align="peak")) != recipe_id(v2)
    with pytest.raises(TrainError, match="--align must be one of none, peak"):
        replace(v2, align="onset")
    seen = []

    def fake_get_dataset(data_dir, cache_dir=None, params=None, rebuild=False):
        seen.append(params.align)
        raise SystemExit(0)

    monkeypatch.setattr("trainer.dataset.get_dataset", fake_get_dataset)
    for extra, want in (([], "none"), (["--align", "peak"], "peak")):
        with pytest.raises(SystemExit):
            cli.main(["train", "--preset", "si-beatgan-v2", "--data-dir", str(tmp_path), "--device", "cpu", *extra])
        assert seen[-1] == want
