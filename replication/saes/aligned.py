"""Aligned training (bimodality paper §5): an encoder reparametrised so that every alignment score is 1.

The paper keeps ``b_enc``, ``b_dec`` and ``W_dec`` as free parameters and replaces the encoder by a free
matrix ``A``, defining encoder row i (paper notation, ``W^enc`` is ``m x n``) as

    W^enc[i, :] := A[i, :] + alpha_i W^dec[:, i],   alpha_i = (1 - A[i, :] . W^dec[:, i]) / ||W^dec[:, i]||^2   (eq. 2)

so that ``W^enc[i, :] . W^dec[:, i] = 1`` for every i, at every step (eq. 3). In sae-lens's orientation
(``W_enc`` is ``(d_in, d_sae)``, ``W_dec`` is ``(d_sae, d_in)``) the paper's ``W^enc[i, :]`` is
``W_enc[:, i]`` and ``W^dec[:, i]`` is ``W_dec[i, :]``; ``A`` is stored as ``(d_in, d_sae)`` like ``W_enc``
(the layout of the paper's App. C code, whose ``appended`` matrix is ``activation_dim x dict_size``).

"Compression for free" (§5): every aligned encoder row lies on an affine hyperplane of dimension n - 1, so
the last column of the paper's ``A`` (the last row of our ``(d_in, d_sae)`` ``A``, i.e. the last input
coordinate) can be fixed at 0 and not trained; App. C's ``get_the_encoder_matrix`` does exactly this
(``encoder_weights_orthogonal_part`` has ``activation_dim - 1`` rows and a zero row is appended). Here it is
the config flag ``compress_last_column``: the parameter ``A`` then has ``d_in - 1`` rows, d_sae parameters
fewer.

Architectures (registered in sae-lens's registry by :mod:`replication.saes`):

- ``replication-aligned-standard``: ReLU SAE with sae-lens's ``standard`` loss, i.e. MSE summed over d_in
  plus ``l1_coefficient * sum_i f_i(x) ||W_dec[i]||`` (the decoder-norm-weighted L1 of the paper's §2, as in
  dictionary_learning's ``StandardTrainerAprilUpdate``); the decoder is never normalised.
- ``replication-aligned-topk``: sae-lens's ``topk`` (with its AuxK loss and optional decoder-norm
  rescaling of the activations) with the aligned encoder (§6).

Initialisation: sae-lens's (= dictionary_learning's ``AutoEncoder``) heuristic init: decoder rows of norm
``decoder_init_norm`` (0.1), ``A = W_dec^T`` (the init sae-lens gives ``W_enc``), biases 0; the same random
draws as the non-aligned architecture, so one seed gives the same decoder to both. With ``A = W_dec^T`` the
initial encoder is ``W_dec[i] / ||W_dec[i]||^2`` (the component of ``A`` along ``W_dec[i]`` never matters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float
from sae_lens.saes.sae import SAE
from sae_lens.saes.standard_sae import (
    StandardSAE,
    StandardSAEConfig,
    StandardTrainingSAE,
    StandardTrainingSAEConfig,
)
from sae_lens.saes.topk_sae import TopKSAE, TopKSAEConfig, TopKTrainingSAE, TopKTrainingSAEConfig
from torch import Tensor, nn
from typing_extensions import override

ALIGNED_STANDARD = "replication-aligned-standard"
ALIGNED_TOPK = "replication-aligned-topk"


def aligned_encoder(A: Float[Tensor, "d_A d_sae"], W_dec: Float[Tensor, "d_sae d_in"]) -> Float[Tensor, "d_in d_sae"]:
    """``W_enc[:, i] = A[:, i] + alpha_i W_dec[i]``, ``alpha_i = (1 - A[:, i] . W_dec[i]) / ||W_dec[i]||^2``.

    Bimodality paper §5, eq. 2, in sae-lens's orientation. ``A`` has ``d_in`` rows, or ``d_in - 1`` when the
    last column of the paper's ``A`` is fixed at zero (a zero row is appended, as in the paper's App. C).
    """
    d_sae, d_in = W_dec.shape
    if A.shape[1] != d_sae or A.shape[0] not in (d_in, d_in - 1):
        raise ValueError(f"A must be (d_in={d_in} or d_in - 1, d_sae={d_sae}), got {tuple(A.shape)}")
    if A.shape[0] == d_in - 1:
        A = torch.cat([A, A.new_zeros(1, d_sae)], dim=0)
    inner = (A * W_dec.T).sum(dim=0)
    norms_sq = W_dec.pow(2).sum(dim=1)
    return A + W_dec.T * ((1.0 - inner) / norms_sq)


def compressed_parameter(A: Float[Tensor, "d_in d_sae"], W_dec: Float[Tensor, "d_sae d_in"]) -> Float[Tensor, "d_in_minus_1 d_sae"]:
    """An ``A'`` with last row 0 giving the same aligned encoder as ``A`` (§5, "compression for free").

    Adding any multiple of ``W_dec[i]`` to ``A[:, i]`` leaves eq. 2's encoder unchanged, so
    ``A'[:, i] = A[:, i] - (A[-1, i] / W_dec[i, -1]) W_dec[i]`` has a zero last coordinate and the same
    ``W_enc``; it needs ``W_dec[i, -1] != 0`` (true with probability 1 for trained weights). Returns the
    first ``d_in - 1`` rows (the last is exactly zero).
    """
    last = W_dec[:, -1]
    if bool((last == 0).any()):
        bad = torch.nonzero(last == 0).flatten()[:10].tolist()
        raise ValueError(f"W_dec[i, -1] == 0 for latents {bad}: their A cannot be moved to a zero last row")
    shifted = A - W_dec.T * (A[-1] / last)
    return shifted[:-1]


def _init_aligned(sae: SAE[Any], compress: bool, decoder_init_norm: float | None) -> None:
    """sae-lens's init (kaiming-uniform ``W_dec``, rows rescaled to ``decoder_init_norm``) with ``A = W_dec^T``."""
    cfg = sae.cfg
    sae.b_dec = nn.Parameter(torch.zeros(cfg.d_in, dtype=sae.dtype, device=sae.device))
    w_dec = torch.empty(cfg.d_sae, cfg.d_in, dtype=sae.dtype, device=sae.device)
    nn.init.kaiming_uniform_(w_dec)
    if decoder_init_norm is not None:
        with torch.no_grad():
            w_dec = w_dec / w_dec.norm(dim=-1, keepdim=True) * decoder_init_norm
    sae.W_dec = nn.Parameter(w_dec)
    a = w_dec.T.clone().contiguous()
    sae.A = nn.Parameter(a[:-1].clone() if compress else a)
    sae.b_enc = nn.Parameter(torch.zeros(cfg.d_sae, dtype=sae.dtype, device=sae.device))


