"""Metrics of "Sign-Aware Gated Sparse Autoencoders (Bi-Jump-ReLU)" (papers/sign-aware-gated-sae.txt).

Pure tensor functions; :mod:`replication.papers.sagsae.analysis` computes them on trained SAEs. The matched-L0
comparison of two sweeps is :func:`replication.metrics.compare_sweeps`; R² is
:func:`replication.metrics.explained_variance`; "dead" is :func:`replication.metrics.dead_fraction`
(never active, either sign, on the evaluated tokens).

Definitions chosen where the paper is vague:

- **Bipolar latent** (results: "most latents carry both polarities"): a live latent whose minority sign
  accounts for at least ``min_minority_share`` (default 0.1) of its firings on the evaluated tokens,
  ``min(c+_i, c-_i) / (c+_i + c-_i) >= 0.1``; the **bipolar share** is the fraction of live latents that
  are bipolar. The 0.1 floor keeps a latent that fires negative on a handful of interference tokens from
  counting as carrying a second polarity.
- **Sweep-geomean dead-fraction ratio** (abstract: "sweep-geomean dead-fraction reductions 100x-500x"):
  ``exp(mean_j log max(D^B_j, eps)) / exp(mean_j log max(D^A_j, eps))`` over the sweep points ``j`` of the
  baseline ``B`` (Gated at 2H) and the method ``A`` (SA-GSAE at H). A zero dead fraction has no logarithm;
  it enters as ``eps = 1 / (2 d_sae_max)``, half of one latent of the wider SAE (below the smallest non-zero
  dead fraction either SAE can have), the same floor for both, so two sweeps with no dead latent give 1.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from jaxtyping import Float, Int
from torch import Tensor


class SignCounts(NamedTuple):
    positive: Int[Tensor, " d_sae"]
    """``c+_i = #{t : f_i(x_t) > 0}``."""
    negative: Int[Tensor, " d_sae"]
    """``c-_i = #{t : f_i(x_t) < 0}``."""


def sign_fire_counts(feature_acts: Float[Tensor, "tokens d_sae"]) -> SignCounts:
    """How often each latent fires with each sign; counts add across batches."""
    if feature_acts.ndim != 2:
        raise ValueError(f"feature_acts must be (tokens, d_sae), got shape {tuple(feature_acts.shape)}")
    if not bool(torch.isfinite(feature_acts).all()):
        raise ValueError("feature_acts has non-finite entries (NaN or inf)")
    return SignCounts((feature_acts > 0).sum(dim=0), (feature_acts < 0).sum(dim=0))


def minority_sign_share(counts: SignCounts) -> Float[Tensor, " d_sae"]:
    """``min(c+_i, c-_i) / (c+_i + c-_i)`` in [0, 0.5]; NaN for a latent that never fires (no share)."""
    total = (counts.positive + counts.negative).to(torch.float64)
    minority = torch.minimum(counts.positive, counts.negative).to(torch.float64)
    return torch.where(total > 0, minority / total.clamp(min=1), torch.full_like(total, float("nan")))


def bipolar_share(counts: SignCounts, min_minority_share: float = 0.1) -> Float[Tensor, ""]:
    """Fraction of live latents whose minority sign is at least ``min_minority_share`` of their firings.

    sagsae results ("MLP-out: most latents carry both polarities"); definition in the module docstring.
    Raises if no latent fires (the share of an empty set is undefined).
    """
    if not 0.0 < min_minority_share <= 0.5:
        raise ValueError(f"min_minority_share must be in (0, 0.5], got {min_minority_share}")
    share = minority_sign_share(counts)
    live = ~torch.isnan(share)
    if not bool(live.any()):
        raise ValueError("bipolar_share is undefined: no latent fires on the evaluated tokens")
    return (share[live] >= min_minority_share).to(torch.float64).mean()


def geomean_ratio(baseline: Float[Tensor, " n_b"], method: Float[Tensor, " n_a"], eps: float) -> Float[Tensor, ""]:
    """``geomean(max(baseline, eps)) / geomean(max(method, eps))``: how many times smaller ``method`` is.

    sagsae abstract's "sweep-geomean dead-fraction reduction"; ``eps`` is where a zero enters (the module
    docstring's ``1 / (2 d_sae_max)`` for dead fractions). Values must lie in [0, 1].
    """
    for name, v in (("baseline", baseline), ("method", method)):
        if v.ndim != 1 or len(v) == 0:
            raise ValueError(f"{name} must be a non-empty 1-D tensor, got shape {tuple(v.shape)}")
        if not bool(torch.isfinite(v).all()) or bool(((v < 0) | (v > 1)).any()):
            raise ValueError(f"{name} dead fractions must be finite and in [0, 1]")
    if not 0.0 < eps <= 1.0:
        raise ValueError(f"eps must be in (0, 1], got {eps}")

    def log_geomean(v: Tensor) -> Tensor:
        return v.to(torch.float64).clamp(min=eps).log().mean()

    return (log_geomean(baseline) - log_geomean(method)).exp()


def dead_fraction_floor(d_sae_a: int, d_sae_b: int) -> float:
    """``1 / (2 max(d_sae_a, d_sae_b))``: where a zero dead fraction enters the geometric mean."""
    if d_sae_a < 1 or d_sae_b < 1:
        raise ValueError(f"widths must be positive, got {d_sae_a}, {d_sae_b}")
    return 1.0 / (2 * max(d_sae_a, d_sae_b))
