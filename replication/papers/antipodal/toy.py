"""The antipodal paper's toy tier: a planted dense signed signal along the bottom singular vector of a toy W_U.

Data: :class:`toy_models.antipodal.AntipodalToy` (128 Zipfian sparse features + a dense signal z ~ N(0.5, 1)
along u = U_{-1}, in 32 dims; logits LayerNorm(x) @ W_U). SAEs: sae-lens JumpReLU, TopK (k = 3) and ReLU+L1
at d_sae = 128, 3,000 steps; a negative control without the dense signal. How the settings were chosen:
``NOTES.md``.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from replication.claims import Tier
from replication.lm.hooks import ActivationBatch
from replication.papers.antipodal.analysis import AntipodalMetrics, AntipodalSettings, FinalNorm, StreamInputs, measured
from replication.targets import Analysis, Measured, Target
from replication.training import SAESpec, train_sae
from toy_models.antipodal import AntipodalToy

TOY_D_SAE = 128
TOY_N_EVAL = 32_768
TOY_EVAL_BATCH = 4_096
_TOY_TRAIN = dict(training_samples=256 * 3000, batch_size=256, lr=1e-3)
#: JumpReLU as in Gemma Scope (step L0 loss, straight-through to the threshold only); l0_coefficient: NOTES.md
TOY_JUMPRELU = SAESpec.make("jumprelu", TOY_D_SAE, l0_coefficient=0.1, **_TOY_TRAIN)
#: TopK as in the GPT-2 (OpenAI) and LLaMA Scope SAEs; k = 3, the data's true L0 rounded.
TOY_TOPK = SAESpec.make("topk", TOY_D_SAE, k=3, **_TOY_TRAIN)
#: ReLU + L1 (sae-lens ``standard``: decoder-norm-weighted L1), the pre-JumpReLU baseline; l1_coefficient: NOTES.md
TOY_RELU = SAESpec.make("standard", TOY_D_SAE, l1_coefficient=0.3, **_TOY_TRAIN)

_TOY_DESC = ("128 Zipfian sparse features + a dense signed signal z ~ N(0.5, 1) along u = U_{-1} of a toy "
             "W_U, in 32 dims; logits LayerNorm(x) @ W_U")
#: §3.4 makes its trend claim for TopK SAEs only
TOPK_ONLY = (("antipodal.cross_model_trend", "§3.4 makes the trend claim for TopK SAEs (GPT-2, LLaMA) only"),)
TOY_JUMPRELU_TARGET = Target("toy-antipodal-jumprelu", Tier.TOY, f"{_TOY_DESC}; sae-lens JumpReLU, d_sae = 128",
                             excluded=TOPK_ONLY)
# trains_with: the cross toy (toy-cross-dense, trained with toy-antipodal-jumprelu) trains this same TopK SAE
TOY_TOPK_TARGET = Target("toy-antipodal-topk", Tier.TOY, f"{_TOY_DESC}; sae-lens TopK k = 3, d_sae = 128",
                         trains_with="toy-antipodal-jumprelu")
TOY_RELU_TARGET = Target("toy-antipodal-relu", Tier.TOY, f"{_TOY_DESC}; sae-lens ReLU + L1, d_sae = 128",
                         excluded=TOPK_ONLY)
TOY_CONTROL_TARGET = Target("toy-antipodal-control", Tier.TOY,
                            "negative control: the same data without the dense signal; sae-lens JumpReLU",
                            control=True, excluded=TOPK_ONLY)
_TOY_SPECS = {TOY_JUMPRELU_TARGET.name: (TOY_JUMPRELU, True), TOY_TOPK_TARGET.name: (TOY_TOPK, True),
              TOY_RELU_TARGET.name: (TOY_RELU, True), TOY_CONTROL_TARGET.name: (TOY_JUMPRELU, False)}


def toy_inputs(target: Target, seed: int | None) -> StreamInputs:
    """A trained toy SAE, the toy ``W_U`` and a held-out stream (no BOS in synthetic data: mask all True)."""
    if seed is None:
        raise ValueError(f"toy target {target.name} needs an integer seed")
    spec, dense = _TOY_SPECS[target.name]
    data = AntipodalToy(dense=dense, seed=seed)
    return inputs_for(train_sae(spec, data, seed).sae, data, seed)


def inputs_for(sae: object, data: AntipodalToy, seed: int) -> StreamInputs:
    """Any SAE trained on the antipodal toy ``data``: its held-out stream, the toy ``W_U`` and settings."""
    def stream() -> Iterator[ActivationBatch]:
        gen = torch.Generator().manual_seed(1_000_003 + seed)  # independent of training's generator
        for _ in range(TOY_N_EVAL // TOY_EVAL_BATCH):
            x = data.sample(TOY_EVAL_BATCH, gen)
            yield ActivationBatch(x, torch.ones(len(x), dtype=torch.bool), data.logits(x))

    # logits = LayerNorm(x) @ W_U with a parameter-free LayerNorm: no gain, centring
    return StreamInputs(sae, data.W_U, AntipodalSettings.scaled(data.d_in), stream, FinalNorm(None, centred=True))


def measure(target: Target, seed: int | None) -> Measured:
    return measured(toy_inputs(target, seed))


TARGETS = (TOY_JUMPRELU_TARGET, TOY_TOPK_TARGET, TOY_RELU_TARGET, TOY_CONTROL_TARGET)
ANALYSES = (Analysis("antipodal-toy", Tier.TOY, TARGETS, AntipodalMetrics, measure),)
