"""Claim definitions, one module per paper: data only, no measuring code.

Importing this package registers every catalog claim (``../shared/claims-catalog.md``) in
:data:`replication.claims.REGISTRY`. Measuring lives in :mod:`replication.papers`.
"""

from claims import antipodal, bimodality, cross, sagsae, topk  # noqa: F401
