"""The cross questions' toy tier: the antipodal toy (a dense signed signal along U_{-1}), and without the signal.

Four SAEs per seed on the same data and budget as the antipodal toy's (d_sae 128, 3,000 steps): its JumpReLU and
TopK (k = 3) SAEs (the same specs, so the same cached SAEs), an aligned TopK at the same k
(``replication-aligned-topk``) and an SA-GSAE (``replication-sagsae``, the l0-gate reading) at the JumpReLU's L0
coefficient, chosen before any cross value was measured.
"""

from __future__ import annotations

from typing import Any

from replication.claims import Tier
from replication.papers.antipodal.analysis import FIGURE_READING, measure as antipodal_measure, summarise
from replication.papers.antipodal.toy import _TOY_TRAIN, TOY_D_SAE, TOY_JUMPRELU, TOY_TOPK, inputs_for
from replication.papers.cross.analysis import CrossMetrics, bipolar, good_cluster, pair_difference_sample, pair_metrics
from replication.saes.aligned import ALIGNED_TOPK
from replication.saes.sagsae import SAGSAE
from replication.targets import Analysis, Measured, Target
from replication.training import SAESpec, train_sae
from toy_models.antipodal import AntipodalToy

ALIGNED_TOPK_SPEC = SAESpec.make(ALIGNED_TOPK, TOY_D_SAE, k=3, **_TOY_TRAIN)
SAGSAE_SPEC = SAESpec.make(SAGSAE, TOY_D_SAE, sparsity_coefficient=0.1, sparsity_loss="l0", **_TOY_TRAIN)
SPECS = {"jumprelu": TOY_JUMPRELU, "topk": TOY_TOPK, "aligned": ALIGNED_TOPK_SPEC, "sagsae": SAGSAE_SPEC}

_DESC = ("antipodal toy (128 Zipfian sparse features + a dense signed signal along U_{-1}, 32 dims); JumpReLU, "
         "TopK k = 3, aligned TopK k = 3 and SA-GSAE, d_sae = 128")
# trains_with: the antipodal toy targets train the same JumpReLU SAEs (one process trains them once)
TOY_CROSS = Target("toy-cross-dense", Tier.TOY, _DESC, trains_with="toy-antipodal-jumprelu")
TOY_CROSS_CONTROL = Target("toy-cross-control", Tier.TOY, "negative control: the same toy without the dense signal; "
                           "the same four SAEs", control=True, trains_with="toy-antipodal-control")


def measure_with(inputs: dict[str, Any]) -> Measured:
    """Every cross metric from the four SAEs' antipodal inputs on one stream (``jumprelu``, ``topk``,
    ``aligned``, ``sagsae``), and the arrays of the three figures."""
    arrays = {name: antipodal_measure(inputs[name]) for name in ("jumprelu", "topk", "aligned")}
    summaries = {name: summarise(a) for name, a in arrays.items()}
    values: dict[str, float] = {}
    for name in arrays:
        values.update(pair_metrics(summaries[name], name))
    cluster, cluster_arrays = good_cluster(arrays["jumprelu"], summaries["jumprelu"], inputs["jumprelu"].sae)
    signed, signed_arrays = bipolar(inputs["sagsae"])
    values.update(cluster)
    values.update(signed)
    saved: dict[str, Any] = {**cluster_arrays, **signed_arrays}
    for name in ("jumprelu", "aligned"):
        saved.update({f"{name}_{k}": v for k, v in pair_difference_sample(arrays[name], FIGURE_READING).items()})
    return Measured(values, saved)


def measure(target: Target, seed: int | None) -> Measured:
    if seed is None:
        raise ValueError(f"toy target {target.name} needs an integer seed")
    data = AntipodalToy(dense=target.name == TOY_CROSS.name, seed=seed)
    return measure_with({name: inputs_for(train_sae(spec, data, seed).sae, data, seed) for name, spec in SPECS.items()})


ANALYSES = (Analysis("cross-toy", Tier.TOY, (TOY_CROSS, TOY_CROSS_CONTROL), CrossMetrics, measure),)
