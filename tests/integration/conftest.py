"""Fixtures in the real formats, built by the tests (nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

TEXT = ("The quick brown fox jumps over the lazy dog. Sparse autoencoders find features in language models. "
        "Antipodal pairs of dense latents track a direction of the unembedding. ") * 40


@pytest.fixture(scope="module")
def fixture_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sae_lens.registry import get_sae_class
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    root = tmp_path_factory.mktemp("real-format")
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator([TEXT], trainers.BpeTrainer(vocab_size=120, special_tokens=["<bos>", "<pad>", "<unk>"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", pad_token="<pad>", unk_token="<unk>")
    model_dir = root / "tiny-model"
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(n_layer=3, n_embd=32, n_head=4, vocab_size=len(fast), n_positions=64,
                               bos_token_id=fast.bos_token_id)).save_pretrained(model_dir)
    fast.save_pretrained(model_dir)
    cls, cfg_cls = get_sae_class("jumprelu")
    sae = cls(cfg_cls(d_in=32, d_sae=64))
    with torch.no_grad():
        g = torch.Generator().manual_seed(1)
        sae.W_enc.normal_(generator=g)
        sae.W_dec.normal_(generator=g)
        sae.threshold.fill_(0.1)  # low enough that some latents are dense (a pair to draw and judge)
    sae.save_model(root / "sae")
    (root / "text").mkdir()
    (root / "text" / "a.txt").write_text(TEXT)
    return root


