"""Token streams from text: where the text comes from, and how it is cut into BOS-prefixed windows.

:class:`TextSource` is a local folder of ``.txt`` files (``SAE_REPLICATION_TEXT``) or, with hub access
(``SAE_REPLICATION_ALLOW_DOWNLOAD=1``), a data set streamed through ``datasets`` (C4 by default, as the
antipodal paper used). :func:`text_windows` tokenises it with a model's tokenizer, concatenates, and cuts
``(batch, ctx_len)`` windows, each starting with BOS.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from replication.lm.load import downloads_allowed

TEXT_ENV = "SAE_REPLICATION_TEXT"


@dataclass(frozen=True)
class TextSource:
    """Text for a token stream: a local folder of .txt files (``folder``, else ``SAE_REPLICATION_TEXT``),
    else a streamed hub dataset."""

    dataset: str = "allenai/c4"
    config: str | None = "en"
    split: str = "train"
    text_field: str = "text"
    folder: str | None = None
    """A local folder of ``.txt`` files that replaces the data set (``sae-replicate check --text DIR``)."""

    def _local(self) -> str | None:
        return self.folder or os.environ.get(TEXT_ENV)

    def availability(self) -> str | None:
        if self.folder:
            return None if any(Path(self.folder).rglob("*.txt")) else f"text folder {self.folder} holds no .txt files"
        local = self._local()
        if local:
            return None if any(Path(local).rglob("*.txt")) else f"{TEXT_ENV}={local} holds no .txt files"
        if downloads_allowed():
            return None
        return (f"no text: set {TEXT_ENV} to a folder of .txt files, or SAE_REPLICATION_ALLOW_DOWNLOAD=1 to "
                f"stream {self.dataset} ({self.config}) through `datasets`")

    def texts(self) -> Iterator[str]:
        local = self._local()
        if local:
            for path in sorted(Path(local).rglob("*.txt")):
                yield path.read_text(encoding="utf-8", errors="replace")
            return
        from datasets import load_dataset

        for row in load_dataset(self.dataset, self.config, split=self.split, streaming=True):
            yield row[self.text_field]


def text_windows(tokenizer: Any, texts: Iterator[str], *, n_tokens: int, ctx_len: int, batch_size: int,
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
