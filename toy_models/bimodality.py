"""Sparse features with power-law firing frequencies: a toy on which ReLU+L1 SAEs leave latents dead.

The bimodality paper's dead features (§5.2, ~20% of 4,096 latents on Pythia-160M) arise on LM activations,
whose features fire with a heavy-tailed frequency distribution. This toy plants that: ``n_features`` unit
directions in ``d_in`` dimensions (sae-lens's ``FeatureDictionary``, as :class:`toy_models.SparseFeatureToy`),
feature ``j`` (0-based) firing independently with probability ``p_j = p_0 (j + 1)^(-zipf_exponent)``, with
``p_0`` set so that ``sum_j p_j = expected_l0``, and when it fires with magnitude
``max(0, N(mean_magnitude, std_magnitude^2))``. ``x = sum_j a_j d_j``. There are more features than the SAE
has latents, so the SAE must choose which to learn, and the rarest carry little reconstruction gain per
unit of L1 cost.
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
class PowerLawFeatureToy:
    d_in: int = 32
    n_features: int = 512
    expected_l0: float = 6.0
    zipf_exponent: float = 1.0
    mean_magnitude: float = 1.0
    std_magnitude: float = 0.25
    seed: int = 0
    """Seed of the feature directions; samples are drawn from the caller's generator."""

    def __post_init__(self) -> None:
        if self.expected_l0 <= 0 or self.expected_l0 >= self.n_features:
            raise ValueError(f"expected_l0 must be in (0, n_features={self.n_features}), got {self.expected_l0}")
        if float(self.firing_probs.max()) > 1.0:
            raise ValueError(f"expected_l0={self.expected_l0} with zipf_exponent={self.zipf_exponent} gives a "
                             f"firing probability {float(self.firing_probs.max()):.3g} > 1; lower either")

    def config(self) -> dict[str, Any]:
        return {"kind": "power-law-features", **asdict(self)}

    @cached_property
    def firing_probs(self) -> Float[Tensor, " n_features"]:
        """``p_j = p_0 (j + 1)^(-zipf_exponent)``, summing to ``expected_l0``."""
        w = torch.arange(1, self.n_features + 1, dtype=torch.float64).pow(-self.zipf_exponent)
        return (w * (self.expected_l0 / w.sum())).to(torch.float32)

    @cached_property
    def directions(self) -> Float[Tensor, "n_features d_in"]:
        """Unit feature directions, from sae-lens's ``FeatureDictionary``."""
        return unit_directions(self.n_features, self.d_in, self.seed)

    def sample_features(self, n: int, generator: torch.Generator) -> Float[Tensor, "n n_features"]:
        fires = torch.rand(n, self.n_features, generator=generator) < self.firing_probs
        mags = self.mean_magnitude + self.std_magnitude * torch.randn(n, self.n_features, generator=generator)
        return fires * mags.clamp(min=0.0)

    def sample(self, n: int, generator: torch.Generator) -> Float[Tensor, "n d_in"]:
        return self.sample_features(n, generator) @ self.directions
