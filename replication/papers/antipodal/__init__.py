"""The antipodal paper: dense SAE latents, the dark subspace of W_U, and antipodal pairs.

Tiers: :mod:`.toy`, :mod:`.tinylm`, :mod:`.real`; one target-agnostic measurement (:mod:`.analysis`); the
expected outcomes :mod:`.expectations`; the report's figures :mod:`.figures` (collected by the report).
"""

from replication.papers.antipodal import real, tinylm, toy
from replication.papers.antipodal.expectations import EXPECTATIONS

ANALYSES = toy.ANALYSES + tinylm.ANALYSES + real.ANALYSES

__all__ = ["ANALYSES", "EXPECTATIONS"]
