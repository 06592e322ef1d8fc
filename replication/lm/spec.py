"""An LM target: a model, an SAE at one of its hooks, and the text to run it on (the real tier's unit).

An :class:`LMTargetSpec` names a transformer-lens model (an official name, or a local ``save_pretrained``
directory), a sae-lens SAE (release / SAE id as in sae-lens's ``pretrained_saes.yaml``, or a local folder),
the hook, dtype and a :class:`~replication.lm.text.TextSource`. :meth:`LMTargetSpec.target` turns it into a
:class:`~replication.targets.Target` whose availability check says exactly which weights are missing and
how to fetch them, so that on a machine without them (or without a GPU) every claim test skips with that
reason. Models load with ``from_pretrained_no_processing`` (raw weights, so activations match what the SAE
was trained on); each context is BOS + text, and BOS (and pad) positions are excluded from every statistic.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from replication.claims import Tier
from replication.lm.load import SAESource, best_device, load_hooked_transformer, missing_items, model_availability
from replication.lm.text import TextSource, text_windows
from replication.targets import Target


@dataclass(frozen=True)
class LMTargetSpec:
    name: str
    description: str
    model: str
    """A transformer-lens official model name, or a local ``save_pretrained`` directory (tinylm, tests)."""
    sae: SAESource
    hook_name: str
    dtype: str = "float32"
    text: TextSource = field(default_factory=TextSource)
    n_tokens: int = 250_000
    """Antipodal §3.1: PCs and densities over ~250k C4 tokens (the entropy of §3.2 used 100k)."""
    ctx_len: int = 1024
    batch_size: int = 8
    tier: Tier = Tier.REAL
    needs_gpu: bool = True
    excluded: tuple[tuple[str, str], ...] = ()
    """Claims the paper does not make on this target (claim ID, why): see ``Target.excluded``."""

    def availability(self) -> str | None:
        """Every missing item (model, SAE, text) at once, or ``None`` if the target can run here."""
        return missing_items(model_availability(self.model), self.sae.availability(), self.text.availability())

    def target(self) -> Target:
        return Target(self.name, self.tier, self.description, seeds=(None,), needs_gpu=self.needs_gpu,
                      availability=self.availability, excluded=self.excluded)

    def load(self) -> tuple[Any, Any]:
        """``(model, sae)`` on the best device, in the spec's dtype."""
        device = best_device()
        dtype = getattr(torch, self.dtype)
        model = load_hooked_transformer(self.model, dtype=dtype, device=device)
        sae = self.sae.load(device=device, dtype=self.dtype)
        return model, sae

    def tokens(self, model: Any) -> Iterator[torch.Tensor]:
        tok = model.tokenizer
        if tok is None:
            raise ValueError(f"model {self.model} has no tokenizer; cannot tokenise text for {self.name}")
        return text_windows(tok, self.text.texts(), n_tokens=self.n_tokens, ctx_len=self.ctx_len,
                             batch_size=self.batch_size, bos_token_id=tok.bos_token_id)
