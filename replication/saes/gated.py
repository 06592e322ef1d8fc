"""The Gated SAE as Rajamanoharan et al. (2024) define it: the auxiliary loss reconstructs through a frozen
(stop-gradient) copy of the decoder.

sae-lens's ``gated`` architecture (``sae_lens/saes/gated_sae.py``) reconstructs the auxiliary gate-path term
``||x - (ReLU(pi_gate) W_dec + b_dec)||^2`` with the live decoder, so that term also trains ``W_dec`` and
``b_dec``: a weaker baseline than the paper's, whose auxiliary term trains only the gate (its Eq. 8 uses
``W_dec``, ``b_dec`` with stop-gradient). ``replication-gated`` is sae-lens's Gated SAE with exactly that
change and nothing else (same parameters, init, L1 on the gate path weighted by ``||W_dec[i]||``, inference
class), registered in sae-lens's registry by :mod:`replication.saes`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from sae_lens.saes.gated_sae import GatedSAE, GatedSAEConfig, GatedTrainingSAE, GatedTrainingSAEConfig
from sae_lens.saes.sae import TrainStepInput
from typing_extensions import override

GATED_FROZEN_AUX = "replication-gated"


@dataclass
class FrozenAuxGatedSAEConfig(GatedSAEConfig):
    @override
    @classmethod
    def architecture(cls) -> str:
        return GATED_FROZEN_AUX


class FrozenAuxGatedSAE(GatedSAE):
    """Inference: sae-lens's Gated SAE (training only differs)."""


@dataclass
class FrozenAuxGatedTrainingSAEConfig(GatedTrainingSAEConfig):
    @override
    @classmethod
    def architecture(cls) -> str:
        return GATED_FROZEN_AUX


class FrozenAuxGatedTrainingSAE(GatedTrainingSAE):
    """sae-lens's Gated training SAE whose auxiliary reconstruction reads ``W_dec`` and ``b_dec`` detached."""

    @override
    def calculate_aux_loss(self, step_input: TrainStepInput, feature_acts: torch.Tensor, hidden_pre: torch.Tensor,
                           sae_out: torch.Tensor) -> dict[str, torch.Tensor]:
        sae_in_centered = step_input.sae_in - self.b_dec * self.cfg.apply_b_dec_to_input
        pi_gate_act = torch.relu(sae_in_centered @ self.W_enc + self.b_gate)
        l1_loss = step_input.coefficients["l1"] * torch.sum(pi_gate_act * self.W_dec.norm(dim=1), dim=-1).mean()
        via_gate = pi_gate_act @ self.W_dec.detach() + self.b_dec.detach()  # the frozen decoder (stop-gradient)
        aux = (via_gate - step_input.sae_in).pow(2).sum(dim=-1).mean()
        return {"l1_loss": l1_loss, "auxiliary_reconstruction_loss": aux}
