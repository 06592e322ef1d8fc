"""The real-tier loading path, offline: tiny models in the real formats, built and saved by the test.

Tiny GPT-2- and LLaMA-style models are written with ``transformers``' ``save_pretrained`` and loaded by
:func:`replication.lm.load.load_hooked_transformer` through transformer-lens's own conversion; SAEs are
written by sae-lens's ``save_model`` and loaded with ``SAE.load_from_disk``. Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from replication.lm.load import ALLOW_DOWNLOAD_ENV, SAESource, load_hooked_transformer, model_availability, \
    sae_availability, unembedding


def _tiny_gpt2(path: Path) -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    # as transformers 5 writes it: n_positions only, no n_ctx (which transformer-lens's conversion reads)
    GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=32, n_head=4, vocab_size=97, n_positions=64)).save_pretrained(path)


def _tiny_llama(path: Path) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(num_hidden_layers=2, hidden_size=32, intermediate_size=64, num_attention_heads=4,
                                 num_key_value_heads=2, head_dim=8, vocab_size=97, max_position_embeddings=64)
                     ).save_pretrained(path)


@pytest.mark.parametrize("build, norm", [(_tiny_gpt2, "LN"), (_tiny_llama, "RMS")])
def test_local_model_loads_with_the_hf_logits(tmp_path: Path, build, norm: str) -> None:
    from transformers import AutoModelForCausalLM

    path = tmp_path / "tiny-model"  # a neutral name: transformer-lens infers some architectures from names
    build(path)
    assert model_availability(str(path)) is None
    model = load_hooked_transformer(str(path))
    assert model.cfg.normalization_type == norm
    assert unembedding(model).shape == (32, 97)  # W_U is d_model x d_vocab, unprocessed
    tokens = torch.randint(0, 97, (2, 9), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = AutoModelForCausalLM.from_pretrained(path)(tokens).logits
        ours, cache = model.run_with_cache(tokens, names_filter="blocks.1.hook_resid_post")
    # raw (unprocessed) weights: the same function as the HF model up to float32 rounding
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-5)
    assert cache["blocks.1.hook_resid_post"].shape == (2, 9, 32)
    folded = unembedding(model, fold_final_norm=True)
    torch.testing.assert_close(folded, model.ln_final.w[:, None] * model.W_U)


@pytest.mark.parametrize("arch, extra", [("jumprelu", {}), ("topk", {"k": 3})])
def test_sae_saved_by_sae_lens_loads_from_disk(tmp_path: Path, arch: str, extra: dict) -> None:
    from sae_lens import SAE
    from sae_lens.registry import get_sae_class

    cls, cfg_cls = get_sae_class(arch)
    sae = cls(cfg_cls(d_in=32, d_sae=64, **extra))
    with torch.no_grad():
        for p in sae.parameters():
            p.normal_(generator=torch.Generator().manual_seed(2))
    sae.save_model(tmp_path / "sae")
    loaded = SAESource(path=str(tmp_path / "sae")).load()
    assert isinstance(loaded, SAE) and type(loaded) is cls
    x = torch.randn(5, 32, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(loaded.encode(x), sae.encode(x), rtol=0, atol=0)


def test_missing_weights_say_what_and_how(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv(ALLOW_DOWNLOAD_ENV, raising=False)
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    why = model_availability("google/gemma-2-2b")
    assert why is not None and "google/gemma-2-2b" in why and "hf download" in why and ALLOW_DOWNLOAD_ENV in why
    why = sae_availability("gemma-scope-2b-pt-res-canonical", "layer_25/width_16k/canonical")
    assert why is not None and "google/gemma-scope-2b-pt-res" in why and "layer_25/width_16k" in why
    with pytest.raises(FileNotFoundError, match="hf download"):
        load_hooked_transformer("google/gemma-2-2b")
    with pytest.raises(FileNotFoundError, match="not in the Hugging Face cache"):
        SAESource(release="gemma-scope-2b-pt-res-canonical", sae_id="layer_25/width_16k/canonical").load()


def test_unknown_release_and_id_are_named() -> None:
    assert "no release" in sae_availability("nope", "x")
    assert "no SAE id" in sae_availability("gemma-scope-2b-pt-res-canonical", "layer_99/nope")
    assert "neither a local model directory" in model_availability("not-a-model-name")
    with pytest.raises(ValueError, match="either"):
        SAESource(release="r")
