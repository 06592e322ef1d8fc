"""The antipodal paper's real tier: its three model + SAE settings, streamed over C4.

Gemma 2 2B + Gemma Scope 16k (layer 25), GPT-2 small + OpenAI TopK 32k, LLaMA 3.1 8B + Llama Scope 32k (catalog,
Paper A). Each target's inputs: the SAE at its hook, the raw ``W_U`` and the final norm (both readings are made
from them), and every layer's ``resid_post`` over the spec's token stream.
"""

from __future__ import annotations

from replication.claims import Tier
from replication.lm.hooks import activation_stream
from replication.lm.load import SAESource, final_norm, unembedding
from replication.lm.spec import LMTargetSpec
from replication.papers.antipodal.analysis import (
    AntipodalLayerMetrics,
    AntipodalSettings,
    FinalNorm,
    StreamInputs,
    measured,
)
from replication.targets import Analysis, Measured, Target


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
        final_norm=FinalNorm(*final_norm(model)),
        settings=settings,
        stream=lambda: activation_stream(model, spec.hook_name, spec.tokens(model), with_layers=True),
    )


def lm_analysis(name: str, tier: Tier, specs: tuple[LMTargetSpec, ...]) -> Analysis:
    """The antipodal analysis over LM targets of one tier (the real tier's, or a test's fixtures)."""
    by_name = {}
    for spec in specs:
        if spec.tier is not tier:
            raise ValueError(f"{spec.name} is a {spec.tier.value} target, not {tier.value}")
        by_name[spec.name] = spec

    def measure(target: Target, seed: int | None) -> Measured:
        return measured(antipodal_lm_inputs(by_name[target.name]))

    return Analysis(name, tier, tuple(s.target() for s in specs), AntipodalLayerMetrics, measure)


#: the antipodal paper's three settings (catalog, Paper A)
ANTIPODAL_TARGETS = (
    LMTargetSpec("gemma-2-2b-gemmascope-16k-l25", "Gemma 2 2B + Gemma Scope 16k JumpReLU, resid layer 25",
                 "google/gemma-2-2b", SAESource("gemma-scope-2b-pt-res-canonical", "layer_25/width_16k/canonical"),
                 "blocks.25.hook_resid_post", dtype="bfloat16",
                 excluded=(("antipodal.cross_model_trend", "§3.4 makes the trend claim for TopK SAEs only; Gemma "
                                                           "Scope is JumpReLU"),)),
    LMTargetSpec("gpt2-small-oai-topk-32k-l11", "GPT-2 small + OpenAI TopK 32k, resid_post layer 11",
                 "gpt2", SAESource("gpt2-small-resid-post-v5-32k", "blocks.11.hook_resid_post"),
                 "blocks.11.hook_resid_post"),
    LMTargetSpec("llama-3.1-8b-llamascope-32k-l31", "LLaMA 3.1 8B + Llama Scope 32k (8x), resid layer 31",
                 "meta-llama/Llama-3.1-8B", SAESource("llama_scope_lxr_8x", "l31r_8x"),
                 "blocks.31.hook_resid_post", dtype="bfloat16", batch_size=4),
)

ANALYSES = (lm_analysis("antipodal-real", Tier.REAL, ANTIPODAL_TARGETS),)
