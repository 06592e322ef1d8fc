"""The sagsae paper: a sign-aware gated SAE (SA-GSAE) at half width against a Gated SAE at full width.

Tiers: :mod:`.toy`, :mod:`.tinylm`, :mod:`.real`; the sweeps and ablations every tier trains :mod:`.sweeps`,
the claims' scalars from them :mod:`.analysis`; the expected outcomes :mod:`.expectations`; the report's
figure :mod:`.figures` (collected by the report).
"""

from replication.papers.sagsae import real, tinylm, toy
from replication.papers.sagsae.expectations import EXPECTATIONS

ANALYSES = toy.ANALYSES + tinylm.ANALYSES + real.ANALYSES

__all__ = ["ANALYSES", "EXPECTATIONS"]
