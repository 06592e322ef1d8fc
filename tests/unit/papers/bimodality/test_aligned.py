"""Instrument tests of the aligned architectures (bimodality §5, §6) registered in sae-lens, of the bimodality
toy data set and of the analysis helpers on constructed inputs."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import replication.saes  # noqa: F401  (registers the architectures)
from replication.metrics.bimodality import alignment_scores
from replication.saes.aligned import (
    ALIGNED_STANDARD,
    ALIGNED_TOPK,
    aligned_encoder,
    compressed_parameter,
    parameter_count,
)
from replication.training import SAESpec, build_training_sae, fit
from toy_models import PowerLawFeatureToy

ARCHS = [(ALIGNED_STANDARD, {"l1_coefficient": 1.0}), (ALIGNED_TOPK, {"k": 4})]


def _build(arch: str, d_in: int = 8, d_sae: int = 24, seed: int = 0, **opts):
    torch.manual_seed(seed)
    return build_training_sae(SAESpec.make(arch, d_sae, **opts), d_in)


def _perturb(sae, seed: int = 1) -> None:
    """Move every parameter (and the decoder norms away from 1) so that round trips test something."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in sae.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g))
        sae.W_dec.mul_(torch.rand(sae.W_dec.shape[0], 1, generator=g) + 0.5)


@given(d_in=st.integers(2, 12), d_sae=st.integers(1, 32), seed=st.integers(0, 2**16),
       compress=st.booleans(), scale=st.floats(0.05, 5.0))
def test_aligned_encoder_has_unit_alignment(d_in: int, d_sae: int, seed: int, compress: bool, scale: float) -> None:
    """eq. 3: W_enc[:, i] . W_dec[i] = 1 for any A and W_dec (float32)."""
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(d_in - compress, d_sae, generator=g)
    W_dec = scale * torch.randn(d_sae, d_in, generator=g)
    a = alignment_scores(aligned_encoder(A, W_dec), W_dec)
    # float32: a is O(1) and |W_enc| |W_dec| = 1 / cos, so rounding is ~1e-6 unless cos is tiny
    torch.testing.assert_close(a, torch.ones_like(a), rtol=0, atol=1e-4)


def test_aligned_encoder_matches_paper_appendix_c() -> None:
    """App. C's get_the_encoder_matrix, written out: appended = [A; 0]; W_enc = appended + W_dec^T (1 - <.,.>) / |.|^2."""
    g = torch.Generator().manual_seed(0)
    A = torch.randn(5, 7, generator=g, dtype=torch.float64)
    W_dec = torch.randn(7, 6, generator=g, dtype=torch.float64)
    appended = torch.cat([A, torch.zeros(1, 7, dtype=torch.float64)])
    inner = torch.einsum("sd,ds->s", W_dec, appended)
    expected = appended + W_dec.T * (1 - inner) / W_dec.pow(2).sum(dim=1)
    torch.testing.assert_close(aligned_encoder(A, W_dec), expected, rtol=1e-12, atol=1e-12)


def test_compressed_parameter_reaches_the_same_encoder() -> None:
    g = torch.Generator().manual_seed(0)
    A = torch.randn(6, 10, generator=g, dtype=torch.float64)
    W_dec = torch.randn(10, 6, generator=g, dtype=torch.float64)
    small = compressed_parameter(A, W_dec)
    assert small.shape == (5, 10)
    torch.testing.assert_close(aligned_encoder(small, W_dec), aligned_encoder(A, W_dec), rtol=1e-10, atol=1e-10)


def test_compressed_parameter_needs_nonzero_last_decoder_coordinate() -> None:
    W_dec = torch.randn(3, 4)
    W_dec[1, -1] = 0.0
    with pytest.raises(ValueError, match=r"W_dec\[i, -1\] == 0 for latents \[1\]"):
        compressed_parameter(torch.randn(4, 3), W_dec)


def test_aligned_encoder_rejects_wrong_shape() -> None:
    with pytest.raises(ValueError, match="A must be"):
        aligned_encoder(torch.randn(3, 5), torch.randn(5, 8))


