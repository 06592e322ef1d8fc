"""The bimodality paper's toy tier: Zipf-frequency features in superposition, and two negative controls.

:data:`TOY_POWER_LAW`: :class:`toy_models.PowerLawFeatureToy` (256 features with Zipf(1) frequencies, ~6 active
per token, in 32 dimensions); every SAE has d_sae = 128, 800 steps of 256 samples, Adam lr 5e-3 (40 warm-up
steps, 80 L1 warm-up steps). ReLU sweeps: sae-lens ``standard`` at lambda in {0.25, 0.5, 1, 2} and
``replication-aligned-standard`` at {0.03, 0.1, 0.3, 1}; TopK and aligned TopK at k in {2, 16}. Toy-only:
scale invariance, the §3.2 fixed point (plain torch: no biases), compression. Controls: untrained SAEs
(:data:`TOY_FRESH_INIT`, unimodal by construction) and a trained SAE with as many latents as orthogonal
features (:data:`TOY_ORTHOGONAL`: no superposition, nothing to die). How the settings were chosen:
``NOTES.md``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from jaxtyping import Float
from torch import Tensor

from replication.claims import Tier
from replication.metrics.bimodality import alignment_scores, bimodality, rescale_latents
from replication.papers.bimodality.analysis import (
    AlignmentArrays,
    ToyMetrics,
    alignment_arrays,
    alignment_metrics,
    histogram_arrays,
)
from replication.papers.bimodality.sweeps import (
    N_CHECKPOINTS,
    SweepArrays,
    SweepSettings,
    sweep_arrays,
    sweep_measure,
    sweep_report_arrays,
)
from replication.saes.aligned import compressed_parameter, parameter_count
from replication.targets import Analysis, Measured, Target
from replication.training import SAESpec, build_training_sae, train_sae
from toy_models import PowerLawFeatureToy

D_SAE = 128
D_SAE_LARGER = 256
L1_STANDARD = (0.25, 0.5, 1.0, 2.0)
L1_ALIGNED = (0.03, 0.1, 0.3, 1.0)
TOPK_KS = (2, 16)
N_EVAL = 16_384
STEPS = 800
_TRAIN = dict(training_samples=256 * STEPS, batch_size=256, lr=5e-3, lr_warm_up_steps=40)
_L1_WARMUP = 80


TOY_SETTINGS = SweepSettings(
    d_sae=D_SAE, d_sae_larger=D_SAE_LARGER, l1_standard=L1_STANDARD, l1_aligned=L1_ALIGNED, topk_ks=TOPK_KS,
    train=tuple(sorted(_TRAIN.items())), l1_warm_up_steps=_L1_WARMUP,
    reference_l0=6.0,  # the toy's planted L0 (toy_data(seed).expected_l0)
)

TOY_POWER_LAW = Target(
    name="toy-power-law",
    tier=Tier.TOY,
    description="256 Zipf-frequency sparse features in 32 dimensions; sae-lens standard vs aligned ReLU "
                "(L1 sweeps) and TopK vs aligned TopK at d_sae = 128",
    seeds=(0, 1, 2),
)
TOY_FRESH_INIT = Target(
    name="toy-fresh-init",
    tier=Tier.TOY,
    description="negative control: untrained sae-lens standard SAEs (kaiming init, W_enc = W_dec^T), whose "
                "alignment scores are unimodal",
    seeds=(0, 1, 2),
    control=True,
)


TOY_ORTHOGONAL = Target(
    name="toy-orthogonal",
    tier=Tier.TOY,
    description="negative control (trained): 32 orthogonal features in 32 dimensions, each firing with p = 6/32, "
                "and a sae-lens standard ReLU SAE of 32 latents at the reference's lambda 1: no superposition, "
                "so every latent can learn one feature and none need die",
    seeds=(0, 1, 2),
    control=True,
)
ORTHOGONAL_L1 = 1.0
"""The toy's usual reference lambda (the L1 sweep point nearest the planted L0 on every seed)."""


def orthogonal_data(seed: int) -> PowerLawFeatureToy:
    """As many features as dimensions, orthogonal (sae-lens's orthogonalising init), equally frequent."""
    return PowerLawFeatureToy(d_in=32, n_features=32, expected_l0=6.0, zipf_exponent=0.0, seed=seed)


