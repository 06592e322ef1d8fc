"""Verdicts: pure functions of (claim, measurement).

The same code judges a fresh toy run and a record read back from a GPU run: :func:`judge` sees only a
:class:`~replication.claims.Claim` and a :class:`Measurement` (named metric values for one tier, target and
seed), and :func:`aggregate` folds the per-seed verdicts of one (claim, target) into one.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from replication.claims import Claim, Tier


class Status(str, enum.Enum):
    REPLICATED = "replicated"
    NOT_REPLICATED = "not replicated"
    NOT_RUN = "not run"


class NotRunReason(str, enum.Enum):
    """Why a claim was not run on a (tier, target). The report prints the value and the detail."""

    NEEDS_GPU = "needs GPU"
    NEEDS_WEIGHTS = "needs weights"
    NEEDS_LLM_JUDGE = "needs an LLM judge"
    NEEDS_DATA = "needs a licensed data set"
    NOT_IMPLEMENTED = "not implemented"
    NOT_MEASURED = "not measured yet"


class InvalidMeasurementError(ValueError):
    """A measurement that cannot be judged (NaN, missing metric): the message names claim, metric, seed."""


@dataclass(frozen=True)
class Measurement:
    """Named metric values measured on one (tier, target, seed).

    ``values`` holds every metric an analysis produced; a claim reads the ones its conditions name.
    """

    tier: Tier
    target: str
    seed: int | None
    values: Mapping[str, float]
    wall_time_s: float = 0.0


@dataclass(frozen=True)
class Verdict:
    """The outcome of judging one claim on one (tier, target) — per seed or aggregated over seeds."""

    claim_id: str
    status: Status
    tier: Tier | None = None
    target: str | None = None
    seeds: tuple[int | None, ...] = ()
    #: metric -> value per seed (aggregated verdicts) or a single value (per-seed verdicts)
    values: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    reason: str = ""
    not_run: NotRunReason | None = None

    @property
    def replicated(self) -> bool:
        return self.status is Status.REPLICATED

    def summary(self) -> str:
        """One line: status, values per seed, and the reason."""
        vals = "; ".join(f"{m} = {_fmt(v)}" for m, v in self.values.items())
        parts = [self.status.value]
        if vals:
            parts.append(vals)
        if self.reason:
            parts.append(self.reason)
        return " — ".join(parts)


def _fmt(values: Sequence[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4g}"
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"


def judge(claim: Claim, measurement: Measurement) -> Verdict:
    """Judge one claim on one measurement: replicated iff every condition holds.

    Raises :class:`InvalidMeasurementError` if a metric the claim needs is missing or not finite: a NaN
    is a bug in the measurement, never a "not replicated".
    """
    if claim.requires is not None:
        return not_run(claim, NotRunReason.NEEDS_LLM_JUDGE if "LLM" in claim.requires.value
                       else NotRunReason.NEEDS_DATA, claim.requires.value,
                       tier=measurement.tier, target=measurement.target)
    failed: list[str] = []
    values: dict[str, tuple[float, ...]] = {}
    where = f"claim {claim.id} on {measurement.tier.value}/{measurement.target} seed {measurement.seed}"
    for cond in claim.conditions:
        if cond.metric not in measurement.values:
            have = ", ".join(sorted(measurement.values)) or "none"
            raise InvalidMeasurementError(f"{where}: metric {cond.metric!r} was not measured (measured: {have})")
        value = float(measurement.values[cond.metric])
        if not math.isfinite(value):
            raise InvalidMeasurementError(f"{where}: metric {cond.metric!r} is {value}, not a finite number")
        values[cond.metric] = (value,)
        if not cond.op.holds(value, cond.threshold):
            failed.append(f"{cond.metric} = {value:.4g} fails {cond.op.value} {cond.threshold:g}")
    return Verdict(
        claim_id=claim.id,
        status=Status.NOT_REPLICATED if failed else Status.REPLICATED,
        tier=measurement.tier,
        target=measurement.target,
        seeds=(measurement.seed,),
        values=values,
        reason="; ".join(failed),
    )


def aggregate(verdicts: Sequence[Verdict]) -> Verdict:
    """Fold per-seed verdicts of one (claim, tier, target): replicated only if replicated on every seed."""
    if not verdicts:
        raise ValueError("aggregate() needs at least one verdict")
    keys = {(v.claim_id, v.tier, v.target) for v in verdicts}
    if len(keys) != 1:
        raise ValueError(f"aggregate() folds verdicts of one (claim, tier, target), got {sorted(map(str, keys))}")
    first = verdicts[0]
    if any(v.status is Status.NOT_RUN for v in verdicts):
        return next(v for v in verdicts if v.status is Status.NOT_RUN)
    seeds = tuple(s for v in verdicts for s in v.seeds)
    values = {m: tuple(x for v in verdicts for x in v.values[m]) for m in first.values}
    failing = [v for v in verdicts if v.status is Status.NOT_REPLICATED]
    if not failing:
        return Verdict(first.claim_id, Status.REPLICATED, first.tier, first.target, seeds, values)
    reason = f"fails on {len(failing)} of {len(verdicts)} seeds: " + " | ".join(
        f"seed {v.seeds[0]}: {v.reason}" for v in failing)
    return Verdict(first.claim_id, Status.NOT_REPLICATED, first.tier, first.target, seeds, values, reason)


def not_run(claim: Claim, why: NotRunReason, detail: str = "", *, tier: Tier | None = None,
            target: str | None = None) -> Verdict:
    """A verdict for a claim that did not run, with a reason a researcher can act on."""
    return Verdict(claim.id, Status.NOT_RUN, tier, target, reason=detail or why.value, not_run=why)
