"""The Sign-Aware Gated SAE (SA-GSAE) with the Bi-Jump-ReLU gate (papers/sign-aware-gated-sae.txt).

The paper gives the method in prose only ("a polarity-sensitive gate selects support on either sign, a
signed-magnitude path avoids L1 shrinkage, and an auxiliary reconstruction prevents gate collapse"; per-side
radii ``r_i^+, r_i^-``, tied by default). These are the exact equations implemented here. They are the Gated
SAE of Rajamanoharan et al. (2024) as sae-lens implements it (``sae_lens/saes/gated_sae.py``: gate path with
``b_gate``, magnitude path ``W_enc * exp(r_mag) + b_mag``, L1 on the gate path weighted by ``||W_dec[i]||``,
auxiliary reconstruction through the gate path), made two-sided with learnt JumpReLU
thresholds (sae-lens's straight-through estimator, ``sae_lens/saes/jumprelu_sae.py``).

Layouts are sae-lens's: ``W_enc`` is ``(d_in, d_sae)`` (the paper's encoder row ``w_i`` is ``W_enc[:, i]``),
``W_dec`` is ``(d_sae, d_in)``. With ``x~ = x - b_dec`` and ``u_i = x~ . W_enc[:, i]`` (the projection on the
shared direction):

    gate pre-activation   pi_i   = u_i + b_gate_i
    Bi-Jump-ReLU support  g+_i   = H(pi_i - theta+_i),   g-_i = H(-pi_i - theta-_i),   theta+-_i >= 0
    magnitudes            m+_i   = exp(r+_i) u_i + b_mag_i,   m-_i = exp(r-_i) u_i + b_mag_i
    latent (signed)       f_i    = g+_i ReLU(m+_i) - g-_i ReLU(-m-_i)
    reconstruction        x_hat  = f W_dec + b_dec

So latent ``i`` is active when its gate pre-activation exceeds ``theta+_i`` or falls below ``-theta-_i`` (the
two sides are disjoint because both thresholds are kept >= 0), and then carries a positive value on the
upper side and a negative value on the lower side, both along the one decoder direction ``W_dec[i]``.
The magnitude path is a per-side rescaling of the shared projection ``u_i`` (as the Gated SAE's
``W_enc * exp(r_mag)``); the sparsity penalty never touches it, hence no L1 shrinkage of the values.

The Bi-Jump-ReLU activation of the gate path is ``a_i = pi_i (g+_i + g-_i)`` (a JumpReLU on each side).
Training loss (per token, averaged over the batch; sae-lens sums the MSE over ``d_in``):

    L = ||x - x_hat||^2                                       (reconstruction)
      + lambda * S                                            (sparsity, on the gate only)
      + ||x - (a W_dec + b_dec)||^2                           (auxiliary gate-path reconstruction)

    S = sum_i (g+_i + g-_i)                 sparsity_loss="l0" (default): the L0 of the two-sided gate
    S = sum_i |a_i| ||W_dec[i]||            sparsity_loss="l1": sae-lens's gated L1 with ReLU(pi) -> a

(the paper does not say which: the two readings of ``claims.sagsae.PENALTY_READINGS``)

The auxiliary term is the Gated SAE's with ``ReLU(pi)`` replaced by the Bi-Jump-ReLU ``a``, through a frozen
(stop-gradient) copy of the decoder as Rajamanoharan et al. define it (sae-lens's ``gated`` does not freeze
it; the suite's baseline, ``replication-gated``, does: :mod:`replication.saes.gated`). The step functions have no gradient; as in sae-lens's JumpReLU, the thresholds get a
straight-through gradient with a rectangle kernel of width ``bandwidth``:
``d H(z - theta)/d theta := -(1/eps) K((z - theta)/eps)`` for the gates ``g`` (through the reconstruction
and the L0) and ``d [z H(z - theta)]/d theta := -(theta/eps) K((z - theta)/eps)`` for ``a`` (through the
auxiliary loss and the L1); ``pi`` gets the exact gradient of ``a`` and none through ``g`` (DeepMind's
JumpReLU, ``ste_to_input=False``). Thresholds are projected onto ``>= 0`` before every step (as sae-lens's
JumpReLU does).

Why the L0 is the default: a two-sided gate can only be sparse through its dead zone
``[-theta-, theta+]``; the Gated SAE's L1 (which closes a one-sided gate by lowering ``b_gate``) can close a
two-sided gate only by shrinking ``|pi|``, i.e. the shared ``W_enc``, which starves the magnitude path. On
the toy (d_in 32, H 64, 1,000 steps, lambda 2.5) the L1 variant ended with median ``||W_enc[:, i]||`` 0.009,
median thresholds 0.001 and R² 0.40 at L0 4.5, where the L0 variant trains normally (see
``replication/papers/sagsae/``). The L0 penalty is the JumpReLU SAE's (sae-lens ``jumprelu``, mode "step").

Options (the paper's ablations):

- ``tied_radii`` (default ``True``, the paper's recommended symmetric variant): one ``r_mag`` with
  ``r+ = r- = r_mag``; ``False`` trains ``r_mag_pos`` and ``r_mag_neg``.
- ``use_aux_loss`` (training only, default ``True``): ``False`` drops the auxiliary reconstruction term.
- ``two_sided`` (default ``True``): ``False`` keeps only the upper side (``g- = 0``, no ``theta-``): a Gated
  SAE with a learnt JumpReLU threshold on its gate, the one-sided ablation.

Parameter count (:func:`sagsae_parameter_count`; ``d_sae = H``):
``2 d_in H + d_in + H (2 + n_thresholds + n_radii)`` with ``n_thresholds = 2`` (two-sided) or 1 and
``n_radii = 1`` (tied) or 2: ``W_enc, W_dec, b_dec, b_gate, b_mag, theta+-, r+-``. sae-lens's Gated SAE
has ``2 d_in H + d_in + 3 H`` (:func:`gated_parameter_count`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from jaxtyping import Bool, Float
from sae_lens.saes.jumprelu_sae import JumpReLU, Step
from sae_lens.saes.sae import (
    SAE,
    SAEConfig,
    TrainCoefficientConfig,
    TrainingSAE,
    TrainingSAEConfig,
    TrainStepInput,
    TrainStepOutput,
)
from torch import Tensor, nn
from typing_extensions import override

SAGSAE = "replication-sagsae"


# ------------------------------------------------------------------------------------- pure functions


def bi_jump_support(pi: Float[Tensor, "... d_sae"], theta_pos: Float[Tensor, " d_sae"],
                    theta_neg: Float[Tensor, " d_sae"] | None) -> tuple[Bool[Tensor, "... d_sae"],
                                                                          Bool[Tensor, "... d_sae"]]:
    """The Bi-Jump-ReLU support: ``(pi > theta+, pi < -theta-)``; ``theta_neg=None`` is the one-sided gate.

    Strict inequalities, as sae-lens's JumpReLU (``x > threshold``): a pre-activation exactly at a threshold
    is inactive. With ``theta+-  >= 0`` the two masks are disjoint.
    """
    pos = pi > theta_pos
    neg = pi < -theta_neg if theta_neg is not None else torch.zeros_like(pos)
    return pos, neg


def bi_jump_relu(pi: Float[Tensor, "... d_sae"], theta_pos: Float[Tensor, " d_sae"],
                 theta_neg: Float[Tensor, " d_sae"] | None, bandwidth: float = 0.05) -> Float[Tensor, "... d_sae"]:
    """``a = pi H(pi - theta+) + pi H(-pi - theta-)``: a JumpReLU on each side, with sae-lens's STE.

    Forward value is exact; backward: ``da/dpi`` is the support indicator and the thresholds get
    sae-lens's JumpReLU straight-through gradient (rectangle kernel of width ``bandwidth``).
    """
    a = JumpReLU.apply(pi, theta_pos, bandwidth, False)
    if theta_neg is not None:
        a = a - JumpReLU.apply(-pi, theta_neg, bandwidth, False)
    return a  # type: ignore[return-value]


def sagsae_parameter_count(d_in: int, d_sae: int, *, two_sided: bool = True, tied_radii: bool = True) -> int:
    """Exact number of trainable scalars of an SA-GSAE: ``2 d_in d_sae + d_in + d_sae (2 + n_theta + n_r)``.

    ``W_enc`` (d_in x d_sae), ``W_dec`` (d_sae x d_in), ``b_dec`` (d_in), ``b_gate`` and ``b_mag`` (d_sae each),
    thresholds ``theta+`` (and ``theta-`` if two-sided), radii ``r_mag`` (tied) or ``r_mag_pos, r_mag_neg``.
    """
    _check_widths(d_in, d_sae)
    if not two_sided and not tied_radii:
        raise ValueError("a one-sided SA-GSAE has no lower side, so untied radii are meaningless")
    n_theta = 2 if two_sided else 1
    n_r = 1 if tied_radii else 2
    return 2 * d_in * d_sae + d_in + d_sae * (2 + n_theta + n_r)


def gated_parameter_count(d_in: int, d_sae: int) -> int:
    """Exact number of trainable scalars of sae-lens's ``gated`` SAE: ``2 d_in d_sae + d_in + 3 d_sae``.

    ``W_enc``, ``W_dec``, ``b_dec``, and ``b_gate``, ``b_mag``, ``r_mag`` (d_sae each); no ``b_enc``.
    """
    _check_widths(d_in, d_sae)
    return 2 * d_in * d_sae + d_in + 3 * d_sae


def _check_widths(d_in: int, d_sae: int) -> None:
    if d_in < 1 or d_sae < 1:
        raise ValueError(f"d_in and d_sae must be positive, got d_in={d_in}, d_sae={d_sae}")


# ------------------------------------------------------------------------------------- shared mixin


class _SignAwareGated:
    """Parameters, encoder and weight folding shared by the inference and the training SA-GSAE."""

    cfg: Any
    dtype: torch.dtype
    device: torch.device
    W_enc: nn.Parameter
    W_dec: nn.Parameter
    b_dec: nn.Parameter
    b_gate: nn.Parameter
    b_mag: nn.Parameter
    threshold_pos: nn.Parameter
    threshold_neg: nn.Parameter
    r_mag: nn.Parameter
    r_mag_pos: nn.Parameter
    r_mag_neg: nn.Parameter

    def _init_sign_aware(self, init_threshold: float) -> None:
        cfg = self.cfg
        if not cfg.two_sided and not cfg.tied_radii:
            raise ValueError("a one-sided SA-GSAE (two_sided=False) needs tied_radii=True: it has no lower side")

        def vec(value: float = 0.0, dtype: torch.dtype | None = None) -> nn.Parameter:
            return nn.Parameter(torch.full((cfg.d_sae,), value, dtype=dtype or self.dtype, device=self.device))

        self.b_gate = vec()
        self.b_mag = vec()
        # float32 whatever the SAE dtype, as sae-lens's JumpReLU threshold (Adam steps round away in bf16)
        self.threshold_pos = vec(init_threshold, torch.float32)
        if cfg.two_sided:
            self.threshold_neg = vec(init_threshold, torch.float32)
        if cfg.tied_radii:
            self.r_mag = vec()
        else:
            self.r_mag_pos = vec()
            self.r_mag_neg = vec()

    def radii(self) -> tuple[Tensor, Tensor]:
        """``(r+, r-)``, the log-rescalings of the shared direction on each side (one tensor when tied)."""
        if self.cfg.tied_radii:
            return self.r_mag, self.r_mag
        return self.r_mag_pos, self.r_mag_neg

    def thresholds(self, dtype: torch.dtype) -> tuple[Tensor, Tensor | None]:
        neg = self.threshold_neg.to(dtype) if self.cfg.two_sided else None
        return self.threshold_pos.to(dtype), neg

    def _encode_parts(self, sae_in: Tensor, *, ste: bool, bandwidth: float = 0.05) -> tuple[Tensor, Tensor]:
        """``(f, pi)`` from the pre-processed input ``x~``; ``ste`` routes the gates through sae-lens's Step."""
        u = sae_in @ self.W_enc
        pi = u + self.b_gate
        theta_pos, theta_neg = self.thresholds(pi.dtype)
        r_pos, r_neg = self.radii()
        m_pos = u * r_pos.exp() + self.b_mag
        if ste:
            g_pos = Step.apply(pi, theta_pos, bandwidth, False)
        else:
            g_pos = (pi > theta_pos).to(pi.dtype)
        f = g_pos * torch.relu(m_pos)
        if theta_neg is not None:
            m_neg = m_pos if self.cfg.tied_radii else u * r_neg.exp() + self.b_mag
            if ste:
                g_neg = Step.apply(-pi, theta_neg, bandwidth, False)
            else:
                g_neg = (pi < -theta_neg).to(pi.dtype)
            f = f - g_neg * torch.relu(-m_neg)
        return f, pi

    @torch.no_grad()
    def fold_W_dec_norm(self) -> None:
        """Unit decoder rows: ``W_enc[:, i] *= n_i`` scales ``u_i``, so ``b_gate``, ``b_mag`` and both
        thresholds scale by ``n_i`` too (the radii are scale-free); ``f_i`` scales by ``n_i``, and ``x_hat`` is
        unchanged."""
        norms = self.fold_and_get_W_dec_norm()  # type: ignore[attr-defined]
        self.b_gate.data.mul_(norms)
        self.b_mag.data.mul_(norms)
        self.threshold_pos.data.mul_(norms.to(self.threshold_pos.dtype))
        if self.cfg.two_sided:
            self.threshold_neg.data.mul_(norms.to(self.threshold_neg.dtype))

    def fold_activation_whitening(self, *args: Any, **kwargs: Any) -> None:  # noqa: ARG002
        raise NotImplementedError("SA-GSAE does not support covariance whitening; train with "
                                  "normalize_activations='none' or 'expected_average_only_in'")

    def _keep_threshold_float32(self) -> None:
        for name in ("threshold_pos", "threshold_neg"):
            p = getattr(self, "_parameters", {}).get(name)
            if p is not None and p.dtype != torch.float32:
                p.data = p.data.float()


