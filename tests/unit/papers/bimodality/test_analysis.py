"""Instrument tests of the bimodality analysis' shared core: the sweep settings every tier trains with, the
metrics derived from a sweep, and CE loss recovered by splicing an SAE into a (tiny, random) transformer."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from replication.lm.splice import SplicedLosses, spliced_losses
from replication.metrics import SweepPoint
from replication.papers.bimodality.analysis import alignment_arrays
from replication.papers.bimodality.sweeps import SweepArrays, matched_l0_gaps, sweep_measure
from replication.papers.bimodality.toy import TOY_SETTINGS
from replication.training import SAESpec, build_training_sae


def test_toy_settings_keep_the_toy_cache_keys() -> None:
    """The toy's SAEs are cached by spec: the shared settings must build exactly the specs the toy always had."""
    train = dict(training_samples=256 * 800, batch_size=256, lr=5e-3, lr_warm_up_steps=40)
    assert TOY_SETTINGS.standard_spec(1.0) == SAESpec.make(
        "standard", 128, l1_coefficient=1.0, l1_warm_up_steps=80, n_checkpoints=4, **train)
    assert TOY_SETTINGS.standard_spec(0.5, d_sae=256, n_checkpoints=0) == SAESpec.make(
        "standard", 256, l1_coefficient=0.5, l1_warm_up_steps=80, n_checkpoints=0, **train)
    assert TOY_SETTINGS.aligned_spec(0.3) == SAESpec.make(
        "replication-aligned-standard", 128, l1_coefficient=0.3, l1_warm_up_steps=80, compress_last_column=False,
        **train)
    # TopK's AuxK revival gets a dead window of a quarter of the 800-step run (sae-lens's 1,000 never fires)
    assert TOY_SETTINGS.topk_spec(16, aligned=True) == SAESpec.make(
        "replication-aligned-topk", 128, k=16, trainer_options=(("dead_feature_window", 200),), **train)
    short = {**train, "training_samples": 256 * 200}
    assert TOY_SETTINGS.exact_specs(1.0) == (
        SAESpec.make("replication-aligned-standard", 128, l1_coefficient=1.0, **short),
        SAESpec.make("replication-aligned-topk", 128, k=16, compress_last_column=True, **short))


def _sweep(topk_ev: dict[tuple[str, int], float], dead: dict[tuple[str, int], float] | None = None) -> SweepArrays:
    """A constructed SweepArrays: a bimodal reference SAE (half dead at a = 0.02, half at a = 1)."""
    dead = dead or {}
    torch.manual_seed(0)
    sae = build_training_sae(SAESpec.make("standard", 64, l1_coefficient=1.0), 16)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        w_dec = torch.nn.functional.normalize(torch.randn(64, 16, generator=g), dim=1)
        scale = torch.where(torch.arange(64) < 32, 0.02, 1.0) * (1 + 0.02 * torch.randn(64, generator=g))
        sae.W_dec.copy_(w_dec)
        sae.W_enc.copy_(w_dec.T * scale)
        sae.b_enc.copy_(torch.where(torch.arange(64) < 32, -1e3, 0.0))
    ref = alignment_arrays(sae, torch.randn(2048, 16, generator=g), larger=sae)
    relu = (SweepPoint("standard", 1.0, 4.0, 0.6, 0.5), SweepPoint("standard", 0.5, 16.0, 0.8, 0.4),
            SweepPoint("aligned", 1.0, 4.0, 0.7, 0.0), SweepPoint("aligned", 0.5, 16.0, 0.85, 0.0))
    topk = tuple(SweepPoint(m, k, float(k), ev, dead.get((m, k), 0.0)) for (m, k), ev in topk_ev.items())
    return SweepArrays(1.0, ref, (0.3, 0.9), (0.5, 0.001), relu, topk, 1e-7, 1.0, torch.ones(64), torch.ones(64),
                       (ref.alignment, ref.alignment), (200, 800))


