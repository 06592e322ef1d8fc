"""Expected outcomes of the topk claims where they are not "replicated", in words (numbers come from the
measurement: the test output and the report)."""

from replication.papers.topk.toy import TOY_SPARSE, TOY_SPARSE_LOW_L1
from replication.targets import Expectation
from replication.verdict import Status

EXPECTATIONS = (
    Expectation("topk.dead_latents", TOY_SPARSE.name, Status.NOT_REPLICATED,
                "in 2,000 steps the only ReLU+L1 point with dead latents is the largest lambda, whose L0 has "
                "collapsed below 1; every point that still reconstructs keeps all its latents alive"),
    Expectation("topk.dead_latents", TOY_SPARSE_LOW_L1.name, Status.NOT_REPLICATED,
                "at lambda near 0 no latent dies: a claim that could pass without L1 pressure would pass here"),
)
