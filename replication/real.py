"""The real tier: the papers' own models and SAEs, loaded through :mod:`replication.models`.

Each :class:`LMTargetSpec` names a transformer-lens model, a sae-lens SAE (release / SAE id as in
sae-lens's ``pretrained_saes.yaml``), the hook, dtype and a text source. :func:`lm_target` turns it into a
:class:`~replication.targets.Target` whose availability check says exactly which weights are missing and
how to fetch them, so that on a machine without them (or without a GPU) every claim test skips with that
reason. The same spec type serves the tinylm tier with a local model directory and a local SAE folder.

Which W_U and which residual stream: models are loaded with ``from_pretrained_no_processing`` (raw weights,
so activations match what the SAE was trained on); ``W_U`` is the raw unembedding without the final norm's
weight folded in (``replication.models.unembedding(model, fold_final_norm=False)``).

Tokens: the text source is a local folder of ``.txt`` files (``SAE_REPLICATION_TEXT``) or, with hub access
(``SAE_REPLICATION_ALLOW_DOWNLOAD=1``), C4 streamed through ``datasets`` as the antipodal paper used. Each
context is tokenised with the model's tokenizer with BOS prepended; the analysis excludes BOS (and pad)
positions from every statistic.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from replication.claims import Tier
from replication.models import SAESource, best_device, downloads_allowed, load_hooked_transformer, model_availability
from replication.targets import Target

TEXT_ENV = "SAE_REPLICATION_TEXT"


@dataclass(frozen=True)
class TextSource:
    """Text for a token stream: a local folder of .txt files, else a streamed hub dataset."""

    dataset: str = "allenai/c4"
    config: str | None = "en"
    split: str = "train"
    text_field: str = "text"

    def availability(self) -> str | None:
        local = os.environ.get(TEXT_ENV)
        if local:
            return None if any(Path(local).rglob("*.txt")) else f"{TEXT_ENV}={local} holds no .txt files"
        if downloads_allowed():
            return None
        return (f"no text: set {TEXT_ENV} to a folder of .txt files, or SAE_REPLICATION_ALLOW_DOWNLOAD=1 to "
                f"stream {self.dataset} ({self.config}) through `datasets`")

    def texts(self) -> Iterator[str]:
        local = os.environ.get(TEXT_ENV)
        if local:
            for path in sorted(Path(local).rglob("*.txt")):
                yield path.read_text(encoding="utf-8", errors="replace")
            return
        from datasets import load_dataset

        for row in load_dataset(self.dataset, self.config, split=self.split, streaming=True):
            yield row[self.text_field]


def token_batches(tokenizer: Any, texts: Iterator[str], *, n_tokens: int, ctx_len: int, batch_size: int,
                  bos_token_id: int | None) -> Iterator[torch.Tensor]:
    """``(batch, ctx_len)`` token ids: each row is BOS + ``ctx_len - 1`` tokens of concatenated text, until
    ``n_tokens`` non-BOS tokens have been yielded."""
    body = ctx_len - (1 if bos_token_id is not None else 0)
    buffer: list[int] = []
    rows: list[list[int]] = []
    emitted = 0
    for text in texts:
        buffer.extend(tokenizer(text, add_special_tokens=False)["input_ids"])
        while len(buffer) >= body:
            rows.append(([bos_token_id] if bos_token_id is not None else []) + buffer[:body])
            buffer = buffer[body:]
            if len(rows) == batch_size:
                yield torch.tensor(rows)
                emitted += batch_size * body
                rows = []
                if emitted >= n_tokens:
                    return
    if rows:
        yield torch.tensor(rows)


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
        for missing in (model_availability(self.model), self.sae.availability(), self.text.availability()):
            if missing:
                return missing
        return None

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
        return token_batches(tok, self.text.texts(), n_tokens=self.n_tokens, ctx_len=self.ctx_len,
                             batch_size=self.batch_size, bos_token_id=tok.bos_token_id)


#: the antipodal paper's three settings (catalog, Paper A)
ANTIPODAL_TARGETS = (
    LMTargetSpec("gemma-2-2b-gemmascope-16k-l25", "Gemma 2 2B + Gemma Scope 16k JumpReLU, resid layer 25",
                 "google/gemma-2-2b", SAESource("gemma-scope-2b-pt-res-canonical", "layer_25/width_16k/canonical"),
                 "blocks.25.hook_resid_post", dtype="bfloat16",
                 excluded=(("antipodal.cross_model_trend", "§3.4 makes the trend claim for TopK SAEs only; Gemma "
                                                           "Scope is JumpReLU"),)),
    LMTargetSpec("gpt2-small-oai-topk-32k-l11", "GPT-2 small + OpenAI TopK 32k, resid_post layer 11",
                 "gpt2", SAESource("gpt2-small-resid-post-v5-32k", "blocks.11.hook_resid_post"),
                 "blocks.11.hook_resid_post"),
    LMTargetSpec("llama-3.1-8b-llamascope-32k-l31", "LLaMA 3.1 8B + Llama Scope 32k (8x), resid layer 31",
                 "meta-llama/Llama-3.1-8B", SAESource("llama_scope_lxr_8x", "l31r_8x"),
                 "blocks.31.hook_resid_post", dtype="bfloat16", batch_size=4),
)