class _AlignedEncoder:
    """Mixin: ``W_enc`` is computed from ``A`` and ``W_dec`` (eq. 2) instead of being a parameter."""

    A: nn.Parameter
    W_dec: nn.Parameter
    b_enc: nn.Parameter
    b_dec: nn.Parameter
    cfg: Any

    @property
    def W_enc(self) -> Float[Tensor, "d_in d_sae"]:  # noqa: N802  (sae-lens's name)
        return aligned_encoder(self.A, self.W_dec)

    @torch.no_grad()
    def fold_and_get_W_dec_norm(self) -> Tensor:  # noqa: N802
        """Unit-norm decoder rows; ``A[:, i] *= n_i`` and ``b_enc[i] *= n_i`` scale ``W_enc[:, i]`` by ``n_i``."""
        norms = self.W_dec.norm(dim=-1).clamp(min=1e-8)
        self.W_dec.data.div_(norms.unsqueeze(1))
        self.A.data.mul_(norms.unsqueeze(0))
        self.b_enc.data.mul_(norms)
        return norms

    @torch.no_grad()
    def fold_activation_norm_scaling_factor(self, scaling_factor: float) -> None:
        """As sae-lens (``W_enc *= s``, ``W_dec /= s``, ``b_dec /= s``): ``A *= s`` gives ``W_enc *= s``."""
        self.A.data *= scaling_factor
        self.W_dec.data /= scaling_factor
        self.b_dec.data /= scaling_factor
        self.cfg.normalize_activations = "none"

    def fold_activation_whitening(self, *args: Any, **kwargs: Any) -> None:  # noqa: ARG002
        raise NotImplementedError("aligned SAEs do not support covariance whitening: the whitened encoder is not "
                                  "of the aligned form")


