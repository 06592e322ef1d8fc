"""The bimodality paper: alignment scores a_i = W_enc[i] . W_dec[:, i], their bimodality, and aligned training.

Tiers: :mod:`.toy`, :mod:`.tinylm`, :mod:`.real`; the per-SAE measurement :mod:`.analysis`, the sweeps every
tier that trains SAEs runs :mod:`.sweeps`; the expected outcomes :mod:`.expectations`; the report's figures
:mod:`.figures` (collected by the report).
"""

from replication.papers.bimodality import real, tinylm, toy
from replication.papers.bimodality.expectations import EXPECTATIONS

ANALYSES = toy.ANALYSES + tinylm.ANALYSES + real.ANALYSES

__all__ = ["ANALYSES", "EXPECTATIONS"]
