"""The tiny-LM tier: a corpus, tokenizer and small transformer the suite builds itself, offline, on CPU.

Pipeline (DVC stages ``tinylm-<stage>@<profile>``; ``python -m replication.tinylm <stage> --profile P``):
``corpus`` (:mod:`.corpus`) -> ``tokenizer`` (:mod:`.tokenizer`) -> ``lm`` (:mod:`.model`, :mod:`.train`)
-> ``activations`` (:mod:`.activations`). Parameters: ``params.yaml`` ``tinylm.<profile>.<stage>``;
artefacts: ``data/tinylm/<profile>/<stage>`` (:mod:`.config`).

For analyses::

    from replication.tinylm import CachedActivations, load_tinylm, token_batches
    model = load_tinylm()                                    # HookedTransformer + tokenizer
    for tokens in token_batches("heldout", batch_size=32):   # (32, n_ctx) windows, BOS first
        logits = model(tokens)
    acts = CachedActivations.open("blocks.3.hook_resid_post")
    trained = train_toy_sae(spec, acts, seed)                # sae-lens SAE on LM activations
"""

from typing import TYPE_CHECKING, NamedTuple

from replication.tinylm.activations import CachedActivations, entropy_from_logits, hook_activations, token_batches
from replication.tinylm.config import artifacts, default_profile
from replication.tinylm.model import load_tinylm

if TYPE_CHECKING:
    from replication.training import ToySAESpec

__all__ = ["CachedActivations", "TierHooks", "artifacts", "availability", "default_profile", "entropy_from_logits",
           "hook_activations", "load_tinylm", "sae_budget", "tier_hooks", "token_batches"]


def availability(profile: str | None = None) -> str | None:
    """``None`` if the tier's artefacts (LM and activation caches) exist, else what is missing and the fix.

    Suitable as a ``Target.availability`` for tiny-LM targets.
    """
    paths = artifacts(profile)
    missing = [p for p in (paths.lm / "model.safetensors", paths.activations / "manifest.json") if not p.exists()]
    if missing:
        name = profile or default_profile()
        return (f"tiny-LM artefacts missing ({', '.join(str(p) for p in missing)}): build them with "
                f"`dvc repro tinylm-activations@{name}` (minutes on CPU; `smoke`: seconds)")
    return None


class TierHooks(NamedTuple):
    """The hooks the tier's activation caches hold (params.yaml ``tinylm.<profile>.activations.hooks``)."""

    resid_post: str
    """The last layer's residual stream (antipodal, bimodality)."""
    resid_mid: str
    mlp_out: str
    attn_out: str
    """A middle layer's sagsae cells."""


def tier_hooks(profile: str | None = None) -> TierHooks:
    """The cached hooks of ``profile``, in the order params.yaml lists them."""
    from replication.tinylm.config import stage_params

    hooks = stage_params("activations", profile or default_profile())["hooks"]
    if len(hooks) != 4:
        raise ValueError(f"params.yaml tinylm.{profile or default_profile()}.activations.hooks must list 4 hooks "
                         f"(last resid_post, then a middle layer's resid_mid, mlp_out, attn_out), got {hooks}")
    return TierHooks(*hooks)


def sae_budget(spec: "ToySAESpec", profile: str | None = None) -> "ToySAESpec":
    """``spec`` with its training samples scaled by ``tinylm.<profile>.saes.budget_fraction`` (1 on the
    ``full`` profile; the ``smoke`` profile trains a few dozen steps: plumbing, not science)."""
    import dataclasses

    from replication.tinylm.config import stage_params

    fraction = float(stage_params("saes", profile or default_profile()).get("budget_fraction", 1.0))
    if fraction == 1.0:
        return spec
    steps = max(20, int(spec.training_samples * fraction) // spec.batch_size)
    return dataclasses.replace(spec, training_samples=steps * spec.batch_size,
                               lr_warm_up_steps=min(spec.lr_warm_up_steps, steps // 4))
