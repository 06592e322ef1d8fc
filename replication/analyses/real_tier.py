"""Wiring of the LM targets (real tier, and test fixtures in the real formats) into the papers' analyses.

The analyses are target-agnostic: this module only turns an :class:`~replication.real.LMTargetSpec` into
the inputs an analysis reads (model + SAE + W_U + token stream) and registers the real-tier targets.
"""

from __future__ import annotations

from replication.analyses.antipodal import (
    PROVIDES_WITH_LAYERS,
    AntipodalSettings,
    StreamInputs,
    hooked_transformer_batches,
    register_tier,
)
from replication.claims import Tier
from replication.models import unembedding
from replication.real import ANTIPODAL_TARGETS, LMTargetSpec
from replication.targets import Target

_SPECS: dict[str, LMTargetSpec] = {}


def antipodal_lm_inputs(spec: LMTargetSpec, settings: AntipodalSettings | None = None) -> StreamInputs:
    """The antipodal analysis' inputs for an LM target: the SAE's hook, raw W_U, every layer's resid_post."""
    model, sae = spec.load()
    if sae.cfg.d_in != model.cfg.d_model:
        raise ValueError(f"{spec.name}: SAE d_in {sae.cfg.d_in} != model d_model {model.cfg.d_model}")
    if settings is None:
        # the paper's k = 300 on every real model (Gemma 2304, GPT-2 768, LLaMA 4096 dims); tiny test
        # fixtures keep the paper's fraction of d_model instead
        d_model = model.cfg.d_model
        settings = AntipodalSettings() if d_model > 300 else AntipodalSettings.scaled(d_model)
    return StreamInputs(
        sae=sae,
        W_U=unembedding(model, fold_final_norm=False).float(),
        settings=settings,
        stream=lambda: hooked_transformer_batches(model, spec.hook_name, spec.tokens(model), with_layers=True),
    )


def _factory(target: Target, seed: int | None) -> StreamInputs:
    return antipodal_lm_inputs(_SPECS[target.name])


def register_lm_targets(tier: Tier, specs: tuple[LMTargetSpec, ...]) -> None:
    """Register LM targets of one tier with the antipodal analysis."""
    for spec in specs:
        if spec.tier is not tier:
            raise ValueError(f"{spec.name} is a {spec.tier.value} target, not {tier.value}")
        _SPECS[spec.name] = spec
    register_tier(tier, {spec.target(): _factory for spec in specs}, PROVIDES_WITH_LAYERS)


register_lm_targets(Tier.REAL, ANTIPODAL_TARGETS)
