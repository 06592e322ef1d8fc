"""Measurement of the ``topk.*`` background claims: TopK and ReLU+L1 sweeps on tokens with known features.

Target-agnostic: :func:`measure_sweeps` reads trained sae-lens SAEs (``topk`` at each k, ``standard`` at
each lambda), the evaluation tokens and the true feature activations behind them, and returns the claims'
metrics and every sweep point's scalars (the report's curves).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from replication.metrics import l0_per_token, magnitude_ratio, matched_l0_gap, shrinkage_ratio, strongest_reconstructing
from replication.sweeps import evaluation
from replication.targets import MetricSet, metric

#: "still reconstructs" (topk.dead_latents' precondition, fixed before any dead fraction was looked at):
#: at least one active latent per token on average and at least half the variance explained
MIN_RECONSTRUCTING_L0 = 1.0
MIN_RECONSTRUCTING_EV = 0.5


@dataclass(frozen=True)
class SweepMetrics(MetricSet):
    """``exact_sparsity`` and ``less_shrinkage``: read from both sweeps."""

    topk_l0_max_abs_deviation: float = metric("max over tokens and k of |L0_t - k| of the TopK sweep")
    magnitude_gap_min_over_l0_overlap: float = metric(
        "min over the L0 overlap of |ReLU magnitude ratio - 1| - |TopK magnitude ratio - 1|")


@dataclass(frozen=True)
class DeadMetrics(MetricSet):
    """``dead_latents``: read at the strongest ReLU+L1 point that still reconstructs."""

    relu_dead_fraction_at_max_reconstructing_l1: float = metric("dead fraction at that point")
    relu_n_reconstructing_points: float = metric("how many ReLU+L1 points still reconstruct")
    relu_chosen_l1: float = metric("lambda of that point (0: none)")
    relu_chosen_l0: float = metric("its L0")
    relu_chosen_explained_variance: float = metric("its explained variance")


@dataclass(frozen=True)
class Trained:
    """One trained SAE of a sweep: ``architecture`` ``topk`` (setting k) or ``standard`` (setting lambda)."""

    architecture: str
    setting: float
    sae: Any


def measure_sweeps(saes: Sequence[Trained], x: Float[Tensor, "tokens d_in"],
                   true_acts: Float[Tensor, "tokens n_features"]) -> dict[str, float]:
    """Every metric of :class:`SweepMetrics` (when the ReLU sweep has two live points) and
    :class:`DeadMetrics`, and per point ``{architecture}_{k<k>|l1_<lambda>}_{l0,shrinkage,magnitude_ratio,
    explained_variance,dead_fraction}``."""
    out: dict[str, float] = {}
    # per architecture: (L0, |magnitude ratio - 1|) per point, for the matched-L0 comparison
    curves: dict[str, tuple[list[float], list[float]]] = {"topk": ([], []), "standard": ([], [])}
    relu_points = []
    max_dev = 0.0
    for t in saes:
        e = evaluation(t.sae, x)
        point = e.point(t.architecture, t.setting)
        with torch.no_grad():
            x_hat = t.sae.decode(e.codes)
        label = f"k{int(t.setting)}" if t.architecture == "topk" else f"l1_{t.setting:g}"
        magnitude = float(magnitude_ratio(e.codes, t.sae.W_dec.detach(), true_acts))
        prefix = f"{t.architecture}_{label}"
        out.update({f"{prefix}_l0": point.l0, f"{prefix}_shrinkage": float(shrinkage_ratio(x, x_hat)),
                    f"{prefix}_magnitude_ratio": magnitude, f"{prefix}_explained_variance": point.explained_variance,
                    f"{prefix}_dead_fraction": point.dead_fraction})
        curves[t.architecture][0].append(point.l0)
        curves[t.architecture][1].append(abs(magnitude - 1.0))
        if t.architecture == "topk":
            max_dev = max(max_dev, float((l0_per_token(e.codes) - t.setting).abs().max()))
        else:
            relu_points.append(point)
    out["topk_l0_max_abs_deviation"] = max_dev
    # closer to the truth = smaller |ratio - 1|: the gap is ReLU's distance minus TopK's, at matched L0 (a
    # fully collapsed ReLU point has no log L0 and no magnitude to compare: dropped)
    if sum(1 for l0 in curves["standard"][0] if l0 > 0) >= 2:  # a sweep (a control's single lambda: dead only)
        cmp = matched_l0_gap(*curves["standard"], *curves["topk"])
        if cmp is None:
            raise ValueError(f"the TopK and ReLU+L1 sweeps do not overlap in L0: TopK {curves['topk'][0]}, "
                             f"ReLU {curves['standard'][0]}; extend the sweeps")
        out["magnitude_gap_min_over_l0_overlap"] = float(cmp.min_gap)
    # topk.dead_latents: the largest lambda whose point still reconstructs, chosen before its dead fraction
    chosen, n_ok = strongest_reconstructing(relu_points, MIN_RECONSTRUCTING_L0, MIN_RECONSTRUCTING_EV)
    out["relu_n_reconstructing_points"] = float(n_ok)
    lam, l0, ev, dead = ((chosen.setting, chosen.l0, chosen.explained_variance, chosen.dead_fraction)
                         if chosen is not None else (0.0, 0.0, 0.0, 0.0))
    out.update(relu_dead_fraction_at_max_reconstructing_l1=dead, relu_chosen_l1=lam, relu_chosen_l0=l0,
               relu_chosen_explained_variance=ev)
    return out
