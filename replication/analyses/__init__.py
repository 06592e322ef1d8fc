"""Analyses: target-agnostic measuring code, one module per paper, registered in
:data:`replication.targets.ANALYSES` on import. Each produces the named metrics the claims read.
"""

from replication.analyses import topk  # noqa: F401
from replication.analyses import antipodal  # noqa: F401
from replication.analyses import bimodality  # noqa: F401
from replication.analyses import sagsae  # noqa: F401
from replication.analyses import real_tier  # noqa: F401,E402  (LM targets of the real tier; after the papers)
from replication.analyses import real_training  # noqa: F401,E402  (real-tier SAEs the suite trains)
from replication.analyses import tinylm_antipodal  # noqa: F401,E402
from replication.analyses import tinylm_sagsae  # noqa: F401,E402
from replication.analyses import tinylm_bimodality  # noqa: F401,E402
