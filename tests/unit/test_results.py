"""The results store: atomic records, readable by pandas, malformed records rejected with the file named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from replication.claims import Claim, Tier, conditions, tiers
from replication.results import (
    MalformedRecordError,
    iter_records,
    load_results,
    make_record,
    read_record,
    record_to_measurement,
    write_record,
)
from replication.runner import Runner
from replication.targets import Analysis, Measured, MetricSet, Target
from replication.verdict import InvalidMeasurementError, Measurement, Status, judge

CLAIM = Claim(id="topk.r", paper="topk", source="§0", statement="s", paper_value="v",
              conditions=conditions(("a", ">=", 0.5)), tiers=tiers("toy"), rationale="r")

A_METRICS = MetricSet.named("AMetrics", ["a"])


def _write(root: Path, seed: int = 0, a: float = 0.7) -> Path:
    m = Measurement(Tier.TOY, "t", seed, {"a": a}, wall_time_s=1.5)
    return write_record(root, make_record(CLAIM, m, judge(CLAIM, m)))


def test_record_round_trip_and_rejudge(tmp_path: Path) -> None:
    path = _write(tmp_path, seed=2, a=0.3)
    rec = read_record(path)
    assert (rec.claim_id, rec.tier, rec.target, rec.seed, rec.verdict) == ("topk.r", "toy", "t", 2,
                                                                           "not replicated")
    assert rec.versions["torch"].startswith("2.")
    assert rec.device
    # what varies from run to run is not in the record (it goes to the tier's provenance file)
    assert not {"git_revision", "wall_time_s", "timestamp"} & set(json.loads(path.read_text()))
    # the same verdict code judges a recorded run
    assert judge(CLAIM, record_to_measurement(rec)).status is Status.NOT_REPLICATED


def test_load_results_one_row_per_condition(tmp_path: Path) -> None:
    for seed in range(3):
        _write(tmp_path, seed=seed, a=0.5 + seed / 10)
    frame = load_results(tmp_path)
    assert len(frame) == 3
    assert list(frame["seed"]) == [0, 1, 2]
    assert frame["value"].tolist() == pytest.approx([0.5, 0.6, 0.7], abs=1e-12)
    assert set(frame["verdict"]) == {"replicated"}


def test_load_results_of_an_empty_store(tmp_path: Path) -> None:
    assert load_results(tmp_path).empty


def test_no_temporary_files_are_left(tmp_path: Path) -> None:
    _write(tmp_path)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["seed-0.json"]


@pytest.mark.parametrize("mutate, match", [
    (lambda d: "{not json", "not valid JSON"),
    (lambda d: json.dumps([1, 2]), "a record is a JSON object"),
    (lambda d: json.dumps({k: v for k, v in d.items() if k != "verdict"}), "missing field 'verdict'"),
    (lambda d: json.dumps({**d, "seed": "zero"}), "field 'seed' has type str"),
    (lambda d: json.dumps({**d, "tier": "huge"}), "unknown tier 'huge'"),
    (lambda d: json.dumps({**d, "conditions": [{"metric": "a"}]}), r"conditions\[0\] lacks a valid 'value'"),
    (lambda d: json.dumps({**d, "extra": 1}), "unknown fields"),
    (lambda d: json.dumps({**d, "schema": 99}), "schema 99"),
])
def test_malformed_record_names_file_and_field(tmp_path: Path, mutate, match: str) -> None:
    path = _write(tmp_path)
    path.write_text(mutate(json.loads(path.read_text())))
    with pytest.raises(MalformedRecordError, match=match) as err:
        read_record(path)
    assert str(path) in str(err.value)
    with pytest.raises(MalformedRecordError):
        load_results(tmp_path)


def _analysis(values_by_seed: dict[int, float]) -> tuple[Analysis, Target]:
    target = Target("t", Tier.TOY, "test target", seeds=tuple(values_by_seed))
    return Analysis("a", Tier.TOY, (target,), A_METRICS,
                    lambda t, seed: Measured({"a": values_by_seed[seed]})), target


def test_runner_writes_one_record_per_seed(tmp_path: Path) -> None:
    analysis, target = _analysis({0: 0.9, 1: 0.8, 2: 0.7})
    verdict = Runner(results_dir=tmp_path).verdict(CLAIM, Tier.TOY, target, analysis)
    assert verdict.status is Status.REPLICATED
    assert sorted(p.name for p in tmp_path.rglob("seed-*.json")) == ["seed-0.json", "seed-1.json", "seed-2.json"]


def test_a_nan_on_a_later_seed_writes_nothing(tmp_path: Path) -> None:
    analysis, target = _analysis({0: 0.9, 1: float("nan"), 2: 0.7})
    with pytest.raises(InvalidMeasurementError, match="seed 1: metric 'a' is nan"):
        Runner(results_dir=tmp_path).verdict(CLAIM, Tier.TOY, target, analysis)
    assert not list(tmp_path.rglob("*.json"))


def test_runner_measures_each_target_seed_once() -> None:
    calls: list[int] = []
    target = Target("t", Tier.TOY, "test", seeds=(0, 1))
    analysis = Analysis("a", Tier.TOY, (target,), A_METRICS, lambda t, s: calls.append(s) or Measured({"a": 1.0}))
    runner = Runner()
    for _ in range(3):
        runner.verdict(CLAIM, Tier.TOY, target, analysis)
    assert calls == [0, 1]


def test_units_are_each_measurement_once_and_skip_what_cannot_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    target = Target("t", Tier.TOY, "test", seeds=(0, 1))
    gpu = Target("g", Tier.REAL, "x", seeds=(None,), needs_gpu=True)
    measure = lambda t, s: Measured({"a": 1.0})  # noqa: E731
    one, two = (Analysis(n, Tier.TOY, (target,), A_METRICS, measure) for n in ("one", "two"))
    on_gpu = Analysis("g", Tier.REAL, (gpu,), A_METRICS, measure)
    runner = Runner()
    units = runner.units([(CLAIM, target, one), (CLAIM, target, two), (CLAIM, gpu, on_gpu), (CLAIM, None, None)])
    assert [(a.name, t.name, s) for a, t, s in units] == [("one", "t", 0), ("one", "t", 1)]
    seen: list[int | None] = []
    runner.measure_all(units, jobs=1, done=lambda unit: seen.append(unit[2]))
    assert seen == [0, 1] and runner.units([(CLAIM, target, two)]) == []


def test_gpu_target_without_cuda_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    target = Target("gemma", Tier.REAL, "x", seeds=(None,), needs_gpu=True)
    analysis = Analysis("g", Tier.REAL, (target,), A_METRICS, lambda t, s: Measured({"a": 1.0}))
    verdict = Runner().verdict(CLAIM, Tier.REAL, target, analysis)
    assert verdict.status is Status.NOT_RUN
    assert "needs a CUDA GPU" in verdict.reason and "--target gemma" in verdict.reason


def test_missing_weights_reason_is_passed_through() -> None:
    target = Target("w", Tier.REAL, "x", seeds=(None,),
                    availability=lambda: "weights google/gemma-2-2b are not in the HF cache; run `hf download`")
    analysis = Analysis("w", Tier.REAL, (target,), A_METRICS, lambda t, s: Measured({"a": 1.0}))
    verdict = Runner().verdict(CLAIM, Tier.REAL, target, analysis)
    assert verdict.status is Status.NOT_RUN and "hf download" in verdict.reason


def test_runner_saves_an_analysis_arrays_once_per_seed(tmp_path: Path) -> None:
    import numpy as np
    import torch

    from replication.figures import FigureInputs, measured_frame, saved_arrays
    from replication.results import iter_records

    calls: list[int | None] = []
    target = Target("t", Tier.TOY, "test", seeds=(0, 1))
    analysis = Analysis("arr", Tier.TOY, (target,), A_METRICS,
                        lambda t, s: calls.append(s) or Measured({"a": 1.0}, {"density": torch.tensor([0.5, 0.0]),
                                                                              "k": 3, "skipped": None}))
    runner = Runner(results_dir=tmp_path)
    runner.verdict(CLAIM, Tier.TOY, target, analysis)
    runner.verdict(CLAIM, Tier.TOY, target, analysis)
    assert calls == [0, 1]
    found = saved_arrays(FigureInputs(measured_frame(iter_records(tmp_path)), tmp_path), "arr")
    assert [(tier, name, seed) for tier, name, seed, _ in found] == [("toy", "t", 0), ("toy", "t", 1)]
    np.testing.assert_array_equal(found[0][3]["density"], np.array([0.5, 0.0], dtype=np.float32))
    assert int(found[0][3]["k"]) == 3 and "skipped" not in found[0][3]
    assert len(iter_records(tmp_path)) == 2  # the arrays are not mistaken for records


def test_a_rerun_leaves_exactly_its_own_records(tmp_path: Path) -> None:
    stale = _write(tmp_path, seed=7)  # e.g. a seed the target no longer has, or an earlier layout
    target = Target("t", Tier.TOY, "d", seeds=(0, 1))
    analysis = Analysis("a", Tier.TOY, (target,), A_METRICS, lambda t, s: Measured({"a": 0.9}))
    Runner(results_dir=tmp_path).verdict(CLAIM, Tier.TOY, target, analysis)
    assert not stale.exists()
    assert sorted(p.name for p in (tmp_path / "toy" / "t" / "topk.r").iterdir()) == ["seed-0.json", "seed-1.json"]


def test_a_record_of_an_older_schema_says_to_rerun(tmp_path: Path) -> None:
    path = _write(tmp_path)
    data = json.loads(path.read_text())
    del data["reading"], data["preconditions"], data["reported"]
    path.write_text(json.dumps({**data, "schema": 1}))
    with pytest.raises(MalformedRecordError, match="schema 1 is not 3; re-run"):
        read_record(path)


# -- issue 16: an unreadable or inconsistent record is an error naming the file and key, never used -------

@pytest.mark.parametrize("mutate, match", [
    (lambda d: json.dumps({**d, "measured": {"x": float("nan")}}), r"measured\['x'\] is nan, not a finite"),
    (lambda d: json.dumps({**d, "measured": {"x": float("inf")}}), r"measured\['x'\] is inf, not a finite"),
    (lambda d: json.dumps({**d, "measured": {"x": "0.5"}}), r"measured\['x'\] is '0.5', not a finite"),
    (lambda d: json.dumps({**d, "reported": {"x": float("nan")}}), r"reported\['x'\] is nan"),
    (lambda d: json.dumps({**d, "conditions": [{**d["conditions"][0], "value": float("nan")}]}),
     r"conditions\[0\].value \(a\) is nan, not a finite number"),
    (lambda d: json.dumps({**d, "seed": 1}), "holds toy/t/topk.r/seed-1.json .* which is not its path"),
    (lambda d: json.dumps({**d, "target": "u"}), "holds toy/u/topk.r/seed-0.json"),
    (lambda d: json.dumps({**d, "claim_id": "topk.other"}), "holds toy/t/topk.other/seed-0.json"),
    (lambda d: json.dumps({**d, "tier": "real"}), "holds real/t/topk.r/seed-0.json"),
])
def test_a_record_with_a_bad_value_or_another_path_is_rejected(tmp_path: Path, mutate, match: str) -> None:
    path = _write(tmp_path)
    path.write_text(mutate(json.loads(path.read_text())))
    before = path.read_bytes()
    with pytest.raises(MalformedRecordError, match=match) as err:
        read_record(path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)
    assert path.read_bytes() == before


@pytest.mark.parametrize("content", [b"\xff\xfe{}", b"{\"schema\": \"\xe9\"}"])
def test_a_record_that_is_not_utf8_is_malformed_naming_the_file(tmp_path: Path, content: bytes) -> None:
    path = _write(tmp_path)
    path.write_bytes(content)
    with pytest.raises(MalformedRecordError, match="not UTF-8 text") as err:
        read_record(path)
    assert str(path) in str(err.value)


def test_a_record_path_that_is_a_folder_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "toy" / "t" / "topk.r" / "seed-0.json"
    path.mkdir(parents=True)
    with pytest.raises(MalformedRecordError, match="cannot be read"):
        load_results(tmp_path)


def test_a_duplicate_seed_is_an_error(tmp_path: Path) -> None:
    from replication.results import iter_records

    path = _write(tmp_path, seed=0)
    twin = path.with_name("seed-0@x.json")
    twin.write_text(json.dumps({**json.loads(path.read_text()), "reading": None}))
    with pytest.raises(MalformedRecordError, match="holds toy/t/topk.r/seed-0.json"):
        iter_records(tmp_path)


def test_a_claims_records_are_written_all_or_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import replication.runner as runner

    analysis, target = _analysis({0: 0.9, 1: 0.8, 2: 0.7})
    real = runner.make_record

    def failing_on_seed_2(claim, measurement, verdict):
        if measurement.seed == 2:
            raise OSError("disk full")
        return real(claim, measurement, verdict)

    monkeypatch.setattr(runner, "make_record", failing_on_seed_2)
    with pytest.raises(OSError, match="disk full"):
        Runner(results_dir=tmp_path).verdict(CLAIM, Tier.TOY, target, analysis)
    assert list(tmp_path.rglob("*")) == [] or not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_write_records_writes_none_if_one_cannot_be_serialised(tmp_path: Path) -> None:
    from dataclasses import replace

    from replication.results import write_records

    good = read_record(_write(tmp_path / "a", seed=0))
    bad = replace(good, seed=1, conditions=[{**good.conditions[0], "value": float("nan")}])
    before = sorted(p.name for p in (tmp_path / "a").rglob("*"))
    with pytest.raises(ValueError, match="Out of range float"):
        write_records(tmp_path / "b", [replace(good, seed=2), bad])
    assert not (tmp_path / "b").exists() or not [p for p in (tmp_path / "b").rglob("*") if p.is_file()]
    assert sorted(p.name for p in (tmp_path / "a").rglob("*")) == before


def test_records_of_claims_no_longer_registered_are_listed_as_stale(tmp_path: Path) -> None:
    from replication.report import stale_records
    from replication.results import iter_records

    _write(tmp_path, seed=0)
    _write(tmp_path, seed=1)
    current, stale = stale_records(iter_records(tmp_path))
    assert current == []
    assert stale == [("topk.r on toy/t: 2 record(s); the claim is no longer registered "
                      "(delete toy/t/topk.r/ under the results folder)")]


# -- issue 19: records and arrays are content-deterministic; what varies goes to the provenance file --------

def test_a_record_of_schema_2_with_timestamps_says_to_rerun(tmp_path: Path) -> None:
    path = _write(tmp_path)
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "schema": 2, "git_revision": "abc", "wall_time_s": 1.0,
                                "timestamp": "2025-01-01T00:00:00Z"}))
    with pytest.raises(MalformedRecordError, match="schema 2 is not 3; re-run the claim") as err:
        read_record(path)
    assert "\n" not in str(err.value)


def test_the_runner_writes_run_varying_provenance_beside_the_tier(tmp_path: Path) -> None:
    from replication.results import provenance_path, read_provenance

    analysis, target = _analysis({0: 0.9, 1: 0.8})
    Runner(results_dir=tmp_path).verdict(CLAIM, Tier.TOY, target, analysis)
    assert provenance_path(tmp_path, "toy") == tmp_path / "provenance" / "toy.json"
    prov = read_provenance(tmp_path)
    assert set(prov) == {("toy", "t/topk.r/seed-0.json"), ("toy", "t/topk.r/seed-1.json")}
    for entry in prov.values():
        assert set(entry) == {"git_revision", "wall_time_s", "timestamp"} and entry["wall_time_s"] >= 0
    # a rerun with another seed set keeps exactly its own records' entries
    analysis, target = _analysis({1: 0.8, 2: 0.7})
    Runner(results_dir=tmp_path).verdict(CLAIM, Tier.TOY, target, analysis)
    assert set(read_provenance(tmp_path)) == {("toy", "t/topk.r/seed-1.json"), ("toy", "t/topk.r/seed-2.json")}
    assert len(iter_records(tmp_path)) == 2  # the provenance file is not mistaken for a record


def test_an_unreadable_provenance_file_is_replaced_not_fatal(tmp_path: Path) -> None:
    from replication.results import provenance_path, read_provenance

    provenance_path(tmp_path, "toy").parent.mkdir(parents=True)
    provenance_path(tmp_path, "toy").write_text("{not json")
    assert read_provenance(tmp_path) == {}
    analysis, target = _analysis({0: 0.9})
    Runner(results_dir=tmp_path).verdict(CLAIM, Tier.TOY, target, analysis)
    assert set(read_provenance(tmp_path)) == {("toy", "t/topk.r/seed-0.json")}


def test_arrays_are_written_deterministically(tmp_path: Path) -> None:
    import zipfile

    import numpy as np
    import torch

    from replication.results import read_arrays, write_arrays

    arrays = {"z": torch.arange(6, dtype=torch.float32), "a": np.eye(3), "k": 3, "none": None}
    write_arrays(tmp_path / "one.npz", arrays)
    write_arrays(tmp_path / "two.npz", dict(reversed(list(arrays.items()))))
    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "two.npz").read_bytes()
    with zipfile.ZipFile(tmp_path / "one.npz") as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == ["a.npy", "k.npy", "z.npy"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    back = read_arrays(tmp_path / "one.npz")
    np.testing.assert_array_equal(back["z"], np.arange(6, dtype=np.float32))
    np.testing.assert_array_equal(back["a"], np.eye(3))
    assert int(back["k"]) == 3 and set(back) == {"a", "k", "z"}
