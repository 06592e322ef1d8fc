"""Analyses: target-agnostic measuring code, one module per paper, registered in
:data:`replication.targets.ANALYSES` on import. Each produces the named metrics the claims read.
"""

from replication.analyses import topk  # noqa: F401
