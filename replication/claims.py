"""Claims as data: what a paper says, which number we read, and how we judge it.

A :class:`Claim` carries the catalog ID (``../shared/claims-catalog.md``, verbatim), the paper's reported
value, the conditions that decide it, the tiers it must run on and why its tolerance is what it is. It
holds no code that measures: analyses in :mod:`replication.papers` produce named metric values, and
:func:`replication.verdict.judge` compares them with the claim's conditions.

A claim may also state *preconditions* (conditions without which it cannot be judged: the verdict is then
``inconclusive``), *reported* metrics (shown beside the verdict, never judged), and the :class:`OpenChoice`
it is measured under: one :class:`Reading` per reasonable reading of a choice the paper leaves open, one
declared primary in advance. The :data:`REGISTRY` refuses a duplicate ID and answers an unknown ID with the
list of known ones.
"""

from __future__ import annotations

import enum
import math
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


class Tier(str, enum.Enum):
    """Where a claim runs: synthetic data, a tiny LM we train, or the papers' own weights on a GPU."""

    TOY = "toy"
    TINYLM = "tinylm"
    REAL = "real"


class Comparator(str, enum.Enum):
    """How a measured value is compared with a threshold. ``value OP threshold`` must hold."""

    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="

    def holds(self, value: float, threshold: float) -> bool:
        return _OPS[self](value, threshold)


_OPS: dict[Comparator, Callable[[float, float], bool]] = {
    Comparator.GT: operator.gt,
    Comparator.GE: operator.ge,
    Comparator.LT: operator.lt,
    Comparator.LE: operator.le,
}


class Requirement(str, enum.Enum):
    """Something a claim needs that cannot exist offline: such a claim is registered but never run here."""

    LLM_JUDGE = "needs an LLM judge (autointerp): not runnable offline"
    LICENSED_DATA = "needs a licensed data set (Bias in Bios for SAEBench SCR): not runnable offline"


@dataclass(frozen=True)
class Condition:
    """One numeric test: ``metric OP threshold``; ``metric`` names a key an analysis produces.

    ``tiers``: the tiers the condition applies on (``None``: every tier the claim lists), for a paper's
    condition that needs something only some tiers have (CE loss recovered needs an LM).
    """

    metric: str
    op: Comparator
    threshold: float
    tiers: frozenset["Tier"] | None = None

    def __post_init__(self) -> None:
        if not self.metric:
            raise ValueError("a Condition needs a metric name")
        if not math.isfinite(self.threshold):
            raise ValueError(f"threshold of {self.metric!r} must be finite, got {self.threshold}")
        if self.tiers is not None and not self.tiers:
            raise ValueError(f"condition on {self.metric!r} applies on no tier")

    def applies_on(self, tier: "Tier") -> bool:
        return self.tiers is None or tier in self.tiers

    def __str__(self) -> str:
        where = "" if self.tiers is None else " (on " + ", ".join(t.value for t in Tier if t in self.tiers) + ")"
        return f"{self.metric} {self.op.value} {self.threshold:g}{where}"


def metric_key(metric: str, reading: str | None) -> str:
    """The name under which an analysis provides ``metric`` measured under ``reading`` (``metric@reading``)."""
    return metric if reading is None else f"{metric}@{reading}"


@dataclass(frozen=True)
class Reading:
    """One reasonable reading of a choice a paper leaves open."""

    name: str
    description: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", self.name):
            raise ValueError(f"a reading's name is lower-case letters, digits, '_' and '-' (it names metrics and "
                             f"files), got {self.name!r}")


@dataclass(frozen=True)
class OpenChoice:
    """A choice the paper leaves open that changes the result: every reading is measured, and the claim's
    verdict is the ``primary`` reading's, declared here in advance with ``why``."""

    name: str
    readings: tuple[Reading, ...]
    primary: str
    why: str

    def __post_init__(self) -> None:
        names = [r.name for r in self.readings]
        if len(names) < 2 or len(set(names)) != len(names):
            raise ValueError(f"open choice {self.name!r} needs at least two distinct readings, got {names}")
        if self.primary not in names:
            raise ValueError(f"open choice {self.name!r}: primary {self.primary!r} is not one of {names}")
        if not self.why:
            raise ValueError(f"open choice {self.name!r} must say why {self.primary!r} is primary")

    @property
    def names(self) -> tuple[str, ...]:
        """Reading names, the primary first."""
        return (self.primary, *(r.name for r in self.readings if r.name != self.primary))

    def reading(self, name: str) -> Reading:
        return next(r for r in self.readings if r.name == name)


