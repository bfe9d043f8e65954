"""The MIT-BIH benchmark set: ``python -m trainer dataset``, its cache, its class counts, its splits.

The set is built once per test session (about 30-40 s on 2 cores), through the command a user
without a local copy runs: ``--download`` with only ``wfdb.dl_database`` replaced by a copy from
the local MIT-BIH folder. The cache lives in a tmp folder.

Expected class counts are recomputed here from the .atr files (S, V, F, Q exactly; N up to the
R-peak rule, which is checked on its own for a few records) and compared with docs/dataset.md.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import types
import zipfile
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

wfdb = pytest.importorskip("wfdb")

from ecgviewer.core.beats import BeatParams  # noqa: E402
from trainer.dataset import (  # noqa: E402
    ALL_RECORDS,
    BENCHMARK_RECORDS,
    DEFAULT_PARAMS,
    build_dataset,
    cache_key,
    get_dataset,
)
from trainer.splits import DS1, DS2, VAL_FRACTION, get_splits, inter_patient, intra_patient  # noqa: E402

pytestmark = pytest.mark.slow

DOCS = Path(__file__).resolve().parents[2] / "docs" / "dataset.md"
BEAT_SYMBOLS = list("NLRBAaJSVrFejnE/fQ?")
BEATGAN = {**dict.fromkeys("NLR", "N"), **dict.fromkeys("AaJSje", "S"), **dict.fromkeys("VE", "V"), "F": "F",
           **dict.fromkeys("/fQ", "Q")}
COUNTS_LINE = re.compile(r"class counts: N (\d+), S (\d+), V (\d+), F (\d+), Q (\d+)")


def _counts(text: str) -> dict[str, int]:
    m = COUNTS_LINE.search(text)
    assert m, f"no 'class counts: N .., S .., V .., F .., Q ..' line in {text[:300]!r}"
    return dict(zip("NSVFQ", map(int, m.groups())))


@pytest.fixture(scope="session")
def built(tmp_path_factory, mitdb):
    """``python -m trainer dataset --download`` into an empty tmp folder, with a tmp cache."""
    from trainer import cli

    root = tmp_path_factory.mktemp("dataset")
    data_dir = root / "downloaded mitdb"
    cache = root / "cache"
    calls = []

    def fake_dl_database(db_dir, dl_dir, records="all", annotators="all", keep_subdirs=True, overwrite=False):
        calls.append({"db_dir": db_dir, "dl_dir": dl_dir, "records": list(records), "annotators": list(annotators)})
        Path(dl_dir).mkdir(parents=True, exist_ok=True)
        for r in records:
            for ext in ["hea", "dat", *annotators]:
                shutil.copyfile(mitdb / f"{r}.{ext}", Path(dl_dir) / f"{r}.{ext}")

    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(wfdb, "dl_database", fake_dl_database)
        mp.setenv("ECGVIEWER_CACHE_DIR", str(root / "must not be used"))
        with redirect_stdout(out):
            rc = cli.main(["dataset", "--download", "--data-dir", str(data_dir), "--cache-dir", str(cache)])
    ds, path, cached = get_dataset(mitdb, cache)  # the key hashes file contents, not where they lie
    return types.SimpleNamespace(rc=rc, stdout=out.getvalue(), calls=calls, data_dir=data_dir, cache=cache,
                                 root=root, ds=ds, path=path, cached=cached)


@pytest.fixture(scope="session")
def atr_counts(mitdb):
    """Per record: BeatGAN class counts of the annotated beats whose 320-tick window fits the record."""
    out = {}
    for r in BENCHMARK_RECORDS:
        ann = wfdb.rdann(str(mitdb / r), "atr")
        sample = np.asarray(ann.sample)
        keep = np.isin(ann.symbol, BEAT_SYMBOLS) & (sample >= 140) & (sample + 180 <= 650000)
        cls = [BEATGAN.get(s, "") for s in np.asarray(ann.symbol)[keep]]
        out[r] = {c: cls.count(c) for c in "NSVFQ"} | {"": cls.count("")}
    return out


def test_download_then_build(built, mitdb):
    assert built.rc == 0, built.stdout
    assert len(built.calls) == 1
    call = built.calls[0]
    assert call["db_dir"] == "mitdb" and Path(call["dl_dir"]) == built.data_dir
    assert sorted(call["records"]) == sorted(ALL_RECORDS) and len(ALL_RECORDS) == 48
    assert call["annotators"] == ["atr"]
    assert len(list(built.data_dir.iterdir())) == 144
    lines = built.stdout.splitlines()
    assert lines[0] == f"built: {built.path}"
    assert "records: 44" in built.stdout
    assert _counts(built.stdout) == built.ds.counts()
    assert built.cached  # the same files from another folder: the same cache entry
    assert not (built.root / "must not be used").exists()  # --cache-dir wins over the environment


def test_class_counts_match_docs_and_atr_files(built, atr_counts):
    counts = built.ds.counts()
    assert counts == _counts(DOCS.read_text(encoding="utf-8")), "docs/dataset.md is out of date"
    total = {c: sum(r[c] for r in atr_counts.values()) for c in ["N", "S", "V", "F", "Q", ""]}
    for c in "SVFQ":  # anomalies are all kept
        assert counts[c] == total[c], c
    assert counts["N"] == total["N"] - built.ds.info["dropped_n_rpeak"]
    assert built.ds.info["dropped_unclassed"] == total[""]
    for r, skipped in built.ds.info["skipped"].items():
        assert set(skipped) <= {"edge"}, r  # MIT-BIH has no gaps or flat lines
    for r in BENCHMARK_RECORDS:
        mine = built.ds.cls[built.ds.record == r]
        for c in "SVFQ":
            assert int((mine == c).sum()) == atr_counts[r][c], (r, c)


@pytest.mark.parametrize("name", ["100", "208"])
def test_rpeak_rule(built, mitdb, atr_counts, name):
    """An N beat is kept only when the detector has an R peak within 10 samples of its annotation."""
    from ecgviewer.core.qrs import detect_qrs
    from ecgviewer.core.record import load_record

    rec = load_record(mitdb / name, annotator=None)
    peaks = detect_qrs(rec.signal, rec.fs)
    ann = wfdb.rdann(str(mitdb / name), "atr")
    sample = np.asarray(ann.sample)
    n = np.isin(ann.symbol, list("NLR")) & (sample >= 140) & (sample + 180 <= 650000)
    near = np.array([np.abs(peaks - s).min() <= 10 for s in sample[n]])
    mine = built.ds.record == name
    assert int((built.ds.cls[mine] == "N").sum()) == int(near.sum())
    np.testing.assert_array_equal(np.sort(built.ds.sample[mine & (built.ds.cls == "N")]), sample[n][near])


def test_shape_records_and_leads(built):
    ds = built.ds
    assert ds.x.shape == (len(ds), 2, 320) and ds.x.dtype == np.float32
    assert set(np.unique(ds.record)) == set(BENCHMARK_RECORDS) and len(BENCHMARK_RECORDS) == 44
    assert not set(ds.record) & {"102", "104", "107", "217"}
    assert ds.info["leads"]["114"] == ["MLII", "V5"]
    assert all(leads[0] == "MLII" for leads in ds.info["leads"].values())
    assert set(np.unique(ds.cls)) == set("NSVFQ")
    assert np.abs(ds.x).max() <= 1.0 + 1e-6


def test_second_build_is_identical(built, mitdb):
    records = ("100", "114", "232")
    again = build_dataset(mitdb, records=records, workers=1)
    mine = np.isin(built.ds.record, records)
    np.testing.assert_array_equal(again.record, built.ds.record[mine])
    np.testing.assert_array_equal(again.sample, built.ds.sample[mine])
    np.testing.assert_array_equal(again.cls, built.ds.cls[mine])
    np.testing.assert_array_equal(again.x, built.ds.x[mine])


def test_cache_is_compressed_and_found_again(built, mitdb, tmp_path, monkeypatch):
    with zipfile.ZipFile(built.path) as z:
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_DEFLATED}
    assert built.path.stat().st_size < built.ds.x.nbytes + built.ds.x_other.nbytes
    assert built.ds.info["build_s"] > 0  # built.ds itself was read back from this file
    # ECGVIEWER_CACHE_DIR is the default cache folder
    monkeypatch.setenv("ECGVIEWER_CACHE_DIR", str(tmp_path))
    target = tmp_path / "datasets" / built.path.name
    target.parent.mkdir()
    os.link(built.path, target)
    _, path, cached = get_dataset(mitdb)
    assert cached and path == target


def test_two_writers_of_one_cache_both_succeed(built, tmp_path):
    """Two training runs started together both build the cache: neither may fail on the rename."""
    from concurrent.futures import ThreadPoolExecutor

    from trainer.dataset import load_cached, save_dataset

    part = built.ds.x[:2000]
    small = types.SimpleNamespace(x=part, cls=built.ds.cls[:2000], record=built.ds.record[:2000],
                                  sample=built.ds.sample[:2000], rr_pre=built.ds.rr_pre[:2000],
                                  rr_post=built.ds.rr_post[:2000], rr_local=built.ds.rr_local[:2000],
                                  info=dict(built.ds.info), x_other=built.ds.x_other[:2000])
    target = tmp_path / "cache.npz"
    with ThreadPoolExecutor(4) as pool:
        for f in [pool.submit(save_dataset, small, target) for _ in range(4)]:
            f.result()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.npz"]  # no temporary file left
    np.testing.assert_array_equal(load_cached(target).x, part)


def test_cache_key_follows_inputs_and_parameters(built, mitdb, tmp_path):
    farm = tmp_path / "mitdb"
    farm.mkdir()
    for f in mitdb.iterdir():
        (farm / f.name).symlink_to(f)
    key = cache_key(mitdb, DEFAULT_PARAMS)
    assert cache_key(farm, DEFAULT_PARAMS) == key
    assert built.path.name == f"mitdb-{key}.npz"
    assert cache_key(mitdb, BeatParams(n_leads=1)) != key
    # A changed input file: one comment line added to a header.
    (farm / "100.hea").unlink()
    (farm / "100.hea").write_bytes((mitdb / "100.hea").read_bytes() + b"# edited\r\n")
    assert cache_key(farm, DEFAULT_PARAMS) != key
    (farm / "100.hea").unlink()
    with pytest.raises(FileNotFoundError, match="100.hea"):
        cache_key(farm, BeatParams(n_leads=2))


# --- splits ---------------------------------------------------------------------------------------

def test_intra_patient_splits(built):
    cls = built.ds.cls
    a, b = intra_patient(cls), intra_patient(cls)
    assert len(a) == 5
    normal = np.flatnonzero(cls == "N")
    anomalies = np.flatnonzero(cls != "N")
    n_tests = []
    for sa, sb in zip(a, b):
        for part in ("train", "val", "test"):
            np.testing.assert_array_equal(getattr(sa, part), getattr(sb, part))  # deterministic
        tr, va, te = set(sa.train), set(sa.val), set(sa.test)
        assert not (tr & va) and not (tr & te) and not (va & te)
        assert set(cls[sa.train]) == {"N"} and set(cls[sa.val]) == {"N"}
        assert set(anomalies) <= te
        assert len(sa.val) == round(VAL_FRACTION * (len(sa.train) + len(sa.val)))
        n_test = np.intersect1d(sa.test, normal)
        assert len(tr) + len(va) + len(n_test) == len(normal)
        n_tests.append(n_test)
    allt = np.concatenate(n_tests)
    assert len(allt) == len(normal) and np.array_equal(np.sort(allt), normal)  # the N folds partition the N beats
    assert max(map(len, n_tests)) - min(map(len, n_tests)) <= 1


def test_inter_patient_split(built):
    cls, record = built.ds.cls, built.ds.record
    assert not set(DS1) & set(DS2) and set(DS1) | set(DS2) == set(BENCHMARK_RECORDS)
    sp = inter_patient(cls, record)
    again = get_splits("inter", cls, record)[0]
    np.testing.assert_array_equal(sp.train, again.train)
    np.testing.assert_array_equal(sp.test, again.test)
    assert set(record[sp.train]) <= set(DS1) and set(record[sp.val]) <= set(DS1)
    assert set(cls[sp.train]) == {"N"} and set(cls[sp.val]) == {"N"}
    np.testing.assert_array_equal(np.sort(np.concatenate([sp.train, sp.val])),
                                  np.flatnonzero(np.isin(record, DS1) & (cls == "N")))
    np.testing.assert_array_equal(sp.test, np.flatnonzero(np.isin(record, DS2)))
    assert not set(sp.test) & (set(sp.train) | set(sp.val))


def test_second_lead_is_cut_as_a_one_lead_recorder_of_it(built, mitdb):
    """x_other is what extract_beats gives for a record holding only the second lead."""
    from ecgviewer.core.beats import BeatParams, extract_beats
    from ecgviewer.core.record import load_record

    ds = built.ds
    assert ds.x_other is not None and ds.x_other.shape == (len(ds), 1, 320)
    assert ds.info["other_lead_fallback"] == 0
    for name, channel in (("100", 1), ("114", 0)):  # 114 stores MLII second: its other lead is column 0
        alone = extract_beats(load_record(mitdb / name).only_channel(channel),
                              BeatParams(n_leads=1, align=ds.info["params"]["align"]))
        mine = ds.record == name
        j = np.searchsorted(alone.sample, ds.sample[mine])
        np.testing.assert_array_equal(alone.sample[j], ds.sample[mine])
        np.testing.assert_array_equal(alone.x[j], ds.x_other[mine])
    # aligned sets: its own fiducial and polarity, not the two-lead set's copy of the lead; at the
    # marks the two cuts are the same windows
    same = np.array_equal(ds.x_other[ds.record == "114"], ds.x[ds.record == "114", 1:2])
    assert same == (ds.info["params"]["align"] == "none")