@pytest.mark.parametrize(("arch", "opts"), ARCHS)
def test_aligned_architectures_are_registered(arch: str, opts: dict) -> None:  # noqa: ARG001
    from sae_lens.registry import SAE_CLASS_REGISTRY, SAE_TRAINING_CLASS_REGISTRY

    assert arch in SAE_CLASS_REGISTRY and arch in SAE_TRAINING_CLASS_REGISTRY


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(("arch", "opts"), ARCHS)
def test_aligned_config_round_trips_through_dict(arch: str, opts: dict, compress: bool) -> None:
    from sae_lens.saes.sae import SAEConfig, TrainingSAEConfig

    sae = _build(arch, compress_last_column=compress, **opts)
    cfg = sae.cfg
    again = TrainingSAEConfig.from_dict(cfg.to_dict())
    assert type(again) is type(cfg) and again.to_dict() == cfg.to_dict()
    inference = SAEConfig.from_dict(cfg.get_inference_sae_cfg_dict())
    assert inference.architecture() == arch and inference.compress_last_column is compress
    assert SAEConfig.from_dict(inference.to_dict()).to_dict() == inference.to_dict()


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(("arch", "opts"), ARCHS)
def test_aligned_save_and_load_from_disk(tmp_path, arch: str, opts: dict, compress: bool) -> None:
    from sae_lens import SAE

    sae = _build(arch, compress_last_column=compress, **opts)
    _perturb(sae)
    x = torch.randn(64, 8, generator=torch.Generator().manual_seed(2))
    sae.save_inference_model(tmp_path)
    loaded = SAE.load_from_disk(tmp_path)
    assert loaded.cfg.architecture() == arch
    assert loaded.A.shape == sae.A.shape == (8 - compress, 24)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), sae(x), rtol=1e-5, atol=1e-5)
        a = alignment_scores(loaded.W_enc, loaded.W_dec)
    torch.testing.assert_close(a, torch.ones_like(a), rtol=0, atol=1e-5)


@pytest.mark.parametrize(("arch", "opts"), ARCHS)
def test_compression_saves_exactly_d_sae_parameters(arch: str, opts: dict) -> None:
    full = _build(arch, **opts)
    small = _build(arch, compress_last_column=True, **opts)
    assert parameter_count(full) - parameter_count(small) == 24


def test_aligned_init_matches_standard_decoder_for_one_seed() -> None:
    """Same random draws as sae-lens's standard SAE: a paired comparison starts from the same decoder."""
    aligned = _build(ALIGNED_STANDARD, l1_coefficient=1.0)
    standard = _build("standard", l1_coefficient=1.0)
    torch.testing.assert_close(aligned.W_dec, standard.W_dec, rtol=0, atol=0)
    torch.testing.assert_close(aligned.W_dec.norm(dim=1), torch.full((24,), 0.1), rtol=1e-5, atol=1e-6)


