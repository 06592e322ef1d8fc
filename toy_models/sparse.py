"""Sparse features in superposition: the standard synthetic setting of the SAE literature.

``n_features`` unit directions in ``d_in`` dimensions (sae-lens's ``FeatureDictionary`` with its
orthogonalising initialiser, so that directions are as close to orthogonal as ``n_features > d_in``
allows); each feature fires independently with probability ``firing_prob`` and, when it fires, with a
magnitude ``max(0, N(mean_magnitude, std_magnitude^2))``. Activations are ``x = sum_i a_i d_i``; the true
feature activations ``a`` are returned too, so that shrinkage and recovery can be checked against the truth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor


def unit_directions(n: int, d_in: int, seed: int) -> Float[Tensor, "n d_in"]:
    """``n`` unit directions from sae-lens's ``FeatureDictionary`` (its orthogonalising initialiser: as close
    to orthogonal as ``n > d_in`` allows), deterministic in ``seed``; the global RNG is left as it was."""
    from sae_lens.synthetic import FeatureDictionary

    with torch.random.fork_rng():  # the orthogonaliser may draw from the global generator
        torch.manual_seed(seed)
        fd = FeatureDictionary(n, d_in, seed=seed)
    return fd.feature_vectors.detach().clone()


@dataclass(frozen=True)
class SparseFeatureToy:
    d_in: int = 32
    n_features: int = 128
    firing_prob: float = 0.03
    mean_magnitude: float = 1.0
    std_magnitude: float = 0.25
    seed: int = 0
    """Seed of the feature directions (the data set itself); samples are drawn from the caller's generator."""

    def config(self) -> dict[str, Any]:
        return {"kind": "sparse-features", **asdict(self)}

    @cached_property
    def directions(self) -> Float[Tensor, "n_features d_in"]:
        """Unit feature directions, from sae-lens's ``FeatureDictionary``."""
        return unit_directions(self.n_features, self.d_in, self.seed)

    def sample_features(self, n: int, generator: torch.Generator) -> Float[Tensor, "n n_features"]:
        """True feature activations: Bernoulli(firing_prob) times a clamped-normal magnitude."""
        fires = torch.rand(n, self.n_features, generator=generator) < self.firing_prob
        mags = (self.mean_magnitude + self.std_magnitude * torch.randn(n, self.n_features, generator=generator))
        return fires * mags.clamp(min=0.0)

    def embed(self, features: Float[Tensor, "n n_features"]) -> Float[Tensor, "n d_in"]:
        return features @ self.directions

    def sample(self, n: int, generator: torch.Generator) -> Float[Tensor, "n d_in"]:
        return self.embed(self.sample_features(n, generator))
