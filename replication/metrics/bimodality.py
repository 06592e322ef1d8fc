"""Metrics of "Bimodality of Sparse Autoencoder Features is Still There and Can Be Fixed".

Alignment scores (§3.1), their bimodality (§4.1) by three statistics, the max cosine similarity against a
larger dictionary (§1.1, §4.2), and the set overlaps of §5.4. Pure tensor functions; statistics are
computed in float64.

Orientation: the paper's ``W^enc`` is ``(m, n)`` and ``W^dec`` is ``(n, m)``; sae-lens's ``W_enc`` is
``(d_in, d_sae)`` and ``W_dec`` is ``(d_sae, d_in)``. The paper's encoder row ``W^enc[i, :]`` is sae-lens's
``W_enc[:, i]`` and its decoder column ``W^dec[:, i]`` is sae-lens's ``W_dec[i, :]``. Every function here
takes sae-lens's orientation.

The bimodality verdict (:func:`bimodality`): a sample of alignment scores is called **bimodal** iff
Hartigan's dip test rejects unimodality at 0.05 (``dip_p < 0.05``) **and** Sarle's bimodality coefficient
exceeds 5/9 (the value of a uniform distribution; ``bc > 5/9``). Both must hold, so that neither a
significant but tiny dip in a huge sample nor a heavy-tailed skewed sample (high BC, no dip) is called
bimodal. The two-component Gaussian mixture does not enter the verdict: it locates the modes (the "good
cluster" and the "dead cluster").
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from jaxtyping import Bool, Float
from torch import Tensor

SARLE_UNIFORM = 5.0 / 9.0
"""Sarle's bimodality coefficient of a uniform distribution; larger values suggest bimodality."""
DIP_ALPHA = 0.05


def _check_weights(W_enc: Tensor, W_dec: Tensor) -> None:
    if W_enc.ndim != 2 or W_dec.ndim != 2:
        raise ValueError(f"W_enc and W_dec must be 2-D, got shapes {tuple(W_enc.shape)} and {tuple(W_dec.shape)}")
    if W_enc.shape != W_dec.T.shape:
        raise ValueError(f"W_enc must be (d_in, d_sae) and W_dec (d_sae, d_in) (sae-lens orientation), got "
                         f"{tuple(W_enc.shape)} and {tuple(W_dec.shape)}")
    for name, w in (("W_enc", W_enc), ("W_dec", W_dec)):
        if not bool(torch.isfinite(w).all()):
            raise ValueError(f"{name} has {int((~torch.isfinite(w)).sum())} non-finite entries (NaN/inf)")


def alignment_scores(W_enc: Float[Tensor, "d_in d_sae"], W_dec: Float[Tensor, "d_sae d_in"]) -> Float[Tensor, " d_sae"]:
    """Alignment score ``a_i = W^enc[i, :] . W^dec[:, i]`` (bimodality paper §3.1, eq. 1).

    In sae-lens's orientation: ``a_i = sum_k W_enc[k, i] W_dec[i, k]``, the i-th diagonal entry of
    ``W_dec @ W_enc`` (the paper's ``W^enc W^dec``). A raw inner product, **not** a cosine: it is invariant
    when encoder row i is multiplied by c and decoder column i divided by c (the homogeneity of §2), but
    not under rescaling either vector alone. It therefore reads the SAE's own parametrisation: an SAE whose
    decoder norms were folded into the encoder (``fold_W_dec_norm``) has the same scores (folding is such a
    rescaling), but one whose encoder was rescaled alone (e.g. activation-norm scaling folded into one
    side only) has not. Computed in float64 from the given weights.
    """
    _check_weights(W_enc, W_dec)
    return (W_enc.to(torch.float64) * W_dec.T.to(torch.float64)).sum(dim=0)


def rescale_latents(W_enc: Float[Tensor, "d_in d_sae"], W_dec: Float[Tensor, "d_sae d_in"],
                    c: Float[Tensor, " d_sae"]) -> tuple[Float[Tensor, "d_in d_sae"], Float[Tensor, "d_sae d_in"]]:
    """``(W_enc[:, i] * c_i, W_dec[i] / c_i)``: the rescaling symmetry of §2 (same reconstruction, c_i > 0)."""
    _check_weights(W_enc, W_dec)
    if c.shape != (W_enc.shape[1],) or not bool((c > 0).all()):
        raise ValueError(f"c must be ({W_enc.shape[1]},) and positive, got shape {tuple(c.shape)}")
    return W_enc * c, W_dec / c.unsqueeze(1)


def _check_sample(a: Tensor, min_n: int, name: str) -> Tensor:
    if a.ndim != 1 or a.shape[0] < min_n:
        raise ValueError(f"{name} needs a 1-D sample of at least {min_n} values, got shape {tuple(a.shape)}")
    if not bool(torch.isfinite(a).all()):
        raise ValueError(f"{name}: the sample has non-finite values")
    return a.to(torch.float64)


