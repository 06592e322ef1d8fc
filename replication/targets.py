"""The analysis registry: targets, analyses and expectations, as types and a registry that imports nothing.

A :class:`Target` is one thing to measure on one tier: a toy data set (with the phenomenon planted, or a
negative control without it), the tiny LM, or a pretrained model + SAE. An :class:`Analysis` measures a
tier's targets, ``measure(target, seed) -> Measured(values, arrays)``; it declares the metrics it provides
once (a :class:`MetricSet`), and a claim is implemented on a tier exactly when some analysis registered for
that tier provides every metric the claim's conditions read. The papers fill a registry in one place, the
composition root :mod:`replication.papers`; this module knows none of them.

An :class:`Expectation` states, as data and in words, the outcome a (claim, target) is expected to have
when it is not "replicated" (its primary reading): on a negative-control target the claim is expected *not*
to replicate, or to be inconclusive (a normal test asserts it); on a positive target where the paper's
claim does not hold, the test is a strict xfail. An expectation holds no measured number: the numbers in
test output and in the report come from the measurement itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, make_dataclass
from typing import Any, ClassVar

from replication.claims import Claim, Tier, metric_key
from replication.verdict import Status


def _always_available() -> str | None:
    return None


@dataclass(frozen=True)
class Target:
    """One thing to measure claims on.

    Attributes:
        name: unique, used on the command line (``--target NAME``) and in results paths.
        tier: the tier it belongs to.
        description: one line for the report.
        seeds: the seeds it is measured on (toy: at least three; pretrained weights: ``(None,)``).
        control: a negative control, on which claims are expected *not* to replicate.
        needs_gpu: skipped with a reason on a machine without CUDA.
        availability: returns ``None`` when the target can run here, else what is missing and how to get it.
        claims: the claim IDs the paper makes on this target, where it makes different claims on different
            targets of one analysis (sagsae: "dominates on both MLP-out cells and Pythia-1B resid-mid, matches
            on the other three"); ``None``: every claim whose metrics the analysis provides.
        excluded: claim ID -> why the paper does not make that claim on this target (antipodal §3.4 makes
            its trend claim for TopK SAEs only); such a claim is not bound here.
        trains_with: the name of another target whose SAEs this one reuses (a control that shares a positive
            target's sweep): their claim tests run in one process, so the shared SAEs are trained once.
    """

    name: str
    tier: Tier
    description: str
    seeds: tuple[int | None, ...] = (0, 1, 2)
    control: bool = False
    needs_gpu: bool = False
    availability: Callable[[], str | None] = _always_available
    claims: frozenset[str] | None = None
    excluded: tuple[tuple[str, str], ...] = ()
    trains_with: str | None = None

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ValueError(f"target {self.name!r} has no seed")
        if self.claims is not None and not self.claims:
            raise ValueError(f"target {self.name!r} restricts its claims to none")

    def makes(self, claim_id: str) -> bool:
        """Whether ``claim_id`` is measured on this target (see ``claims``)."""
        if any(cid == claim_id for cid, _ in self.excluded):
            return False
        return self.claims is None or claim_id in self.claims


#: the type of a per-reading metric's field in a :class:`MetricSet` (one value per reading)
PerReading = Mapping[str, float]


def metric(doc: str) -> Any:
    """A field of a :class:`MetricSet`: ``name: float = metric("what it is")``."""
    return field(metadata={"doc": doc})


class MetricSet:
    """The metrics an analysis provides, declared once as typed fields of a frozen dataclass subclass.

    ``name: float = metric("...")`` is one metric; ``name: PerReading = metric("...")`` is one per reading of
    ``READINGS`` (named ``name@reading``, :func:`replication.claims.metric_key`). :meth:`names` is what the
    analysis provides; the runner checks every measurement against it.
    """

    READINGS: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def names(cls) -> frozenset[str]:
        out = set()
        for f in fields(cls):  # type: ignore[arg-type]
            if f.type in ("PerReading", PerReading) or f.type is PerReading:
                out.update(metric_key(f.name, r) for r in cls.READINGS)
            else:
                out.add(f.name)
        return frozenset(out)

    @staticmethod
    def named(name: str, metrics: Iterable[str], per_reading: Iterable[str] = (),
              readings: tuple[str, ...] = ()) -> type["MetricSet"]:
        """A declaration made from names (for analyses assembled at run time, e.g. in tests): every field
        documented as "(undocumented)"."""
        plain = [(m, float, metric("(undocumented)")) for m in metrics]
        multi = [(m, PerReading, metric("(undocumented)")) for m in per_reading]
        cls = make_dataclass(name, plain + multi, bases=(MetricSet,), frozen=True)
        cls.READINGS = tuple(readings)
        return cls

    @classmethod
    def docs(cls) -> dict[str, str]:
        """Field name -> its one-line description."""
        return {f.name: f.metadata.get("doc", "") for f in fields(cls)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class Measured:
    """One measurement of one (target, seed): the metric values (the declared ones and any reported
    scalars, e.g. every sweep point's), and the arrays behind them for the report's figures (saved next to
    the records as ``.npz``, so that a run recorded on another machine renders the same figures)."""

    values: Mapping[str, float]
    arrays: Mapping[str, Any] | None = None


Measure = Callable[[Target, "int | None"], Measured]


@dataclass(frozen=True)
class Analysis:
    """Measures a tier's targets: ``measure(target, seed)`` gives every metric of ``metrics``.

    Analyses that share a ``measure`` function share one measurement per (target, seed) in the runner (an
    analysis may declare a subset of what its function measures: e.g. one whose negative control supports
    only some of the claims)."""

    name: str
    tier: Tier
    targets: tuple[Target, ...]
    metrics: type[MetricSet]
    measure: Measure

    @property
    def provides(self) -> frozenset[str]:
        return self.metrics.names()


@dataclass(frozen=True)
class Expectation:
    """The expected outcome (``not replicated`` or ``inconclusive``) of a (claim, target) under the claim's
    primary reading, and why, in words (no measured numbers: those come from the measurement)."""

    claim_id: str
    target: str
    status: Status
    reason: str
    violated: str = ""
    """On a negative control only: why the control is known *not* to behave as expected (a finding about
    the measurement, shown in red in the report; its test is a strict xfail until the control behaves)."""


@dataclass
class AnalysisRegistry:
    analyses: dict[str, Analysis] = field(default_factory=dict)
    targets: dict[str, Target] = field(default_factory=dict)
    expectations: dict[tuple[str, str], Expectation] = field(default_factory=dict)

    def register(self, analysis: Analysis) -> Analysis:
        if analysis.name in self.analyses:
            raise ValueError(f"analysis {analysis.name!r} is already registered")
        for target in analysis.targets:
            if target.tier is not analysis.tier:
                raise ValueError(f"target {target.name!r} is {target.tier.value}, analysis {analysis.name!r} "
                                 f"is {analysis.tier.value}")
            known = self.targets.get(target.name)
            if known is not None and known != target:
                raise ValueError(f"target name {target.name!r} is registered twice with different settings")
            self.targets[target.name] = target
        self.analyses[analysis.name] = analysis
        return analysis

    def expect(self, expectation: Expectation) -> None:
        claim_id, target, status, reason, violated = (expectation.claim_id, expectation.target, expectation.status,
                                                      expectation.reason, expectation.violated)
        if not reason:
            raise ValueError(f"an expectation for {claim_id} on {target} needs a reason")
        if status not in (Status.NOT_REPLICATED, Status.INCONCLUSIVE):
            raise ValueError(f"an expectation for {claim_id} on {target} is 'not replicated' or 'inconclusive', "
                             f"got {status.value!r}")
        key = (claim_id, target)
        if key in self.expectations:
            raise ValueError(f"expectation for {claim_id} on {target} is registered twice")
        if violated and target in self.targets and not self.targets[target].control:
            raise ValueError(f"only a negative control can be known to misbehave ({claim_id} on {target})")
        self.expectations[key] = expectation

    def target(self, name: str) -> Target:
        try:
            return self.targets[name]
        except KeyError:
            raise KeyError(f"unknown target {name!r}; known targets: {', '.join(sorted(self.targets))}") from None

    def analysis_for(self, claim: Claim, tier: Tier) -> Analysis | None:
        """The analysis on ``tier`` that provides every metric ``claim`` reads, or ``None``."""
        if claim.requires is not None:
            return None

        def provides_all(a: Analysis) -> bool:
            return all(m in a.provides or all(metric_key(m, r) in a.provides for r in claim.reading_names)
                       for m in claim.metrics_on(tier))

        found = [a for a in self.analyses.values() if a.tier is tier and provides_all(a)]
        if len(found) > 1:
            raise ValueError(f"claim {claim.id} on {tier.value} is provided by several analyses: "
                             f"{[a.name for a in found]}")
        return found[0] if found else None

    def bindings(self, claim: Claim) -> Iterable[tuple[Tier, Target | None, Analysis | None]]:
        """Every (tier, target, analysis) a claim runs on; ``(tier, None, None)`` where none exists yet.

        A negative-control target is bound only where an expectation for the claim is registered, so that
        no control test can pass without asserting something; a target that lists its claims
        (:attr:`Target.claims`) is bound only to those.
        """
        for tier in sorted(claim.tiers, key=lambda t: list(Tier).index(t)):
            analysis = self.analysis_for(claim, tier)
            if analysis is None:
                yield tier, None, None
                continue
            targets = [t for t in analysis.targets if t.makes(claim.id)]
            if not targets:
                yield tier, None, None
                continue
            for target in targets:
                if target.control and (claim.id, target.name) not in self.expectations:
                    continue
                yield tier, target, analysis