def test_fold_W_dec_norm_keeps_outputs_and_alignment() -> None:
    sae = _build(ALIGNED_STANDARD, l1_coefficient=1.0)
    _perturb(sae)
    x = torch.randn(32, 8, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        before = sae(x)
        sae.fold_W_dec_norm()
        torch.testing.assert_close(sae(x), before, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(sae.W_dec.norm(dim=1), torch.ones(24), rtol=1e-5, atol=1e-5)
        a = alignment_scores(sae.W_enc, sae.W_dec)
    torch.testing.assert_close(a, torch.ones_like(a), rtol=0, atol=1e-5)


@pytest.mark.parametrize(("arch", "opts"), ARCHS + [(ALIGNED_TOPK, {"k": 4, "compress_last_column": True})])
def test_aligned_training_holds_unit_alignment_at_every_step(arch: str, opts: dict) -> None:
    """bimodality.aligned_exact as an instrument: max |a_i - 1| <= 1e-5 in float32 before every step."""
    data = PowerLawFeatureToy(d_in=8, n_features=32, expected_l0=3.0)
    steps = 25
    spec = SAESpec.make(arch, 24, training_samples=64 * steps, batch_size=64, lr=1e-2, **opts)
    seen: list[tuple[int, float]] = []

    def observe(sae, step: int) -> None:
        assert sae.W_enc.dtype == torch.float32
        with torch.no_grad():
            seen.append((step, float((alignment_scores(sae.W_enc, sae.W_dec) - 1).abs().max())))

    fit(spec, data, seed=0, on_step=observe)
    assert [s for s, _ in seen] == list(range(steps)) + [steps]  # every step, the init and the end
    assert max(d for _, d in seen) <= 1e-5


def test_standard_sae_is_not_aligned_during_training() -> None:
    """Negative control for the per-step check: sae-lens's standard SAE starts at a_i = 0.01."""
    data = PowerLawFeatureToy(d_in=8, n_features=32, expected_l0=3.0)
    spec = SAESpec.make("standard", 24, training_samples=64 * 5, batch_size=64, l1_coefficient=1.0)
    first: list[float] = []
    fit(spec, data, seed=0, on_step=lambda sae, step: first.append(
        float(alignment_scores(sae.W_enc.detach(), sae.W_dec.detach()).mean())) if step == 0 else None)
    assert first[0] == pytest.approx(0.01, abs=1e-6)


# ------------------------------------------------------------------------------------------ toy data


def test_power_law_toy_frequencies_and_determinism() -> None:
    toy = PowerLawFeatureToy(d_in=16, n_features=64, expected_l0=4.0, zipf_exponent=1.0)
    assert float(toy.firing_probs.sum()) == pytest.approx(4.0, abs=1e-4)
    assert float(toy.firing_probs[0] / toy.firing_probs[9]) == pytest.approx(10.0, rel=1e-5)  # Zipf(1)
    x1 = toy.sample(2048, torch.Generator().manual_seed(0))
    x2 = toy.sample(2048, torch.Generator().manual_seed(0))
    torch.testing.assert_close(x1, x2, rtol=0, atol=0)
    active = toy.sample_features(20_000, torch.Generator().manual_seed(1)) != 0
    # E[L0] = 4 minus the clamped-magnitude zeros (P(N(1, 0.25^2) <= 0) = 3e-5); sd of the mean ~0.014
    assert float(active.sum(1).float().mean()) == pytest.approx(4.0, abs=0.06)


def test_power_law_toy_rejects_impossible_probabilities() -> None:
    with pytest.raises(ValueError, match="firing probability"):
        PowerLawFeatureToy(n_features=8, expected_l0=6.0, zipf_exponent=2.0)


# ------------------------------------------------------------------------------------------ analysis helpers


def test_sweep_metrics_on_constructed_sweeps() -> None:
    from replication.metrics import SweepPoint
    from replication.papers.bimodality.sweeps import sweep_metrics

    standard = [SweepPoint("standard", 0, l0, ev, dead) for l0, ev, dead in [(2, 0.5, 0.2), (8, 0.7, 0.1)]]
    aligned = [SweepPoint("aligned", 0, l0, ev, dead) for l0, ev, dead in [(2, 0.6, 0.0), (8, 0.8, 0.05),
                                                                          (0, 0.0, 0.9)]]
    out = sweep_metrics(aligned, standard)
    assert out["ev_gap_min_over_l0_overlap"] == pytest.approx(0.1, abs=1e-9)
    assert out["aligned_minus_standard_dead_fraction"] == pytest.approx(-0.05, abs=1e-9)
    assert out["aligned_dead_fraction"] == pytest.approx(0.9, abs=1e-12)  # the collapsed point counts here


def test_alignment_metrics_on_a_constructed_sae() -> None:
    """Half the latents dead (huge negative bias, a_i = 0.02), half alive with a_i = 1: bimodal, modes 0 / 1."""
    from replication.papers.bimodality.analysis import alignment_arrays, alignment_metrics

    sae = _build("standard", d_in=16, d_sae=64, l1_coefficient=1.0)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        W_dec = torch.nn.functional.normalize(torch.randn(64, 16, generator=g), dim=1)
        scale = torch.where(torch.arange(64) < 32, 0.02, 1.0) * (1 + 0.02 * torch.randn(64, generator=g))
        sae.W_dec.copy_(W_dec)
        sae.W_enc.copy_(W_dec.T * scale)
        sae.b_enc.copy_(torch.where(torch.arange(64) < 32, -1e3, 0.0))
    x = torch.randn(4096, 16, generator=g)
    m = alignment_metrics(alignment_arrays(sae, x, larger=sae))
    assert m["dip_test_p"] < 0.05 and m["sarle_bimodality_coefficient"] > 5 / 9 and m["bimodal"] == 1.0
    assert m["abs_upper_mode_minus_one"] == pytest.approx(0.0, abs=0.02)
    assert m["jaccard_low_mode_dead"] == pytest.approx(1.0, abs=1e-12)
    assert m["dead_fraction"] == pytest.approx(0.5, abs=1e-12)


def test_fixed_point_toy_reaches_unit_alignment() -> None:
    from replication.papers.bimodality.toy import fixed_point_toy

    dev, err = fixed_point_toy(seed=0)
    assert dev < 1e-3 and err < 1e-3
    assert math.isfinite(dev)


def test_negative_control_is_called_unimodal() -> None:
    from replication.papers.bimodality.toy import _control

    m = _control(0)
    assert not (m["dip_test_p"] < 0.05 and m["sarle_bimodality_coefficient"] > 5 / 9)
