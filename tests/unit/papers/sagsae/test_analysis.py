"""Instrument tests of the sagsae sweeps, analysis and tiers' plumbing (replication/papers/sagsae), without training."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from replication.metrics import l0_ranges_disjoint
from replication.papers.sagsae import analysis, sweeps, toy


def _point(l0: float, r2: float) -> sweeps.SignedPoint:
    return sweeps.SignedPoint(1.0, 4, l0, r2, 0.0, math.nan, 0, torch.zeros(4), torch.zeros(4))


def test_compare_drops_collapsed_points_and_reads_the_gap() -> None:
    a = (_point(0.0, 0.0), _point(2.0, 0.8), _point(8.0, 0.9))
    b = (_point(2.0, 0.7), _point(8.0, 0.95))
    cmp = sweeps.compare(a, b)
    torch.testing.assert_close(cmp.l0, torch.tensor([2.0, 8.0], dtype=torch.float64), rtol=1e-12, atol=0)
    assert float(cmp.min_gap) == pytest.approx(-0.05, abs=1e-6)
    assert float(cmp.max_gap) == pytest.approx(0.1, abs=1e-6)


def test_targets_and_data() -> None:
    assert toy.TOY_UNIPOLAR.control and not toy.TOY_BIPOLAR.control
    assert len(toy.TOY_BIPOLAR.seeds) >= 3
    bip, uni = toy.toy_data(toy.TOY_BIPOLAR, 1), toy.toy_data(toy.TOY_UNIPOLAR, 1)
    assert (bip.n_bipolar, bip.n_directions, uni.n_bipolar, uni.n_directions) == (32, 64, 0, 64)
    # SA-GSAE width = number of directions; Gated at 2H covers every one-signed concept
    assert toy.H == bip.n_directions and 2 * toy.H >= bip.n_concepts
    with pytest.raises(KeyError, match="known"):
        toy.toy_data(dataclasses.replace(toy.TOY_BIPOLAR, name="toy-unknown"), 0)


def test_operating_point_is_in_the_sweep() -> None:
    assert toy.OPERATING_LAMBDA in toy.SAGSAE_LAMBDAS
    assert len(toy.SAGSAE_LAMBDAS) >= 4 and len(toy.GATED_LAMBDAS) >= 4


def test_claim_metrics_are_provided_once_on_the_toy_tier() -> None:
    from replication.claims import Tier, load_all
    from replication.papers import registry as load_analyses

    claims, analyses = load_all(), load_analyses()
    for claim in claims.by_paper("sagsae"):
        if Tier.TOY in claim.tiers:
            assert analyses.analysis_for(claim, Tier.TOY) is not None, claim.id


# ------------------------------------------------------------------ the data-agnostic core and the tinylm tier


def test_settings_reject_an_operating_point_outside_the_sweep_and_one_point_sweeps() -> None:
    with pytest.raises(ValueError, match="operating_lambda"):
        sweeps.SweepSettings(h=4, sagsae_lambdas=(0.1, 1.0), gated_lambdas=(1.0, 2.0), operating_lambda=0.5, train=())
    with pytest.raises(ValueError, match="two lambdas"):
        sweeps.SweepSettings(h=4, sagsae_lambdas=(1.0,), gated_lambdas=(1.0, 2.0), operating_lambda=1.0, train=())


def test_toy_specs_name_the_reading_and_the_frozen_decoder_baseline() -> None:
    from replication.saes.gated import GATED_FROZEN_AUX
    from replication.saes.sagsae import SAGSAE
    from replication.training import SAESpec

    train = dict(training_samples=256 * 750, batch_size=256, lr=1e-3)
    assert toy.sagsae_spec(0.3, two_sided=False) == SAESpec.make(SAGSAE, 64, sparsity_coefficient=0.3,
                                                                   sparsity_loss="l0", two_sided=False, **train)
    assert ("sparsity_loss", "l1") in toy.sagsae_spec(1.0, sweeps.L1_GATE).options
    assert toy.gated_spec(2.0) == SAESpec.make(GATED_FROZEN_AUX, 128, l1_coefficient=2.0, **train)
    assert toy.TOY.jumprelu_spec(0.1) == SAESpec.make("jumprelu", 128, l0_coefficient=0.1, **train)
    # the l1-gate reading sweeps the Gated SAE's grid (the same penalty), its ablations at lambda 1
    assert toy.TOY.lambdas(sweeps.L1_GATE) == toy.TOY.gated_lambdas and toy.TOY.operating(sweeps.L1_GATE) == 1.0
    with pytest.raises(ValueError, match="unknown sparsity-penalty reading"):
        toy.sagsae_spec(1.0, "l2-gate")


def test_readings_match_the_claims() -> None:
    from claims.sagsae import PENALTY_READINGS

    assert set(PENALTY_READINGS.names) == set(sweeps.READINGS) and PENALTY_READINGS.primary == sweeps.L0_GATE


def test_settings_apply_the_budget_to_every_spec() -> None:
    halve = lambda spec: dataclasses.replace(spec, training_samples=spec.training_samples // 2)  # noqa: E731
    s = sweeps.SweepSettings(h=8, sagsae_lambdas=(0.1, 1.0), gated_lambdas=(1.0, 2.0), operating_lambda=1.0,
                        train=(("training_samples", 1000), ("batch_size", 10)), budget=halve)
    assert s.sagsae_spec(1.0, use_aux_loss=False).training_samples == 500
    assert s.gated_spec(2.0).training_samples == 500 and s.gated_spec(2.0).d_sae == 16
    assert ("use_aux_loss", False) in s.sagsae_spec(1.0, use_aux_loss=False).options


def _full_point(lam: float, d_sae: int, l0: float, r2: float, dead: float, bip: float, n_params: int) -> sweeps.SignedPoint:
    return sweeps.SignedPoint(lam, d_sae, l0, r2, dead, bip, n_params, torch.zeros(d_sae), torch.zeros(d_sae))


def test_sweep_metrics_known_answer() -> None:
    s = sweeps.SweepSettings(h=4, sagsae_lambdas=(0.1, 1.0), gated_lambdas=(1.0, 2.0), operating_lambda=1.0, train=())
    sag = (_full_point(0.1, 4, 8.0, 0.9, 0.0, 0.25, 100), _full_point(1.0, 4, 2.0, 0.8, 0.25, 0.75, 100))
    l1 = (_full_point(1.0, 4, 300.0, 0.9, 0.0, 0.5, 100), _full_point(2.0, 4, 200.0, 0.8, 0.0, 0.5, 100))
    gat = (_full_point(1.0, 8, 8.0, 0.95, 0.5, 0.0, 150), _full_point(2.0, 8, 2.0, 0.7, 0.125, 0.0, 150))
    swept = sweeps.Sweeps({sweeps.L0_GATE: sag, sweeps.L1_GATE: l1}, gat, gat,
                          {sweeps.L0_GATE: sweeps.compare(sag, gat), sweeps.L1_GATE: sweeps.compare(l1, gat)})
    out = analysis.sweep_metrics(s, swept)
    assert out["r2_gap_min_over_l0_overlap@l0-gate"] == pytest.approx(-0.05, abs=1e-6)
    assert out["r2_gap_max_over_l0_overlap@l0-gate"] == pytest.approx(0.1, abs=1e-6)
    assert out["l0_ranges_overlap@l0-gate"] == 1.0
    # geomean(0.5, 0.125) / geomean(eps, 0.25) with eps = 1 / (2 * 8): 0.25 / 0.125 = 2
    assert out["dead_fraction_geomean_ratio_gated_over_sagsae@l0-gate"] == pytest.approx(2.0, abs=1e-9)
    assert out["dead_fraction_max_either@l0-gate"] == 0.5
    assert out["bipolar_share@l0-gate"] == 0.75  # the operating point's (lambda 1)
    # the l1-gate sweep (L0 200-300) misses the Gated one (2-8): no matched-L0 comparison, gaps recorded as 0
    assert out["l0_ranges_overlap@l1-gate"] == 0.0 and out["r2_gap_min_over_l0_overlap@l1-gate"] == 0.0
    assert out["sagsae_h_minus_gated_2h_parameters"] == -50.0
    assert out["sagsae_l0-gate_lam0.1_l0"] == 8.0 and out["gated_lam2_dead_fraction"] == 0.125
    assert out["jumprelu_lam1_r2"] == 0.95 and out["r2_gap_gated_minus_jumprelu_min_over_l0_overlap"] == 0.0
    assert analysis.SweepMetrics.names() <= set(out)


def test_ablation_metrics_known_answer() -> None:
    full = _full_point(1.0, 4, 2.0, 0.8, 0.0, 0.5, 1)
    one = (_full_point(0.1, 4, 8.0, 0.85, 0.0, 0.0, 1), _full_point(1.0, 4, 2.0, 0.7, 0.0, 0.0, 1))
    two = (_full_point(0.1, 4, 8.0, 0.9, 0.0, 0.0, 1), full)
    untied = (_full_point(0.1, 4, 8.0, 0.897, 0.0, 0.0, 1), _full_point(1.0, 4, 2.0, 0.804, 0.0, 0.0, 1))
    no_aux = _full_point(1.0, 4, 0.5, 0.3, 0.75, 0.0, 1)
    a = sweeps.Ablations(full, no_aux, two, one, untied, sweeps.compare(one, two), sweeps.compare(two, untied))
    far = tuple(p._replace(l0=p.l0 * 100) for p in untied)  # untied sweep that misses the tied one in L0
    b = sweeps.Ablations(full, no_aux, two, one, far, sweeps.compare(one, two), sweeps.compare(two, far))
    out = analysis.ablation_metrics({sweeps.L0_GATE: a, sweeps.L1_GATE: b})
    assert out["no_aux_dead_fraction@l0-gate"] == 0.75
    assert out["no_aux_minus_full_r2@l0-gate"] == pytest.approx(-0.5, abs=1e-12)
    # tied - untied at matched L0: +0.003 at L0 8, -0.004 at L0 2: the largest |gap| is 0.004
    assert out["abs_r2_tied_minus_untied_max_over_l0_overlap@l0-gate"] == pytest.approx(0.004, abs=1e-6)
    assert out["tied_minus_untied_r2_l0_ranges_overlap@l0-gate"] == 1.0
    assert out["tied_minus_untied_r2_l0_ranges_overlap@l1-gate"] == 0.0  # inconclusive: no overlap
    assert out["one_sided_minus_two_sided_r2_max_over_l0_overlap@l0-gate"] == pytest.approx(-0.05, abs=1e-6)
    assert analysis.AblationMetrics.names() <= set(out)


def test_tinylm_targets_cells_and_settings() -> None:
    from replication.papers.sagsae import tinylm as T
    from replication.claims import Tier

    assert [t.name for t in T.TARGETS] == ["tinylm-sagsae-resid-mid", "tinylm-sagsae-mlp-out",
                                           "tinylm-sagsae-attn-out"]
    assert all(t.tier is Tier.TINYLM and not t.control and len(t.seeds) >= 3 for t in T.TARGETS)
    assert T.TINYLM.operating_lambda in T.TINYLM.sagsae_lambdas
    assert dict(T.TINYLM.train)["normalize_activations"] == "expected_average_only_in"
    with pytest.raises(KeyError, match="known"):
        T.hook_name(dataclasses.replace(T.MLP_OUT, name="tinylm-unknown"))


def test_tinylm_hooks_follow_the_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    from replication.papers.sagsae import tinylm as T
    from replication.tinylm import tier_hooks

    monkeypatch.setenv("SAE_REPLICATION_TINYLM_PROFILE", "full")
    assert [T.hook_name(t) for t in T.TARGETS] == ["blocks.1.hook_resid_mid", "blocks.1.hook_mlp_out",
                                                   "blocks.1.hook_attn_out"]
    monkeypatch.setenv("SAE_REPLICATION_TINYLM_PROFILE", "smoke")
    assert T.hook_name(T.ATTN_OUT) == tier_hooks("smoke")["attn_out"]


class _FakeCache:
    def __init__(self, n: int):
        self.rows = torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 3)

    def eval_batch(self, n: int | None = None) -> torch.Tensor:
        return self.rows[:n]


def test_tinylm_eval_tokens_are_spread_over_the_whole_heldout_cache() -> None:
    from replication.papers.sagsae import tinylm as T

    x = T.eval_tokens(_FakeCache(100_000))
    idx = x[:, 0].long()
    assert x.shape == (T.N_EVAL, 3)
    assert int(idx[0]) == 0 and int(idx[-1]) == 99_999 and bool((idx[1:] > idx[:-1]).all())
    small = T.eval_tokens(_FakeCache(500))  # the smoke profile's held-out cache is smaller: all of it
    torch.testing.assert_close(small, _FakeCache(500).rows, rtol=0, atol=0)


def test_claim_metrics_are_provided_once_on_the_tinylm_tier() -> None:
    from replication.claims import Tier, load_all
    from replication.papers import registry as load_analyses

    claims, analyses = load_all(), load_analyses()
    for claim in claims.by_paper("sagsae"):
        if Tier.TINYLM in claim.tiers:
            analysis = analyses.analysis_for(claim, Tier.TINYLM)
            assert analysis is not None and analysis.name.startswith("sagsae-tinylm"), claim.id


def _disjoint(a: tuple, b: tuple) -> bool:
    return l0_ranges_disjoint([p.l0 for p in a], [p.l0 for p in b])


def test_disjoint_sweeps_have_no_comparison_unless_allowed_for_plumbing() -> None:
    a = (_point(200.0, 0.5), _point(210.0, 0.55))
    b = (_point(240.0, 0.6), _point(250.0, 0.62))
    assert sweeps.compare(a, b) is None  # the claims comparing them are then inconclusive (l0_ranges_overlap = 0)
    cmp = sweeps.compare(a, b, allow_disjoint=True)  # nearest points: L0 210 vs 240
    assert float(cmp.min_gap) == pytest.approx(0.55 - 0.6, abs=1e-12) and float(cmp.max_gap) == float(cmp.min_gap)
    assert _disjoint(a, b) and not _disjoint(a, (_point(205.0, 0.6), _point(250.0, 0.62)))


def test_tinylm_full_profile_is_not_plumbing_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from replication.papers.sagsae import tinylm as T

    monkeypatch.setenv("SAE_REPLICATION_TINYLM_PROFILE", "full")
    assert not T.plumbing_only()
    monkeypatch.setenv("SAE_REPLICATION_TINYLM_PROFILE", "smoke")
    assert T.plumbing_only()