def sarle_bimodality_coefficient(a: Float[Tensor, " n"]) -> Float[Tensor, ""]:
    """Sarle's bimodality coefficient ``BC = (g^2 + 1) / (k + 3 (n-1)^2 / ((n-2)(n-3)))``.

    ``g`` is the sample skewness and ``k`` the sample excess kurtosis, both with the small-sample
    corrections (``G1``, ``G2``; ``scipy.stats.skew(bias=False)``, ``scipy.stats.kurtosis(bias=False)``),
    as in SAS's definition. BC lies in (0, 1]; a uniform distribution has 5/9, a normal 1/3, an equal
    mixture of two well-separated point masses tends to 1. Undefined for a constant sample (raises).
    """
    x = _check_sample(a, 4, "sarle_bimodality_coefficient")
    n = x.shape[0]
    d = x - x.mean()
    m2, m3, m4 = d.pow(2).mean(), d.pow(3).mean(), d.pow(4).mean()
    if not bool(m2 > 0):
        raise ValueError("sarle_bimodality_coefficient is undefined for a constant sample (zero variance)")
    g1 = m3 / m2.pow(1.5)
    skew = g1 * (n * (n - 1)) ** 0.5 / (n - 2)
    g2 = m4 / m2.pow(2) - 3.0
    kurt = ((n + 1) * g2 + 6.0) * (n - 1) / ((n - 2) * (n - 3))
    return (skew.pow(2) + 1.0) / (kurt + 3.0 * (n - 1) ** 2 / ((n - 2) * (n - 3)))


class DipTest(NamedTuple):
    dip: Float[Tensor, ""]
    """Hartigan's dip statistic: the sup distance between the empirical CDF and the closest unimodal CDF."""
    p_value: Float[Tensor, ""]
    """p-value of the null "unimodal" (interpolated from the uniform-null table, Hartigan & Hartigan 1985)."""


def dip_test(a: Float[Tensor, " n"]) -> DipTest:
    """Hartigan's dip test of unimodality (Hartigan & Hartigan 1985), via the ``diptest`` package.

    ``diptest.diptest`` (the maintained C++ port of R's ``diptest``), with its table-interpolated p-value
    under the uniform null (the most conservative unimodal null). A point mass has dip 0, p = 1.
    """
    import diptest

    x = _check_sample(a, 4, "dip_test")
    dip, p = diptest.diptest(x.cpu().numpy())
    return DipTest(torch.tensor(float(dip), dtype=torch.float64), torch.tensor(float(p), dtype=torch.float64))


class Mixture2(NamedTuple):
    """A two-component 1-D Gaussian mixture, components ordered by mean (0 = lower mode, 1 = upper mode)."""

    means: Float[Tensor, " 2"]
    stds: Float[Tensor, " 2"]
    weights: Float[Tensor, " 2"]
    responsibilities: Float[Tensor, "n 2"]
    """Posterior probability of each component for each sample."""

    @property
    def lower(self) -> Bool[Tensor, " n"]:
        """Samples assigned to the lower component (posterior > 1/2)."""
        return self.responsibilities[:, 0] > 0.5


def gaussian_mixture_2(a: Float[Tensor, " n"], n_iter: int = 500, tol: float = 1e-10) -> Mixture2:
    """Maximum-likelihood two-component Gaussian mixture of a 1-D sample, by EM (Dempster et al. 1977).

    Deterministic: the means start at the 10% and 90% quantiles, both variances at a quarter of the sample
    variance, the weights at 1/2; EM runs until the log-likelihood gains less than ``tol`` per sample or
    ``n_iter`` iterations. Each variance is floored at ``1e-6`` times the sample variance so that a
    component collapsing on a few identical values (e.g. dead latents at exactly the same score) stays
    finite. Used to locate the two modes (bimodality §4.2 "cluster at 1", §5.4 "cluster at 0").
    """
    x = _check_sample(a, 4, "gaussian_mixture_2")
    var = x.var()
    if not bool(var > 0):
        raise ValueError("gaussian_mixture_2 is undefined for a constant sample (zero variance)")
    floor = var * 1e-6
    mu = torch.quantile(x, torch.tensor([0.1, 0.9], dtype=torch.float64))
    if bool(mu[0] == mu[1]):
        mu = torch.stack([x.min(), x.max()])
    sig2 = torch.stack([var / 4, var / 4])
    w = torch.tensor([0.5, 0.5], dtype=torch.float64)
    prev = -torch.inf
    resp = torch.empty(x.shape[0], 2, dtype=torch.float64)
    for _ in range(n_iter):
        logp = (torch.log(w) - 0.5 * torch.log(2 * torch.pi * sig2)
                - 0.5 * (x.unsqueeze(1) - mu).pow(2) / sig2)
        ll = torch.logsumexp(logp, dim=1)
        resp = (logp - ll.unsqueeze(1)).exp()
        nk = resp.sum(dim=0).clamp(min=1e-12)
        w = nk / x.shape[0]
        mu = (resp * x.unsqueeze(1)).sum(dim=0) / nk
        sig2 = ((resp * (x.unsqueeze(1) - mu).pow(2)).sum(dim=0) / nk).clamp(min=floor)
        mean_ll = ll.mean()
        if bool(mean_ll - prev < tol):
            break
        prev = mean_ll
    order = torch.argsort(mu)
    return Mixture2(mu[order], sig2[order].sqrt(), w[order], resp[:, order])


