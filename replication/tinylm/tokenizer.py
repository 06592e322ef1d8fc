"""A byte-level BPE tokenizer for the tiny LM, trained with the ``tokenizers`` package, and the tokenised splits.

The tokenizer is GPT-2-like: byte-level pre-tokenisation (every string round-trips exactly), a BPE vocabulary
of ``vocab_size`` entries of which id 0 is the special token ``<|bos|>`` (:data:`BOS`). ``<|bos|>`` is both
the beginning-of-sequence token and the document separator, as GPT-2's ``<|endoftext|>``: encoding with
special tokens (the default, and what transformer-lens's ``to_tokens`` does) prepends it.

Output directory (written atomically):
    ``tokenizer.json`` (the ``tokenizers`` file), ``tokenizer_config.json`` + ``special_tokens_map.json``
    (a ``transformers`` ``PreTrainedTokenizerFast`` directory: ``AutoTokenizer.from_pretrained(dir)``),
    ``train.npy`` / ``heldout.npy`` (``uint16`` token streams: every document as ``<|bos|>`` + its tokens,
    concatenated in corpus order) and ``stats.json`` (vocabulary size, tokens and bytes per split).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from replication.io import write_json_atomic
from replication.tinylm.config import atomic_output_dir
from replication.tinylm.corpus import read_split

BOS = "<|bos|>"
BOS_ID = 0


def train_bpe(texts: Iterable[str], vocab_size: int, min_frequency: int = 2) -> Any:
    """A byte-level BPE ``tokenizers.Tokenizer`` trained on ``texts``; id 0 is :data:`BOS`, prepended on encode."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    if not 257 <= vocab_size <= 65535:
        raise ValueError(f"vocab_size must lie in [257, 65535] (256 bytes + BOS; uint16 storage), got {vocab_size}")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=[BOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    if tok.token_to_id(BOS) != BOS_ID:
        raise RuntimeError(f"{BOS} got id {tok.token_to_id(BOS)}, expected {BOS_ID}")
    tok.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B",
                                                       special_tokens=[(BOS, BOS_ID)])
    return tok


def as_transformers(tok: Any) -> Any:
    """The tokenizer as a ``transformers.PreTrainedTokenizerFast`` (what transformer-lens's models hold)."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=BOS, pad_token=BOS,
                                   add_bos_token=True, model_max_length=1 << 30)


def load_tokenizer(directory: Path) -> Any:
    """The ``PreTrainedTokenizerFast`` saved in ``directory`` (a tokenizer or an LM directory)."""
    from transformers import PreTrainedTokenizerFast

    path = Path(directory) / "tokenizer.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: train the tokenizer first (`dvc repro tinylm-tokenizer@full`)")
    # from_pretrained (not tokenizer_file=): transformer-lens reads name_or_path and add_bos_token from it
    return PreTrainedTokenizerFast.from_pretrained(str(directory), bos_token=BOS, eos_token=BOS, pad_token=BOS,
                                                   add_bos_token=True, model_max_length=1 << 30)


def token_stream(tok: Any, texts: Iterable[str], batch: int = 256) -> np.ndarray:
    """``<|bos|>`` + tokens of each text, concatenated, as ``uint16``."""
    parts: list[np.ndarray] = []
    chunk: list[str] = []

    def flush() -> None:
        for enc in tok.encode_batch(chunk, add_special_tokens=False):
            parts.append(np.asarray([BOS_ID, *enc.ids], dtype=np.uint16))
        chunk.clear()

    for text in texts:
        chunk.append(text)
        if len(chunk) == batch:
            flush()
    if chunk:
        flush()
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint16)


def build_tokenizer(corpus_dir: Path, out: Path, vocab_size: int, min_frequency: int = 2) -> dict[str, Any]:
    """Train on the corpus's train split, tokenise both splits, write everything to ``out`` atomically."""
    tok = train_bpe(read_split(corpus_dir, "train"), vocab_size, min_frequency)
    with atomic_output_dir(Path(out)) as tmp:
        tok.save(str(tmp / "tokenizer.json"))
        as_transformers(tok).save_pretrained(str(tmp))  # rewrites tokenizer.json identically + the configs
        stats: dict[str, Any] = {"vocab_size": tok.get_vocab_size(), "bos_token": BOS, "bos_id": BOS_ID,
                                 "min_frequency": min_frequency}
        for split in ("train", "heldout"):
            stream = token_stream(tok, read_split(corpus_dir, split))
            np.save(tmp / f"{split}.npy", stream)
            n_bytes = sum(len(t.encode()) for t in read_split(corpus_dir, split))
            stats[split] = {"tokens": int(stream.size), "documents": int((stream == BOS_ID).sum()),
                            "bytes": n_bytes, "bytes_per_token": n_bytes / max(int(stream.size), 1)}
        write_json_atomic(tmp / "stats.json", stats)
    return stats


def load_stream(tokenizer_dir: Path, split: str) -> np.ndarray:
    """The ``uint16`` token stream of ``split`` (memory-mapped)."""
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    path = Path(tokenizer_dir) / f"{split}.npy"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run the tokenizer stage (`dvc repro tinylm-tokenizer@full`)")
    return np.load(path, mmap_mode="r")


def main(argv: Sequence[str] | None = None) -> int:
    from replication.tinylm.config import add_stage_arguments, artifacts, stage_params

    parser = argparse.ArgumentParser(description="Train the tiny LM's BPE tokenizer (stage `tinylm-tokenizer`).")
    add_stage_arguments(parser)
    args = parser.parse_args(argv)
    params = stage_params("tokenizer", args.profile, Path(args.params))
    unknown = set(params) - {"vocab_size", "min_frequency"}
    if unknown:
        raise ValueError(f"unknown tokenizer parameters {sorted(unknown)}")
    start = time.perf_counter()
    paths = artifacts(args.profile, args.root)
    stats = build_tokenizer(paths.corpus, paths.tokenizer, int(params["vocab_size"]),
                            int(params.get("min_frequency", 2)))
    print(f"tokenizer: {json.dumps(stats)}")
    print(f"tokenizer: wrote {paths.tokenizer} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    from replication.tinylm.config import run_stage

    raise SystemExit(run_stage(main))
