"""The cross questions' real tier: ``dense_pair_in_good_cluster`` on the antipodal paper's three SAEs."""

from __future__ import annotations

from replication.claims import Tier
from replication.papers.antipodal.analysis import measure as antipodal_measure, summarise
from replication.papers.antipodal.real import ANTIPODAL_TARGETS, antipodal_lm_inputs
from replication.papers.cross.analysis import GoodClusterMetrics, good_cluster
from replication.targets import Analysis, Measured, Target

_SPECS = {spec.name: spec for spec in ANTIPODAL_TARGETS}


def measure(target: Target, seed: int | None) -> Measured:
    inputs = antipodal_lm_inputs(_SPECS[target.name])
    arrays = antipodal_measure(inputs)
    values, saved = good_cluster(arrays, summarise(arrays), inputs.sae)
    return Measured(values, saved)


ANALYSES = (Analysis("cross-real", Tier.REAL, tuple(spec.target() for spec in ANTIPODAL_TARGETS), GoodClusterMetrics,
                     measure),)
