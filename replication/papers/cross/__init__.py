"""Cross-paper questions: what the antipodal, bimodality and sagsae papers predict together (``cross.*``).

Tiers: :mod:`.toy`, :mod:`.tinylm`, :mod:`.real`; the measurement :mod:`.analysis` (on top of the antipodal
analysis); the expected outcomes :mod:`.expectations`; the report's figures :mod:`.figures`.
"""

from replication.papers.cross import real, tinylm, toy

#: the papers whose analyses the questions combine (the one paper package that builds on others)
COMBINES = ("antipodal", "bimodality", "sagsae")
from replication.papers.cross.expectations import EXPECTATIONS

ANALYSES = toy.ANALYSES + tinylm.ANALYSES + real.ANALYSES

__all__ = ["ANALYSES", "COMBINES", "EXPECTATIONS"]
