"""The bimodality paper's tinylm tier: the toy tier's sweeps on the tiny LM's last residual stream, plus CE
loss recovered spliced into the LM.

Same measuring code as the toy tier (:func:`replication.papers.bimodality.sweeps.sweep_arrays` on the cached
activations of the hook named ``resid_post`` in params.yaml), d_sae = 512, 1,000 steps; CE loss recovered by
:func:`replication.lm.splice.spliced_losses` on held-out windows. Settings and how they were chosen: ``NOTES.md``.
"""

from __future__ import annotations

from typing import NamedTuple

from replication.claims import Tier
from replication.lm.splice import SplicedLosses, spliced_losses
from replication.papers.bimodality.analysis import TinyLMMetrics
from replication.papers.bimodality.sweeps import (
    SweepArrays,
    SweepSettings,
    ce_recovered_metrics,
    sweep_arrays,
    sweep_measure,
    sweep_report_arrays,
)
from replication.targets import Analysis, Measured, Target
from replication.tinylm import availability, sae_budget
from replication.training import train_sae

STEPS = 1000



TINYLM_SETTINGS = SweepSettings(
    d_sae=512, d_sae_larger=1024, l1_standard=(0.5, 1.0, 2.0, 4.0), l1_aligned=(0.25, 0.5, 1.0, 2.0),
    topk_ks=(4, 32),
    train=tuple(sorted(dict(training_samples=256 * STEPS, batch_size=256, lr=3e-3, lr_warm_up_steps=STEPS // 20,
                            normalize_activations="expected_average_only_in").items())),
    l1_warm_up_steps=STEPS // 10, reference_l0=16.0, budget=sae_budget,
)
N_EVAL: int | None = None
"""Held-out cache rows for L0 / EV / dead / density (None: all 100,000)."""
CE_BATCHES = 4
CE_BATCH_SIZE = 32

TINYLM_BIMODALITY = Target(
    name="tinylm-bimodality-resid-post",
    tier=Tier.TINYLM,
    description="tiny LM (4 layers, d_model 128, trained by the suite), blocks.3.hook_resid_post: sae-lens "
                "standard vs aligned ReLU (L1 sweeps) and TopK vs aligned TopK at d_sae = 512",
    seeds=(0, 1, 2),
    availability=availability,
)


class TinyLMArrays(NamedTuple):
    """Everything the tinylm tier measures for one seed."""

    sweep: SweepArrays
    losses: SplicedLosses
    """H_orig, H_0 and H* of every ReLU sweep point, keyed ``(method, lambda)``."""


def tinylm_arrays(seed: int) -> TinyLMArrays:
    """:class:`TinyLMArrays` of one seed on the current profile."""
    from replication.tinylm import cached_activations, load_tinylm, tier_hook, window_batches
    from replication.tinylm.tokenizer import BOS_ID

    hook = tier_hook("resid_post")  # blocks.3.hook_resid_post on the full profile
    data = cached_activations(hook)
    s = TINYLM_SETTINGS
    sweep = sweep_arrays(s, data, data.eval_batch(N_EVAL), seed)
    saes = {**{("standard", lam): train_sae(s.standard_spec(lam), data, seed).sae for lam in s.l1_standard},
            **{("aligned", lam): train_sae(s.aligned_spec(lam), data, seed).sae for lam in s.l1_aligned}}
    batches = window_batches("heldout", CE_BATCH_SIZE, max_batches=CE_BATCHES)
    return TinyLMArrays(sweep, spliced_losses(load_tinylm(), hook, saes, batches, ignore_tokens=(BOS_ID,)))


def measure(target: Target, seed: int | None) -> Measured:
    """:func:`sweep_measure` plus CE loss recovered per ReLU sweep point and its worst aligned - standard gap
    at matched L0 (reported beside ``aligned_pareto``'s EV condition), and the figures' arrays."""
    if seed is None:
        raise ValueError(f"{target.name} needs an integer seed (it seeds the SAEs' training)")
    arr = tinylm_arrays(seed)
    plumbing = TINYLM_SETTINGS.plumbing_only
    out = sweep_measure(arr.sweep, allow_disjoint=plumbing)
    out.update(ce_recovered_metrics(arr.losses, arr.sweep.relu_sweep, plumbing))
    return Measured(out, sweep_report_arrays(arr.sweep))


ANALYSES = (Analysis("bimodality-tinylm", Tier.TINYLM, (TINYLM_BIMODALITY,), TinyLMMetrics, measure),)
