"""Instrument tests of the SA-GSAE architecture (replication/saes/sagsae.py): the Bi-Jump-ReLU on constructed
pre-activations, sign handling, exact parameter counts, sae-lens registry, training step and save/load."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import replication.saes  # noqa: F401  (registers the architecture)
from replication.saes.sagsae import (
    SAGSAE,
    SignAwareGatedSAE,
    SignAwareGatedSAEConfig,
    SignAwareGatedTrainingSAE,
    SignAwareGatedTrainingSAEConfig,
    bi_jump_relu,
    bi_jump_support,
    gated_parameter_count,
    sagsae_parameter_count,
)


def _training_sae(d_in: int = 8, d_sae: int = 6, **kw) -> SignAwareGatedTrainingSAE:
    torch.manual_seed(0)
    return SignAwareGatedTrainingSAE(SignAwareGatedTrainingSAEConfig(d_in=d_in, d_sae=d_sae, **kw))


# ------------------------------------------------------------------------------ Bi-Jump-ReLU


def test_bi_jump_support_on_constructed_preactivations() -> None:
    pi = torch.tensor([[-2.0, -0.5, -0.3, 0.0, 0.3, 0.5, 2.0]])
    theta_pos = torch.full((7,), 0.4)
    theta_neg = torch.full((7,), 0.4)
    pos, neg = bi_jump_support(pi, theta_pos, theta_neg)
    assert pos.tolist() == [[False, False, False, False, False, True, True]]
    assert neg.tolist() == [[True, True, False, False, False, False, False]]
    # one-sided: the lower side never fires
    pos1, neg1 = bi_jump_support(pi, theta_pos, None)
    assert pos1.tolist() == pos.tolist() and not bool(neg1.any())


def test_bi_jump_support_is_strict_at_the_threshold() -> None:
    pi = torch.tensor([[0.4, -0.4]])
    pos, neg = bi_jump_support(pi, torch.tensor([0.4, 0.4]), torch.tensor([0.4, 0.4]))
    assert not bool(pos.any()) and not bool(neg.any())


def test_bi_jump_support_with_asymmetric_thresholds() -> None:
    pi = torch.tensor([[0.2, -0.2]])
    pos, neg = bi_jump_support(pi, torch.tensor([0.1, 0.1]), torch.tensor([0.3, 0.1]))
    assert pos.tolist() == [[True, False]] and neg.tolist() == [[False, True]]


def test_bi_jump_relu_values_and_gradients() -> None:
    pi = torch.tensor([[-2.0, -0.2, 0.2, 2.0]], requires_grad=True)
    theta_pos = torch.full((4,), 0.5, requires_grad=True)
    theta_neg = torch.full((4,), 0.5, requires_grad=True)
    a = bi_jump_relu(pi, theta_pos, theta_neg, bandwidth=0.1)
    torch.testing.assert_close(a, torch.tensor([[-2.0, 0.0, 0.0, 2.0]]), rtol=0, atol=0)
    a.sum().backward()
    # da/dpi is the support indicator on both sides
    torch.testing.assert_close(pi.grad, torch.tensor([[1.0, 0.0, 0.0, 1.0]]), rtol=0, atol=0)
    # pre-activations far from the thresholds (> bandwidth / 2 away): no STE gradient to the thresholds
    torch.testing.assert_close(theta_pos.grad, torch.zeros(4), rtol=0, atol=0)


def test_bi_jump_relu_threshold_ste_near_the_jump() -> None:
    # pi within bandwidth/2 above theta+: sae-lens's JumpReLU STE gives d a / d theta = -theta / bandwidth
    pi = torch.tensor([[0.52]])
    theta_pos = torch.tensor([0.5], requires_grad=True)
    theta_neg = torch.tensor([0.5], requires_grad=True)
    bi_jump_relu(pi, theta_pos, theta_neg, bandwidth=0.1).sum().backward()
    torch.testing.assert_close(theta_pos.grad, torch.tensor([-5.0]), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(theta_neg.grad, torch.tensor([0.0]), rtol=0, atol=0)
    # mirrored on the lower side: a = -JumpReLU(-pi), so d a / d theta- = +theta / bandwidth
    theta_pos.grad = None
    theta_neg.grad = None
    bi_jump_relu(-pi, theta_pos, theta_neg, bandwidth=0.1).sum().backward()
    torch.testing.assert_close(theta_neg.grad, torch.tensor([5.0]), rtol=1e-6, atol=1e-6)


@given(st.lists(st.floats(-5, 5, allow_nan=False, width=32), min_size=1, max_size=16),
       st.floats(0, 2, width=32), st.floats(0, 2, width=32))
def test_bi_jump_relu_is_odd_under_swapped_thresholds(values, tp, tn) -> None:
    """Property: a(-pi; theta+, theta-) = -a(pi; theta-, theta+), and a is pi or 0 everywhere."""
    pi = torch.tensor([values])
    n = pi.shape[1]
    tpos, tneg = torch.full((n,), tp), torch.full((n,), tn)
    a = bi_jump_relu(pi, tpos, tneg)
    torch.testing.assert_close(bi_jump_relu(-pi, tneg, tpos), -a, rtol=0, atol=0)
    assert bool(((a == pi) | (a == 0)).all())
    pos, neg = bi_jump_support(pi, tpos, tneg)
    assert not bool((pos & neg).any())
    torch.testing.assert_close(a != 0, (pos | neg) & (pi != 0), rtol=0, atol=0)


# ------------------------------------------------------------------------------ encoder sign handling


def _constructed(two_sided: bool = True, tied_radii: bool = True) -> SignAwareGatedSAE:
    """d_in = d_sae = 2, identity encoder/decoder, thresholds 0.5, zero biases: f follows x's sign."""
    cfg = SignAwareGatedSAEConfig(d_in=2, d_sae=2, two_sided=two_sided, tied_radii=tied_radii)
    sae = SignAwareGatedSAE(cfg)
    with torch.no_grad():
        sae.W_enc.copy_(torch.eye(2))
        sae.W_dec.copy_(torch.eye(2))
        sae.b_dec.zero_()
        sae.b_gate.zero_()
        sae.b_mag.zero_()
        sae.threshold_pos.fill_(0.5)
        if two_sided:
            sae.threshold_neg.fill_(0.5)
    return sae


