"""The antipodal paper's tinylm tier: SAEs trained on the tiny LM's last residual stream.

Same analysis as every tier (:func:`replication.papers.antipodal.analysis.measure`); only the inputs are built
here: the tiny LM unprocessed with its raw ``W_U``, a sae-lens JumpReLU or TopK SAE (d_sae = 1024) trained on the
cached last-layer ``hook_resid_post``, and a stream over the held-out split with every layer's residual stream
and the logits. Settings and how they were chosen: ``NOTES.md``.
"""

from __future__ import annotations

import functools
from pathlib import Path

from replication.claims import Tier
from replication.lm.hooks import ActivationBatch, activation_stream, held_in_memory
from replication.lm.load import final_norm, unembedding
from replication.metrics.antipodal import output_entropy
from replication.papers.antipodal.analysis import (
    AntipodalLayerMetrics,
    AntipodalSettings,
    FinalNorm,
    StreamInputs,
    measured,
)
from replication.papers.antipodal.toy import TOPK_ONLY
from replication.targets import Analysis, Measured, Target
from replication.tinylm import (
    artifacts,
    availability,
    cached_activations,
    load_tinylm,
    sae_budget,
    tier_hook,
    window_batches,
)
from replication.training import SAESpec, train_sae

D_SAE = 1024
_TRAIN = dict(training_samples=256 * 3000, batch_size=256, lr=1e-3, normalize_activations="expected_average_only_in")
JUMPRELU = SAESpec.make("jumprelu", D_SAE, l0_coefficient=0.3, **_TRAIN)
TOPK = SAESpec.make("topk", D_SAE, k=16, **_TRAIN)
HELDOUT_BATCH = 64

_DESC = "tiny LM (4 layers, d_model 128, trained by the suite), blocks.3.hook_resid_post, held-out split"
TINYLM_JUMPRELU = Target("tinylm-antipodal-jumprelu", Tier.TINYLM, f"{_DESC}; sae-lens JumpReLU, d_sae 1024",
                         availability=availability, excluded=TOPK_ONLY)
TINYLM_TOPK = Target("tinylm-antipodal-topk", Tier.TINYLM, f"{_DESC}; sae-lens TopK k = 16, d_sae 1024",
                     availability=availability)
_SPECS = {TINYLM_JUMPRELU.name: JUMPRELU, TINYLM_TOPK.name: TOPK}


def tinylm_inputs(target: Target, seed: int | None) -> StreamInputs:
    if seed is None:
        raise ValueError(f"{target.name} needs an integer seed (it seeds the SAE's training)")
    hook = tier_hook("resid_post")
    return inputs_for(train_sae(sae_budget(_SPECS[target.name]), cached_activations(hook), seed).sae, hook)


@functools.lru_cache(maxsize=1)
def _heldout(lm: Path, stat: tuple[int, int], hook: str) -> tuple[ActivationBatch, ...]:
    """The held-out stream of the LM checkpoint ``lm`` (``stat``: its weights' size and mtime, so a rebuilt LM
    is not served from memory) at ``hook``, with every layer: one model pass for every SAE and seed a process
    measures (~450 MB for the full profile's held-out split)."""
    model = load_tinylm(lm)
    return held_in_memory(activation_stream(model, hook, window_batches("heldout", HELDOUT_BATCH), with_layers=True),
                          output_entropy)


def heldout_stream(hook: str) -> tuple[ActivationBatch, ...]:
    lm = artifacts().lm.resolve()
    weights = (lm / "model.safetensors").stat()
    return _heldout(lm, (weights.st_size, weights.st_mtime_ns), hook)


def inputs_for(sae: object, hook: str) -> StreamInputs:
    """Any SAE of the tiny LM's ``hook``: the model's raw W_U, final norm and held-out stream with every layer."""
    model = load_tinylm()
    return StreamInputs(
        sae=sae,
        W_U=unembedding(model, fold_final_norm=False),
        final_norm=FinalNorm(*final_norm(model)),
        settings=AntipodalSettings.scaled(model.cfg.d_model),
        stream=lambda: heldout_stream(hook),
    )


def measure(target: Target, seed: int | None) -> Measured:
    return measured(tinylm_inputs(target, seed))


ANALYSES = (Analysis("antipodal-tinylm", Tier.TINYLM, (TINYLM_JUMPRELU, TINYLM_TOPK), AntipodalLayerMetrics,
                     measure),)
