"""Compare two sparsity sweeps at matched L0.

The bimodality paper (§5.1, Fig 4) and the sagsae paper (abstract) both claim that one method's
reconstruction curve lies above another's "at matched L0". Sweeps are measured at different L0s, so we
compare them where both are defined: on the overlap ``[max(min L0_a, min L0_b), min(max L0_a, max L0_b)]``,
interpolating each sweep's score piecewise-linearly in ``log L0`` (the papers plot L0 on a log axis), and
evaluating at the overlap's ends and every measured L0 inside it (so a gap at a measured point is never
missed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from jaxtyping import Float
from torch import Tensor


class ParetoComparison(NamedTuple):
    """Sweep A minus sweep B over their L0 overlap."""

    l0: Float[Tensor, " n"]
    """The L0 values compared at: the overlap's ends and every measured L0 inside it, ascending."""
    gap: Float[Tensor, " n"]
    """``score_A(l0) - score_B(l0)`` at each of those L0s (positive: A is better)."""
    min_gap: Float[Tensor, ""]
    """The worst gap for A over the overlap (A dominates B iff ``min_gap >= 0``)."""
    max_gap: Float[Tensor, ""]
    """The best gap for A over the overlap."""


def _interp(x: Tensor, xp: Tensor, fp: Tensor) -> Tensor:
    """Piecewise-linear interpolation of (xp, fp) at x; xp ascending, x within [xp[0], xp[-1]]."""
    idx = torch.searchsorted(xp, x, right=True).clamp(1, len(xp) - 1)
    x0, x1 = xp[idx - 1], xp[idx]
    f0, f1 = fp[idx - 1], fp[idx]
    w = torch.where(x1 > x0, (x - x0) / (x1 - x0), torch.zeros_like(x))
    return f0 + w * (f1 - f0)


def _sorted_sweep(l0: Tensor, score: Tensor, name: str) -> tuple[Tensor, Tensor]:
    if l0.ndim != 1 or l0.shape != score.shape:
        raise ValueError(f"sweep {name}: l0 and score must be 1-D of one length, got {tuple(l0.shape)} and "
                         f"{tuple(score.shape)}")
    if len(l0) < 2:
        raise ValueError(f"sweep {name} needs at least two points to interpolate, got {len(l0)}")
    if not bool(torch.isfinite(l0).all() & torch.isfinite(score).all()):
        raise ValueError(f"sweep {name} has a non-finite L0 or score")
    if bool((l0 <= 0).any()):
        raise ValueError(f"sweep {name} has an L0 <= 0; log-L0 interpolation needs L0 > 0")
    order = torch.argsort(l0)
    log_l0 = l0[order].to(torch.float64).log()
    if bool((log_l0[1:] == log_l0[:-1]).any()):
        raise ValueError(f"sweep {name} has two points at the same L0")
    return log_l0, score[order].to(torch.float64)


def compare_sweeps(l0_a: Float[Tensor, " n_a"], score_a: Float[Tensor, " n_a"],
                   l0_b: Float[Tensor, " n_b"], score_b: Float[Tensor, " n_b"]) -> ParetoComparison:
    """Gap ``score_A - score_B`` over the two sweeps' L0 overlap, interpolating in log L0.

    Raises ``ValueError`` if the sweeps' L0 ranges do not overlap: then no matched-L0 comparison exists,
    and the sweep has to be extended rather than the claim judged.
    """
    xa, ya = _sorted_sweep(l0_a, score_a, "A")
    xb, yb = _sorted_sweep(l0_b, score_b, "B")
    lo, hi = torch.maximum(xa[0], xb[0]), torch.minimum(xa[-1], xb[-1])
    if not bool(lo < hi):
        raise ValueError(f"the sweeps' L0 ranges do not overlap: A spans [{xa[0].exp():.3g}, {xa[-1].exp():.3g}], "
                         f"B spans [{xb[0].exp():.3g}, {xb[-1].exp():.3g}]")
    inner = torch.cat([xa, xb])
    grid = torch.unique(torch.cat([lo.reshape(1), hi.reshape(1), inner[(inner > lo) & (inner < hi)]]))
    gap = _interp(grid, xa, ya) - _interp(grid, xb, yb)
    return ParetoComparison(l0=grid.exp(), gap=gap, min_gap=gap.min(), max_gap=gap.max())