# ------------------------------------------------------------------------------------- inference


@dataclass
class SignAwareGatedSAEConfig(SAEConfig):
    """Inference config; ``two_sided`` and ``tied_radii`` fix which parameters exist."""

    two_sided: bool = True
    tied_radii: bool = True

    @override
    @classmethod
    def architecture(cls) -> str:
        return SAGSAE


class SignAwareGatedSAE(_SignAwareGated, SAE[SignAwareGatedSAEConfig]):  # type: ignore[misc]
    """Inference SA-GSAE: ``f = g+ ReLU(m+) - g- ReLU(-m-)`` (module docstring), linear decoder."""

    def __init__(self, cfg: SignAwareGatedSAEConfig, use_error_term: bool = False):
        super().__init__(cfg, use_error_term)

    @override
    def initialize_weights(self) -> None:
        super().initialize_weights()
        self._init_sign_aware(0.0)

    @override
    def _apply(self, *args: Any, **kwargs: Any) -> "SignAwareGatedSAE":
        out = super()._apply(*args, **kwargs)
        self._keep_threshold_float32()
        return out  # type: ignore[return-value]

    @override
    def encode(self, x: Tensor) -> Tensor:
        sae_in = self.process_sae_in(x)
        f, _ = self._encode_parts(sae_in, ste=False)
        return self.hook_sae_acts_post(f)

    @override
    def decode(self, feature_acts: Tensor) -> Tensor:
        sae_out = feature_acts @ self.W_dec + self.b_dec
        sae_out = self.hook_sae_recons(sae_out)
        sae_out = self.run_time_activation_norm_fn_out(sae_out)
        return self.reshape_fn_out(sae_out, self.d_head)


