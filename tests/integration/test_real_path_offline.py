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

from replication.claims import Tier
from replication.lm.load import SAESource
from replication.lm.spec import LMTargetSpec
from replication.lm.text import TEXT_ENV, TextSource
from replication.papers.antipodal.analysis import AntipodalLayerMetrics, measure, measured, summarise
from replication.papers.antipodal.real import antipodal_lm_inputs

PROVIDES_WITH_LAYERS = AntipodalLayerMetrics.names()


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
    for reading in arrays.readings.values():
        assert reading.u1_fraction_per_layer is not None and reading.u1_fraction_per_layer.shape == (3,)
    # GPT-2 has a LayerNorm: the processed reading excludes the all-ones direction that centring nulls
    ones = torch.full((32,), 32**-0.5, dtype=torch.float64)
    assert abs(float(arrays.readings["processed"].u1 @ ones)) < 1e-9
    assert len(arrays.readings["processed"].spectrum) == 31 and len(arrays.readings["raw"].spectrum) == 32
    assert arrays.entropy is not None and bool((arrays.entropy >= 0).all())
    assert bool((arrays.entropy <= math.log(inputs.W_U.shape[1]) + 1e-6).all())  # entropy <= log |V|
    values = summarise(arrays)
    assert PROVIDES_WITH_LAYERS <= set(values)
    assert all(math.isfinite(v) for k, v in values.items() if not k.startswith("p_")), values


def test_real_target_without_weights_is_skipped_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from replication.papers.antipodal.real import ANTIPODAL_TARGETS
    from replication.runner import unavailable_reason

    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # isolate the weights check from the GPU one
    monkeypatch.delenv("SAE_REPLICATION_ALLOW_DOWNLOAD", raising=False)
    for spec in ANTIPODAL_TARGETS:
        why = unavailable_reason(spec.target())
        assert why is not None and "hf download" in why[1], spec.name


def test_bimodality_real_path_end_to_end(fixture_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from replication.papers.bimodality.analysis import DistributionMetrics, alignment_metrics
    from replication.papers.bimodality.real import bimodality_lm_arrays

    BIMODALITY_REAL_PROVIDES = DistributionMetrics.names()

    monkeypatch.setenv(TEXT_ENV, str(fixture_dir / "text"))
    spec = LMTargetSpec("tiny-gpt2-fixture", "test fixture", str(fixture_dir / "tiny-model"),
                        SAESource(path=str(fixture_dir / "sae")), "blocks.2.hook_resid_post",
                        n_tokens=600, ctx_len=32, batch_size=4, tier=Tier.REAL, needs_gpu=False)
    arrays = bimodality_lm_arrays(spec)
    assert arrays.alignment.shape == (64,) and arrays.density.shape == (64,)
    torch.testing.assert_close(arrays.dead, arrays.density == 0)
    assert bool(((arrays.density >= 0) & (arrays.density <= 1)).all())
    values = alignment_metrics(arrays)
    assert BIMODALITY_REAL_PROVIDES <= set(values)
    assert all(math.isfinite(values[k]) for k in BIMODALITY_REAL_PROVIDES)


def test_real_claims_are_judged_and_recorded_from_the_fixture(fixture_dir: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Every antipodal claim that lists the real tier, through the runner and the results store, exactly as
    `pytest -m gpu` runs them — on the tiny fixture instead of Gemma (verdicts not asserted: random weights)."""
    from replication.claims import load_all
    from replication.results import iter_records
    from replication.runner import Runner
    from replication.targets import Analysis
    from replication.verdict import Status

    monkeypatch.setenv(TEXT_ENV, str(fixture_dir / "text"))
    spec = LMTargetSpec("tiny-gpt2-fixture", "test fixture", str(fixture_dir / "tiny-model"),
                        SAESource(path=str(fixture_dir / "sae")), "blocks.2.hook_resid_post",
                        n_tokens=600, ctx_len=32, batch_size=4, tier=Tier.REAL, needs_gpu=False)
    target = spec.target()
    analysis = Analysis("antipodal-fixture", Tier.REAL, (target,), AntipodalLayerMetrics,
                        lambda t, s: measured(antipodal_lm_inputs(spec)))
    runner = Runner(results_dir=tmp_path)
    claims = [c for c in load_all().by_paper("antipodal") if Tier.REAL in c.tiers]
    assert len(claims) == 14
    for claim in claims:
        verdict = runner.verdict(claim, Tier.REAL, target, analysis)
        assert verdict.status is not Status.NOT_RUN, verdict.summary()
        assert [v.reading for v in (verdict, *verdict.alternatives)] == list(claim.reading_names)
    records = iter_records(tmp_path)
    assert {r.claim_id for r in records} == {c.id for c in claims}
    # one record per reading of every claim that reads W_U
    expected = sum(len(c.reading_names) for c in claims)
    assert len(records) == expected and {r.reading for r in records} == {None, "raw", "processed"}
    assert all(r.tier == "real" and r.target == "tiny-gpt2-fixture" and r.seed is None for r in records)
