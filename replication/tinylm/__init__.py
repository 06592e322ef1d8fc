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

from replication.tinylm.activations import CachedActivations, entropy_from_logits, hook_activations, token_batches
from replication.tinylm.config import artifacts, default_profile
from replication.tinylm.model import load_tinylm

__all__ = ["CachedActivations", "artifacts", "availability", "default_profile", "entropy_from_logits",
           "hook_activations", "load_tinylm", "token_batches"]


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
