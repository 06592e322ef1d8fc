"""Measurement of the ``cross.*`` questions from the antipodal analysis of several SAEs on one token stream.

Target-agnostic: every function reads :class:`~replication.papers.antipodal.analysis.AntipodalInputs` (an SAE,
W_U, the final norm, settings, a stream) or the antipodal analysis' arrays and summaries of them. The SA-GSAE
is read with its signed activations (a latent is active on either side), which the antipodal pass does not do.
Every value that reads U_{-1} is given under each reading of W_U (``metric@reading``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import torch
from jaxtyping import Float
from torch import Tensor

from replication.claims import metric_key
from replication.metrics.antipodal import pairwise_scores
from replication.metrics.bimodality import alignment_scores, bimodality
from replication.papers.antipodal.analysis import READINGS, AntipodalArrays, AntipodalInputs, unembedding_readings
from replication.targets import MetricSet, PerReading, metric

#: the antipodal summary's per-reading pair metrics each question reads, under a prefix per SAE
PAIR_METRICS = ("u1_pair_s", "u1_pair_max_cosine", "u1_pair_min_density", "abs_corr_u1_pair_diff")


@dataclass(frozen=True)
class GoodClusterMetrics(MetricSet):
    """``cross.dense_pair_in_good_cluster`` on one SAE (every tier)."""

    READINGS: ClassVar[tuple[str, ...]] = READINGS
    pair_in_upper_mode: PerReading = metric("1 if neither latent of the U_{-1} pair is in the lower mixture mode of a_i")
    pair_alignment_min: PerReading = metric("the smaller a_i of the pair (0 without a pair)")
    sae_u1_pair_s: PerReading = metric("s_i of the SAE's U_{-1} pair (antipodal)")
    sae_u1_pair_max_cosine: PerReading = metric("the larger of the pair's two cosines (antipodal)")
    sae_u1_pair_min_density: PerReading = metric("the smaller of the pair's densities (antipodal)")
    sae_dip_test_p: float = metric("Hartigan's dip test p of the SAE's a_i")
    sae_sarle_bimodality_coefficient: float = metric("Sarle's BC of the SAE's a_i")
    sae_upper_mode: float = metric("the upper mean of the two-component mixture of a_i")


@dataclass(frozen=True)
class CrossMetrics(GoodClusterMetrics):
    """All three questions (the tiers that train their SAEs: toy, tinylm)."""

    sagsae_max_dense_abs_corr_u1: PerReading = metric("max over the SA-GSAE's dense latents of |r(f_i, x . U_{-1})|")
    sagsae_best_latent_density: PerReading = metric("density of that latent")
    sagsae_n_dense_paired: float = metric("SA-GSAE dense latents with s > 0.9 whose s-partner is dense")
    sagsae_n_dense: float = metric("SA-GSAE latents with density > 0.1 (either sign)")
    jumprelu_u1_pair_s: PerReading = metric("s of the JumpReLU SAE's U_{-1} pair")
    jumprelu_u1_pair_max_cosine: PerReading = metric("its larger cosine")
    jumprelu_u1_pair_min_density: PerReading = metric("its smaller density")
    topk_u1_pair_s: PerReading = metric("s of the standard TopK SAE's U_{-1} pair")
    topk_u1_pair_min_density: PerReading = metric("its smaller density")
    topk_abs_corr_u1_pair_diff: PerReading = metric("its |r(f_i - f_j, x . U_{-1})|")
    aligned_u1_pair_s: PerReading = metric("s of the aligned TopK SAE's U_{-1} pair")
    aligned_u1_pair_min_density: PerReading = metric("its smaller density")
    aligned_abs_corr_u1_pair_diff: PerReading = metric("its |r(f_i - f_j, x . U_{-1})|")
    aligned_u1_pair_max_cosine: PerReading = metric("its larger cosine")


def pair_metrics(summary: dict[str, float], prefix: str) -> dict[str, float]:
    """The antipodal summary's pair metrics of one SAE, renamed ``<prefix>_<metric>@<reading>``."""
    return {metric_key(f"{prefix}_{m}", r): summary[metric_key(m, r)] for m in PAIR_METRICS for r in READINGS}


def good_cluster(a: AntipodalArrays, summary: dict[str, float], sae: Any) -> tuple[dict[str, float], dict[str, Any]]:
    """``cross.dense_pair_in_good_cluster``'s metrics of one SAE, and its a_i and lower-mode mask for the figure."""
    scores = alignment_scores(sae.W_enc.detach().float().cpu(), sae.W_dec.detach().float().cpu())
    stats = bimodality(scores)
    low = stats.mixture.lower
    out = {"sae_dip_test_p": float(stats.dip_p), "sae_sarle_bimodality_coefficient": float(stats.bc),
           "sae_upper_mode": float(stats.mixture.means[1])}
    arrays: dict[str, Any] = {"alignment": scores.float(), "lower_mode": low}
    for r in READINGS:
        pair = a.readings[r].pair
        inside = pair is not None and not bool(low[pair[0]]) and not bool(low[pair[1]])
        out[metric_key("pair_in_upper_mode", r)] = float(inside)
        out[metric_key("pair_alignment_min", r)] = 0.0 if pair is None else float(min(scores[pair[0]], scores[pair[1]]))
        for m in ("u1_pair_s", "u1_pair_max_cosine", "u1_pair_min_density"):
            out[metric_key(f"sae_{m}", r)] = summary[metric_key(m, r)]
        if pair is not None:
            arrays[f"pair_{r}"] = torch.tensor(pair)
    return out, arrays


