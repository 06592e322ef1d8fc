"""The whole real-tier path, offline, on CPU: a tiny GPT-2 with a tokenizer (save_pretrained), a sae-lens
JumpReLU SAE (save_model), text from a local folder -> LMTargetSpec -> the antipodal analysis -> verdicts.

This exercises exactly the code a GPU run on Gemma Scope uses (model and SAE loading, tokenisation with BOS,
BOS exclusion, the streaming analysis); only the weights are tiny and random, so the verdicts mean nothing
and are not asserted — the test checks the plumbing and the numbers' validity.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from replication.analyses.real_tier import antipodal_lm_inputs
from replication.analyses.antipodal import measure, summarise, PROVIDES_WITH_LAYERS
from replication.claims import Tier
from replication.models import SAESource
from replication.real import TEXT_ENV, LMTargetSpec, TextSource

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
    GPT2LMHeadModel(GPT2Config(n_layer=3, n_embd=32, n_head=4, vocab_size=len(fast), n_positions=64, n_ctx=64,
                               bos_token_id=fast.bos_token_id)).save_pretrained(model_dir)
    fast.save_pretrained(model_dir)
    cls, cfg_cls = get_sae_class("jumprelu")
    sae = cls(cfg_cls(d_in=32, d_sae=64))
    with torch.no_grad():
        g = torch.Generator().manual_seed(1)
        sae.W_enc.normal_(generator=g)
        sae.W_dec.normal_(generator=g)
        sae.threshold.fill_(0.5)
    sae.save_model(root / "sae")
    (root / "text").mkdir()
    (root / "text" / "a.txt").write_text(TEXT)
    return root


def test_real_path_end_to_end(fixture_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEXT_ENV, str(fixture_dir / "text"))
    spec = LMTargetSpec("tiny-gpt2-fixture", "test fixture", str(fixture_dir / "tiny-model"),
                        SAESource(path=str(fixture_dir / "sae")), "blocks.2.hook_resid_post",
                        text=TextSource(), n_tokens=600, ctx_len=32, batch_size=4, tier=Tier.REAL, needs_gpu=False)
    assert spec.availability() is None
    inputs = antipodal_lm_inputs(spec)
    arrays = measure(inputs)
    # BOS is excluded: every row starts with BOS, so counted tokens = rows * (ctx_len - 1)
    assert arrays.n_tokens % 31 == 0 and arrays.n_tokens >= 600
    assert arrays.u1_fraction_per_layer is not None and arrays.u1_fraction_per_layer.shape == (3,)
    assert arrays.entropy is not None and bool((arrays.entropy >= 0).all())
    assert bool((arrays.entropy <= math.log(inputs.W_U.shape[1]) + 1e-6).all())  # entropy <= log |V|
    values = summarise(arrays)
    assert PROVIDES_WITH_LAYERS <= set(values)
    assert all(math.isfinite(v) for k, v in values.items() if not k.startswith("p_")), values


def test_real_target_without_weights_is_skipped_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from replication.real import ANTIPODAL_TARGETS
    from replication.runner import unavailable_reason

    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # isolate the weights check from the GPU one
    monkeypatch.delenv("SAE_REPLICATION_ALLOW_DOWNLOAD", raising=False)
    for spec in ANTIPODAL_TARGETS:
        why = unavailable_reason(spec.target())
        assert why is not None and "hf download" in why[1], spec.name
