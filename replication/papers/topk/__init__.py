"""The topk background claims (the SAE primer and the TopK paper): TopK vs ReLU+L1 SAEs.

Tiers: toy only (:mod:`.toy`); the measurement is :mod:`.analysis`, the expected outcomes
:mod:`.expectations`, the report's figure :mod:`.figures` (collected by the report, not imported here).
"""

from replication.papers.topk.expectations import EXPECTATIONS
from replication.papers.topk.toy import ANALYSES as _TOY

ANALYSES = _TOY

__all__ = ["ANALYSES", "EXPECTATIONS"]
