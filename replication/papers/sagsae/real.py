"""The sagsae paper's real tier: SA-GSAE vs Gated SAEs the suite trains on Pythia-1B and SmolLM3-3B.

Six cells (the paper's): resid-mid, MLP-out and attn-out of a middle layer of each model (Pythia's parallel
blocks have no ``hook_resid_mid``: its resid-mid is ``resid_pre + attn_out``); SAEs train from a cached pass
over C4 (:mod:`replication.lm.cells`), "dead" on 1M held-out tokens. Which claim is judged on which cell
follows the paper (``Target.claims``). Widths, budgets and lambdas (the paper gives none) and why: ``NOTES.md``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from replication.claims import Tier, metric_key
from replication.lm.cache import ActivationCacheSpec, LMActivations
from replication.lm.cells import C4, DEAD_WINDOW_TOKENS, TrainingCell, cell_seed, dead_window
from replication.papers.sagsae.analysis import FullWidthMetrics, SweepMetrics, sweep_metrics
from replication.papers.sagsae.sweeps import READINGS, SweepSettings, evaluate, run_sweeps
from replication.targets import Analysis, Measured

@dataclass(frozen=True)
class SagsaeRealSettings:
    sweep: SweepSettings
    n_eval: int = 16_384
    plumbing_only: bool = False
    """As :attr:`BimodalityRealSettings.plumbing_only`: offline tests on random tiny models only."""


def sagsae_settings(d_in: int, train: dict[str, Any], h: int | None = None, **kwargs: Any) -> SagsaeRealSettings:
    steps = train["training_samples"] // train["batch_size"]
    sweep = SweepSettings(
        h=4 * d_in if h is None else h, sagsae_lambdas=(0.1, 0.3, 1.0, 3.0), gated_lambdas=(1.0, 3.0, 10.0),
        operating_lambda=1.0,
        train=tuple({**train, "lr_warm_up_steps": steps // 20,
                     "normalize_activations": "expected_average_only_in"}.items()))
    return SagsaeRealSettings(sweep, **kwargs)


def _sagsae_eval(cell: TrainingCell, settings: SagsaeRealSettings) -> tuple[LMActivations, Tensor]:
    data = cell.data()
    return data, data.eval_batch(min(settings.n_eval, data.n_heldout))


def sagsae_measure(cell: TrainingCell, settings: SagsaeRealSettings, seed: int | None) -> Measured:
    """SA-GSAE(H) vs Gated(2H) sweeps on the cell (:func:`replication.papers.sagsae.analysis.sweep_metrics`)."""
    data, x = _sagsae_eval(cell, settings)
    window, n_window = dead_window(data)
    sweeps = run_sweeps(settings.sweep, data, cell_seed(cell, seed), x, allow_disjoint=settings.plumbing_only,
                            dead_window=window, dead_window_tokens=n_window)
    return Measured(sweep_metrics(settings.sweep, sweeps))


def sagsae_full_width_measure(cell: TrainingCell, settings: SagsaeRealSettings, seed: int | None) -> Measured:
    """SA-GSAE at 2H and at H, both at the operating lambda: dead fractions, R² and L0 of each."""
    data, x = _sagsae_eval(cell, settings)
    seed = cell_seed(cell, seed)
    s = settings.sweep
    wide = dataclasses.replace(s, h=2 * s.h)
    out: dict[str, float] = {}
    for reading in READINGS:  # the paper's open choice of the sparsity penalty: both readings
        lam = s.operating(reading)
        window, _ = dead_window(data)
        half = evaluate(s.sagsae_spec(lam, reading), data, seed, x, window)
        full = evaluate(wide.sagsae_spec(lam, reading), data, seed, x, window)
        mine = {"full_width_minus_half_width_r2": full.r2 - half.r2,
                "full_width_dead_fraction_minus_half_width": full.dead_fraction - half.dead_fraction}
        for tag, p in (("full_width", full), ("half_width", half)):
            mine.update({f"{tag}_dead_fraction": p.dead_fraction, f"{tag}_r2": p.r2, f"{tag}_l0": p.l0})
        out.update({metric_key(m, reading): v for m, v in mine.items()})
    return Measured(out)


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

_CELLS = {c.name: c for c in SAGSAE_CELLS}
ANALYSES = (
    Analysis("sagsae-real", Tier.REAL, tuple(c.target() for c in SAGSAE_CELLS), SweepMetrics,
             lambda target, seed: sagsae_measure(_CELLS[target.name], SAGSAE_SETTINGS, seed)),
    Analysis("sagsae-real-full-width", Tier.REAL,
             tuple(c.target() for c in SAGSAE_CELLS if _COLLAPSE in (c.claims or ())), FullWidthMetrics,
             lambda target, seed: sagsae_full_width_measure(_CELLS[target.name], SAGSAE_SETTINGS, seed)),
)
