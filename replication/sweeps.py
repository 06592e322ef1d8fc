"""Evaluating the SAEs of a sparsity sweep: one trained SAE on held-out tokens -> a :class:`SweepPoint`.

Shared by every paper that compares sweeps at matched L0 (bimodality, sagsae, topk); the comparison itself
is :func:`replication.metrics.matched_l0_gap` (log-L0 interpolation over the overlap; disjoint ranges have
no comparison).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from jaxtyping import Float
from torch import Tensor

from replication.checks import check_finite_weights, check_sae_input
from replication.metrics import (
    DeadWindow,
    SweepPoint,
    activation_density,
    activation_density_over,
    dead_fraction,
    explained_variance,
    mean_l0,
)


class Evaluation(NamedTuple):
    """One SAE on the evaluation tokens: its codes, reconstruction quality and the density of "dead"."""

    codes: Float[Tensor, "tokens d_sae"]
    l0: float
    explained_variance: float
    density: Float[Tensor, " d_sae"]
    """Firing frequency on the evaluation tokens, or on ``dead_window``'s tokens if one is given."""

    def point(self, method: str, setting: float) -> SweepPoint:
        return SweepPoint(method, setting, self.l0, self.explained_variance, float(dead_fraction(self.density)))


def evaluation(sae: Any, x: Float[Tensor, "tokens d_in"], dead_window: DeadWindow | None = None) -> Evaluation:
    """Encode and reconstruct ``x`` (after checking the SAE's input width and weights): L0, explained
    variance (App. B of the bimodality paper) and density (on ``dead_window``'s tokens if given)."""
    check_sae_input(sae, x)
    check_finite_weights(sae)
    with torch.no_grad():
        f = sae.encode(x)
        x_hat = sae.decode(f)
    density = activation_density(f) if dead_window is None else activation_density_over(sae.encode, dead_window)[0]
    return Evaluation(f, float(mean_l0(f)), float(explained_variance(x, x_hat)), density)


def evaluate(sae: Any, x: Float[Tensor, "tokens d_in"], method: str, setting: float,
             dead_window: DeadWindow | None = None) -> SweepPoint:
    """The :class:`SweepPoint` of one SAE of sweep ``method`` at ``setting`` (see :func:`evaluation`)."""
    return evaluation(sae, x, dead_window).point(method, setting)
