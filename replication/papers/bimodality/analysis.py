"""Measurement of the ``bimodality.*`` distribution claims from one SAE: its alignment scores and dead set.

Target-agnostic: :func:`alignment_arrays` reads only an SAE's weights, its activations on evaluation tokens
(or a dead-latent window) and, optionally, a larger SAE trained on the same activations;
:func:`alignment_metrics` turns them into the metrics of ``scores_bimodal``, ``good_cluster_at_one``,
``dead_cluster_at_zero`` and ``mcs_correlation``. The sweeps that every tier training its own SAEs runs are
in :mod:`.sweeps`; the metric sets each tier's analysis declares are below.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from jaxtyping import Bool, Float
from torch import Tensor

from replication.checks import check_finite_weights, check_sae_input
from replication.density import FireCounter
from replication.lm.hooks import ActivationBatch
from replication.metrics import DeadWindow, activation_density, activation_density_over
from replication.metrics.bimodality import (
    Bimodality,
    alignment_scores,
    bimodality,
    jaccard,
    max_cosine_similarity,
    pearson,
)
from replication.targets import MetricSet, metric


class AlignmentArrays(NamedTuple):
    """Per-latent arrays of one SAE, from which the distribution claims' metrics are derived."""

    alignment: Float[Tensor, " d_sae"]
    """a_i = W_enc[:, i] . W_dec[i] (sae-lens orientation; paper eq. 1)."""
    stats: Bimodality
    """Dip test, Sarle's BC, two-component mixture of ``alignment`` and the verdict."""
    density: Float[Tensor, " d_sae"]
    """Firing frequency on the evaluation tokens."""
    dead: Bool[Tensor, " d_sae"]
    """Never active on the evaluation tokens."""
    mcs: Float[Tensor, " d_sae"] | None
    """Max cosine of each decoder direction with a larger SAE's (None without one)."""
    n_tokens: int
    """Evaluation tokens the dead set was measured on (the window of "dead": reported beside the claims)."""


def _density(sae: Any, x: Tensor, dead_window: DeadWindow | None) -> tuple[Tensor, int]:
    """Firing frequency of every latent, on ``x`` or (if given) on every chunk of ``dead_window``."""
    if dead_window is None:
        with torch.no_grad():
            return activation_density(sae.encode(x)), len(x)
    return activation_density_over(sae.encode, dead_window)


def alignment_arrays(sae: Any, x: Float[Tensor, "tokens d_in"], larger: Any | None = None,
                     dead_window: DeadWindow | None = None) -> AlignmentArrays:
    """Alignment scores, their bimodality, density/dead set (on ``x``, or ``dead_window``) and MCS (if
    ``larger``) of one SAE."""
    check_sae_input(sae, x)
    check_finite_weights(sae)
    with torch.no_grad():
        a = alignment_scores(sae.W_enc.detach(), sae.W_dec.detach())
        mcs = None
        if larger is not None:
            check_finite_weights(larger)
            mcs = max_cosine_similarity(sae.W_dec.detach(), larger.W_dec.detach())
    density, n = _density(sae, x, dead_window)
    return AlignmentArrays(a, bimodality(a), density, density == 0, mcs, n)


def stream_alignment_arrays(sae: Any, batches: Iterable[ActivationBatch], name: str = "SAE") -> AlignmentArrays:
    """Alignment scores of an SAE and its dead set over an activation stream (only counted tokens: BOS and pad
    excluded), e.g. :func:`replication.lm.hooks.activation_stream` of a model at the SAE's hook.

    a_i is read from the SAE as sae-lens loads it (``W_enc``, ``W_dec``); a rescaling of encoder row and decoder
    column by c and 1/c (which a decoder-norm fold is) leaves a_i unchanged (§3.1).
    """
    counter = FireCounter(sae)  # exactly fire_counts(sae.encode(x), mask), at the encoder GEMM's speed
    for batch in batches:
        counter.update(batch.resid.to(sae.W_dec.device, sae.W_dec.dtype), batch.mask.to(sae.W_dec.device))
    n = counter.n_tokens
    if n == 0:
        raise ValueError(f"{name}: the token stream held no counted token")
    density = counter.counts.to(torch.float64).cpu() / n
    a = alignment_scores(sae.W_enc.detach().float().cpu(), sae.W_dec.detach().float().cpu())
    return AlignmentArrays(a, bimodality(a), density, density == 0, None, n)