# ------------------------------------------------------------------------------------- training


@dataclass
class SignAwareGatedTrainingSAEConfig(TrainingSAEConfig):
    """Training config of the SA-GSAE.

    Attributes:
        sparsity_coefficient: lambda, the sparsity knob the sweeps vary.
        sparsity_warm_up_steps: linear warm-up of lambda (sae-lens's coefficient scheduler).
        sparsity_loss: "l0" (the two-sided gate's L0, default) or "l1" (sae-lens gated's L1 on the gate path).
        use_aux_loss: keep the auxiliary gate-path reconstruction (``False``: the no-aux ablation).
        two_sided: the Bi-Jump-ReLU gate (``False``: the one-sided ablation).
        tied_radii: ``r+ = r-`` (the paper's recommended default).
        init_threshold: initial ``theta+-`` (sae-lens's JumpReLU default 0.01).
        bandwidth: width of the STE's rectangle kernel (sae-lens's JumpReLU default 0.05).
    """

    sparsity_coefficient: float = 1.0
    sparsity_warm_up_steps: int = 0
    sparsity_loss: Literal["l0", "l1"] = "l0"
    use_aux_loss: bool = True
    two_sided: bool = True
    tied_radii: bool = True
    init_threshold: float = 0.01
    bandwidth: float = 0.05

    @override
    @classmethod
    def architecture(cls) -> str:
        return SAGSAE