def test_sweep_measure_on_a_constructed_sweep() -> None:
    # gain(2) = 0.55 - 0.5 = 0.05, gain(16) = 0.95 - 0.8 = 0.15: smallest minus largest k = -0.10
    m = sweep_measure(_sweep({("topk", 2): 0.5, ("topk", 16): 0.8, ("aligned-topk", 2): 0.55,
                              ("aligned-topk", 16): 0.95}, dead={("topk", 2): 0.3, ("aligned-topk", 2): 0.1}))
    assert m["topk_gain_smallest_minus_largest_k"] == pytest.approx(-0.10, abs=1e-12)
    assert m["topk_dead_fraction_at_smallest_k"] == pytest.approx(0.3, abs=1e-12)
    assert m["topk_dead_aligned_minus_standard_at_smallest_k"] == pytest.approx(-0.2, abs=1e-12)
    assert m["n_dead"] == 32.0 and m["dead_window_tokens"] == 2048.0  # the reference: half its latents dead
    assert m["bimodality_coefficient_end_minus_first_checkpoint"] == pytest.approx(0.6, abs=1e-12)
    assert m["ev_gap_min_over_l0_overlap"] == pytest.approx(0.05, abs=1e-9)  # 0.85 - 0.8 at L0 16
    assert m["aligned_minus_standard_dead_fraction"] == pytest.approx(-0.4, abs=1e-9)
    assert m["max_abs_alignment_minus_one_during_training"] == pytest.approx(1e-7, abs=1e-15)
    assert m["jaccard_low_mode_dead"] == pytest.approx(1.0, abs=1e-12)
    assert m["standard_0.5_l0"] == 16.0 and m["aligned-topk_16_explained_variance"] == 0.95
    assert m["reference_l1"] == 1.0


def test_sweep_measure_topk_gain_at_low_sparsity_replicates_the_corrected_claim() -> None:
    """The catalog's corrected direction: a gain that shrinks with k (the paper's Fig 10-11) is positive."""
    from replication.claims import REGISTRY, Tier, load_all
    from replication.verdict import Measurement, Status, judge

    m = sweep_measure(_sweep({("topk", 4): 0.5, ("topk", 32): 0.9, ("aligned-topk", 4): 0.6,
                              ("aligned-topk", 32): 0.9}, dead={("topk", 4): 0.4, ("aligned-topk", 4): 0.05}))
    assert m["topk_gain_smallest_minus_largest_k"] == pytest.approx(0.1, abs=1e-12)
    load_all()
    claim = REGISTRY.get("bimodality.topk_low_sparsity")
    assert judge(claim, Measurement(Tier.TOY, "t", 0, m)).status is Status.REPLICATED
    # no dead TopK latent at the smallest k: "fewer dead latents" cannot be judged
    m = sweep_measure(_sweep({("topk", 4): 0.5, ("topk", 32): 0.9, ("aligned-topk", 4): 0.6,
                              ("aligned-topk", 32): 0.9}))
    assert judge(claim, Measurement(Tier.TOY, "t", 0, m)).status is Status.INCONCLUSIVE


def test_matched_l0_gaps_interpolate_over_the_overlap() -> None:
    # b is y = 0.5 at L0 2 and 0.7 at L0 8, linear in log L0: at L0 4 it is 0.6, so a's gap there is 0.05
    lo, hi, disjoint = matched_l0_gaps([(4.0, 0.65), (8.0, 0.8), (0.0, 0.0)], [(2.0, 0.5), (8.0, 0.7)])
    assert (lo, hi, disjoint) == (pytest.approx(0.05, abs=1e-9), pytest.approx(0.1, abs=1e-9), False)


def test_matched_l0_gaps_refuse_disjoint_sweeps_unless_plumbing() -> None:
    a, b = [(1.0, 0.3), (2.0, 0.4)], [(10.0, 0.8), (20.0, 0.9)]
    with pytest.raises(ValueError, match="do not overlap"):
        matched_l0_gaps(a, b)
    lo, hi, disjoint = matched_l0_gaps(a, b, allow_disjoint=True)  # nearest points: L0 2 vs 10
    assert disjoint and lo == pytest.approx(-0.4, abs=1e-12) and hi == pytest.approx(-0.4, abs=1e-12)
    assert math.isnan(matched_l0_gaps([(0.0, 0.1)], b, allow_disjoint=True)[0])  # no live point


# ------------------------------------------------------------------------------------------ CE loss recovered


