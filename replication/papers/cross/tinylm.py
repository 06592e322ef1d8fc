"""The cross questions' tinylm tier: the four SAEs on the tiny LM's last residual stream.

The antipodal tinylm tier's JumpReLU and TopK SAEs (the same specs, so the same cached SAEs), an aligned TopK at
its k and an SA-GSAE (l0-gate) at the JumpReLU's L0 coefficient, d_sae 1024, the same budget; measured on the
held-out split as the antipodal tier is.
"""

from __future__ import annotations

from replication.claims import Tier
from replication.papers.antipodal.tinylm import _TRAIN, D_SAE, JUMPRELU, TOPK, inputs_for
from replication.papers.cross.analysis import CrossMetrics
from replication.papers.cross.toy import measure_with
from replication.saes.aligned import ALIGNED_TOPK
from replication.saes.sagsae import SAGSAE
from replication.targets import Analysis, Measured, Target
from replication.tinylm import availability, cached_activations, sae_budget, tier_hook
from replication.training import SAESpec, train_sae

SPECS = {"jumprelu": JUMPRELU, "topk": TOPK,
         "aligned": SAESpec.make(ALIGNED_TOPK, D_SAE, k=16, **_TRAIN),
         "sagsae": SAESpec.make(SAGSAE, D_SAE, sparsity_coefficient=0.3, sparsity_loss="l0", **_TRAIN)}
TINYLM_CROSS = Target("tinylm-cross-resid-post", Tier.TINYLM, "tiny LM (4 layers, d_model 128), last resid_post; "
                      "JumpReLU, TopK k = 16, aligned TopK k = 16 and SA-GSAE, d_sae 1024", availability=availability)


def measure(target: Target, seed: int | None) -> Measured:
    if seed is None:
        raise ValueError(f"{target.name} needs an integer seed (it seeds the SAEs' training)")
    hook = tier_hook("resid_post")
    data = cached_activations(hook)
    return measure_with({name: inputs_for(train_sae(sae_budget(spec), data, seed).sae, hook)
                         for name, spec in SPECS.items()})


ANALYSES = (Analysis("cross-tinylm", Tier.TINYLM, (TINYLM_CROSS,), CrossMetrics, measure),)
