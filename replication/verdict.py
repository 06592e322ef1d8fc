"""Verdicts: pure functions of (claim, measurement).

The same code judges a fresh toy run and a record read back from a GPU run: :func:`judge` sees only a
:class:`~replication.claims.Claim` and a :class:`Measurement` (named metric values for one tier, target and
seed), and :func:`aggregate` folds the per-seed verdicts of one (claim, target) into one.

Four verdicts: ``replicated`` (every condition holds), ``not replicated``, ``inconclusive`` (a precondition
the claim presupposes fails, so the claim cannot be judged: never counted as replicated) and ``not run``.
A claim measured under several readings of an open choice is judged once per reading (``reading=``).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from replication.claims import Claim, Condition, Tier, metric_key


class Status(str, enum.Enum):
    REPLICATED = "replicated"
    NOT_REPLICATED = "not replicated"
    INCONCLUSIVE = "inconclusive"
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
    reading: str | None = None
    """The reading of the claim's open choice this verdict judges (``None``: the claim has none)."""
    preconditions: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    """Precondition metric -> value per seed (as ``values``)."""
    reported: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    """Reported (never judged) metric -> value per seed."""
    alternatives: tuple["Verdict", ...] = ()
    """The verdicts under the other readings (on the primary reading's verdict only)."""

    @property
    def replicated(self) -> bool:
        return self.status is Status.REPLICATED

    def summary(self) -> str:
        """One line: status (and reading), values per seed, the reason, and the other readings' verdicts."""
        vals = "; ".join(f"{m} = {_fmt(v)}" for m, v in
                         {**self.values, **self.preconditions, **self.reported}.items())
        parts = [self.status.value + (f" [{self.reading}]" if self.reading else "")]
        if vals:
            parts.append(vals)
        if self.reason:
            parts.append(self.reason)
        if self.alternatives:
            parts.append("other readings: " + "; ".join(f"{a.reading}: {a.status.value}" for a in self.alternatives))
        return " — ".join(parts)


def _fmt(values: Sequence[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4g}"
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"


def _read(claim: Claim, measurement: Measurement, metric: str, reading: str | None, where: str) -> float:
    """``metric`` under ``reading`` (``metric@reading``, else the reading-independent ``metric``)."""
    for key in dict.fromkeys((metric_key(metric, reading), metric)):
        if key in measurement.values:
            value = float(measurement.values[key])
            if not math.isfinite(value):
                raise InvalidMeasurementError(f"{where}: metric {key!r} is {value}, not a finite number")
            return value
    have = ", ".join(sorted(measurement.values)) or "none"
    raise InvalidMeasurementError(f"{where}: metric {metric_key(metric, reading)!r} was not measured "
                                  f"(measured: {have})")


def _failures(conds: tuple[Condition, ...], values: Mapping[str, float]) -> list[str]:
    return [f"{c.metric} = {values[c.metric]:.4g} fails {c.op.value} {c.threshold:g}"
            for c in conds if not c.op.holds(values[c.metric], c.threshold)]


def judge(claim: Claim, measurement: Measurement, reading: str | None = None) -> Verdict:
    """Judge one claim on one measurement under one reading of its open choice (default: the primary).

    ``inconclusive`` if a precondition fails (the conditions are still recorded), else ``replicated`` iff
    every condition holds. Raises :class:`InvalidMeasurementError` if a metric the claim needs is missing or
    not finite: a NaN is a bug in the measurement, never a "not replicated".
    """
    if claim.requires is not None:
        return not_run(claim, NotRunReason.NEEDS_LLM_JUDGE if "LLM" in claim.requires.value
                       else NotRunReason.NEEDS_DATA, claim.requires.value,
                       tier=measurement.tier, target=measurement.target)
    if reading is None and claim.readings is not None:
        reading = claim.readings.primary
    if reading is not None and (claim.readings is None or reading not in claim.readings.names):
        raise ValueError(f"claim {claim.id} has no reading {reading!r}")
    where = (f"claim {claim.id} on {measurement.tier.value}/{measurement.target} seed {measurement.seed}"
             + (f" reading {reading}" if reading else ""))
    conds, pres = claim.conditions_on(measurement.tier), claim.preconditions_on(measurement.tier)
    read = {m: _read(claim, measurement, m, reading, where) for m in claim.metrics_on(measurement.tier)}
    failed_pre = _failures(pres, read)
    failed = _failures(conds, read)
    if failed_pre:
        status, reason = Status.INCONCLUSIVE, "precondition " + "; ".join(failed_pre)
    else:
        status, reason = (Status.NOT_REPLICATED if failed else Status.REPLICATED), "; ".join(failed)
    return Verdict(
        claim_id=claim.id, status=status, tier=measurement.tier, target=measurement.target,
        seeds=(measurement.seed,),
        values={c.metric: (read[c.metric],) for c in conds},
        reason=reason, reading=reading,
        preconditions={c.metric: (read[c.metric],) for c in pres},
        reported={m: (read[m],) for m in claim.reported},
    )


def aggregate(verdicts: Sequence[Verdict]) -> Verdict:
    """Fold per-seed verdicts of one (claim, tier, target, reading).

    ``replicated`` only if replicated on every seed; ``not replicated`` if any seed on which the claim could
    be judged fails (a judged failure is a result); else ``inconclusive`` if a precondition failed on some
    seed; ``not run`` if any seed did not run.
    """
    if not verdicts:
        raise ValueError("aggregate() needs at least one verdict")
    keys = {(v.claim_id, v.tier, v.target, v.reading) for v in verdicts}
    if len(keys) != 1:
        raise ValueError(f"aggregate() folds verdicts of one (claim, tier, target, reading), got "
                         f"{sorted(map(str, keys))}")
    first = verdicts[0]
    if any(v.status is Status.NOT_RUN for v in verdicts):
        return next(v for v in verdicts if v.status is Status.NOT_RUN)
    seeds = tuple(s for v in verdicts for s in v.seeds)

    def fold(name: str) -> dict[str, tuple[float, ...]]:
        return {m: tuple(x for v in verdicts for x in getattr(v, name)[m]) for m in getattr(first, name)}

    failing = [v for v in verdicts if v.status is Status.NOT_REPLICATED]
    inconclusive = [v for v in verdicts if v.status is Status.INCONCLUSIVE]
    if failing:
        status, bad = Status.NOT_REPLICATED, failing
    elif inconclusive:
        status, bad = Status.INCONCLUSIVE, inconclusive
    else:
        status, bad = Status.REPLICATED, []
    reason = "" if not bad else (
        f"{'fails' if failing else 'inconclusive'} on {len(bad)} of {len(verdicts)} seeds: "
        + " | ".join(f"seed {v.seeds[0]}: {v.reason}" for v in bad))
    return Verdict(first.claim_id, status, first.tier, first.target, seeds, fold("values"), reason,
                   reading=first.reading, preconditions=fold("preconditions"), reported=fold("reported"))


def not_run(claim: Claim, why: NotRunReason, detail: str = "", *, tier: Tier | None = None,
            target: str | None = None) -> Verdict:
    """A verdict for a claim that did not run, with a reason a researcher can act on."""
    return Verdict(claim.id, Status.NOT_RUN, tier, target, reason=detail or why.value, not_run=why)
