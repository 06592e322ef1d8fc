"""SAE architectures this package adds to sae-lens, registered in sae-lens's registry on import.

Each architecture lives in its own module (config + inference class + training class, as sae-lens does)
and is registered here once, under a ``replication-`` prefixed architecture string, so that sae-lens's
trainer trains it and ``SAE.load_from_disk`` loads it.
"""

from __future__ import annotations

from typing import Any

from replication.saes import aligned as _aligned
from replication.saes import gated as _gated
from replication.saes import sagsae as _sagsae


def _register(architecture: str, sae: tuple[type[Any], type[Any]] | None,
              training: tuple[type[Any], type[Any]] | None) -> None:
    """Register an architecture with sae-lens, once (re-importing this package is harmless)."""
    from sae_lens.registry import (
        SAE_CLASS_REGISTRY,
        SAE_TRAINING_CLASS_REGISTRY,
        register_sae_class,
        register_sae_training_class,
    )

    if sae is not None and architecture not in SAE_CLASS_REGISTRY:
        register_sae_class(architecture, *sae)
    if training is not None and architecture not in SAE_TRAINING_CLASS_REGISTRY:
        register_sae_training_class(architecture, *training)


# bimodality §5/§6: aligned training (replication/saes/aligned.py)
_register(_aligned.ALIGNED_STANDARD, (_aligned.AlignedStandardSAE, _aligned.AlignedStandardSAEConfig),
          (_aligned.AlignedStandardTrainingSAE, _aligned.AlignedStandardTrainingSAEConfig))
_register(_aligned.ALIGNED_TOPK, (_aligned.AlignedTopKSAE, _aligned.AlignedTopKSAEConfig),
          (_aligned.AlignedTopKTrainingSAE, _aligned.AlignedTopKTrainingSAEConfig))

# sagsae: the sign-aware gated SAE with the Bi-Jump-ReLU gate (replication/saes/sagsae.py)
_register(_sagsae.SAGSAE, (_sagsae.SignAwareGatedSAE, _sagsae.SignAwareGatedSAEConfig),
          (_sagsae.SignAwareGatedTrainingSAE, _sagsae.SignAwareGatedTrainingSAEConfig))

# sagsae's baseline: the Gated SAE with Rajamanoharan et al.'s frozen-decoder auxiliary loss (replication/saes/gated.py)
_register(_gated.GATED_FROZEN_AUX, (_gated.FrozenAuxGatedSAE, _gated.FrozenAuxGatedSAEConfig),
          (_gated.FrozenAuxGatedTrainingSAE, _gated.FrozenAuxGatedTrainingSAEConfig))
