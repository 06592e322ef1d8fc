"""Training cells: a (model, hook) on which the suite trains SAEs from a cached pass of the model over text.

A :class:`TrainingCell` is a real-tier target (bimodality §5 and every sagsae claim of the real tier) whose
SAEs train from an :class:`~replication.lm.cache.ActivationCacheSpec` cache through sae-lens's trainer, on
CUDA when there is one. "Dead" is judged on every held-out row of the cache (:data:`DEAD_WINDOW_TOKENS`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from jaxtyping import Float
from torch import Tensor

from replication.claims import Tier
from replication.lm.cache import ActivationCacheSpec, LMActivations
from replication.lm.load import model_availability
from replication.lm.text import TextSource
from replication.targets import Target

PILE = TextSource("monology/pile-uncopyrighted", None)
OPENWEBTEXT = TextSource("Skylion007/openwebtext", None)
C4 = TextSource()

DEAD_WINDOW_TOKENS = 1_000_000
"""Held-out tokens of every real training cell: "dead" = never active on all of them (the catalog's >= 1M:
a 16k-token window calls a latent of frequency 1e-4 dead one time in five); L0, R² and EV use ``n_eval``."""


@dataclass(frozen=True)
class TrainingCell:
    """One (model, hook) on which the suite trains SAEs: a real-tier target with its activation cache."""

    name: str
    description: str
    cache: ActivationCacheSpec
    hook: str
    seeds: tuple[int, ...] = (0,)
    claims: frozenset[str] | None = None
    tier: Tier = Tier.REAL
    needs_gpu: bool = True
    runs_model: bool = False
    """Whether the analysis runs the model itself besides reading the cache (bimodality: CE loss recovered)."""

    def availability(self) -> str | None:
        """What is missing: the model and text to build the activation cache (nothing once it is built), and
        the model where the analysis runs it."""
        return self.cache.availability() or (model_availability(self.cache.model, self.cache.loader)
                                             if self.runs_model else None)

    def target(self) -> Target:
        return Target(self.name, self.tier, self.description, seeds=self.seeds, needs_gpu=self.needs_gpu,
                      availability=self.availability, claims=self.claims)

    def data(self) -> LMActivations:
        return LMActivations(self.cache, self.hook)


def cell_seed(cell: TrainingCell, seed: int | None) -> int:
    if seed is None:
        raise ValueError(f"{cell.name} needs an integer seed (it seeds the SAEs' training)")
    return seed


def dead_window(data: LMActivations) -> tuple[Callable[[], Iterator[Float[Tensor, "rows d_in"]]], int]:
    """Every held-out row of the cell's cache, in chunks, and how many: the window of "dead" (>= 1M tokens on
    the real cells, the catalog's minimum; L0 and R² use a smaller evaluation batch)."""
    return (lambda: data.heldout_chunks()), data.n_heldout
