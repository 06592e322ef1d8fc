"""The bimodality paper's real tier: the pretrained SAEs of its Fig 1, and the ReLU SAEs of §5 trained by the suite.

- Pretrained (Fig 1, §4: ``scores_bimodal``, ``good_cluster_at_one``): Pythia-70m res-sm, LLaMA-3-8B-it res-jh,
  SAEBench Gemma-2-2B TopK 4k; a_i from the SAE's weights, the dead set from its firing counts over the text.
- Training cells (§5: ``aligned_pareto``, ``aligned_no_dead``, ``mcs_correlation``, ``dead_cluster_at_zero``):
  standard vs aligned ReLU SAEs of 4,096 latents on Pythia-160M (layer 8) and Gemma 2 2B (layer 12), trained
  on the Pile, tested on OpenWebText, "dead" on 1M held-out tokens. Settings and why: ``NOTES.md``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch

from replication.claims import Tier
from replication.lm.cache import ActivationCacheSpec
from replication.lm.cells import DEAD_WINDOW_TOKENS, OPENWEBTEXT, PILE, TrainingCell, cell_seed, dead_window
from replication.lm.hooks import activation_stream, special_token_ids
from replication.lm.load import SAESource, best_device, load_lm
from replication.lm.spec import LMTargetSpec
from replication.lm.splice import SplicedLosses, spliced_losses
from replication.lm.text import TextSource, text_windows
from replication.papers.bimodality.analysis import (
    AlignmentArrays,
    DistributionMetrics,
    TrainingCellMetrics,
    alignment_metrics,
    histogram_arrays,
    stream_alignment_arrays,
)
from replication.papers.bimodality.sweeps import ReluSweep, SweepSettings, ce_recovered_metrics, relu_sweep, relu_sweep_metrics
from replication.targets import Analysis, Measured, Target

# ------------------------------------------------------------------------------------ pretrained (Fig 1)

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
def bimodality_lm_arrays(spec: LMTargetSpec) -> AlignmentArrays:
    """Alignment scores of a pretrained SAE and its dead set over the spec's token stream (BOS excluded).

    a_i is read from the SAE as sae-lens loads it (``W_enc``, ``W_dec``); sae-lens folds no decoder norm on
    loading these releases, and a rescaling of encoder row and decoder column by c and 1/c (which a fold is)
    leaves a_i unchanged (§3.1).
    """
    model, sae = spec.load()
    return stream_alignment_arrays(sae, activation_stream(model, spec.hook_name, spec.tokens(model)), spec.name)


def _pretrained_measure(target: Target, seed: int | None) -> Measured:
    """The distribution metrics of a pretrained SAE and its arrays for the report's Fig 1 histograms."""
    arr = bimodality_lm_arrays(_PRETRAINED[target.name])
    return Measured(alignment_metrics(arr), histogram_arrays(arr, "reference_"))


_PRETRAINED = {spec.name: spec for spec in BIMODALITY_TARGETS}


# ----------------------------------------------------------------------------------- training cells (§5)

@dataclass(frozen=True)
class BimodalityRealSettings:
    sweep: SweepSettings
    n_eval: int = 100_000
    """Held-out tokens for L0 / EV; "dead" is measured on every held-out row (``DEAD_WINDOW_TOKENS``)."""
    ce_contexts: int = 128
    """Held-out contexts for CE loss recovered (recorded, not a condition)."""
    ce_batch_size: int = 8
    plumbing_only: bool = False
    """Only for the offline tests on random tiny models, whose short sweeps may miss each other in L0: then
    the gap is taken between the nearest points and ``l0_ranges_disjoint`` says so; never on a real target."""