class SignAwareGatedTrainingSAE(_SignAwareGated, TrainingSAE[SignAwareGatedTrainingSAEConfig]):  # type: ignore[misc]
    """SA-GSAE trained with sae-lens's ``SAETrainer``: reconstruction + gate-path L1 + auxiliary loss."""

    def __init__(self, cfg: SignAwareGatedTrainingSAEConfig, use_error_term: bool = False):
        if use_error_term:
            raise ValueError("SignAwareGatedTrainingSAE does not support use_error_term (as sae-lens's gated)")
        if cfg.bandwidth <= 0:
            raise ValueError(f"bandwidth must be > 0, got {cfg.bandwidth}")
        if cfg.sparsity_loss not in ("l0", "l1"):
            raise ValueError(f"sparsity_loss must be 'l0' or 'l1', got {cfg.sparsity_loss!r}")
        if cfg.init_threshold < 0:
            raise ValueError(f"init_threshold must be >= 0, got {cfg.init_threshold}")
        super().__init__(cfg, use_error_term)

    @override
    def initialize_weights(self) -> None:
        super().initialize_weights()  # sae-lens: W_dec rows of norm decoder_init_norm, W_enc = W_dec^T
        self._init_sign_aware(self.cfg.init_threshold)

    @override
    def _apply(self, *args: Any, **kwargs: Any) -> "SignAwareGatedTrainingSAE":
        out = super()._apply(*args, **kwargs)
        self._keep_threshold_float32()
        return out  # type: ignore[return-value]

    @override
    def encode_with_hidden_pre(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(f, pi)``: the signed latents and the gate pre-activations (for the gate-path losses)."""
        sae_in = self.process_sae_in(x)
        f, pi = self._encode_parts(sae_in, ste=True, bandwidth=self.cfg.bandwidth)
        return self.hook_sae_acts_post(f), self.hook_sae_acts_pre(pi)

    @override
    def training_forward_pass(self, step_input: TrainStepInput) -> TrainStepOutput:
        with torch.no_grad():  # projection onto theta >= 0, as sae-lens's JumpReLU
            self.threshold_pos.data.clamp_(min=0.0)
            if self.cfg.two_sided:
                self.threshold_neg.data.clamp_(min=0.0)
        return super().training_forward_pass(step_input)

    @override
    def calculate_aux_loss(self, step_input: TrainStepInput, feature_acts: Tensor, hidden_pre: Tensor,
                           sae_out: Tensor) -> dict[str, Tensor]:
        theta_pos, theta_neg = self.thresholds(hidden_pre.dtype)
        a = bi_jump_relu(hidden_pre, theta_pos, theta_neg, self.cfg.bandwidth)
        lam = step_input.coefficients["sparsity"]
        if self.cfg.sparsity_loss == "l0":
            gates = Step.apply(hidden_pre, theta_pos, self.cfg.bandwidth, False)
            if theta_neg is not None:
                gates = gates + Step.apply(-hidden_pre, theta_neg, self.cfg.bandwidth, False)
            losses = {"l0_loss": lam * gates.sum(dim=-1).mean()}
        else:
            losses = {"l1_loss": lam * (a.abs() * self.W_dec.norm(dim=1)).sum(dim=-1).mean()}
        if self.cfg.use_aux_loss:
            # through a frozen (stop-gradient) copy of the decoder, as Rajamanoharan et al.'s Gated SAE
            via_gate = a @ self.W_dec.detach() + self.b_dec.detach()
            losses["auxiliary_reconstruction_loss"] = (via_gate - step_input.sae_in).pow(2).sum(dim=-1).mean()
        return losses

    @override
    def get_coefficients(self) -> dict[str, float | TrainCoefficientConfig]:
        return {"sparsity": TrainCoefficientConfig(value=self.cfg.sparsity_coefficient,
                                                   warm_up_steps=self.cfg.sparsity_warm_up_steps)}
