"""Expected outcomes of the cross questions where they do not hold, in words (the numbers are in the test
output and the report)."""

from replication.papers.cross.tinylm import TINYLM_CROSS
from replication.papers.cross.toy import TOY_CROSS, TOY_CROSS_CONTROL
from replication.targets import Expectation
from replication.verdict import Status

_NO_PAIR = "negative control: without the dense signal no SAE learns a dense pair, so there is nothing to ask about"
_ON_TOY = (
    Expectation("cross.dense_pair_in_good_cluster", TOY_CROSS.name, Status.INCONCLUSIVE,
                "the pair's two latents sit in the upper mode, but on most seeds the dip test does not reject "
                "unimodality of the JumpReLU SAE's alignment scores (Sarle's coefficient does exceed 5/9), so the "
                "scores' bimodality the question presupposes is not there"),
)
_NO_TINY_PAIR = ("the tiny LM's SAEs hold no dense antipodal pair (as on the antipodal tinylm tier: its W_U has no "
                 "dark subspace), so the question presupposes a pair that is not there")
_ON_TINYLM = tuple(Expectation(claim, TINYLM_CROSS.name, Status.INCONCLUSIVE, _NO_TINY_PAIR) for claim in (
    "cross.bipolar_absorbs_antipodal_pair", "cross.dense_pair_in_good_cluster", "cross.aligned_keeps_pair"))
EXPECTATIONS = _ON_TOY + _ON_TINYLM + tuple(Expectation(claim, TOY_CROSS_CONTROL.name, Status.INCONCLUSIVE, _NO_PAIR) for claim in (
    "cross.bipolar_absorbs_antipodal_pair", "cross.dense_pair_in_good_cluster", "cross.aligned_keeps_pair"))
