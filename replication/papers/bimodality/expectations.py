"""Expected outcomes of the bimodality claims where they are not "replicated", in words (the numbers are in
the test output and the report)."""

from replication.papers.bimodality.tinylm import TINYLM_BIMODALITY
from replication.papers.bimodality.toy import TOY_FRESH_INIT, TOY_ORTHOGONAL, TOY_POWER_LAW
from replication.targets import Expectation
from replication.verdict import Status

#: reasons shared by every tier that trains its own sweeps
UNIMODAL = ("the reference standard SAE's alignment scores are one bump: the dip test does not reject unimodality "
            "and Sarle's BC stays below 5/9")
NO_CLUSTER = "the scores are one bump, so there is no cluster of good features to locate"
NO_DEAD_REFERENCE = ("the reference standard ReLU SAE leaves no latent dead, so there is no dead set for the low "
                     "mode to match")
ALIGNED_MORE_DEAD = "aligned ReLU SAEs have more dead latents than standard ones, which have none"

_CONTROLS = (
    Expectation("bimodality.scores_bimodal", TOY_FRESH_INIT.name, Status.NOT_REPLICATED,
                "negative control: the alignment scores of an untrained SAE (a_i = ||W_dec[i]||^2 under "
                "sae-lens's kaiming init) are one unimodal bump, so the verdict must be 'not bimodal'"),
    Expectation("bimodality.scores_bimodal", TOY_ORTHOGONAL.name, Status.NOT_REPLICATED,
                "trained negative control: without superposition every latent learns one feature, so there is "
                "no second cluster of badly aligned latents"),
    Expectation("bimodality.dead_cluster_at_zero", TOY_ORTHOGONAL.name, Status.INCONCLUSIVE,
                "trained negative control: no latent dies when every feature has a latent of its own"),
)

# where the paper's claim does not hold on the faithful toy
_TOY = TOY_POWER_LAW.name
_ON_TOY = (
    Expectation("bimodality.scores_bimodal", _TOY, Status.NOT_REPLICATED, UNIMODAL),
    Expectation("bimodality.dead_cluster_at_zero", _TOY, Status.INCONCLUSIVE, NO_DEAD_REFERENCE),
    Expectation("bimodality.good_cluster_at_one", _TOY, Status.INCONCLUSIVE, NO_CLUSTER),
    Expectation("bimodality.aligned_no_dead", _TOY, Status.NOT_REPLICATED, ALIGNED_MORE_DEAD),
    Expectation("bimodality.topk_low_sparsity", _TOY, Status.INCONCLUSIVE,
                "with AuxK revival acting within the run, standard TopK leaves no latent dead at the smallest k, "
                "so there is nothing for aligned TopK to have fewer of"),
    Expectation("bimodality.emerges_in_training", _TOY, Status.NOT_REPLICATED,
                "Sarle's BC rises during training, but the end of training is not bimodal"),
)

# where it does not hold on the tiny LM
_T = TINYLM_BIMODALITY.name
_ON_TINYLM = tuple(Expectation(claim, _T, status, why) for claim, status, why in (
    ("bimodality.scores_bimodal", Status.NOT_REPLICATED, UNIMODAL),
    ("bimodality.good_cluster_at_one", Status.INCONCLUSIVE, NO_CLUSTER),
    ("bimodality.aligned_no_dead", Status.NOT_REPLICATED, ALIGNED_MORE_DEAD),
    ("bimodality.dead_cluster_at_zero", Status.INCONCLUSIVE, NO_DEAD_REFERENCE),
    ("bimodality.aligned_pareto", Status.NOT_REPLICATED,
     "aligned is ahead of standard on explained variance over the whole L0 overlap, but on one seed its CE loss "
     "recovered dips below the standard's within the overlap"),
    ("bimodality.mcs_correlation", Status.NOT_REPLICATED,
     "the MCS against the larger dictionary is high for most latents whatever their alignment score"),
    ("bimodality.topk_low_sparsity", Status.NOT_REPLICATED,
     "with AuxK revival acting within the run few latents die at the smallest k, and aligned TopK does not have "
     "fewer of them on every seed"),
    ("bimodality.emerges_in_training", Status.NOT_REPLICATED,
     "the bimodality coefficient does not rise from the first snapshot to the end on every seed, and the end of "
     "training is not bimodal"),
))

EXPECTATIONS = _CONTROLS + _ON_TOY + _ON_TINYLM