@dataclass(frozen=True)
class Claim:
    """A quantitative claim of a paper, with a stable catalog ID and a numeric tolerance.

    Attributes:
        id: the catalog ID, verbatim (``paper.short_name``).
        paper: the paper key (``antipodal``, ``bimodality``, ``sagsae``, ``topk``).
        source: section / figure in the paper.
        statement: what the paper reports, in words.
        paper_value: the paper's number(s), as printed.
        conditions: every condition must hold on every seed for "replicated".
        tiers: the tiers on which the catalog says the claim must run.
        rationale: where the tolerance comes from (the paper's figure, a measured seed spread, ...).
        definition: the exact definition we use where the paper is vague.
        requires: something that cannot exist offline; the claim is then never run here.
        preconditions: what the claim presupposes; if one fails on a seed, that seed is ``inconclusive``.
        reported: metrics shown beside the verdict (and recorded), never judged.
        readings: the open choice the claim is measured under (every reading), or ``None``.
        by_construction: the claim holds by algebra; it is checked like the others and marked so.
    """

    id: str
    paper: str
    source: str
    statement: str
    paper_value: str
    conditions: tuple[Condition, ...]
    tiers: frozenset[Tier]
    rationale: str
    definition: str = ""
    requires: Requirement | None = None
    preconditions: tuple[Condition, ...] = ()
    reported: tuple[str, ...] = ()
    readings: OpenChoice | None = None
    by_construction: bool = False
    """True for a claim that holds by algebra (an instrument check): the report marks its verdict so."""

    def __post_init__(self) -> None:
        if not self.id.startswith(self.paper + "."):
            raise ValueError(f"claim ID {self.id!r} must start with its paper key {self.paper!r}.")
        if not self.conditions and self.requires is None:
            raise ValueError(f"claim {self.id!r} has no condition to judge it by")
        if not self.tiers:
            raise ValueError(f"claim {self.id!r} lists no tier")
        if not self.rationale:
            raise ValueError(f"claim {self.id!r} needs a rationale for its tolerance")

    @property
    def metrics(self) -> tuple[str, ...]:
        """Every metric the claim reads on some tier: conditions, preconditions, reported."""
        return tuple(dict.fromkeys([c.metric for c in self.conditions + self.preconditions] + list(self.reported)))

    def conditions_on(self, tier: Tier) -> tuple[Condition, ...]:
        """The conditions that apply on ``tier``."""
        return tuple(c for c in self.conditions if c.applies_on(tier))

    def preconditions_on(self, tier: Tier) -> tuple[Condition, ...]:
        return tuple(c for c in self.preconditions if c.applies_on(tier))

    def metrics_on(self, tier: Tier) -> tuple[str, ...]:
        """Every metric the claim reads on ``tier``."""
        return tuple(dict.fromkeys([c.metric for c in self.conditions_on(tier) + self.preconditions_on(tier)]
                                   + list(self.reported)))

    @property
    def reading_names(self) -> tuple[str | None, ...]:
        """The readings the claim is judged under, the primary first; ``(None,)`` if there is no open choice."""
        return (None,) if self.readings is None else self.readings.names

    @property
    def criterion(self) -> str:
        """The conditions as one readable line, e.g. ``a >= 0.5 and b < 0.01``."""
        if self.requires is not None:
            return self.requires.value
        text = " and ".join(str(c) for c in self.conditions)
        if self.preconditions:
            text += " (given " + " and ".join(str(c) for c in self.preconditions) + ")"
        return text


class UnknownClaimError(KeyError):
    """An ID that is not registered; the message lists the known IDs."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want the plain message
        return str(self.args[0])


@dataclass
class ClaimRegistry:
    """All registered claims, keyed by catalog ID."""

    _claims: dict[str, Claim] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    """Paper -> its title (each ``claims/<paper>.py`` registers its own)."""

    def register_paper(self, paper: str, title: str) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", paper):
            raise ValueError(f"paper name {paper!r} must be lower case letters, digits and _ (it prefixes claim IDs)")
        if self.titles.get(paper, title) != title:
            raise ValueError(f"paper {paper!r} is registered twice with different titles")
        self.titles[paper] = title

    def register(self, claim: Claim) -> Claim:
        if claim.id in self._claims:
            raise ValueError(f"claim {claim.id!r} is already registered; IDs are unique")
        self._claims[claim.id] = claim
        return claim

    def get(self, claim_id: str) -> Claim:
        try:
            return self._claims[claim_id]
        except KeyError:
            known = ", ".join(sorted(self._claims))
            raise UnknownClaimError(f"unknown claim ID {claim_id!r}; known IDs: {known}") from None

    def __contains__(self, claim_id: object) -> bool:
        return claim_id in self._claims

    def __iter__(self) -> Iterator[Claim]:
        return iter(sorted(self._claims.values(), key=lambda c: c.id))

    def __len__(self) -> int:
        return len(self._claims)

    def by_paper(self, paper: str) -> list[Claim]:
        return [c for c in self if c.paper == paper]

    def papers(self) -> list[str]:
        return sorted({c.paper for c in self} | set(self.titles))

    def title(self, paper: str) -> str:
        """The paper's title, or its name if none was registered."""
        return self.titles.get(paper, paper)


REGISTRY = ClaimRegistry()


def register(*claims: Claim) -> None:
    """Register claims in the global registry (called by the modules of the ``claims`` package)."""
    for claim in claims:
        REGISTRY.register(claim)


def register_paper(paper: str, title: str) -> None:
    """Register a paper's title in the global registry (each ``claims/<paper>.py`` names its own)."""
    REGISTRY.register_paper(paper, title)


def tiers(*names: str) -> frozenset[Tier]:
    """``tiers("toy", "tinylm")`` -> frozenset of :class:`Tier`."""
    return frozenset(Tier(n) for n in names)


def conditions(*items: tuple[str, str, float], on: tuple[str, ...] | None = None) -> tuple[Condition, ...]:
    """``conditions(("dead_fraction", ">", 0.0))`` -> tuple of :class:`Condition` (preconditions too);
    ``on=("tinylm", "real")`` makes them apply on those tiers only."""
    where = None if on is None else tiers(*on)
    return tuple(Condition(m, Comparator(op), float(t), where) for m, op, t in items)


def load_all() -> ClaimRegistry:
    """Import every module of the ``claims`` package so that all catalog claims are registered."""
    import claims  # noqa: F401  (registration happens at import)

    return REGISTRY


def catalog_ids(text: str, papers: list[str] | None = None) -> list[str]:
    """The claim IDs of ``papers`` (default: every paper registered) in the catalog's Markdown tables (first
    column of each row)."""
    names = load_all().papers() if papers is None else papers
    if not names:
        return []
    pattern = "|".join(re.escape(p) for p in names)
    return sorted(set(re.findall(rf"^\| ((?:{pattern})\.[a-z0-9_]+) \|", text, re.M)))

