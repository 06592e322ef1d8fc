"""Where the suite computes: CUDA when torch sees a GPU, else the CPU; ``SAE_REPLICATION_DEVICE`` overrides.

Every stage that can use a GPU asks :func:`best_device`: the tiny LM's training and activation caches, the
LM activation caches of the real tier, SAEs trained on LM activations (through their ``device`` attribute,
:func:`replication.training.data_device`), user checks, and the device the result records name. Toy SAEs
train on the CPU always (their data has no device).

``SAE_REPLICATION_DEVICE``: ``cpu`` (e.g. to rebuild the committed CPU outputs byte for byte on a GPU
machine), ``cuda`` (fail rather than fall back when no GPU is visible), or unset / ``auto``.
"""

from __future__ import annotations

import os

import torch

DEVICE_ENV = "SAE_REPLICATION_DEVICE"
DEVICES = ("cpu", "cuda")


def best_device() -> str:
    """``"cuda"`` where torch sees a GPU, else ``"cpu"``; ``$SAE_REPLICATION_DEVICE`` (``cpu``/``cuda``) overrides."""
    chosen = os.environ.get(DEVICE_ENV, "").strip().lower()
    if chosen in ("", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if chosen not in DEVICES:
        raise ValueError(f"{DEVICE_ENV}={chosen!r}: use one of {', '.join(DEVICES)} (or leave it unset: CUDA "
                         "when there is one)")
    if chosen == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"{DEVICE_ENV}=cuda but torch sees no CUDA device (torch {torch.__version__}; a CPU "
                           "build, or no GPU visible): unset it to run on the CPU")
    return chosen