def toy_data(seed: int) -> PowerLawFeatureToy:
    return PowerLawFeatureToy(d_in=32, n_features=256, expected_l0=6.0, zipf_exponent=1.0, seed=seed)


def standard_spec(l1: float, d_sae: int = D_SAE, n_checkpoints: int = N_CHECKPOINTS) -> SAESpec:
    return TOY_SETTINGS.standard_spec(l1, d_sae, n_checkpoints)


def aligned_spec(l1: float, compress: bool = False) -> SAESpec:
    return TOY_SETTINGS.aligned_spec(l1, compress)


def topk_spec(k: int, aligned: bool) -> SAESpec:
    return TOY_SETTINGS.topk_spec(k, aligned)


def fixed_point_toy(seed: int, steps: int = 3000, lr: float = 1e-2) -> tuple[float, float]:
    """§3.2: n = 2, m = 1, one training point, no biases, no sparsity penalty; returns (|a - 1|, error).

    ``f = ReLU(w_enc . x)``, ``x_hat = f w_dec``, loss ``||x_hat - x||^2``, Adam. x ~ N(0, I_2) and the
    dictionary_learning init (``w_enc = w_dec = w``, ``w`` a random direction of norm 0.1), with the sign of
    ``w`` chosen so that the feature is active on x at init (``w . x > 0``): the derivation of §3.2 assumes a
    reconstruction through an active ReLU, and a feature dead at init gets no gradient. Error:
    ``||x_hat - x|| / ||x||`` at the end.
    """
    g = torch.Generator().manual_seed(7_000 + seed)
    x = torch.randn(2, generator=g, dtype=torch.float32)
    w = torch.randn(2, generator=g, dtype=torch.float32)
    w = w / w.norm() * 0.1
    if float(w @ x) < 0:
        w = -w
    w_enc, w_dec = torch.nn.Parameter(w.clone()), torch.nn.Parameter(w.clone())
    opt = torch.optim.Adam([w_enc, w_dec], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = (torch.relu(w_enc @ x) * w_dec - x).pow(2).sum()
        loss.backward()
        opt.step()
    with torch.no_grad():
        a = float(alignment_scores(w_enc.view(2, 1), w_dec.view(1, 2))[0])
        err = float((torch.relu(w_enc @ x) * w_dec - x).norm() / x.norm())
    return abs(a - 1.0), err


def compression_check(sae: Any, x: Float[Tensor, "tokens d_in"]) -> tuple[float, int]:
    """(max |x_hat_compressed - x_hat|, parameters saved - m) for a trained full aligned ReLU SAE.

    The compressed SAE gets ``A' = compressed_parameter(A, W_dec)`` (last row of ``A`` at zero) and the
    same ``W_dec``, ``b_enc``, ``b_dec``; both reconstruct the evaluation tokens, in float64 (the trained
    weights cast up). The parameter counts are those of freshly built training SAEs of both variants.
    """
    from sae_lens import SAE

    # in float64: the claim is exact algebra, and A' = A - (A[-1] / W_dec[:, -1]) W_dec divides by the
    # decoder's last coordinate, which amplifies float32 rounding where that coordinate is small
    cfg = {**sae.cfg.to_dict(), "dtype": "float64"}
    full = SAE.from_dict(cfg)
    small = SAE.from_dict({**cfg, "compress_last_column": True})
    with torch.no_grad():
        weights = {k: v.detach().to(torch.float64) for k, v in sae.state_dict().items()}
        full.load_state_dict(weights)
        small.load_state_dict({**{k: v.clone() for k, v in weights.items() if k != "A"},
                               "A": compressed_parameter(weights["A"], weights["W_dec"])})
        x64 = x.to(torch.float64)
        err = float((small(x64) - full(x64)).abs().max())
    full_spec, small_spec = aligned_spec(1.0), aligned_spec(1.0, compress=True)  # lambda does not count
    saved = (parameter_count(build_training_sae(full_spec, sae.cfg.d_in))
             - parameter_count(build_training_sae(small_spec, sae.cfg.d_in)))
    return err, saved - sae.cfg.d_sae


class ToyArrays(NamedTuple):
    """Everything the toy tier measures for one seed (the report plots from it)."""

    sweep: SweepArrays
    """The shared sweeps (:func:`sweep_arrays` on :data:`TOY_SETTINGS`)."""
    rescale_change: float
    fixed_point: tuple[float, float]
    compression: tuple[float, int]


def toy_arrays(seed: int) -> ToyArrays:
    data = toy_data(seed)
    x = data.sample(N_EVAL, torch.Generator().manual_seed(1_000_003 + seed))
    sweep = sweep_arrays(TOY_SETTINGS, data, x, seed)
    # toy-only: scale invariance on the reference's weights, the §3.2 fixed point, compression for free
    ref = train_sae(TOY_SETTINGS.standard_spec(sweep.reference_l1), data, seed).sae  # memoised
    g = torch.Generator().manual_seed(5_000 + seed)
    c = torch.exp(torch.empty(D_SAE).uniform_(math.log(1e-2), math.log(1e2), generator=g))
    w_enc, w_dec = ref.W_enc.detach(), ref.W_dec.detach()
    change = float((alignment_scores(*rescale_latents(w_enc, w_dec, c)) - alignment_scores(w_enc, w_dec)).abs().max())
    aligned_max = train_sae(TOY_SETTINGS.aligned_spec(max(L1_ALIGNED)), data, seed).sae  # memoised
    return ToyArrays(sweep, change, fixed_point_toy(seed), compression_check(aligned_max, x))


def _control_sae(seed: int) -> Any:
    """A freshly initialised sae-lens standard SAE (plain kaiming init), the same for a given seed."""
    torch.manual_seed(seed)
    return build_training_sae(SAESpec.make("standard", D_SAE, decoder_init_norm=None), toy_data(seed).d_in)


def _control(seed: int) -> dict[str, float]:
    """Bimodality statistics of a freshly initialised sae-lens standard SAE (plain kaiming init)."""
    sae = _control_sae(seed)
    stats = bimodality(alignment_scores(sae.W_enc.detach(), sae.W_dec.detach()))
    out = dict.fromkeys(ToyMetrics.names(), math.nan)
    out.update({"dip_test_p": float(stats.dip_p), "sarle_bimodality_coefficient": float(stats.bc)})
    return out


def _orthogonal_arrays(seed: int) -> AlignmentArrays:
    """The trained control: a standard SAE with as many latents as orthogonal features."""
    data = orthogonal_data(seed)
    sae = train_sae(TOY_SETTINGS.standard_spec(ORTHOGONAL_L1, d_sae=data.n_features, n_checkpoints=0),
                        data, seed).sae
    return alignment_arrays(sae, data.sample(N_EVAL, torch.Generator().manual_seed(1_000_003 + seed)))


def measure(target: Target, seed: int | None) -> Measured:
    """The toy tier's metrics and the arrays behind the report's figures (Figs 1/7, 2 and 16).

    Positive target: :func:`sweep_measure` of the seed's sweeps and the toy-only checks. Untrained control:
    the fresh-init SAE's bimodality statistics, and its a_i and firing frequency on the evaluation tokens.
    Trained control: the distribution metrics of the orthogonal toy's SAE.
    """
    if seed is None:
        raise ValueError(f"toy target {target.name} needs an integer seed")
    if target is TOY_ORTHOGONAL:
        arr = _orthogonal_arrays(seed)
        out = dict.fromkeys(ToyMetrics.names(), math.nan)  # only the distribution claims are bound to this control
        out.update(alignment_metrics(arr))
        return Measured(out, histogram_arrays(arr, "reference_"))
    if target.control:
        data = toy_data(seed)
        x = data.sample(N_EVAL, torch.Generator().manual_seed(1_000_003 + seed))
        return Measured(_control(seed), histogram_arrays(alignment_arrays(_control_sae(seed), x), "reference_"))
    arr = toy_arrays(seed)
    out = sweep_measure(arr.sweep)
    out["max_abs_alignment_change_under_rescale"] = arr.rescale_change
    out["abs_alignment_minus_one"], out["fixed_point_relative_error"] = arr.fixed_point
    out["max_abs_reconstruction_error_compressed"] = arr.compression[0]
    out["parameter_saving_minus_m"] = float(arr.compression[1])
    return Measured(out, sweep_report_arrays(arr.sweep))


ANALYSES = (Analysis("bimodality-toy", Tier.TOY, (TOY_POWER_LAW, TOY_FRESH_INIT, TOY_ORTHOGONAL), ToyMetrics, measure),)