def _tiny_lm():
    import warnings

    from transformer_lens import HookedTransformer, HookedTransformerConfig

    cfg = HookedTransformerConfig(n_layers=2, d_model=16, n_ctx=12, d_head=4, n_heads=4, d_mlp=32, d_vocab=30,
                                  act_fn="gelu_new", normalization_type="LN", seed=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return HookedTransformer(cfg).eval()


class _Map:
    """A stand-in SAE: ``decode(encode(x)) = fn(x)``."""

    def __init__(self, fn):
        self.fn = fn

    def encode(self, x):
        return x

    def decode(self, f):
        return self.fn(f)


HOOK = "blocks.1.hook_resid_post"


def _batches():
    g = torch.Generator().manual_seed(0)
    return [torch.randint(1, 30, (3, 12), generator=g) for _ in range(2)]


def test_spliced_losses_identity_recovers_everything_and_zero_nothing() -> None:
    model = _tiny_lm()
    losses = spliced_losses(model, HOOK, {"id": _Map(lambda x: x), "zero": _Map(torch.zeros_like)}, _batches())
    with torch.no_grad():
        h = [float(model(b, return_type="loss", loss_per_token=True).double().sum()) for b in _batches()]
    assert losses.h_orig == pytest.approx(sum(h) / (2 * 3 * 11), rel=1e-6)  # 2 batches of 3 x 11 predictions
    assert losses.h_zero != pytest.approx(losses.h_orig, rel=1e-3)
    assert losses.recovered("id") == pytest.approx(1.0, abs=1e-6)
    assert losses.recovered("zero") == pytest.approx(0.0, abs=1e-6)


def test_spliced_losses_match_a_full_forward_with_the_hook() -> None:
    """Resuming at the hook's block from the cached residual gives the full hooked forward's loss; ignored
    tokens keep their original activation."""
    model = _tiny_lm()
    half = _Map(lambda x: 0.5 * x)
    batches = _batches()
    for b in batches:
        b[:, 0] = 0  # a BOS-like token at position 0
    losses = spliced_losses(model, HOOK, {"half": half}, batches, ignore_tokens=(0,))
    total = 0.0
    with torch.no_grad():
        for b in batches:
            keep = (b != 0)[..., None]
            hook = (HOOK, lambda act, hook, keep=keep: torch.where(keep, 0.5 * act, act))
            total += float(model.run_with_hooks(b, return_type="loss", loss_per_token=True,
                                                fwd_hooks=[hook]).double().sum())
    assert losses.h_star["half"] == pytest.approx(total / (2 * 3 * 11), rel=1e-5)


def test_spliced_losses_reject_a_non_block_hook() -> None:
    with pytest.raises(ValueError, match="block hook"):
        spliced_losses(_tiny_lm(), "hook_embed", {}, _batches())


def test_ce_recovered_is_undefined_when_zero_ablation_costs_nothing() -> None:
    with pytest.raises(ValueError, match="H_orig == H_0"):
        SplicedLosses(2.0, 2.0, {"s": 2.0}).recovered("s")
    assert math.isfinite(SplicedLosses(2.0, 4.0, {"s": 3.0}).recovered("s"))


# ------------------------------------------------------------------------------------------ CE figure


def _ce_maker():
    from replication.papers import figure_makers

    (maker,) = [m for m in figure_makers()["bimodality"] if m.name == "fig4-ce-recovered-vs-l0"]
    return maker


def _sweep_row(target: str, seed: int, with_ce: bool) -> dict:
    row: dict = {"tier": "tinylm", "target": target, "seed": seed, "ce_recovered_gap_min_over_l0_overlap": -0.002}
    for method, lams in (("standard", (0.5, 1, 2, 4)), ("aligned", (0.25, 0.5, 1, 2))):
        for lam in lams:
            tag = f"{method}_{lam:g}"
            row[f"{tag}_l0"], row[f"{tag}_explained_variance"] = 16 / lam + seed, 0.9 - 0.02 * lam
            if with_ce:
                row[f"{tag}_ce_loss_recovered"] = 0.98 - 0.01 * lam
    return row


def test_ce_figure_draws_the_lm_targets_only(tmp_path: Path) -> None:
    """Values made up (plumbing): a tinylm target with CE columns is drawn, a toy target without them is not."""
    import pandas as pd

    from replication.figures import FigureInputs

    rows = [_sweep_row("tinylm-x", s, True) for s in range(3)] + [_sweep_row("toy-x", 0, False)]
    out = tmp_path / "ce.png"
    assert _ce_maker().make(FigureInputs(pd.DataFrame(rows), tmp_path), out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    toy_only = pd.DataFrame([_sweep_row("toy-x", 0, False)])
    assert not _ce_maker().make(FigureInputs(toy_only, tmp_path), tmp_path / "none.png")
    assert not _ce_maker().make(FigureInputs(pd.DataFrame(), tmp_path), tmp_path / "none.png")