class Bimodality(NamedTuple):
    """Every bimodality statistic of one sample and the verdict (rule in the module docstring)."""

    dip: Float[Tensor, ""]
    dip_p: Float[Tensor, ""]
    bc: Float[Tensor, ""]
    """Sarle's bimodality coefficient."""
    mixture: Mixture2
    bimodal: Bool[Tensor, ""]
    """``dip_p < 0.05 and bc > 5/9``."""


def bimodality(a: Float[Tensor, " n"]) -> Bimodality:
    """Dip test, Sarle's BC and a two-component mixture of ``a``; bimodal iff dip p < 0.05 and BC > 5/9."""
    dt = dip_test(a)
    bc = sarle_bimodality_coefficient(a)
    return Bimodality(dt.dip, dt.p_value, bc, gaussian_mixture_2(a),
                      (dt.p_value < DIP_ALPHA) & (bc > SARLE_UNIFORM))


def max_cosine_similarity(W_dec_a: Float[Tensor, "d_sae_a d_in"],
                          W_dec_b: Float[Tensor, "d_sae_b d_in"]) -> Float[Tensor, " d_sae_a"]:
    """MCS across dictionaries: ``MCS_i = max_j cos(W_dec_A[i], W_dec_B[j])`` (bimodality paper §1.1).

    For each feature (decoder direction) of dictionary A, its best match in another, larger dictionary B
    trained independently (Cunningham & Riggs' procedure, which the paper's §4.2 uses with B larger than
    A) — not the maximum over A's own other features. Raises on zero-norm decoder rows.
    """
    for name, w in (("W_dec_a", W_dec_a), ("W_dec_b", W_dec_b)):
        if w.ndim != 2:
            raise ValueError(f"{name} must be (d_sae, d_in), got shape {tuple(w.shape)}")
        norms = w.norm(dim=1)
        if bool((norms == 0).any()):
            raise ValueError(f"{name} has zero-norm decoder rows {torch.nonzero(norms == 0).flatten()[:10].tolist()}")
    if W_dec_a.shape[1] != W_dec_b.shape[1]:
        raise ValueError(f"the dictionaries have different d_in: {W_dec_a.shape[1]} and {W_dec_b.shape[1]}")
    ua = W_dec_a.to(torch.float64) / W_dec_a.to(torch.float64).norm(dim=1, keepdim=True)
    ub = W_dec_b.to(torch.float64) / W_dec_b.to(torch.float64).norm(dim=1, keepdim=True)
    return (ua @ ub.T).max(dim=1).values


def pearson(x: Float[Tensor, " n"], y: Float[Tensor, " n"]) -> Float[Tensor, ""]:
    """Pearson correlation ``cov(x, y) / (sd(x) sd(y))`` (as ``scipy.stats.pearsonr``'s statistic)."""
    if x.shape != y.shape or x.ndim != 1 or x.shape[0] < 3:
        raise ValueError(f"pearson needs two 1-D samples of one length >= 3, got {tuple(x.shape)} and {tuple(y.shape)}")
    xd, yd = x.to(torch.float64) - x.double().mean(), y.to(torch.float64) - y.double().mean()
    denom = xd.norm() * yd.norm()
    if not bool(denom > 0):
        raise ValueError("pearson is undefined when either sample is constant")
    return (xd * yd).sum() / denom


def jaccard(a: Bool[Tensor, " n"], b: Bool[Tensor, " n"]) -> Float[Tensor, ""]:
    """``|A & B| / |A | B|`` of two sets given as masks; undefined (raises) when both are empty."""
    if a.shape != b.shape or a.dtype != torch.bool or b.dtype != torch.bool:
        raise ValueError(f"jaccard needs two bool masks of one shape, got {a.dtype}{tuple(a.shape)} and "
                         f"{b.dtype}{tuple(b.shape)}")
    union = (a | b).sum()
    if int(union) == 0:
        raise ValueError("jaccard is undefined for two empty sets")
    return (a & b).sum().to(torch.float64) / union.to(torch.float64)