def bimodality_settings(d_in: int, train: dict[str, Any], d_sae: int = 4096, d_sae_larger: int = 16384,
                        l1_standard: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0),
                        l1_aligned: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0), **kwargs: Any) -> BimodalityRealSettings:
    steps = train["training_samples"] // train["batch_size"]
    sweep = SweepSettings(
        d_sae=d_sae, d_sae_larger=d_sae_larger, l1_standard=l1_standard, l1_aligned=l1_aligned,
        topk_ks=(), train=tuple(sorted({**train, "lr_warm_up_steps": steps // 20,
                                        "normalize_activations": "expected_average_only_in"}.items())),
        l1_warm_up_steps=steps // 10, reference_l0=d_in / 8, n_checkpoints=0)
    return BimodalityRealSettings(sweep, **kwargs)


def bimodality_measure(cell: TrainingCell, settings: BimodalityRealSettings, seed: int | None) -> Measured:
    """Both ReLU sweeps on the cell's activations, judged on held-out tokens; CE loss recovered of every
    sweep point spliced into the model (sae-lens's definition, BOS and pad positions kept original)."""
    seed = cell_seed(cell, seed)
    data = cell.data()
    x = data.eval_batch(min(settings.n_eval, data.n_heldout))
    rs = relu_sweep(settings.sweep, data, x, seed, dead_window=dead_window(data)[0])
    out = alignment_metrics(rs.reference_arrays)
    out["reference_l1"] = rs.reference_l1
    out.update(relu_sweep_metrics(rs.points, settings.plumbing_only))
    out.update(ce_recovered_metrics(_spliced_losses(cell, settings, rs), rs.points, settings.plumbing_only))
    return Measured(out)


def _spliced_losses(cell: TrainingCell, settings: BimodalityRealSettings, rs: ReluSweep) -> SplicedLosses:
    """H_orig, H_0 and every ReLU sweep point's H* on ``settings.ce_contexts`` held-out contexts."""
    spec = cell.cache
    device = best_device()
    model = load_lm(spec.model, loader=spec.loader, dtype=getattr(torch, spec.model_dtype), device=device)
    tok = model.tokenizer
    text = spec.eval_text or spec.text
    batches = text_windows(tok, text.texts(), n_tokens=settings.ce_contexts * (spec.ctx_len - 1),
                            ctx_len=spec.ctx_len, batch_size=settings.ce_batch_size, bos_token_id=tok.bos_token_id)
    # float32 copies on the model's device (the splice casts the activation to the SAE's dtype and back)
    saes = {("standard", lam): copy.deepcopy(sae).to(device) for lam, sae in rs.standard.items()}
    saes |= {("aligned", lam): copy.deepcopy(sae).to(device) for lam, sae in rs.aligned.items()}
    return spliced_losses(model, cell.hook, saes, (b.to(device) for b in batches),
                              ignore_tokens=special_token_ids(tok))


_BIM_TRAIN = dict(training_samples=50_000_000, batch_size=4096, lr=3e-4)
BIMODALITY_CELLS = (
    TrainingCell(
        "pythia-160m-l8-bimodality-training",
        "Pythia-160M-deduped resid_post layer 8: standard vs aligned ReLU SAEs (4,096 latents) trained by the suite "
        "on the Pile, tested on OpenWebText",
        ActivationCacheSpec("EleutherAI/pythia-160m-deduped", ("blocks.8.hook_resid_post",), PILE,
                            train_tokens=10_000_000, heldout_tokens=DEAD_WINDOW_TOKENS, eval_text=OPENWEBTEXT,
                            ctx_len=128,
                            batch_size=256, name="pythia-160m-l8"),
        "blocks.8.hook_resid_post", runs_model=True),
    TrainingCell(
        "gemma-2-2b-l12-bimodality-training",
        "Gemma 2 2B resid_post layer 12: standard vs aligned ReLU SAEs (4,096 latents) trained by the suite on "
        "the Pile, tested on OpenWebText",
        ActivationCacheSpec("google/gemma-2-2b", ("blocks.12.hook_resid_post",), PILE, train_tokens=5_000_000,
                            heldout_tokens=DEAD_WINDOW_TOKENS, eval_text=OPENWEBTEXT, model_dtype="bfloat16",
                            ctx_len=128,
                            batch_size=64, name="gemma-2-2b-l12"),
        "blocks.12.hook_resid_post", runs_model=True),
)
BIMODALITY_SETTINGS = {
    "pythia-160m-l8-bimodality-training": bimodality_settings(768, _BIM_TRAIN),
    "gemma-2-2b-l12-bimodality-training": bimodality_settings(2304, _BIM_TRAIN),
}

_CELLS = {c.name: c for c in BIMODALITY_CELLS}
ANALYSES = (
    Analysis("bimodality-real", Tier.REAL, tuple(s.target() for s in BIMODALITY_TARGETS), DistributionMetrics,
             _pretrained_measure),
    Analysis("bimodality-real-training", Tier.REAL, tuple(c.target() for c in BIMODALITY_CELLS), TrainingCellMetrics,
             lambda target, seed: bimodality_measure(_CELLS[target.name], BIMODALITY_SETTINGS[target.name], seed)),
)
