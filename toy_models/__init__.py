"""Synthetic activation distributions for the toy tier: each plants (or omits) a paper's phenomenon.

Every data set implements :class:`replication.training.TrainingData`: ``d_in``, ``config()`` (hashed into the
cache key of everything trained on it) and ``sample(n, generator)``, deterministic given the generator.
"""

from toy_models.antipodal import AntipodalToy
from toy_models.bimodality import PowerLawFeatureToy
from toy_models.sagsae import BipolarFeatureToy
from toy_models.sparse import SparseFeatureToy

__all__ = ["AntipodalToy", "BipolarFeatureToy", "PowerLawFeatureToy", "SparseFeatureToy"]
