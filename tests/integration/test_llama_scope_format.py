"""Llama Scope through sae-lens's own conversion, offline, on a checkpoint in Llama Scope's file format.

sae-lens loads Llama Scope (`llama_scope_lxr_8x`) as a JumpReLU SAE: the scalar `jump_relu_threshold` of
`hyperparams.json` becomes a per-latent threshold multiplied by sqrt(d_model) / dataset_average_activation_
norm, and the directory's `norm_scaling_factor` is folded into the weights (W_enc * s, W_dec / s, b_dec / s,
normalize_activations -> "none"). The antipodal analysis reads directions (cosines, compositions, the
pairwise score), which this folding must leave unchanged, and densities through `sae.encode`, which uses the
rescaled threshold. This test pins both facts on a tiny checkpoint: the hub download is replaced by local
files written here in Llama Scope's layout; nothing is downloaded.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from replication.metrics.antipodal import encoder_decoder_cosine, pairwise_scores

D_MODEL, D_SAE, THRESHOLD, AVG_NORM = 16, 48, 0.3, 5.0
RELEASE, SAE_ID = "llama_scope_lxr_8x", "l31r_8x"


@pytest.fixture
def llama_scope_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, torch.Tensor]:
    from safetensors.torch import save_file

    import sae_lens.loading.pretrained_sae_loaders as loaders

    g = torch.Generator().manual_seed(0)
    raw = {"encoder.weight": torch.randn(D_SAE, D_MODEL, generator=g),
           "encoder.bias": torch.randn(D_SAE, generator=g) * 0.1,
           "decoder.weight": torch.randn(D_MODEL, D_SAE, generator=g),
           "decoder.bias": torch.randn(D_MODEL, generator=g) * 0.1}
    folder = tmp_path / "Llama3_1-8B-Base-L31R-8x"
    (folder / "checkpoints").mkdir(parents=True)
    save_file(raw, str(folder / "checkpoints" / "final.safetensors"))
    (folder / "hyperparams.json").write_text(json.dumps({
        "d_model": D_MODEL, "d_sae": D_SAE, "jump_relu_threshold": THRESHOLD,
        "dataset_average_activation_norm": {"in": AVG_NORM, "out": AVG_NORM},
        "hook_point_in": "blocks.31.hook_resid_post", "hook_point_out": "blocks.31.hook_resid_post"}))

    def local_download(repo_id: str, filename: str, subfolder: str | None = None, **_: object) -> str:
        assert repo_id == "fnlp/Llama3_1-8B-Base-LXR-8x"
        return str(tmp_path / (f"{subfolder}/{filename}" if subfolder else filename))

    monkeypatch.setattr(loaders, "hf_hub_download", local_download)
    return raw


def test_llama_scope_loads_as_jumprelu_with_rescaled_threshold_and_folded_norm(llama_scope_files) -> None:
    from sae_lens import SAE
    from sae_lens.loading.pretrained_saes_directory import get_pretrained_saes_directory

    sae = SAE.from_pretrained(RELEASE, SAE_ID, device="cpu", dtype="float32")
    folded = get_pretrained_saes_directory()[RELEASE].norm_scaling_factor[SAE_ID]  # 0.859 in sae-lens's yaml
    assert sae.cfg.architecture() == "jumprelu" and sae.cfg.normalize_activations == "none"
    # the scalar threshold, rescaled by sqrt(d_model) / dataset_average_activation_norm, for every latent
    torch.testing.assert_close(sae.threshold, torch.full((D_SAE,), THRESHOLD * math.sqrt(D_MODEL) / AVG_NORM),
                               rtol=1e-6, atol=0)
    raw = llama_scope_files
    torch.testing.assert_close(sae.W_enc, raw["encoder.weight"].T * folded, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(sae.W_dec, raw["decoder.weight"].T / folded, rtol=1e-6, atol=1e-7)


def test_direction_metrics_are_unchanged_by_the_fold(llama_scope_files) -> None:
    from sae_lens import SAE

    sae = SAE.from_pretrained(RELEASE, SAE_ID, device="cpu", dtype="float32")
    raw_enc, raw_dec = llama_scope_files["encoder.weight"].T, llama_scope_files["decoder.weight"].T
    loaded, original = pairwise_scores(sae.W_enc, sae.W_dec), pairwise_scores(raw_enc, raw_dec)
    torch.testing.assert_close(loaded.score, original.score, rtol=0, atol=1e-6)
    assert torch.equal(loaded.partner, original.partner)
    torch.testing.assert_close(encoder_decoder_cosine(sae.W_enc, sae.W_dec), encoder_decoder_cosine(raw_enc, raw_dec),
                               rtol=0, atol=1e-6)


def test_encode_is_the_stated_jumprelu_on_raw_activations(llama_scope_files) -> None:
    """What densities on the Llama Scope target mean: f_i(x) = pre_i * [pre_i > theta'], pre = x W_enc' + b_enc,
    with sae-lens's folded W_enc' and rescaled theta' (sae-lens's reading of Llama Scope, pinned here)."""
    from sae_lens import SAE

    sae = SAE.from_pretrained(RELEASE, SAE_ID, device="cpu", dtype="float32")
    x = torch.randn(64, D_MODEL, generator=torch.Generator().manual_seed(1)) * AVG_NORM / math.sqrt(D_MODEL)
    pre = x @ sae.W_enc + sae.b_enc
    expected = torch.where(pre > sae.threshold, pre, torch.zeros_like(pre))
    with torch.no_grad():
        torch.testing.assert_close(sae.encode(x), expected, rtol=1e-5, atol=1e-6)
