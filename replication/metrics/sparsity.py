"""Sparsity metrics shared by the papers: firing counts, activation density, dead fraction, L0.

"Active" means a latent's activation is non-zero (``f_i(x) != 0``): for ReLU, JumpReLU and TopK SAEs this
is ``f_i > 0``; for sign-aware SAEs (sagsae), whose latents can fire with either sign, it counts both signs.
Which tokens enter is the caller's choice: the analyses drop the BOS position before calling (the antipodal
paper's densities are over non-BOS tokens of C4), so these functions take an optional token ``mask``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor


def _check_mask(feature_acts: Tensor, mask: Tensor | None) -> Tensor:
    if feature_acts.ndim != 2:
        raise ValueError(f"feature_acts must be (tokens, d_sae), got shape {tuple(feature_acts.shape)}")
    if mask is None:
        return torch.ones(feature_acts.shape[0], dtype=torch.bool, device=feature_acts.device)
    if mask.shape != feature_acts.shape[:1] or mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor of shape ({feature_acts.shape[0]},), got "
                         f"{mask.dtype} {tuple(mask.shape)}")
    return mask


def fire_counts(feature_acts: Float[Tensor, "tokens d_sae"],
                mask: Bool[Tensor, " tokens"] | None = None) -> Int[Tensor, " d_sae"]:
    """Number of (unmasked) tokens on which each latent is active, ``c_i = #{t : f_i(x_t) != 0}``.

    Counts add across batches, so a stream of batches gives the density of the whole stream as
    ``sum(c) / sum(n_tokens)`` without holding the activations.
    """
    keep = _check_mask(feature_acts, mask)
    return (feature_acts[keep] != 0).sum(dim=0)


def activation_density(feature_acts: Float[Tensor, "tokens d_sae"],
                       mask: Bool[Tensor, " tokens"] | None = None) -> Float[Tensor, " d_sae"]:
    """Activation density (firing frequency) per latent: ``p_i = #{t : f_i(x_t) != 0} / #tokens``.

    Antipodal paper §3.1: "dense" latents have ``p_i > 0.1`` (over ~250k C4 tokens, BOS excluded).
    """
    keep = _check_mask(feature_acts, mask)
    n = int(keep.sum())
    if n == 0:
        raise ValueError("activation_density over zero tokens is undefined (the mask keeps none)")
    return fire_counts(feature_acts, keep).to(torch.float64) / n


def dead_fraction(density: Float[Tensor, " d_sae"]) -> Float[Tensor, ""]:
    """Fraction of latents that never fire on the evaluated tokens, ``mean_i [p_i == 0]``.

    The definition of a dead latent in the SAE primer §3 and in the bimodality paper §5.2 ("a feature does
    not activate for any token"); the answer depends on how many tokens were evaluated, which the caller
    reports.
    """
    if density.ndim != 1:
        raise ValueError(f"density must be (d_sae,), got shape {tuple(density.shape)}")
    return (density == 0).to(torch.float64).mean()


def l0_per_token(feature_acts: Float[Tensor, "tokens d_sae"]) -> Int[Tensor, " tokens"]:
    """``||f(x_t)||_0``: the number of active latents on each token."""
    if feature_acts.ndim != 2:
        raise ValueError(f"feature_acts must be (tokens, d_sae), got shape {tuple(feature_acts.shape)}")
    return (feature_acts != 0).sum(dim=-1)


def mean_l0(feature_acts: Float[Tensor, "tokens d_sae"]) -> Float[Tensor, ""]:
    """Mean L0 over tokens, ``E_t ||f(x_t)||_0`` (the sparsity axis of every sweep in the papers)."""
    return l0_per_token(feature_acts).to(torch.float64).mean()


DeadWindow = Callable[[], Iterable[Tensor]]
"""Chunks of held-out tokens (a fresh iterator per call) on which "dead" is measured, where that window is
larger than an evaluation batch (the real tier's training cells: >= 1M tokens)."""


def activation_density_over(encode: Callable[[Tensor], Tensor], window: DeadWindow) -> tuple[Float[Tensor, " d_sae"], int]:
    """``(p, n)``: :func:`activation_density` of ``encode`` over every chunk of ``window``, and its size."""
    counts, n = fire_counts_over(encode, window())
    return counts.to(torch.float64) / n, n


def fire_counts_over(encode: Callable[[Tensor], Tensor],
                     chunks: Iterable[Float[Tensor, "rows d_in"]]) -> tuple[Int[Tensor, " d_sae"], int]:
    """``(c, n)``: :func:`fire_counts` of ``encode`` summed over a stream of input chunks, and the number of
    rows, without holding the activations (a dead-latent window of >= 1M tokens on the real tier; the
    catalog: a 16k-token window calls a latent of frequency 1e-4 dead one time in five)."""
    counts: Tensor | None = None
    n = 0
    with torch.no_grad():
        for x in chunks:
            c = fire_counts(encode(x))
            counts = c if counts is None else counts + c
            n += len(x)
    if counts is None or n == 0:
        raise ValueError("fire_counts_over got no input rows")
    return counts, n