# ---------------------------------------------------------------------------------------------- ReLU / standard


@dataclass
class AlignedStandardSAEConfig(StandardSAEConfig):
    """Inference config of the aligned ReLU SAE; ``compress_last_column``: ``A`` has ``d_in - 1`` rows."""

    compress_last_column: bool = False

    @override
    @classmethod
    def architecture(cls) -> str:
        return ALIGNED_STANDARD


class AlignedStandardSAE(_AlignedEncoder, StandardSAE):  # type: ignore[misc]
    """Inference aligned ReLU SAE: ``f = ReLU((x - b_dec) W_enc + b_enc)`` with ``W_enc`` from eq. 2."""

    @override
    def initialize_weights(self) -> None:
        _init_aligned(self, self.cfg.compress_last_column, None)


@dataclass
class AlignedStandardTrainingSAEConfig(StandardTrainingSAEConfig):
    """Training config: sae-lens's ``standard`` fields (``l1_coefficient``, ``l1_warm_up_steps``, ...)."""

    compress_last_column: bool = False

    @override
    @classmethod
    def architecture(cls) -> str:
        return ALIGNED_STANDARD


class AlignedStandardTrainingSAE(_AlignedEncoder, StandardTrainingSAE):  # type: ignore[misc]
    """Aligned ReLU SAE trained with sae-lens's standard loss (MSE + decoder-norm-weighted L1, §2)."""

    @override
    def initialize_weights(self) -> None:
        _init_aligned(self, self.cfg.compress_last_column, self.cfg.decoder_init_norm)


# ---------------------------------------------------------------------------------------------- TopK


@dataclass
class AlignedTopKSAEConfig(TopKSAEConfig):
    compress_last_column: bool = False

    @override
    @classmethod
    def architecture(cls) -> str:
        return ALIGNED_TOPK


class AlignedTopKSAE(_AlignedEncoder, TopKSAE):  # type: ignore[misc]
    """Inference aligned TopK SAE (§6)."""

    @override
    def initialize_weights(self) -> None:
        _init_aligned(self, self.cfg.compress_last_column, None)


@dataclass
class AlignedTopKTrainingSAEConfig(TopKTrainingSAEConfig):
    compress_last_column: bool = False

    @override
    @classmethod
    def architecture(cls) -> str:
        return ALIGNED_TOPK


class AlignedTopKTrainingSAE(_AlignedEncoder, TopKTrainingSAE):  # type: ignore[misc]
    """sae-lens's TopK training (TopK activation, AuxK loss, decoder-norm rescaling) with an aligned encoder.

    With ``rescale_acts_by_decoder_norm`` the pre-activations are multiplied by ``||W_dec[i]||`` and the
    decoder divides them out: the effective encoder ``W_enc[:, i] ||W_dec[i]||`` and decoder
    ``W_dec[i] / ||W_dec[i]||`` still have alignment exactly 1, and saving folds the norms into ``A``.
    """

    @override
    def initialize_weights(self) -> None:
        _init_aligned(self, self.cfg.compress_last_column, self.cfg.decoder_init_norm)

    @override
    def process_state_dict_for_saving_inference(self, state_dict: dict[str, Any]) -> None:
        """Fold the decoder norms as sae-lens's TopK does, but into ``A``: ``W_enc(n A, W_dec / n) = n W_enc``."""
        self.process_state_dict_for_saving(state_dict)
        if self.cfg.rescale_acts_by_decoder_norm:
            norms = self.W_dec.detach().norm(dim=-1).clamp(min=1e-8)
            state_dict["W_dec"] = state_dict["W_dec"] / norms.unsqueeze(1)
            state_dict["A"] = state_dict["A"] * norms.unsqueeze(0)
            state_dict["b_enc"] = state_dict["b_enc"] * norms


def parameter_count(sae: nn.Module) -> int:
    """Number of trainable scalars of an SAE."""
    return sum(p.numel() for p in sae.parameters() if p.requires_grad)
