"""Verdicts are pure functions of (claim, measurement)."""

from __future__ import annotations

import math

import pytest

from replication.claims import Claim, Requirement, Tier, conditions, tiers
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
    with pytest.raises(ValueError, match="one \\(claim, tier, target\\)"):
        aggregate([v1, v2])


def test_claim_needing_an_llm_judge_is_never_run() -> None:
    claim = Claim(id="topk.j", paper="topk", source="§0", statement="s", paper_value="v", conditions=(),
                  tiers=tiers("real"), rationale="r", requires=Requirement.LLM_JUDGE)
    verdict = judge(claim, _m(0, a=1.0))
    assert verdict.status is Status.NOT_RUN and verdict.not_run is NotRunReason.NEEDS_LLM_JUDGE


def test_judge_is_pure() -> None:
    m = _m(0, a=0.7, b=0.0)
    assert judge(CLAIM, m) == judge(CLAIM, m)
