"""Wiring of the LM targets (real tier, and test fixtures in the real formats) into the papers' analyses.

The analyses are target-agnostic: this module only turns an :class:`~replication.real.LMTargetSpec` into
the inputs an analysis reads (model + SAE + W_U + token stream) and registers the real-tier targets:

- antipodal: Gemma 2 2B + Gemma Scope 16k (layer 25), GPT-2 small + OpenAI TopK 32k, LLaMA 3.1 8B + Llama
  Scope 32k — every claim of the paper that lists the real tier;
- bimodality: the SAEs of the paper's Fig 1 (Pythia-70m res-sm, LLaMA-3-8B-it res-jh, SAEBench Gemma-2-2B
  TopK 4k) — the distribution claims of Fig 1 and §4 (``scores_bimodal``, ``good_cluster_at_one``),
  from the SAE's weights and its firing counts over the token stream. The claims that need SAEs trained by
  the suite on real activations (``aligned_pareto``, ``aligned_no_dead``, ``mcs_correlation``, and every
  sagsae claim of the real tier) are in :mod:`replication.analyses.real_training`.
"""

from __future__ import annotations

from replication.analyses.antipodal import (
    PROVIDES_WITH_LAYERS,
    AntipodalSettings,
    FinalNorm,
    StreamInputs,
    hooked_transformer_batches,
    register_tier,
)
import torch

from replication.analyses.bimodality import AlignmentArrays, alignment_metrics, histogram_arrays
from replication.claims import Tier
from replication.metrics import fire_counts
from replication.metrics.bimodality import alignment_scores, bimodality
from replication.models import SAESource, final_norm, unembedding
from replication.real import ANTIPODAL_TARGETS, LMTargetSpec, TextSource
from replication.targets import ANALYSES, Analysis, Target

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
        final_norm=FinalNorm(*final_norm(model)),
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


# ------------------------------------------------------------------------------------------ bimodality

#: the SAEs of the bimodality paper's Fig 1 (catalog, Paper B); OpenWebText-like text, as its §5.1 tests on
BIMODALITY_TARGETS = (
    LMTargetSpec("pythia-70m-deduped-res-sm-l3", "Pythia-70m-deduped + res-sm SAE (32k ReLU), resid_post layer 3",
                 "pythia-70m-deduped", SAESource("pythia-70m-deduped-res-sm", "blocks.3.hook_resid_post"),
                 "blocks.3.hook_resid_post", text=TextSource("Skylion007/openwebtext", None), ctx_len=128,
                 batch_size=64),
    LMTargetSpec("llama-3-8b-it-res-jh-l25", "LLaMA-3-8B-Instruct + res-jh SAE, resid_post layer 25",
                 "meta-llama/Meta-Llama-3-8B-Instruct", SAESource("llama-3-8b-it-res-jh", "blocks.25.hook_resid_post"),
                 "blocks.25.hook_resid_post", dtype="bfloat16", text=TextSource("Skylion007/openwebtext", None),
                 ctx_len=128, batch_size=16),
    LMTargetSpec("gemma-2-2b-saebench-topk-4k-l12", "Gemma 2 2B + SAEBench TopK 4k (trainer 0), resid_post layer 12",
                 "google/gemma-2-2b", SAESource("sae_bench_gemma-2-2b_topk_width-2pow12_date-1109",
                                                "blocks.12.hook_resid_post__trainer_0"),
                 "blocks.12.hook_resid_post", dtype="bfloat16", text=TextSource("Skylion007/openwebtext", None),
                 ctx_len=128, batch_size=32),
)
#: ``scores_bimodal`` and ``good_cluster_at_one`` (Fig 1, §4); ``dead_cluster_at_zero`` is §5.4's claim about
#: the authors' standard ReLU SAEs of width 4096, judged on the suite's training cells (real_training.py)
BIMODALITY_REAL_PROVIDES = frozenset({"dip_test_p", "sarle_bimodality_coefficient", "abs_upper_mode_minus_one"})


def bimodality_lm_arrays(spec: LMTargetSpec) -> AlignmentArrays:
    """Alignment scores of a pretrained SAE and its dead set over the spec's token stream (BOS excluded).

    a_i is read from the SAE as sae-lens loads it (``W_enc``, ``W_dec``); sae-lens folds no decoder norm on
    loading these releases, and a rescaling of encoder row and decoder column by c and 1/c (which a fold is)
    leaves a_i unchanged (§3.1).
    """
    model, sae = spec.load()
    counts = torch.zeros(sae.cfg.d_sae, dtype=torch.int64, device=sae.W_dec.device)
    n = 0
    for batch in hooked_transformer_batches(model, spec.hook_name, spec.tokens(model)):
        with torch.no_grad():
            f = sae.encode(batch.resid.to(sae.W_dec.dtype))
        counts += fire_counts(f, batch.mask.to(f.device))
        n += int(batch.mask.sum())
    if n == 0:
        raise ValueError(f"{spec.name}: the token stream held no counted token")
    density = counts.to(torch.float64).cpu() / n
    a = alignment_scores(sae.W_enc.detach().float().cpu(), sae.W_dec.detach().float().cpu())
    return AlignmentArrays(a, bimodality(a), density, density == 0, None, n)


_BIMODALITY_ARRAYS: dict[str, AlignmentArrays] = {}


def _bimodality_lm(target: Target) -> AlignmentArrays:
    """:func:`bimodality_lm_arrays` of a registered target, memoised (``run`` and ``arrays`` share it)."""
    if target.name not in _BIMODALITY_ARRAYS:
        _BIMODALITY_ARRAYS[target.name] = bimodality_lm_arrays(_BIMODALITY_SPECS[target.name])
    return _BIMODALITY_ARRAYS[target.name]


def _bimodality_run(target: Target, seed: int | None) -> dict[str, float]:
    return alignment_metrics(_bimodality_lm(target))


def _bimodality_arrays(target: Target, seed: int | None) -> dict:
    """The SAE's alignment scores, density and dead set for the report's Fig 1 histograms."""
    return histogram_arrays(_bimodality_lm(target), "reference_")


_BIMODALITY_SPECS = {spec.name: spec for spec in BIMODALITY_TARGETS}
ANALYSES.register(Analysis("bimodality-real", Tier.REAL, tuple(s.target() for s in BIMODALITY_TARGETS),
                           BIMODALITY_REAL_PROVIDES, _bimodality_run, arrays=_bimodality_arrays))