def test_encode_fires_with_either_sign() -> None:
    sae = _constructed()
    x = torch.tensor([[1.0, -1.0], [0.3, -0.3], [-2.0, 0.7]])
    f = sae.encode(x)
    torch.testing.assert_close(f, torch.tensor([[1.0, -1.0], [0.0, 0.0], [-2.0, 0.7]]), rtol=0, atol=0)
    torch.testing.assert_close(sae.decode(f), f, rtol=0, atol=0)


def test_one_sided_gate_drops_the_negative_side() -> None:
    sae = _constructed(two_sided=False)
    f = sae.encode(torch.tensor([[1.0, -1.0], [-2.0, 0.7]]))
    torch.testing.assert_close(f, torch.tensor([[1.0, 0.0], [0.0, 0.7]]), rtol=0, atol=0)


def test_untied_radii_scale_each_side() -> None:
    sae = _constructed(tied_radii=False)
    with torch.no_grad():
        sae.r_mag_pos.fill_(torch.log(torch.tensor(2.0)))
        sae.r_mag_neg.fill_(torch.log(torch.tensor(3.0)))
    f = sae.encode(torch.tensor([[1.0, -1.0]]))
    torch.testing.assert_close(f, torch.tensor([[2.0, -3.0]]), rtol=1e-6, atol=1e-6)


def test_magnitude_of_the_wrong_sign_is_zeroed() -> None:
    """Gate open on the upper side but a negative magnitude (b_mag < -u): ReLU keeps f >= 0 on that side."""
    sae = _constructed()
    with torch.no_grad():
        sae.b_mag.fill_(-2.0)
    f = sae.encode(torch.tensor([[1.0, -1.0]]))
    torch.testing.assert_close(f, torch.tensor([[0.0, -3.0]]), rtol=0, atol=0)


