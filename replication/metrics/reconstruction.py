"""Reconstruction metrics under named definitions.

"Explained variance" means different things in different libraries (per-batch in sparsify, pooled over
tokens in SAELens, centred in dictionary_learning). Each function here is named by its definition, and each
claim states which one its paper used.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor


def _check_pair(x: Tensor, x_hat: Tensor) -> None:
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {tuple(x.shape)} and {tuple(x_hat.shape)}")
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"x must be (tokens >= 2, d_in), got shape {tuple(x.shape)}")


def fvu_pooled(x: Float[Tensor, "tokens d_in"], x_hat: Float[Tensor, "tokens d_in"]) -> Float[Tensor, ""]:
    """Fraction of variance unexplained, pooled over tokens and dimensions.

    ``FVU = sum_k ||x_k - x_hat_k||^2 / sum_k ||x_k - mu||^2`` with ``mu = mean_k x_k``: the total squared
    error over the total variance about the mean activation vector, over the whole evaluation set (not
    averaged per batch). Computed in float64.
    """
    _check_pair(x, x_hat)
    x64, xh64 = x.to(torch.float64), x_hat.to(torch.float64)
    total = (x64 - x64.mean(dim=0, keepdim=True)).pow(2).sum()
    if total == 0:
        raise ValueError("fvu_pooled is undefined for constant x (zero variance)")
    return (x64 - xh64).pow(2).sum() / total


def explained_variance(x: Float[Tensor, "tokens d_in"], x_hat: Float[Tensor, "tokens d_in"]) -> Float[Tensor, ""]:
    """Explained variance as in the bimodality paper, App. B: ``1 - mean_k ||x_k - x_hat_k||^2 /
    mean_k ||x_k - mu||^2``, i.e. ``1 - fvu_pooled``.

    The paper prints ``mu = sum_k x_k``; we read it as the mean activation vector (a sum would make the
    denominator grow with K), as the text's "mean activation vector" says. The sagsae paper's R² is taken
    to be this same quantity.
    """
    return 1.0 - fvu_pooled(x, x_hat)


def ce_loss_recovered(h_star: Float[Tensor, "..."], h_zero: Float[Tensor, "..."],
                      h_orig: Float[Tensor, "..."]) -> Float[Tensor, "..."]:
    """Cross-entropy loss recovered, bimodality paper App. B: ``(H* - H_0) / (H_orig - H_0)``.

    ``H_orig``: the model's next-token loss; ``H*``: with the activation replaced by the SAE's
    reconstruction; ``H_0``: with the activation zeroed. 1 means the SAE recovers all of the loss, 0 no
    more than zero-ablation.
    """
    denom = h_orig - h_zero
    if bool((denom == 0).any()):
        raise ValueError("ce_loss_recovered is undefined when H_orig == H_0 (zero-ablation costs nothing)")
    return (h_star - h_zero) / denom


def shrinkage_ratio(x: Float[Tensor, "tokens d_in"], x_hat: Float[Tensor, "tokens d_in"],
                    min_norm: float = 1e-6) -> Float[Tensor, ""]:
    """Mean norm ratio ``E_t ||x_hat_t|| / ||x_t||`` over tokens with ``||x_t|| > min_norm``.

    The definition of sae-lens's ``ShrinkageCalculator`` (sae_lens.synthetic.evals): below 1 the SAE
    systematically under-estimates magnitudes, the L1 shrinkage the SAE primer §4 describes. Tokens with a
    (near-)zero input have no defined ratio and are skipped, as sae-lens does.
    """
    _check_pair(x, x_hat)
    norms = x.to(torch.float64).norm(dim=-1)
    keep = norms > min_norm
    if not bool(keep.any()):
        raise ValueError("shrinkage_ratio: every token has a zero-norm input")
    return (x_hat.to(torch.float64).norm(dim=-1)[keep] / norms[keep]).mean()


def magnitude_ratio(f: Float[Tensor, "tokens d_sae"], W_dec: Float[Tensor, "d_sae d_in"],
                    true_acts: Float[Tensor, "tokens n_features"]) -> Float[Tensor, ""]:
    """Pooled magnitude of the SAE's active latents against the truth,
    ``sum_t sum_i f_ti ||W_dec[i]|| / sum_t sum_j a_tj``, for unit-norm true feature directions.

    The SAE primer §4: the L1 penalty "pulls all activations toward zero", so the SAE "underestimates the
    true magnitude of the features" (ratio < 1); TopK removes the penalty. ``true_acts`` are the toy's known
    feature activations ``a`` (``x = a @ directions``, unit directions); the latent magnitude is weighted by
    its decoder norm, so the ratio does not depend on how the SAE splits a scale between f and W_dec.
    Pooled over tokens (a token with no active feature has no ratio of its own).
    """
    if f.ndim != 2 or W_dec.ndim != 2 or f.shape[1] != W_dec.shape[0] or true_acts.ndim != 2 \
            or true_acts.shape[0] != f.shape[0]:
        raise ValueError(f"f (tokens, d_sae), W_dec (d_sae, d_in) and true_acts (tokens, n_features) must match, "
                         f"got {tuple(f.shape)}, {tuple(W_dec.shape)}, {tuple(true_acts.shape)}")
    truth = true_acts.to(torch.float64).sum()
    if not bool(truth > 0):
        raise ValueError("magnitude_ratio: no true feature is active on any token")
    return (f.to(torch.float64) @ W_dec.to(torch.float64).norm(dim=1)).sum() / truth
