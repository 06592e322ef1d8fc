"""Claim tests: one per (claim, target), generated from the registries.

These are experiments, not instrument tests. A positive target must replicate the claim (its primary
reading), unless an expectation registered with the claim says the paper's claim does not hold there: then
the test is a strict xfail (an unexpected pass, or any other outcome than the expected one, fails) whose
reason is the expectation's words followed by the values just measured. A claim whose precondition fails is
``inconclusive``: it is skipped with the failed precondition and its value (never passed, never xfailed). A
negative-control target must have exactly its expected outcome (not replicated, or inconclusive), unless the
control is registered as known to misbehave (then a strict xfail, shown in red in the report). A claim
with no analysis on a tier, or whose target cannot run here (no GPU, no weights, needs an LLM judge), is
skipped with the reason: it never passes.
"""

from __future__ import annotations

import pytest

from replication.claims import Tier, load_all as load_claims
from replication.papers import registry as load_analyses
from replication.verdict import Status

_MARK = {Tier.TOY: pytest.mark.toy, Tier.TINYLM: pytest.mark.tinylm, Tier.REAL: pytest.mark.gpu}


def _params() -> list:
    claims, analyses = load_claims(), load_analyses()
    params = []
    for claim in claims:
        for tier, target, analysis in analyses.bindings(claim):
            marks = [_MARK[tier], pytest.mark.claim]
            if target is not None:
                # one process per target (and the targets it trains with): the analyses of one target share
                # its SAEs, which two processes would otherwise both train
                marks.append(pytest.mark.xdist_group(target.trains_with or target.name))
            name = target.name if target else f"{tier.value}-not-implemented"
            params.append(pytest.param(claim, tier, target, analysis, marks=marks, id=f"{claim.id}-{name}"))
    return params


@pytest.mark.parametrize(("claim", "tier", "target", "analysis"), _params())
def test_claim(runner, claim, tier, target, analysis) -> None:
    verdict = runner.verdict(claim, tier, target, analysis)
    if verdict.status is Status.NOT_RUN:
        pytest.skip(f"{claim.id} on {tier.value}: not run ({verdict.not_run.value}): {verdict.reason}")
    expectation = load_analyses().expectations.get((claim.id, target.name))
    if target.control:
        behaves = verdict.status is expectation.status
        if expectation.violated:  # a control known to misbehave: a strict xfail until it behaves
            assert not behaves, (f"negative control {target.name} now behaves as expected "
                                 f"({expectation.status.value}): remove its known violation")
            pytest.xfail(f"control known not to behave: {expectation.violated} — measured: {verdict.summary()}")
        assert behaves, (
            f"negative control {target.name}: expected {expectation.status.value} ({expectation.reason}), "
            f"got {verdict.summary()}")
        return
    expected = Status.REPLICATED if expectation is None else expectation.status
    if verdict.status is Status.INCONCLUSIVE and expected is not Status.NOT_REPLICATED:
        pytest.skip(f"{claim.id} on {target.name}: inconclusive — {verdict.summary()}"
                    + (f" — known: {expectation.reason}" if expectation else ""))
    assert verdict.status is expected, (
        f"{claim.id} on {target.name}: expected {expected.value}"
        + (f" ({expectation.reason})" if expectation else "") + f", got {verdict.summary()}")
    if expected is Status.NOT_REPLICATED:
        pytest.xfail(f"{expectation.reason} — measured: {verdict.summary()}")