class SignedStats(NamedTuple):
    """Per-latent statistics of signed activations over a stream's counted tokens."""

    density: Float[Tensor, " d_sae"]
    """Fraction of counted tokens with f_i != 0 (either sign)."""
    corr: dict[str, Tensor]
    """Reading -> Pearson r(f_i, x . U_{-1}) per latent (0 for a latent that never varies)."""
    sample: dict[str, Tensor]
    """The first counted tokens' x . U_{-1} per reading and f of every latent (``f``), for the figure."""


def signed_stats(inputs: AntipodalInputs, max_sample: int = 5_000) -> SignedStats:
    """One pass over ``inputs``: density and r(f_i, x . U_{-1}) of every latent, f signed (float64 sums)."""
    sae = inputs.sae
    W_dec = sae.W_dec.detach()
    spectra = unembedding_readings(inputs.W_U.detach(), inputs.final_norm, inputs.settings.k_wu)
    u1 = {r: spectra[r].U[:, -1].to(torch.float64) for r in READINGS}
    d_sae = W_dec.shape[0]
    zeros = lambda: torch.zeros(d_sae, dtype=torch.float64)  # noqa: E731
    count, sf, sff = zeros(), zeros(), zeros()
    sfy = {r: zeros() for r in READINGS}
    sy = dict.fromkeys(READINGS, 0.0)
    syy = dict.fromkeys(READINGS, 0.0)
    n = 0
    kept_f, kept_y = [], {r: [] for r in READINGS}
    for batch in inputs.batches():
        x = batch.resid[batch.mask].to(W_dec.device, W_dec.dtype)
        with torch.no_grad():
            f = sae.encode(x).to("cpu", torch.float64)
        x64 = x.to("cpu", torch.float64)
        count += (f != 0).sum(0)
        sf += f.sum(0)
        sff += (f * f).sum(0)
        for r in READINGS:
            y = x64 @ u1[r].cpu()
            sfy[r] += f.T @ y
            sy[r] += float(y.sum())
            syy[r] += float((y * y).sum())
            if sum(len(k) for k in kept_y[r]) < max_sample:
                kept_y[r].append(y)
        if sum(len(k) for k in kept_f) < max_sample:
            kept_f.append(f)
        n += len(x)
    if n == 0:
        raise ValueError("the stream held no counted token")
    corr = {}
    for r in READINGS:
        cov = sfy[r] / n - (sf / n) * (sy[r] / n)
        var_f = (sff / n - (sf / n) ** 2).clamp(min=0)
        var_y = max(syy[r] / n - (sy[r] / n) ** 2, 0.0)
        denom = (var_f * var_y).sqrt()
        corr[r] = torch.where(denom > 0, cov / denom.clamp(min=1e-300), torch.zeros_like(cov))
    sample = {"f": torch.cat(kept_f)[:max_sample].float(),
              **{f"y_{r}": torch.cat(kept_y[r])[:max_sample].float() for r in READINGS}}
    return SignedStats(count / n, corr, sample)


def bipolar(inputs: AntipodalInputs) -> tuple[dict[str, float], dict[str, Any]]:
    """The SA-GSAE's side of ``cross.bipolar_absorbs_antipodal_pair``, and its best latent's sample."""
    st = inputs.settings
    stats = signed_stats(inputs)
    dense = stats.density > st.dense_threshold
    sae = inputs.sae
    pairs = pairwise_scores(sae.W_enc.detach(), sae.W_dec.detach(), chunk_size=st.chunk_size)
    score, partner = pairs.score.cpu(), pairs.partner.cpu()
    paired = dense & (score > st.pair_threshold) & dense[partner]
    out = {"sagsae_n_dense_paired": float(paired.sum()), "sagsae_n_dense": float(dense.sum())}
    arrays: dict[str, Any] = {}
    for r in READINGS:
        r_abs = torch.where(dense, stats.corr[r].abs(), torch.zeros_like(stats.corr[r]))
        best = int(r_abs.argmax())
        out[metric_key("sagsae_max_dense_abs_corr_u1", r)] = float(r_abs[best]) if bool(dense.any()) else 0.0
        out[metric_key("sagsae_best_latent_density", r)] = float(stats.density[best]) if bool(dense.any()) else 0.0
        arrays[f"sagsae_best_{r}"] = torch.tensor(best)
        arrays[f"sagsae_f_best_{r}"] = stats.sample["f"][:, best]
        arrays[f"y_{r}"] = stats.sample[f"y_{r}"]
    return out, arrays


def pair_difference_sample(a: AntipodalArrays, reading: str, max_tokens: int = 5_000) -> dict[str, Tensor]:
    """``f_i - f_j`` of an SAE's U_{-1} pair and ``x . U_{-1}`` on the first counted tokens (for the figures)."""
    r = a.readings[reading]
    if r.pair is None or r.pair_acts is None:
        return {}
    return {"diff": (r.pair_acts[:max_tokens, 0] - r.pair_acts[:max_tokens, 1]).float(),
            "y": r.resid_u1[:max_tokens].float()}
