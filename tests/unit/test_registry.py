"""The claim registry: every catalog ID registered, duplicates refused, unknown IDs answered with the list."""

from __future__ import annotations

from pathlib import Path

import pytest

from replication.claims import (
    REGISTRY,
    Claim,
    ClaimRegistry,
    Comparator,
    Condition,
    Tier,
    UnknownClaimError,
    catalog_ids,
    conditions,
    load_all,
    tiers,
)
from replication.papers import registry as load_analyses

CATALOG = Path(__file__).resolve().parents[2].parent / "shared" / "claims-catalog.md"


def _claim(claim_id: str = "topk.example") -> Claim:
    return Claim(id=claim_id, paper="topk", source="§0", statement="s", paper_value="v",
                 conditions=conditions(("m", ">=", 0.5)), tiers=tiers("toy"), rationale="test")


@pytest.mark.skipif(not CATALOG.exists(), reason=f"claims catalog not found at {CATALOG}")
def test_every_catalog_id_is_registered_and_nothing_else() -> None:
    ids = catalog_ids(CATALOG.read_text())
    assert len(ids) == 43  # the catalog's five tables hold 14 + 14 + 9 + 3 claims and 3 cross-paper questions
    assert sorted(c.id for c in load_all()) == ids


def test_registered_tiers_match_the_catalog() -> None:
    text = CATALOG.read_text() if CATALOG.exists() else pytest.skip("no catalog")
    for line in text.splitlines():
        if not line.startswith("| ") or "." not in line.split("|")[1]:
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] not in REGISTRY:
            continue
        listed = {t for t in ("toy", "tinylm", "real") if t in cells[-1]}
        assert {t.value for t in REGISTRY.get(cells[0]).tiers} == listed, cells[0]


def test_duplicate_id_is_refused() -> None:
    registry = ClaimRegistry()
    registry.register(_claim())
    with pytest.raises(ValueError, match="already registered"):
        registry.register(_claim())


def test_unknown_id_lists_the_known_ones() -> None:
    registry = ClaimRegistry()
    registry.register(_claim("topk.a"))
    registry.register(_claim("topk.b"))
    with pytest.raises(UnknownClaimError, match=r"unknown claim ID 'topk.c'; known IDs: topk.a, topk.b"):
        registry.get("topk.c")


def test_global_registry_unknown_id_message() -> None:
    load_all()
    with pytest.raises(UnknownClaimError) as err:
        REGISTRY.get("antipodal.nope")
    assert "antipodal.sparse_bulk" in str(err.value)


@pytest.mark.parametrize("kwargs, match", [
    (dict(id="bimodality.x"), "must start with its paper key"),
    (dict(conditions=()), "no condition"),
    (dict(tiers=frozenset()), "lists no tier"),
    (dict(rationale=""), "rationale"),
])
def test_malformed_claims_are_refused(kwargs: dict, match: str) -> None:
    base = dict(id="topk.x", paper="topk", source="§0", statement="s", paper_value="v",
                conditions=conditions(("m", ">=", 0.5)), tiers=tiers("toy"), rationale="r")
    with pytest.raises(ValueError, match=match):
        Claim(**{**base, **kwargs})


def test_condition_threshold_must_be_finite() -> None:
    with pytest.raises(ValueError, match="must be finite"):
        Condition("m", Comparator.GE, float("nan"))


def test_every_claim_has_a_rationale_and_every_implemented_one_a_single_analysis() -> None:
    load_all()
    load_analyses()
    for claim in REGISTRY:
        assert claim.rationale.strip(), claim.id
        for tier in claim.tiers:
            load_analyses().analysis_for(claim, tier)  # raises if two analyses provide the same claim


def test_control_targets_are_bound_only_with_an_expectation() -> None:
    load_all()
    load_analyses()
    for claim in REGISTRY:
        for _, target, _ in load_analyses().bindings(claim):
            if target is not None and target.control:
                assert (claim.id, target.name) in load_analyses().expectations


def test_tier_values() -> None:
    assert [t.value for t in Tier] == ["toy", "tinylm", "real"]


def test_a_target_listing_its_claims_is_bound_only_to_those() -> None:
    from replication.targets import Analysis, AnalysisRegistry, Measured, MetricSet, Target

    claim = _claim("topk.a")
    other = _claim("topk.b")
    only_b = Target("t-b", Tier.TOY, "d", claims=frozenset({"topk.b"}))
    every = Target("t-all", Tier.TOY, "d")
    registry = AnalysisRegistry()
    registry.register(Analysis("a", Tier.TOY, (only_b, every), MetricSet.named("M", claim.metrics), lambda t, s: Measured({})))
    assert [t.name for _, t, _ in registry.bindings(claim)] == ["t-all"]
    assert [t.name for _, t, _ in registry.bindings(other)] == ["t-b", "t-all"]
    lonely = AnalysisRegistry()
    lonely.register(Analysis("a", Tier.TOY, (only_b,), MetricSet.named("M", claim.metrics), lambda t, s: Measured({})))
    assert list(lonely.bindings(claim)) == [(Tier.TOY, None, None)]  # no target makes it: not implemented
    with pytest.raises(ValueError, match="restricts its claims to none"):
        Target("t", Tier.TOY, "d", claims=frozenset())


def test_a_target_can_exclude_a_claim_the_paper_does_not_make_there() -> None:
    from replication.targets import Analysis, AnalysisRegistry, Measured, MetricSet, Target

    claim = _claim("topk.a")
    jumprelu = Target("jumprelu", Tier.TOY, "d", excluded=(("topk.a", "made for TopK only"),))
    topk = Target("topk", Tier.TOY, "d")
    registry = AnalysisRegistry()
    registry.register(Analysis("a", Tier.TOY, (jumprelu, topk), MetricSet.named("M", claim.metrics), lambda t, s: Measured({})))
    assert [t.name for _, t, _ in registry.bindings(claim)] == ["topk"]


def test_antipodal_trend_is_judged_on_topk_saes_only() -> None:
    load_all()
    load_analyses()
    bound = {t.name for _, t, _ in load_analyses().bindings(REGISTRY.get("antipodal.cross_model_trend")) if t}
    assert bound == {"toy-antipodal-topk", "tinylm-antipodal-topk", "gpt2-small-oai-topk-32k-l11",
                     "llama-3.1-8b-llamascope-32k-l31"}


def test_readings_of_the_claims_match_what_the_analysis_measures() -> None:
    from claims.antipodal import WU_READINGS
    from replication.papers.antipodal.analysis import FIGURE_READING, READINGS

    load_all()
    assert set(WU_READINGS.names) == set(READINGS) and FIGURE_READING == WU_READINGS.primary
    for claim in REGISTRY.by_paper("antipodal"):
        if claim.readings is not None:
            assert claim.readings is WU_READINGS, claim.id


def test_expectations_hold_no_copied_numbers() -> None:
    import re

    load_analyses()
    for (claim_id, target), expectation in load_analyses().expectations.items():
        # words, not measured values: per-seed series (0.96/0.96/0.96), measured decimals (0.9609) and
        # scientific values (3.8e-3) would go stale unchecked; a claim's own threshold (0.025) may be named
        numbers = re.findall(r"\d+\.\d{4,}|\d+(?:\.\d+)?e-\d+|\d+(?:\.\d+)?/\d+(?:\.\d+)?/\d+", expectation.reason)
        assert not numbers, (claim_id, target, numbers)
