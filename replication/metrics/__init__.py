"""Metrics: pure, typed tensor functions with the formula and the paper in the docstring.

No model, no I/O and no ``.item()`` inside: each takes tensors and returns tensors (or a NamedTuple of
them). Modules: :mod:`.sparsity` (density, dead fraction, L0), :mod:`.reconstruction` (FVU, explained
variance, CE loss recovered, shrinkage), :mod:`.pareto` (comparing two sweeps at matched L0), and one module
per paper for what only that paper uses.
"""

from replication.metrics.pareto import (
    ParetoComparison,
    SweepPoint,
    compare_sweeps,
    l0_ranges_disjoint,
    matched_l0_gap,
    strongest_reconstructing,
)
from replication.metrics.reconstruction import (
    ce_loss_recovered,
    explained_variance,
    fvu_pooled,
    magnitude_ratio,
    shrinkage_ratio,
)
from replication.metrics.sparsity import (
    DeadWindow,
    activation_density,
    activation_density_over,
    dead_fraction,
    fire_counts,
    fire_counts_over,
    l0_per_token,
    mean_l0,
)

__all__ = [
    "DeadWindow",
    "ParetoComparison",
    "SweepPoint",
    "activation_density",
    "activation_density_over",
    "ce_loss_recovered",
    "compare_sweeps",
    "dead_fraction",
    "explained_variance",
    "fire_counts",
    "fire_counts_over",
    "fvu_pooled",
    "l0_ranges_disjoint",
    "matched_l0_gap",
    "l0_per_token",
    "magnitude_ratio",
    "mean_l0",
    "shrinkage_ratio",
    "strongest_reconstructing",
]
