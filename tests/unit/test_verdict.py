"""Verdicts are pure functions of (claim, measurement)."""

from __future__ import annotations

import math

import pytest

from replication.claims import Claim, OpenChoice, Reading, Requirement, Tier, conditions, tiers
from replication.verdict import (
    InvalidMeasurementError,
    Measurement,
    NotRunReason,
    Status,
    aggregate,
    judge,
)

CLAIM = Claim(id="topk.c", paper="topk", source="§0", statement="s", paper_value="v",
              conditions=conditions(("a", ">=", 0.5), ("b", "<", 0.01)), tiers=tiers("toy"), rationale="r")


def _m(seed: int, **values: float) -> Measurement:
    return Measurement(Tier.TOY, "t", seed, values)


@pytest.mark.parametrize("a, b, status", [
    (0.5, 0.0, Status.REPLICATED),        # >= is inclusive
    (0.4999, 0.0, Status.NOT_REPLICATED),
    (0.9, 0.01, Status.NOT_REPLICATED),   # < is strict
    (0.9, 0.0099, Status.REPLICATED),
])
def test_judge_boundaries(a: float, b: float, status: Status) -> None:
    assert judge(CLAIM, _m(0, a=a, b=b)).status is status


def test_judge_names_the_failing_condition() -> None:
    verdict = judge(CLAIM, _m(0, a=0.2, b=0.0))
    assert "a = 0.2 fails >= 0.5" in verdict.reason
    assert verdict.values == {"a": (0.2,), "b": (0.0,)}


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_measurement_is_an_error_not_a_verdict(bad: float) -> None:
    with pytest.raises(InvalidMeasurementError, match=r"claim topk.c on toy/t seed 3: metric 'a' is"):
        judge(CLAIM, _m(3, a=bad, b=0.0))


def test_missing_metric_is_an_error() -> None:
    with pytest.raises(InvalidMeasurementError, match="metric 'b' was not measured"):
        judge(CLAIM, _m(0, a=1.0))


def test_aggregate_needs_every_seed() -> None:
    verdicts = [judge(CLAIM, _m(s, a=a, b=0.0)) for s, a in [(0, 0.9), (1, 0.4), (2, 0.8)]]
    agg = aggregate(verdicts)
    assert agg.status is Status.NOT_REPLICATED
    assert agg.seeds == (0, 1, 2)
    assert agg.values["a"] == (0.9, 0.4, 0.8)
    assert "fails on 1 of 3 seeds" in agg.reason and "seed 1" in agg.reason
    assert aggregate(verdicts[::2]).status is Status.REPLICATED


def test_aggregate_refuses_mixed_targets() -> None:
    v1 = judge(CLAIM, _m(0, a=1, b=0))
    v2 = judge(CLAIM, Measurement(Tier.TOY, "other", 1, {"a": 1, "b": 0}))
    with pytest.raises(ValueError, match="one \\(claim, tier, target, reading\\)"):
        aggregate([v1, v2])


def test_claim_needing_an_llm_judge_is_never_run() -> None:
    claim = Claim(id="topk.j", paper="topk", source="§0", statement="s", paper_value="v", conditions=(),
                  tiers=tiers("real"), rationale="r", requires=Requirement.LLM_JUDGE)
    verdict = judge(claim, _m(0, a=1.0))
    assert verdict.status is Status.NOT_RUN and verdict.not_run is NotRunReason.NEEDS_LLM_JUDGE


def test_judge_is_pure() -> None:
    m = _m(0, a=0.7, b=0.0)
    assert judge(CLAIM, m) == judge(CLAIM, m)


# ------------------------------------------------------------------------- preconditions and readings

READINGS = OpenChoice("choice", (Reading("first", "one reading"), Reading("second", "another")), primary="second",
                      why="declared in advance")
CONDITIONAL = Claim(id="topk.p", paper="topk", source="§0", statement="s", paper_value="v",
                    conditions=conditions(("a", ">=", 0.5)), preconditions=conditions(("n", ">=", 1)),
                    reported=("r",), tiers=tiers("toy"), rationale="r", readings=READINGS)


def _mr(seed: int, n: float, a_first: float, a_second: float) -> Measurement:
    return _m(seed, n=n, r=7.0, **{"a@first": a_first, "a@second": a_second})


def test_a_failed_precondition_is_inconclusive_whatever_the_conditions_say() -> None:
    for a in (0.1, 0.9):  # failing or holding: the claim cannot be judged
        verdict = judge(CONDITIONAL, _mr(0, 0.0, a, a))
        assert verdict.status is Status.INCONCLUSIVE
        assert "precondition n = 0 fails >= 1" in verdict.reason
        assert verdict.values == {"a": (a,)} and verdict.preconditions == {"n": (0.0,)}
        assert verdict.reported == {"r": (7.0,)}


def test_each_reading_is_judged_and_the_default_is_the_primary() -> None:
    m = _mr(0, 2.0, 0.9, 0.1)
    assert judge(CONDITIONAL, m).reading == "second" and judge(CONDITIONAL, m).status is Status.NOT_REPLICATED
    assert judge(CONDITIONAL, m, "first").status is Status.REPLICATED
    assert CONDITIONAL.reading_names == ("second", "first")
    with pytest.raises(ValueError, match="no reading 'third'"):
        judge(CONDITIONAL, m, "third")
    # a metric measured once for every reading (no ``@reading`` key, like n) is read under each reading
    plain = _m(0, n=2.0, r=1.0, a=0.9)
    assert judge(CONDITIONAL, plain, "first").status is judge(CONDITIONAL, plain).status is Status.REPLICATED
    with pytest.raises(InvalidMeasurementError, match="'a@second' was not measured"):
        judge(CONDITIONAL, _m(0, n=2.0, r=1.0))


def test_aggregate_a_judged_failure_outweighs_an_inconclusive_seed() -> None:
    verdicts = [judge(CONDITIONAL, _mr(0, 2.0, 0.9, 0.9)), judge(CONDITIONAL, _mr(1, 0.0, 0.9, 0.9))]
    folded = aggregate(verdicts)
    assert folded.status is Status.INCONCLUSIVE and "inconclusive on 1 of 2 seeds" in folded.reason
    assert folded.preconditions == {"n": (2.0, 0.0)}
    folded = aggregate(verdicts + [judge(CONDITIONAL, _mr(2, 2.0, 0.1, 0.1))])
    assert folded.status is Status.NOT_REPLICATED and "fails on 1 of 3 seeds" in folded.reason
    assert not folded.replicated


def test_aggregate_refuses_mixed_readings() -> None:
    with pytest.raises(ValueError, match="reading"):
        aggregate([judge(CONDITIONAL, _mr(0, 2.0, 0.9, 0.9), "first"), judge(CONDITIONAL, _mr(0, 2.0, 0.9, 0.9))])


def test_an_open_choice_needs_a_declared_primary_and_its_reason() -> None:
    with pytest.raises(ValueError, match="primary"):
        OpenChoice("c", (Reading("x", "d"), Reading("y", "d")), primary="z", why="w")
    with pytest.raises(ValueError, match="why"):
        OpenChoice("c", (Reading("x", "d"), Reading("y", "d")), primary="x", why="")
    with pytest.raises(ValueError, match="two distinct readings"):
        OpenChoice("c", (Reading("x", "d"),), primary="x", why="w")
