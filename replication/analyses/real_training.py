"""Real-tier claims that need SAEs trained by the suite on the papers' own models' activations.

The measuring code is the toy and tinylm tiers' (:func:`replication.analyses.bimodality.relu_sweep`,
:func:`replication.analyses.sagsae.run_sweeps`); only the data differ: :class:`replication.lm_activations.
LMActivations` caches a model's activations at the cell's hooks once (BOS and pad positions excluded) and
every SAE of the cell trains from that cache through sae-lens's trainer, on CUDA when there is one.

**bimodality** (§5.1-5.2, Fig 4, 5, 12-15; App. "the same settings as in SAE Bench"): standard vs aligned
ReLU SAEs with dictionary size 4096 on the residual stream after layer 8 of Pythia-160M (the deduped
model, which SAEBench's dictionary_learning setting trains on) and layer 12 of Gemma 2 2B, trained on the
Pile (``monology/pile-uncopyrighted``, the de-copyrighted Pile SAEBench streams) and tested on OpenWebText.
Claims: ``aligned_pareto`` (EV at matched L0; CE loss recovered recorded beside it, as on the tinylm),
``aligned_no_dead``, and ``mcs_correlation`` (the reference standard SAE against a
standard SAE of 16,384 latents, the paper's next dictionary size, at the same lambda; the paper's own Fig 2
used Elriggs' Pythia-70m MLP SAEs, which sae-lens does not ship). Settings not given by the paper, stated:

- budget: 50M training samples per SAE (the paper's "50 million tokens"), batch 4,096, Adam lr 3e-4 (SAEBench's
  ReLU lr) with 5% lr warm-up and 10% L1 warm-up (the tinylm's fractions), sae-lens's
  ``expected_average_only_in`` normalisation. The samples are drawn with replacement from a cache of 10M
  (Pythia-160M, 17 GB float16 with the held-out tokens) / 5M (Gemma, 28 GB) distinct Pile tokens (the paper
  streams 50M distinct tokens; a cache of that many would not fit the GPU machine's 64 GB disk);
- dead: never active on 1M held-out OpenWebText tokens (``DEAD_WINDOW_TOKENS``, the catalog's minimum); L0 and
  EV on the first 100k of them;
- lambdas: the tinylm tier's grids unchanged (standard {0.5, 1, 2, 4}, aligned {0.25, 0.5, 1, 2}): with
  activations normalised to E||x||² = d_in, an L1 coefficient gives the same L0 / d_in across widths to
  first order (a feature's amplitude grows like sqrt(d_in / L0)). **Not calibrated on these models** (no GPU in
  the session that wrote this); if the two sweeps' L0 ranges miss each other the analysis raises, naming
  them, instead of judging;
- reference SAE for MCS: the standard point whose L0 is nearest d_in / 8 (the tinylm's rule); one seed
  (the paper reports one run per setting).

**sagsae** (abstract; the paper's 6 cells): Pythia-1B and SmolLM3-3B, three mid-depth hookpoints each
(layer 8 of 16, layer 18 of 36): resid-mid, MLP-out, attn-out; 3 seeds. Pythia's blocks are parallel
(no ``hook_resid_mid``): its resid-mid is ``resid_pre + attn_out`` (:mod:`replication.lm_activations`).
SmolLM3 is loaded through transformer-lens's ``TransformerBridge`` (``HookedTransformer`` has no SmolLM3).
The paper gives neither width, budget nor lambdas; the suite's choices: H = 4 d_in = 8,192 (Gated at
2H = 16,384), 20M samples per SAE (batch 4,096, lr 1e-3 as the tinylm tier, 5% warm-up) drawn from a cache
of 1.5M distinct tokens per model (C4; the three hooks of a model share one pass: 31 GB float16 with the
held-out tokens), the tinylm's lambda grids (SA-GSAE l0-gate {0.1, 0.3, 1, 3}, Gated and SA-GSAE l1-gate
{1, 3, 10}; operating point 1), not calibrated on these models (same caveat). "Dead" = never active on 1M
held-out tokens (``DEAD_WINDOW_TOKENS``); R² and L0 on the first 16,384 of them.
Which claim is judged on which cell follows the paper: ``half_width_dominates`` on the three cells it names
(both MLP-out, Pythia-1B resid-mid), ``matches_elsewhere`` on the other three, ``bipolar_share`` (> 0.5,
"most latents") on the MLP-out cells (recorded on every cell), ``fewer_dead`` on all six, and
``full_width_collapse`` (R² of SA-GSAE at 2H minus at H, operating lambda; dead fractions beside it) on
SmolLM3-3B resid-mid.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from replication.analyses import bimodality as bim
from replication.analyses import sagsae as sag
from replication.claims import Tier, metric_key
from replication.lm_activations import ActivationCacheSpec, LMActivations, special_token_ids
from replication.models import best_device, load_lm, model_availability
from replication.real import TextSource, token_batches
from replication.targets import ANALYSES, Analysis, Target

PILE = TextSource("monology/pile-uncopyrighted", None)
OPENWEBTEXT = TextSource("Skylion007/openwebtext", None)
C4 = TextSource()


@dataclass(frozen=True)
class TrainingCell:
    """One (model, hook) on which the suite trains SAEs: a real-tier target with its activation cache."""

    name: str
    description: str
    cache: ActivationCacheSpec
    hook: str
    seeds: tuple[int, ...] = (0,)
    claims: frozenset[str] | None = None
    tier: Tier = Tier.REAL
    needs_gpu: bool = True
    runs_model: bool = False
    """Whether the analysis runs the model itself besides reading the cache (bimodality: CE loss recovered)."""

    def availability(self) -> str | None:
        """What is missing: the model and text to build the activation cache (nothing once it is built), and
        the model where the analysis runs it."""
        return self.cache.availability() or (model_availability(self.cache.model, self.cache.loader)
                                             if self.runs_model else None)

    def target(self) -> Target:
        return Target(self.name, self.tier, self.description, seeds=self.seeds, needs_gpu=self.needs_gpu,
                      availability=self.availability, claims=self.claims)

    def data(self) -> LMActivations:
        return LMActivations(self.cache, self.hook)


def _seed(cell: TrainingCell, seed: int | None) -> int:
    if seed is None:
        raise ValueError(f"{cell.name} needs an integer seed (it seeds the SAEs' training)")
    return seed


# --------------------------------------------------------------------------------------------- bimodality

DEAD_WINDOW_TOKENS = 1_000_000
"""Held-out tokens of every real training cell: "dead" = never active on all of them (the catalog's >= 1M:
a 16k-token window calls a latent of frequency 1e-4 dead one time in five); L0, R² and EV use ``n_eval``."""

BIMODALITY_TRAINING_PROVIDES = frozenset({"ev_gap_min_over_l0_overlap", "ce_recovered_gap_min_over_l0_overlap",
                                          "aligned_dead_fraction", "aligned_minus_standard_dead_fraction",
                                          "pearson_alignment_mcs", "jaccard_low_mode_dead", "n_dead",
                                          "dead_window_tokens"})
"""``aligned_pareto`` (explained variance and CE loss recovered), ``aligned_no_dead``, ``mcs_correlation`` and
``dead_cluster_at_zero`` (§5.4 is about the authors' standard ReLU SAEs of width 4096, which these cells
train): the Fig 1 distribution claims stay with the pretrained SAEs (:mod:`replication.analyses.real_tier`)."""


@dataclass(frozen=True)
class BimodalityRealSettings:
    sweep: bim.SweepSettings
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
    sweep = bim.SweepSettings(
        d_sae=d_sae, d_sae_larger=d_sae_larger, l1_standard=l1_standard, l1_aligned=l1_aligned,
        topk_ks=(), train=tuple(sorted({**train, "lr_warm_up_steps": steps // 20,
                                        "normalize_activations": "expected_average_only_in"}.items())),
        l1_warm_up_steps=steps // 10, reference_l0=d_in / 8, n_checkpoints=0)
    return BimodalityRealSettings(sweep, **kwargs)


def bimodality_measure(cell: TrainingCell, settings: BimodalityRealSettings, seed: int | None) -> dict[str, float]:
    """Both ReLU sweeps on the cell's activations, judged on held-out tokens; CE loss recovered of every
    sweep point spliced into the model (sae-lens's definition, BOS and pad positions kept original)."""
    seed = _seed(cell, seed)
    data = cell.data()
    x = data.eval_batch(min(settings.n_eval, data.n_heldout))
    rs = bim.relu_sweep(settings.sweep, data, x, seed, dead_window=_dead_window(data)[0])
    out = bim.alignment_metrics(rs.reference_arrays)
    out["reference_l1"] = rs.reference_l1
    out.update(bim.relu_sweep_metrics(rs.points, settings.plumbing_only))
    out.update(bim.ce_recovered_metrics(_spliced_losses(cell, settings, rs), rs.points, settings.plumbing_only))
    return out


def _spliced_losses(cell: TrainingCell, settings: BimodalityRealSettings, rs: bim.ReluSweep) -> bim.SplicedLosses:
    """H_orig, H_0 and every ReLU sweep point's H* on ``settings.ce_contexts`` held-out contexts."""
    spec = cell.cache
    device = best_device()
    model = load_lm(spec.model, loader=spec.loader, dtype=getattr(torch, spec.model_dtype), device=device)
    tok = model.tokenizer
    text = spec.eval_text or spec.text
    batches = token_batches(tok, text.texts(), n_tokens=settings.ce_contexts * (spec.ctx_len - 1),
                            ctx_len=spec.ctx_len, batch_size=settings.ce_batch_size, bos_token_id=tok.bos_token_id)
    # float32 copies on the model's device (the splice casts the activation to the SAE's dtype and back)
    saes = {("standard", lam): copy.deepcopy(sae).to(device) for lam, sae in rs.standard.items()}
    saes |= {("aligned", lam): copy.deepcopy(sae).to(device) for lam, sae in rs.aligned.items()}
    return bim.spliced_losses(model, cell.hook, saes, (b.to(device) for b in batches),
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


# ------------------------------------------------------------------------------------------------- sagsae

SAGSAE_FULL_WIDTH_PROVIDES = frozenset(metric_key(m, r) for r in sag.READINGS
                                       for m in ("full_width_minus_half_width_r2",
                                                 "full_width_dead_fraction_minus_half_width"))


@dataclass(frozen=True)
class SagsaeRealSettings:
    sweep: sag.SweepSettings
    n_eval: int = 16_384
    plumbing_only: bool = False
    """As :attr:`BimodalityRealSettings.plumbing_only`: offline tests on random tiny models only."""


def sagsae_settings(d_in: int, train: dict[str, Any], h: int | None = None, **kwargs: Any) -> SagsaeRealSettings:
    steps = train["training_samples"] // train["batch_size"]
    sweep = sag.SweepSettings(
        h=4 * d_in if h is None else h, sagsae_lambdas=(0.1, 0.3, 1.0, 3.0), gated_lambdas=(1.0, 3.0, 10.0),
        operating_lambda=1.0,
        train=tuple({**train, "lr_warm_up_steps": steps // 20,
                     "normalize_activations": "expected_average_only_in"}.items()))
    return SagsaeRealSettings(sweep, **kwargs)


def _sagsae_eval(cell: TrainingCell, settings: SagsaeRealSettings) -> tuple[LMActivations, Tensor]:
    data = cell.data()
    return data, data.eval_batch(min(settings.n_eval, data.n_heldout))


def _dead_window(data: LMActivations) -> tuple[Any, int]:
    """Every held-out row of the cell's cache, in chunks: the window of "dead" (>= 1M tokens on the real
    cells, the catalog's minimum; the L0 / R² batch stays ``n_eval``)."""
    return (lambda: data.heldout_chunks()), data.n_heldout


def sagsae_measure(cell: TrainingCell, settings: SagsaeRealSettings, seed: int | None) -> dict[str, float]:
    """SA-GSAE(H) vs Gated(2H) sweeps on the cell (:func:`replication.analyses.sagsae.sweep_metrics`)."""
    data, x = _sagsae_eval(cell, settings)
    window, n_window = _dead_window(data)
    sweeps = sag.run_sweeps(settings.sweep, data, _seed(cell, seed), x, allow_disjoint=settings.plumbing_only,
                            dead_window=window, dead_window_tokens=n_window)
    return sag.sweep_metrics(settings.sweep, sweeps)


def sagsae_full_width_measure(cell: TrainingCell, settings: SagsaeRealSettings, seed: int | None) -> dict[str, float]:
    """SA-GSAE at 2H and at H, both at the operating lambda: dead fractions, R² and L0 of each."""
    data, x = _sagsae_eval(cell, settings)
    seed = _seed(cell, seed)
    s = settings.sweep
    wide = dataclasses.replace(s, h=2 * s.h)
    out: dict[str, float] = {}
    for reading in sag.READINGS:  # the paper's open choice of the sparsity penalty: both readings
        lam = s.operating(reading)
        window, _ = _dead_window(data)
        half = sag.evaluate(s.sagsae_spec(lam, reading), data, seed, x, window)
        full = sag.evaluate(wide.sagsae_spec(lam, reading), data, seed, x, window)
        mine = {"full_width_minus_half_width_r2": full.r2 - half.r2,
                "full_width_dead_fraction_minus_half_width": full.dead_fraction - half.dead_fraction}
        for tag, p in (("full_width", full), ("half_width", half)):
            mine.update({f"{tag}_dead_fraction": p.dead_fraction, f"{tag}_r2": p.r2, f"{tag}_l0": p.l0})
        out.update({metric_key(m, reading): v for m, v in mine.items()})
    return out


_SAG_TRAIN = dict(training_samples=20_000_000, batch_size=4096, lr=1e-3)
_PYTHIA_1B = ActivationCacheSpec(
    "EleutherAI/pythia-1b", ("blocks.8.hook_resid_pre+blocks.8.hook_attn_out", "blocks.8.hook_mlp_out",
                             "blocks.8.hook_attn_out"),
    C4, train_tokens=1_500_000, heldout_tokens=DEAD_WINDOW_TOKENS, ctx_len=128, batch_size=64, name="pythia-1b-l8")
_SMOLLM3 = ActivationCacheSpec(
    "HuggingFaceTB/SmolLM3-3B", ("blocks.18.hook_resid_mid", "blocks.18.hook_mlp_out", "blocks.18.hook_attn_out"),
    C4, train_tokens=1_500_000, heldout_tokens=DEAD_WINDOW_TOKENS, loader="bridge", model_dtype="bfloat16", ctx_len=128,
    batch_size=32, name="smollm3-3b-l18")
_DOMINATES, _MATCHES = "sagsae.half_width_dominates", "sagsae.matches_elsewhere"
_BIPOLAR, _DEAD, _COLLAPSE = "sagsae.bipolar_share", "sagsae.fewer_dead", "sagsae.full_width_collapse"


def _cell(model: str, cache: ActivationCacheSpec, cell: str, hook: str, claims: set[str]) -> TrainingCell:
    return TrainingCell(f"{model}-sagsae-{cell}", f"{model}: {cell} ({hook}); SA-GSAE(8,192) vs Gated(16,384) "
                        "trained by the suite", cache, hook, seeds=(0, 1, 2), claims=frozenset(claims))


SAGSAE_CELLS = (
    _cell("pythia-1b", _PYTHIA_1B, "resid-mid", _PYTHIA_1B.hooks[0], {_DOMINATES, _DEAD}),
    _cell("pythia-1b", _PYTHIA_1B, "mlp-out", _PYTHIA_1B.hooks[1], {_DOMINATES, _DEAD, _BIPOLAR}),
    _cell("pythia-1b", _PYTHIA_1B, "attn-out", _PYTHIA_1B.hooks[2], {_MATCHES, _DEAD}),
    _cell("smollm3-3b", _SMOLLM3, "resid-mid", _SMOLLM3.hooks[0], {_MATCHES, _DEAD, _COLLAPSE}),
    _cell("smollm3-3b", _SMOLLM3, "mlp-out", _SMOLLM3.hooks[1], {_DOMINATES, _DEAD, _BIPOLAR}),
    _cell("smollm3-3b", _SMOLLM3, "attn-out", _SMOLLM3.hooks[2], {_MATCHES, _DEAD}),
)
SAGSAE_SETTINGS = sagsae_settings(2048, _SAG_TRAIN)  # d_model of both Pythia-1B and SmolLM3-3B


# ----------------------------------------------------------------------------------------------- register

_BIM = {c.name: c for c in BIMODALITY_CELLS}
_SAG = {c.name: c for c in SAGSAE_CELLS}
ANALYSES.register(Analysis(
    "bimodality-real-training", Tier.REAL, tuple(c.target() for c in BIMODALITY_CELLS),
    BIMODALITY_TRAINING_PROVIDES,
    lambda target, seed: bimodality_measure(_BIM[target.name], BIMODALITY_SETTINGS[target.name], seed)))
ANALYSES.register(Analysis(
    "sagsae-real", Tier.REAL, tuple(c.target() for c in SAGSAE_CELLS), sag.SWEEP_METRICS,
    lambda target, seed: sagsae_measure(_SAG[target.name], SAGSAE_SETTINGS, seed)))
ANALYSES.register(Analysis(
    "sagsae-real-full-width", Tier.REAL, tuple(c.target() for c in SAGSAE_CELLS if _COLLAPSE in (c.claims or ())),
    SAGSAE_FULL_WIDTH_PROVIDES,
    lambda target, seed: sagsae_full_width_measure(_SAG[target.name], SAGSAE_SETTINGS, seed)))

__all__ = ["BIMODALITY_CELLS", "SAGSAE_CELLS", "TrainingCell", "bimodality_measure", "bimodality_settings",
           "sagsae_full_width_measure", "sagsae_measure", "sagsae_settings"]