def test_training_and_inference_encoders_agree() -> None:
    sae = _training_sae()
    x = torch.randn(64, 8)
    with torch.no_grad():
        sae.threshold_pos.uniform_(0, 0.05)
        sae.threshold_neg.uniform_(0, 0.05)
        f_train, pi = sae.encode_with_hidden_pre(x)
    assert bool((f_train < 0).any()) and bool((f_train > 0).any())
    pos, neg = bi_jump_support(pi, sae.threshold_pos, sae.threshold_neg)
    assert bool(((f_train > 0) <= pos).all()) and bool(((f_train < 0) <= neg).all())


# ------------------------------------------------------------------------------ parameter accounting


@pytest.mark.parametrize(("two_sided", "tied_radii"), [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize(("d_in", "d_sae"), [(8, 6), (32, 64), (5, 1)])
def test_sagsae_parameter_formula_matches_the_module(d_in, d_sae, two_sided, tied_radii) -> None:
    for cls, cfg_cls in ((SignAwareGatedSAE, SignAwareGatedSAEConfig),
                         (SignAwareGatedTrainingSAE, SignAwareGatedTrainingSAEConfig)):
        sae = cls(cfg_cls(d_in=d_in, d_sae=d_sae, two_sided=two_sided, tied_radii=tied_radii))
        expected = sagsae_parameter_count(d_in, d_sae, two_sided=two_sided, tied_radii=tied_radii)
        assert sum(p.numel() for p in sae.parameters()) == expected


@pytest.mark.parametrize(("d_in", "d_sae"), [(8, 12), (32, 128), (3, 1)])
def test_gated_parameter_formula_matches_sae_lens(d_in, d_sae) -> None:
    from sae_lens.saes.gated_sae import GatedTrainingSAE, GatedTrainingSAEConfig

    sae = GatedTrainingSAE(GatedTrainingSAEConfig(d_in=d_in, d_sae=d_sae))
    assert sum(p.numel() for p in sae.parameters()) == gated_parameter_count(d_in, d_sae)


def test_parameter_formulas_by_hand() -> None:
    # d_in 32, H 64: 2*32*64 + 32 + 5*64 = 4448; Gated(128): 2*32*128 + 32 + 3*128 = 8608
    assert sagsae_parameter_count(32, 64) == 4448
    assert sagsae_parameter_count(32, 64, tied_radii=False) == 4512
    assert gated_parameter_count(32, 128) == 8608


@given(st.integers(1, 512), st.integers(1, 512))
def test_half_width_sagsae_has_fewer_parameters(d_in, h) -> None:
    """Property: SA-GSAE(H) < Gated(2H) for every width, untied radii included (difference -2 d_in H)."""
    for tied in (True, False):
        diff = sagsae_parameter_count(d_in, h, tied_radii=tied) - gated_parameter_count(d_in, 2 * h)
        assert diff == -2 * d_in * h - (h if tied else 0)


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="untied radii"):
        sagsae_parameter_count(4, 4, two_sided=False, tied_radii=False)
    with pytest.raises(ValueError, match="tied_radii=True"):
        SignAwareGatedSAE(SignAwareGatedSAEConfig(d_in=4, d_sae=4, two_sided=False, tied_radii=False))
    with pytest.raises(ValueError, match="sparsity_loss"):
        SignAwareGatedTrainingSAE(SignAwareGatedTrainingSAEConfig(d_in=4, d_sae=4, sparsity_loss="l2"))
    with pytest.raises(ValueError, match="positive"):
        gated_parameter_count(0, 4)


# ------------------------------------------------------------------------------ registry, training, save/load


def test_registered_in_sae_lens() -> None:
    from sae_lens.registry import SAE_CLASS_REGISTRY, SAE_TRAINING_CLASS_REGISTRY

    assert SAE_CLASS_REGISTRY[SAGSAE] == (SignAwareGatedSAE, SignAwareGatedSAEConfig)
    assert SAE_TRAINING_CLASS_REGISTRY[SAGSAE] == (SignAwareGatedTrainingSAE, SignAwareGatedTrainingSAEConfig)
    cfg = SignAwareGatedTrainingSAEConfig(d_in=4, d_sae=4, tied_radii=False, use_aux_loss=False)
    back = SignAwareGatedTrainingSAEConfig.from_dict(cfg.to_dict())
    assert back.tied_radii is False and back.use_aux_loss is False and back.architecture() == SAGSAE


@pytest.mark.parametrize("sparsity_loss", ["l0", "l1"])
@pytest.mark.parametrize("use_aux_loss", [True, False])
def test_training_step_losses_and_gradients(sparsity_loss, use_aux_loss) -> None:
    from sae_lens.saes.sae import TrainStepInput

    sae = _training_sae(sparsity_loss=sparsity_loss, use_aux_loss=use_aux_loss, init_threshold=0.02)
    x = torch.randn(32, 8)
    out = sae.training_forward_pass(TrainStepInput(sae_in=x, coefficients={"sparsity": 0.5},
                                                   dead_neuron_mask=None, n_training_steps=0,
                                                   is_logging_step=False))
    expected = {"mse_loss", f"{sparsity_loss}_loss"} | ({"auxiliary_reconstruction_loss"} if use_aux_loss else set())
    assert set(out.losses) == expected
    torch.testing.assert_close(out.loss, sum(out.losses.values()), rtol=1e-6, atol=1e-6)
    out.loss.backward()
    for name in ("W_enc", "W_dec", "b_dec", "b_mag", "r_mag", "threshold_pos", "threshold_neg"):
        grad = getattr(sae, name).grad
        assert grad is not None and bool(torch.isfinite(grad).all()), name
    # b_gate is trained through the gate-path losses only (a has the exact gradient; the gates have none)
    assert (sae.b_gate.grad is not None and bool(sae.b_gate.grad.abs().sum() > 0)) == (
        use_aux_loss or sparsity_loss == "l1")


def test_thresholds_are_projected_nonnegative() -> None:
    from sae_lens.saes.sae import TrainStepInput

    sae = _training_sae()
    with torch.no_grad():
        sae.threshold_pos.fill_(-1.0)
        sae.threshold_neg.fill_(-1.0)
    sae.training_forward_pass(TrainStepInput(sae_in=torch.randn(4, 8), coefficients={"sparsity": 1.0},
                                             dead_neuron_mask=None, n_training_steps=0, is_logging_step=False))
    assert float(sae.threshold_pos.detach().min()) == 0.0 and float(sae.threshold_neg.detach().min()) == 0.0


@pytest.mark.parametrize("tied_radii", [True, False])
def test_save_inference_model_and_load_from_disk_round_trip(tmp_path, tied_radii) -> None:
    from sae_lens import SAE

    sae = _training_sae(tied_radii=tied_radii)
    with torch.no_grad():
        for p in sae.parameters():
            p.add_(0.05 * torch.randn_like(p))
        sae.threshold_pos.abs_()
        sae.threshold_neg.abs_()
    sae.save_inference_model(tmp_path)
    loaded = SAE.load_from_disk(str(tmp_path), device="cpu")
    assert isinstance(loaded, SignAwareGatedSAE) and loaded.cfg.tied_radii is tied_radii
    assert loaded.threshold_pos.dtype == torch.float32
    x = torch.randn(50, 8)
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode(x), sae.encode(x), rtol=0, atol=0)
        torch.testing.assert_close(loaded(x), sae(x), rtol=0, atol=0)


