"""Anticorrelated (bipolar) feature pairs mixed with ordinary one-signed features (sagsae toy tier).

The sagsae paper's premise: an LM direction can carry two opposed concepts ("pressure too high" / "pressure
too low") that never co-occur, i.e. one direction firing with either sign. Here ``n_bipolar`` unit
directions each carry such an anticorrelated pair: when the direction fires (probability ``firing_prob``)
its sign is +1 or -1 with probability 1/2 each, so the two concepts are mutually exclusive; ``n_unipolar``
further directions fire with a positive sign only (the ordinary SAE feature). Magnitudes are
``max(0, N(mean_magnitude, std_magnitude^2))`` as in :class:`toy_models.sparse.SparseFeatureToy`, and
``x = sum_j s_j a_j d_j`` with unit directions ``d_j`` from sae-lens's ``FeatureDictionary`` (orthogonalised
as far as ``n_bipolar + n_unipolar > d_in`` allows).

``n_bipolar = 0`` is the control cell: no anticorrelated structure, every feature one-signed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from toy_models.sparse import unit_directions


@dataclass(frozen=True)
class BipolarFeatureToy:
    d_in: int = 32
    n_bipolar: int = 32
    """Directions that fire with either sign (an anticorrelated pair of concepts each)."""
    n_unipolar: int = 32
    """Directions that fire with a positive sign only."""
    firing_prob: float = 0.05
    mean_magnitude: float = 1.0
    std_magnitude: float = 0.25
    seed: int = 0
    """Seed of the feature directions; samples are drawn from the caller's generator."""

    def __post_init__(self) -> None:
        if self.n_bipolar < 0 or self.n_unipolar < 0 or self.n_bipolar + self.n_unipolar < 1:
            raise ValueError(f"need n_bipolar, n_unipolar >= 0 and at least one feature, got "
                             f"{self.n_bipolar}, {self.n_unipolar}")
        if not 0.0 < self.firing_prob <= 1.0:
            raise ValueError(f"firing_prob must be in (0, 1], got {self.firing_prob}")

    @property
    def n_directions(self) -> int:
        """Feature directions (the width a sign-aware dictionary needs)."""
        return self.n_bipolar + self.n_unipolar

    @property
    def n_concepts(self) -> int:
        """One-signed concepts (the width a non-negative dictionary needs): two per bipolar direction."""
        return 2 * self.n_bipolar + self.n_unipolar

    def config(self) -> dict[str, Any]:
        return {"kind": "bipolar-features", **asdict(self)}

    @cached_property
    def directions(self) -> Float[Tensor, "n_directions d_in"]:
        """Unit directions: the first ``n_bipolar`` rows are the bipolar ones."""
        return unit_directions(self.n_directions, self.d_in, self.seed)

    def sample_features(self, n: int, generator: torch.Generator) -> Float[Tensor, "n n_directions"]:
        """Signed true coefficients ``s_j a_j``: negative only on bipolar directions."""
        fires = torch.rand(n, self.n_directions, generator=generator) < self.firing_prob
        mags = (self.mean_magnitude + self.std_magnitude * torch.randn(n, self.n_directions, generator=generator))
        coeffs = fires * mags.clamp(min=0.0)
        flip = torch.rand(n, self.n_directions, generator=generator) < 0.5
        flip[:, self.n_bipolar:] = False
        return torch.where(flip, -coeffs, coeffs)

    def sample(self, n: int, generator: torch.Generator) -> Float[Tensor, "n d_in"]:
        return self.sample_features(n, generator) @ self.directions
