"""The real tier's training path, offline, on CPU: tiny models in the real formats (GPT-2, GPT-NeoX with
parallel blocks as Pythia, SmolLM3 through transformer-lens's TransformerBridge), their activations cached
by :mod:`replication.lm.cache`, and the bimodality and sagsae real-tier analyses run end to end on
them with short training budgets.

Instrument tests (the cache holds exactly the activations a direct forward gives, BOS excluded; the
derived resid-mid of a parallel block is resid_post - mlp_out; claims are bound to the cells the paper
names) must pass. The end-to-end runs check plumbing and the validity of every number; their verdicts mean
nothing (random weights, a few dozen steps) and are not asserted.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from replication.lm.cache import ActivationCacheSpec, LMActivations, build_activation_cache, hook_components
from replication.lm.load import load_lm
from replication.lm.text import TEXT_ENV, TextSource, text_windows


@pytest.fixture(autouse=True)
def _isolated(fixture_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEXT_ENV, str(fixture_dir / "text"))
    monkeypatch.setenv("SAE_REPLICATION_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def tiny_models(fixture_dir: Path) -> dict[str, Path]:
    """A GPT-NeoX with parallel attention + MLP (Pythia's block) and a SmolLM3, sharing the fixture's tokenizer."""
    from transformers import AutoModelForCausalLM, GPTNeoXConfig, PreTrainedTokenizerFast, SmolLM3Config

    tok = PreTrainedTokenizerFast.from_pretrained(fixture_dir / "tiny-model")
    ids = dict(bos_token_id=tok.bos_token_id, eos_token_id=tok.bos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    configs = {
        "neox": GPTNeoXConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=128, num_hidden_layers=2,
                              num_attention_heads=4, max_position_embeddings=64, use_parallel_residual=True, **ids),
        "smollm3": SmolLM3Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=4,
                                 num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                                 tie_word_embeddings=True, **ids),
    }
    out = {}
    for name, cfg in configs.items():
        path = fixture_dir / f"tiny-{name}"
        AutoModelForCausalLM.from_config(cfg).save_pretrained(path)
        tok.save_pretrained(path)
        out[name] = path
    return out


def _spec(model: Path, hooks: tuple[str, ...], loader: str = "hooked", **kw) -> ActivationCacheSpec:
    args = dict(train_tokens=400, heldout_tokens=120, ctx_len=16, batch_size=4)
    return ActivationCacheSpec(str(model), hooks, TextSource(), loader=loader, **{**args, **kw}, name="fixture")


def _direct(model, spec: ActivationCacheSpec, n_rows: int) -> dict[str, torch.Tensor]:
    """The first ``n_rows`` non-BOS activations of every hook component, by a plain forward."""
    tok = model.tokenizer
    rows: dict[str, list[torch.Tensor]] = {}
    names = sorted({c for h in spec.hooks for c in hook_components(h)} | {"blocks.1.hook_resid_post",
                                                                            "blocks.1.hook_mlp_out"})
    names = [n for n in names if n in model.hook_dict]
    got = 0
    for batch in text_windows(tok, spec.text.texts(), n_tokens=10_000, ctx_len=spec.ctx_len,
                               batch_size=spec.batch_size, bos_token_id=tok.bos_token_id):
        _, cache = model.run_with_cache(batch, names_filter=lambda n: n in names)
        keep = batch != tok.bos_token_id
        for n in names:
            rows.setdefault(n, []).append(cache[n][keep].detach().float())
        got += int(keep.sum())
        if got >= n_rows:
            break
    return {n: torch.cat(v)[:n_rows] for n, v in rows.items()}


def test_cache_holds_the_forward_activations_without_bos(fixture_dir: Path, tmp_path: Path) -> None:
    import numpy as np

    derived = "blocks.1.hook_resid_pre+blocks.1.hook_attn_out"
    spec = _spec(fixture_dir / "tiny-model", ("blocks.2.hook_resid_post", derived))
    manifest = build_activation_cache(spec, tmp_path / "c", device="cpu")
    assert manifest["splits"] == {"heldout": {"tokens": 120}, "train": {"tokens": 400}}
    model = load_lm(str(fixture_dir / "tiny-model"))
    direct = _direct(model, spec, 120)
    held = {h: torch.from_numpy(np.load(tmp_path / "c" / f"{h}.heldout.npy").astype("float32")) for h in spec.hooks}
    # float16 storage: relative error <= 2^-11 of each value
    torch.testing.assert_close(held["blocks.2.hook_resid_post"], direct["blocks.2.hook_resid_post"], rtol=1e-3,
                               atol=1e-3)
    # a sequential (GPT-2) block: resid_pre + attn_out is exactly its resid_mid
    mid = direct["blocks.1.hook_resid_pre"] + direct["blocks.1.hook_attn_out"]
    torch.testing.assert_close(held[derived], mid, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(mid, _direct(model, _spec(fixture_dir / "tiny-model", ("blocks.1.hook_resid_mid",)),
                                            120)["blocks.1.hook_resid_mid"])


def test_parallel_block_resid_mid_is_resid_post_minus_mlp_out(tiny_models: dict[str, Path]) -> None:
    """Pythia (GPT-NeoX) runs attention and MLP in parallel and has no hook_resid_mid: the suite's
    resid-mid, resid_pre + attn_out, is what the block adds besides its MLP."""
    model = load_lm(str(tiny_models["neox"]))
    assert model.cfg.parallel_attn_mlp and "blocks.1.hook_resid_mid" not in model.hook_dict
    spec = _spec(tiny_models["neox"], ("blocks.1.hook_resid_pre+blocks.1.hook_attn_out",))
    d = _direct(model, spec, 60)
    torch.testing.assert_close(d["blocks.1.hook_resid_pre"] + d["blocks.1.hook_attn_out"],
                               d["blocks.1.hook_resid_post"] - d["blocks.1.hook_mlp_out"], rtol=1e-5, atol=1e-5)


def test_smollm3_loads_through_the_bridge_and_caches_its_three_cells(tiny_models: dict[str, Path],
                                                                     tmp_path: Path) -> None:
    import numpy as np
    from transformers import AutoModelForCausalLM

    hooks = ("blocks.1.hook_resid_mid", "blocks.1.hook_mlp_out", "blocks.1.hook_attn_out")
    model = load_lm(str(tiny_models["smollm3"]), loader="bridge")
    tokens = torch.tensor([[model.tokenizer.bos_token_id, 5, 9, 11, 7, 3]])
    hf = AutoModelForCausalLM.from_pretrained(tiny_models["smollm3"])
    torch.testing.assert_close(model(tokens), hf(tokens).logits, rtol=1e-4, atol=1e-4)  # the bridge is the HF model
    _, cache = model.run_with_cache(tokens, names_filter=lambda n: n.startswith("blocks.1.hook_"))
    torch.testing.assert_close(cache["blocks.1.hook_resid_pre"] + cache["blocks.1.hook_attn_out"],
                               cache["blocks.1.hook_resid_mid"])
    spec = _spec(tiny_models["smollm3"], hooks, loader="bridge")
    manifest = build_activation_cache(spec, tmp_path / "s", device="cpu")  # stops after block 1 of 4
    assert manifest["hooks"] == list(hooks) and manifest["splits"]["train"]["tokens"] == 400
    direct = _direct(model, spec, 120)  # full forward
    for hook in hooks:  # float16 storage: relative rounding 2^-11
        held = torch.from_numpy(np.load(tmp_path / "s" / f"{hook}.heldout.npy").astype("float32"))
        torch.testing.assert_close(held, direct[hook], rtol=1e-3, atol=1e-3)


def test_bad_cache_requests_say_what_is_wrong(fixture_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="blocks.9.hook_resid_post"):
        build_activation_cache(_spec(fixture_dir / "tiny-model", ("blocks.9.hook_resid_post",)), tmp_path / "a",
                               device="cpu")
    with pytest.raises(ValueError, match="only .* train tokens"):
        build_activation_cache(_spec(fixture_dir / "tiny-model", ("blocks.2.hook_resid_post",),
                                     train_tokens=10**7), tmp_path / "b", device="cpu")
    with pytest.raises(ValueError, match="malformed hook expression"):
        _spec(fixture_dir / "tiny-model", ("blocks.1.hook_resid_pre+",))
    with pytest.raises(KeyError, match="not in the cache spec"):
        LMActivations(_spec(fixture_dir / "tiny-model", ("blocks.2.hook_resid_post",)), "blocks.1.hook_mlp_out")


def test_a_built_cache_needs_no_model_weights(fixture_dir: Path) -> None:
    """With a warm activation cache a sagsae cell runs without the model's weights (HF_HUB_OFFLINE and no
    weights on a machine that only holds the cache); a bimodality cell still needs the model (it splices SAEs
    into it for CE loss recovered). (The text is part of the cache key, so it cannot be dropped here.)"""
    from replication.lm.cells import TrainingCell
    from replication.lm.cache import activation_cache_dir

    spec = _spec(fixture_dir / "tiny-model", ("blocks.2.hook_resid_post",))
    assert not spec.is_cached()
    path = activation_cache_dir(spec)
    assert spec.is_cached() and spec.cached_path() == path
    moved = spec.model + "-moved"
    Path(spec.model).rename(moved)
    try:
        assert spec.availability() is None
        assert TrainingCell("c", "d", spec, spec.hooks[0]).availability() is None
        why = TrainingCell("c", "d", spec, spec.hooks[0], runs_model=True).availability()
        assert why is not None and spec.model in why
        unbuilt = dataclasses.replace(spec, train_tokens=401).availability()
        assert unbuilt is not None and spec.model in unbuilt
    finally:
        Path(moved).rename(spec.model)


def test_real_training_targets_without_weights_skip_with_the_download_command(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants as c

    from replication.papers.bimodality.real import BIMODALITY_CELLS
    from replication.papers.sagsae.real import SAGSAE_CELLS
    from replication.runner import unavailable_reason

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.delenv("SAE_REPLICATION_ALLOW_DOWNLOAD", raising=False)
    for cell in BIMODALITY_CELLS + SAGSAE_CELLS:
        why = unavailable_reason(cell.target())
        assert why is not None and f"hf download {cell.cache.model}" in why[1], (cell.name, why)


def test_sagsae_claims_are_bound_to_the_cells_the_paper_names() -> None:
    from replication.claims import REGISTRY, Tier, load_all
    from replication.papers import registry as load_analyses

    load_all()
    analyses = load_analyses()

    def real_targets(claim_id: str) -> set[str]:
        return {t.name for tier, t, _ in analyses.bindings(REGISTRY.get(claim_id)) if tier is Tier.REAL and t}

    cells = {f"{m}-sagsae-{c}" for m in ("pythia-1b", "smollm3-3b") for c in ("resid-mid", "mlp-out", "attn-out")}
    dominates = {"pythia-1b-sagsae-mlp-out", "smollm3-3b-sagsae-mlp-out", "pythia-1b-sagsae-resid-mid"}
    assert real_targets("sagsae.half_width_dominates") == dominates
    assert real_targets("sagsae.matches_elsewhere") == cells - dominates
    assert real_targets("sagsae.fewer_dead") == cells
    assert real_targets("sagsae.bipolar_share") == {"pythia-1b-sagsae-mlp-out", "smollm3-3b-sagsae-mlp-out"}
    assert real_targets("sagsae.full_width_collapse") == {"smollm3-3b-sagsae-resid-mid"}
    assert real_targets("bimodality.aligned_pareto") == {"pythia-160m-l8-bimodality-training",
                                                         "gemma-2-2b-l12-bimodality-training"}


def _finite(values: dict[str, float], keys) -> None:
    bad = {k: values.get(k) for k in keys if not (k in values and math.isfinite(values[k]))}
    assert not bad, bad


def test_bimodality_training_path_end_to_end(fixture_dir: Path, tmp_path: Path) -> None:
    """Both ReLU sweeps, MCS and CE recovered on the tiny GPT-2's activations, then judged and recorded by the
    runner for every bimodality claim this analysis serves on the real tier."""
    from replication.lm.cells import TrainingCell
    from replication.papers.bimodality.analysis import TrainingCellMetrics
    from replication.papers.bimodality.real import bimodality_measure, bimodality_settings
    from replication.claims import Tier, load_all
    from replication.results import iter_records
    from replication.runner import Runner
    from replication.targets import Analysis
    from replication.verdict import Status

    # bfloat16 model, as Gemma 2 2B: activations cached in float16, SAEs float32, the splice casts both ways
    cell = TrainingCell("tiny-gpt2-bimodality-training", "fixture", _spec(fixture_dir / "tiny-model",
                        ("blocks.2.hook_resid_post",), model_dtype="bfloat16"), "blocks.2.hook_resid_post",
                        needs_gpu=False)
    settings = bimodality_settings(32, dict(training_samples=64 * 40, batch_size=64, lr=3e-3), d_sae=64,
                                   d_sae_larger=128, ce_contexts=4, ce_batch_size=2, plumbing_only=True)
    values = bimodality_measure(cell, settings, 0).values
    _finite(values, TrainingCellMetrics.names() | {"h_orig", "h_zero_ablation", "standard_1_ce_loss_recovered"})
    assert 0 <= values["aligned_dead_fraction"] <= 1 and -1 <= values["pearson_alignment_mcs"] <= 1
    # "dead" is judged on every held-out row of the cache (the real cells hold >= 1M), not the L0 / EV batch
    assert values["dead_window_tokens"] == cell.data().n_heldout

    analysis = Analysis("bimodality-training-fixture", Tier.REAL, (cell.target(),), TrainingCellMetrics,
                        lambda t, s: bimodality_measure(cell, settings, s))
    runner = Runner(results_dir=tmp_path / "results")
    claims = [load_all().get(i) for i in ("bimodality.aligned_pareto", "bimodality.aligned_no_dead",
                                          "bimodality.mcs_correlation", "bimodality.dead_cluster_at_zero")]
    for claim in claims:
        verdict = runner.verdict(claim, Tier.REAL, cell.target(), analysis)
        assert verdict.status is not Status.NOT_RUN, verdict.summary()  # judged, or inconclusive
    assert {r.claim_id for r in iter_records(tmp_path / "results")} == {c.id for c in claims}


@pytest.mark.parametrize("model", ["neox", "smollm3"])
def test_sagsae_training_path_end_to_end(model: str, tiny_models: dict[str, Path]) -> None:
    from replication.lm.cells import TrainingCell
    from replication.papers.sagsae.analysis import FullWidthMetrics, SweepMetrics
    from replication.papers.sagsae.real import sagsae_full_width_measure, sagsae_measure, sagsae_settings

    hook = "blocks.1.hook_resid_pre+blocks.1.hook_attn_out" if model == "neox" else "blocks.1.hook_resid_mid"
    loader = "hooked" if model == "neox" else "bridge"
    spec = _spec(tiny_models[model], (hook, "blocks.1.hook_mlp_out"), loader=loader)
    cell = TrainingCell(f"tiny-{model}-sagsae", "fixture", spec, hook, seeds=(0,), needs_gpu=False)
    settings = sagsae_settings(32, dict(training_samples=64 * 30, batch_size=64, lr=1e-3), h=32, n_eval=100,
                               plumbing_only=True)
    values = sagsae_measure(cell, settings, 0).values
    _finite(values, {m for m in SweepMetrics.names() if not m.startswith("bipolar_share")})
    assert values["sagsae_h_minus_gated_2h_parameters"] < 0  # exact parameter accounting at H = 32, d_in = 32
    full = sagsae_full_width_measure(cell, settings, 0).values
    _finite(full, FullWidthMetrics.names() | {f"{m}@{r}" for m in ("full_width_r2", "half_width_r2")
                                                for r in ("l0-gate", "l1-gate")})