def test_fold_W_dec_norm_keeps_the_reconstruction() -> None:
    sae = _training_sae()
    with torch.no_grad():
        sae.W_dec.mul_(torch.linspace(0.5, 3.0, 6).unsqueeze(1))
        sae.threshold_pos.uniform_(0, 0.05)
        sae.threshold_neg.uniform_(0, 0.05)
        sae.b_gate.uniform_(-0.02, 0.02)
        sae.b_mag.uniform_(-0.02, 0.02)
    x = torch.randn(100, 8)
    with torch.no_grad():
        before = sae(x)
        active_before = sae.encode(x) != 0
        sae.fold_W_dec_norm()
        torch.testing.assert_close(sae.W_dec.norm(dim=1), torch.ones(6), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(sae(x), before, rtol=1e-4, atol=1e-5)
        assert bool(((sae.encode(x) != 0) == active_before).all())


def test_trains_with_sae_lens_trainer_through_train_sae(tmp_path, monkeypatch) -> None:
    """A few sae-lens SAETrainer steps via the foundation's cache, then SAE.load_from_disk of the result."""
    from replication.training import SAESpec, train_sae
    from toy_models.sagsae import BipolarFeatureToy

    monkeypatch.setenv("SAE_REPLICATION_CACHE", str(tmp_path))
    data = BipolarFeatureToy(d_in=8, n_bipolar=4, n_unipolar=4, firing_prob=0.2)
    spec = SAESpec.make(SAGSAE, 8, sparsity_coefficient=0.1, training_samples=64 * 20, batch_size=64, lr=1e-3)
    trained = train_sae(spec, data, seed=0)
    assert isinstance(trained.sae, SignAwareGatedSAE)
    x = data.sample(256, torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert trained.sae(x).shape == x.shape


def _aux_only_grads(sae, coefficients: dict) -> dict:
    """Gradients of the auxiliary reconstruction term alone."""
    from sae_lens.saes.sae import TrainStepInput

    x = torch.randn(32, sae.cfg.d_in, generator=torch.Generator().manual_seed(3))
    out = sae.training_forward_pass(TrainStepInput(sae_in=x, coefficients=coefficients, dead_neuron_mask=None,
                                                   n_training_steps=0, is_logging_step=False))
    out.losses["auxiliary_reconstruction_loss"].backward()
    return {name: p.grad for name, p in sae.named_parameters()}


@pytest.mark.parametrize("architecture", [SAGSAE, "replication-gated"])
def test_the_auxiliary_loss_reconstructs_through_a_frozen_decoder(architecture: str) -> None:
    # Rajamanoharan et al.: the auxiliary term trains the gate path only, never the decoder
    from replication.training import SAESpec, build_training_sae

    coeff = {"sparsity": 0.5} if architecture == SAGSAE else {"l1": 0.5}
    options = {"sparsity_coefficient": 0.5} if architecture == SAGSAE else {"l1_coefficient": 0.5}
    torch.manual_seed(0)
    sae = build_training_sae(SAESpec.make(architecture, 16, **options), 8)
    grads = _aux_only_grads(sae, coeff)
    assert grads["W_dec"] is None or float(grads["W_dec"].abs().max()) == 0.0
    # (b_dec still gets a gradient through the encoder's input centring x - b_dec, which is not the decoder)
    assert grads["W_enc"] is not None and float(grads["W_enc"].abs().max()) > 0  # the gate path does train
    assert grads["b_gate"] is not None and float(grads["b_gate"].abs().max()) > 0


def test_sae_lens_gated_does_train_its_decoder_through_the_auxiliary_loss() -> None:
    # the difference the frozen-decoder baseline removes (negative control of the test above)
    from replication.training import SAESpec, build_training_sae

    torch.manual_seed(0)
    sae = build_training_sae(SAESpec.make("gated", 16, l1_coefficient=0.5), 8)
    grads = _aux_only_grads(sae, {"l1": 0.5})
    assert float(grads["W_dec"].abs().max()) > 0


@pytest.mark.parametrize("sparsity_loss", ["l0", "l1"])
def test_both_penalty_readings_train(tmp_path, monkeypatch, sparsity_loss: str) -> None:
    """The l1-gate reading trains through sae-lens's trainer as the l0-gate one does: the loss falls."""
    from replication.training import SAESpec, fit
    from toy_models.sagsae import BipolarFeatureToy

    data = BipolarFeatureToy(d_in=8, n_bipolar=4, n_unipolar=4, firing_prob=0.2)
    x = data.sample(512, torch.Generator().manual_seed(1))
    spec = SAESpec.make(SAGSAE, 8, sparsity_coefficient=0.1, sparsity_loss=sparsity_loss,
                           training_samples=64 * 150, batch_size=64, lr=3e-3)
    torch.manual_seed(0)
    from replication.training import build_training_sae

    untrained = build_training_sae(spec, 8)
    trained = fit(spec, data, seed=0)
    with torch.no_grad():
        before = (untrained(x) - x).pow(2).sum(-1).mean()
        after = (trained(x) - x).pow(2).sum(-1).mean()
    assert bool(torch.isfinite(after)) and float(after) < 0.5 * float(before)
