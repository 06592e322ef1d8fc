"""The antipodal analysis on the tinylm tier: SAEs trained on the tiny LM's last residual stream.

Same analysis as every tier (:func:`replication.analyses.antipodal.measure`); only the inputs are built
here. The tiny LM (4 layers, d_model 128, replication.tinylm) is read unprocessed, ``W_U`` raw (no final-norm
fold); the SAE reads the last layer's ``hook_resid_post`` (``blocks.3`` on the ``full`` profile; as the
paper's GPT-2 and LLaMA settings);
the stream is the held-out split (every window starts with BOS, which the analysis excludes), with every
layer's ``hook_resid_post`` for the depth trend of Fig 2b and the model's logits for the entropy of Fig 2c.
k_pc and k_wu keep the paper's fractions of Gemma's d_model (300/2304, 10/2304): 17 PCs, 1 W_U vector.

SAEs, trained on the cached train-split activations (1M tokens) through sae-lens with its activation
normalisation (``expected_average_only_in``, folded into the weights after training), d_sae = 1024 (8x,
close to Gemma Scope's 16k / 2304 = 7x), 3,000 steps of 256, lr 1e-3:

- JumpReLU as in Gemma Scope (step L0 loss, straight-through to the threshold only). ``l0_coefficient`` set
  for an L0 near d_in / 8 = 16, a choice made before any claim was measured: on seed 0, 0.3 / 1 / 3 gave L0
  16.8 / 9.0 / 5.8, explained variance 0.899 / 0.861 / 0.830, dead 0.001 / 0.001 / 0.007.
- TopK as in the GPT-2 (OpenAI) and Llama Scope SAEs, k = 16 (the same L0).
"""

from __future__ import annotations

from replication.analyses.antipodal import (
    PROVIDES_WITH_LAYERS,
    TOPK_ONLY,
    AntipodalSettings,
    FinalNorm,
    StreamInputs,
    hooked_transformer_batches,
    register_tier,
)
from replication.claims import Tier
from replication.models import final_norm, unembedding
from replication.targets import ANALYSES, Target
from replication.tinylm import CachedActivations, availability, load_tinylm, sae_budget, tier_hooks, token_batches
from replication.training import ToySAESpec, train_toy_sae
from replication.verdict import Status

D_SAE = 1024
_TRAIN = dict(training_samples=256 * 3000, batch_size=256, lr=1e-3, normalize_activations="expected_average_only_in")
JUMPRELU = ToySAESpec.make("jumprelu", D_SAE, l0_coefficient=0.3, **_TRAIN)
TOPK = ToySAESpec.make("topk", D_SAE, k=16, **_TRAIN)
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
    hook = tier_hooks().resid_post
    sae = train_toy_sae(sae_budget(_SPECS[target.name]), CachedActivations.open(hook), seed).sae
    model = load_tinylm()
    return StreamInputs(
        sae=sae,
        W_U=unembedding(model, fold_final_norm=False),
        final_norm=FinalNorm(*final_norm(model)),
        settings=AntipodalSettings.scaled(model.cfg.d_model),
        stream=lambda: hooked_transformer_batches(model, hook, token_batches("heldout", HELDOUT_BATCH),
                                                  with_layers=True),
    )


register_tier(Tier.TINYLM, {TINYLM_JUMPRELU: tinylm_inputs, TINYLM_TOPK: tinylm_inputs}, PROVIDES_WITH_LAYERS)


# ------------------------------------------------------------------------------------------ expected
# In words (the numbers are in the test output and the report). The tiny LM's W_U has no dark subspace: its
# bottom singular values sit near the median under both readings (the wu-spectrum figure), so there is no
# U_{-1} signal for a pair to reconstruct, and its SAEs hold no dense antipodal pair.
_NO_DARK = "the tiny LM's W_U has no dark subspace (its smallest singular values are near the median)"
_NO_PAIR = ("the dense latent nearest U_{-1} is not antipodal to its s-partner, which is not dense, and their "
            f"difference does not track U_{{-1}}: {_NO_DARK}")
_J, _T = TINYLM_JUMPRELU.name, TINYLM_TOPK.name
_EXPECTED: tuple[tuple[str, str, Status, str], ...] = (
    ("antipodal.u1_norm_rises_with_depth", _J, Status.NOT_REPLICATED,
     f"the final layer's fraction along U_{{-1}} is below an earlier layer's (a property of the LM): {_NO_DARK}"),
    ("antipodal.u1_norm_rises_with_depth", _T, Status.NOT_REPLICATED,
     f"the final layer's fraction along U_{{-1}} is below an earlier layer's (a property of the LM): {_NO_DARK}"),
    ("antipodal.u1_tracks_entropy", _J, Status.NOT_REPLICATED,
     f"the correlation is significant but weak (a property of the LM): {_NO_DARK}"),
    ("antipodal.u1_tracks_entropy", _T, Status.NOT_REPLICATED,
     f"the correlation is significant but weak (a property of the LM): {_NO_DARK}"),
    ("antipodal.no_duplicate_pairs", _J, Status.INCONCLUSIVE, "no latent has s > 0.9: nothing to judge"),
    ("antipodal.no_duplicate_pairs", _T, Status.INCONCLUSIVE, "no latent has s > 0.9: nothing to judge"),
    ("antipodal.sparse_bulk", _T, Status.NOT_REPLICATED, "a few more latents than 3% are outliers or dense"),
    ("antipodal.outliers_mostly_dense", _T, Status.NOT_REPLICATED,
     "TopK's outliers are sparse latents: its dense latents do not read the top PCs"),
    ("antipodal.enc_dec_aligned_when_dense", _T, Status.NOT_REPLICATED,
     "TopK has no dense outlier on most seeds, so there is no group to compare"),
)
for _target in (_J, _T):
    _EXPECTED += (
        ("antipodal.dense_are_outliers", _target, Status.NOT_REPLICATED,
         "most dense latents do not read the top residual PCs"),
        ("antipodal.dense_latents_paired", _target, Status.NOT_REPLICATED,
         "no latent with density > 0.3 has s > 0.9: the SAEs hold no antipodal pair"),
        ("antipodal.pc_wu_co_composition", _target, Status.NOT_REPLICATED,
         f"composition with the top PCs does not go with composition with the bottom of W_U: {_NO_DARK}"),
        ("antipodal.pairs_are_antipodal", _target, Status.NOT_REPLICATED, _NO_PAIR),
        ("antipodal.pair_never_coactive", _target, Status.NOT_REPLICATED, _NO_PAIR),
        ("antipodal.pair_diff_tracks_u1", _target, Status.NOT_REPLICATED, _NO_PAIR),
    )
for _claim, _target, _status, _why in _EXPECTED:
    ANALYSES.expect(_claim, _target, _status, _why)