def matched_l0_gap(l0_a: Sequence[float], score_a: Sequence[float], l0_b: Sequence[float], score_b: Sequence[float],
                   allow_disjoint: bool = False) -> ParetoComparison | None:
    """:func:`compare_sweeps` of two sweeps given as numbers, with the rule every matched-L0 claim uses.

    Points with L0 = 0 (a collapsed SAE) have no log L0 and are dropped. Sweeps whose remaining L0 ranges do
    not overlap have no matched-L0 comparison: ``None`` (a claim reading it is inconclusive, or the sweep is
    extended). Only with ``allow_disjoint`` (plumbing runs whose SAEs train a few dozen steps) is the gap
    then taken between the two sweeps' nearest points in log L0 (``None`` if a sweep has no live point).
    """
    a = [(x, y) for x, y in zip(l0_a, score_a) if x > 0]
    b = [(x, y) for x, y in zip(l0_b, score_b) if x > 0]
    if l0_ranges_disjoint([x for x, _ in a], [x for x, _ in b]):
        if not (allow_disjoint and a and b):
            return None
        pa, pb = min(((p, q) for p in a for q in b), key=lambda pq: abs(math.log(pq[0][0] / pq[1][0])))
        gap = torch.tensor([pa[1] - pb[1]], dtype=torch.float64)
        return ParetoComparison(torch.tensor([pa[0], pb[0]], dtype=torch.float64), gap, gap[0], gap[0])

    def t(points: list[tuple[float, float]], i: int) -> Tensor:
        return torch.tensor([pt[i] for pt in points], dtype=torch.float64)

    return compare_sweeps(t(a, 0), t(a, 1), t(b, 0), t(b, 1))


def l0_ranges_disjoint(l0_a: Sequence[float], l0_b: Sequence[float]) -> bool:
    """Whether the live (L0 > 0) points of two sweeps fail to overlap in L0 (no matched-L0 comparison)."""
    la, lb = [x for x in l0_a if x > 0], [x for x in l0_b if x > 0]
    return not la or not lb or max(min(la), min(lb)) >= min(max(la), max(lb))


class SweepPoint(NamedTuple):
    """One trained SAE of a sparsity sweep, evaluated on held-out tokens."""

    method: str
    """The sweep it belongs to (``standard``, ``aligned``, ``topk``, ...)."""
    setting: float
    """Its sparsity setting: the penalty coefficient lambda, or k (TopK)."""
    l0: float
    """Mean active latents per token."""
    explained_variance: float
    """``1 - FVU_pooled`` (:func:`replication.metrics.explained_variance`)."""
    dead_fraction: float
    """Fraction of latents never active on the window of "dead"."""


def strongest_reconstructing(points: Sequence[SweepPoint], min_l0: float = 1.0,
                             min_explained_variance: float = 0.5) -> tuple[SweepPoint | None, int]:
    """The point of largest setting (penalty strength) that still reconstructs (``l0 >= min_l0`` and explained
    variance ``>= min_explained_variance``), and how many points do; ``None`` if none does.

    A claim read "at high lambda" (the SAE primer's dead latents) is trivially true where L0 has collapsed to
    ~0, so the point is chosen by this rule, on L0 and reconstruction alone, before its value is read.
    """
    ok = [p for p in points if p.l0 >= min_l0 and p.explained_variance >= min_explained_variance]
    return (max(ok, key=lambda p: p.setting) if ok else None), len(ok)
