"""The tiny-LM tier: a corpus, tokenizer and small transformer the suite builds itself, offline (on CUDA where
torch sees a GPU, else the CPU: :func:`replication.device.best_device`).

Pipeline (DVC stages ``tinylm-<stage>@<profile>``; ``python -m replication.tinylm <stage> --profile P``):
``corpus`` (:mod:`.corpus`) -> ``tokenizer`` (:mod:`.tokenizer`) -> ``lm`` (:mod:`.model`, :mod:`.train`)
-> ``activations`` (:mod:`.activations`). Parameters: ``params.yaml`` ``tinylm.<profile>.<stage>``;
artefacts: ``data/tinylm/<profile>/<stage>`` (:mod:`.config`). The tiny LM is one user of
:mod:`replication.lm`: its activation cache is read by :class:`replication.lm.cache.CachedActivations`.

For analyses::

    from replication.tinylm import cached_activations, load_tinylm, tier_hook, window_batches
    model = load_tinylm()                                    # HookedTransformer + tokenizer
    for tokens in window_batches("heldout", batch_size=32):  # (32, n_ctx) windows, BOS first
        logits = model(tokens)
    acts = cached_activations(tier_hook("resid_post"))       # a TrainingData of the cached activations
"""

from typing import TYPE_CHECKING

from replication.lm.cache import CachedActivations
from replication.tinylm.activations import entropy_from_logits, window_batches
from replication.tinylm.config import artifacts, default_profile
from replication.tinylm.model import load_tinylm

if TYPE_CHECKING:
    from replication.training import SAESpec

__all__ = ["artifacts", "availability", "cached_activations", "default_profile", "entropy_from_logits",
           "load_tinylm", "sae_budget", "tier_hook", "tier_hooks", "window_batches"]


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


def tier_hooks(profile: str | None = None) -> dict[str, str]:
    """Name -> hook of the profile's activation caches (params.yaml ``tinylm.<profile>.activations.hooks``)."""
    from replication.tinylm.config import stage_params

    return dict(stage_params("activations", profile or default_profile())["hooks"])


def tier_hook(name: str, profile: str | None = None) -> str:
    """The hook cached under ``name`` (e.g. ``resid_post``: the last layer's residual stream)."""
    hooks = tier_hooks(profile)
    if name not in hooks:
        raise KeyError(f"params.yaml tinylm.{profile or default_profile()}.activations.hooks has no {name!r}; it "
                       f"has {sorted(hooks)}")
    return hooks[name]


def cached_activations(hook_name: str, profile: str | None = None) -> CachedActivations:
    """The cached activations of ``hook_name`` of ``profile`` (default ``$SAE_REPLICATION_TINYLM_PROFILE`` or
    ``full``), as a ``TrainingData``."""
    return CachedActivations(artifacts(profile).activations, hook_name)


def sae_budget(spec: "SAESpec", profile: str | None = None) -> "SAESpec":
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