def alignment_metrics(arr: AlignmentArrays) -> dict[str, float]:
    """The distribution claims' metrics from :class:`AlignmentArrays`.

    ``jaccard_low_mode_dead`` is Jaccard(latents assigned to the lower mixture component, dead latents);
    with no dead latent and an empty lower component it is undefined and reported as 0 (nothing to match).
    """
    mix = arr.stats.mixture
    low = mix.lower
    out = {
        "dip_test_p": float(arr.stats.dip_p),
        "dip_statistic": float(arr.stats.dip),
        "sarle_bimodality_coefficient": float(arr.stats.bc),
        "bimodal": float(arr.stats.bimodal),
        "lower_mode": float(mix.means[0]),
        "upper_mode": float(mix.means[1]),
        "upper_mode_weight": float(mix.weights[1]),
        "abs_upper_mode_minus_one": abs(float(mix.means[1]) - 1.0),
        "dead_fraction": float(arr.dead.double().mean()),
        "n_dead": float(arr.dead.sum()),
        "dead_window_tokens": float(arr.n_tokens),
        "low_mode_fraction": float(low.double().mean()),
        "jaccard_low_mode_dead": float(jaccard(low, arr.dead)) if bool((low | arr.dead).any()) else 0.0,
    }
    if arr.mcs is not None:
        out["pearson_alignment_mcs"] = float(pearson(arr.alignment, arr.mcs))
    return out


def histogram_arrays(arr: AlignmentArrays, prefix: str) -> dict[str, Any]:
    """One SAE's per-latent arrays for the report's histograms, keys prefixed with ``prefix``: a_i, firing
    frequency, dead mask, MCS if any, the lower mixture component and the bimodality statistics."""
    mix = arr.stats.mixture
    out: dict[str, Any] = {
        "alignment": arr.alignment, "density": arr.density, "dead": arr.dead, "mcs": arr.mcs,
        "low_mode": mix.lower, "mixture_means": mix.means, "mixture_sds": mix.stds,
        "mixture_weights": mix.weights, "dip_p": float(arr.stats.dip_p), "bc": float(arr.stats.bc),
    }
    return {f"{prefix}{k}": (v.detach().cpu() if isinstance(v, Tensor) else v) for k, v in out.items()}


# ------------------------------------------------------------------------------------ declared metrics


@dataclass(frozen=True)
class DistributionMetrics(MetricSet):
    """Fig 1 and §4 from one SAE's scores (the pretrained SAEs of the real tier)."""

    dip_test_p: float = metric("Hartigan's dip test p-value of the alignment scores a_i")
    sarle_bimodality_coefficient: float = metric("Sarle's bimodality coefficient of a_i")
    abs_upper_mode_minus_one: float = metric("|upper mean of a two-component mixture of a_i - 1|")


@dataclass(frozen=True)
class ReluSweepMetrics(MetricSet):
    """Standard vs aligned ReLU sweeps and the reference standard SAE's dead set and MCS."""

    ev_gap_min_over_l0_overlap: float = metric("worst aligned - standard explained variance at matched L0")
    aligned_dead_fraction: float = metric("the largest dead fraction of any aligned ReLU point")
    aligned_minus_standard_dead_fraction: float = metric("largest aligned - standard dead fraction at matched L0")
    pearson_alignment_mcs: float = metric("Pearson r(a_i, MCS against the larger dictionary) (§4.2)")
    jaccard_low_mode_dead: float = metric("Jaccard(lower mixture component, dead latents) (§5.4)")
    n_dead: float = metric("dead latents of the reference standard SAE")
    dead_window_tokens: float = metric("tokens of the window on which 'dead' was judged")


@dataclass(frozen=True)
class TrainingCellMetrics(ReluSweepMetrics):
    """A real-tier training cell: the ReLU sweeps and CE loss recovered on the model."""

    ce_recovered_gap_min_over_l0_overlap: float = metric("worst aligned - standard CE loss recovered at matched L0")


@dataclass(frozen=True)
class SweepMetrics(DistributionMetrics, ReluSweepMetrics):
    """Everything :func:`replication.papers.bimodality.sweeps.sweep_measure` gives (every tier that trains)."""

    max_abs_alignment_minus_one_during_training: float = metric("max |a_i - 1| over every step of aligned runs")
    topk_gain_smallest_minus_largest_k: float = metric("EV gain of aligned TopK at the smallest minus largest k")
    topk_dead_aligned_minus_standard_at_smallest_k: float = metric("aligned - standard TopK dead fraction, smallest k")
    topk_dead_fraction_at_smallest_k: float = metric("standard TopK's dead fraction at the smallest k")
    bimodality_coefficient_end_minus_first_checkpoint: float = metric("Sarle's BC at the end minus the first snapshot")


@dataclass(frozen=True)
class TinyLMMetrics(SweepMetrics):
    """The tinylm tier: the sweeps and CE loss recovered on the tiny LM."""

    ce_recovered_gap_min_over_l0_overlap: float = metric("worst aligned - standard CE loss recovered at matched L0")


@dataclass(frozen=True)
class ToyMetrics(SweepMetrics):
    """The toy tier: the sweeps and the toy-only checks."""

    max_abs_alignment_change_under_rescale: float = metric("max |Δa_i| when latents are rescaled by c, 1/c (§3.1)")
    abs_alignment_minus_one: float = metric("|a - 1| of the §3.2 fixed-point model")
    max_abs_reconstruction_error_compressed: float = metric("max |x_hat_compressed - x_hat| (§5: compression)")
    parameter_saving_minus_m: float = metric("parameters saved by compression minus m")
