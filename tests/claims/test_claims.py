"""Claim tests: one per (claim, target), generated from the registries.

These are experiments, not instrument tests. A positive target must replicate the claim, unless an
expectation registered with the claim says the paper's claim does not hold there: then the test is a
strict xfail whose reason gives the measured values (and an unexpected pass fails). A negative-control
target must *not* replicate it. A claim with no analysis on a tier, or whose target cannot run here
(no GPU, no weights, needs an LLM judge), is skipped with the reason: it never passes.
"""

from __future__ import annotations

import pytest

from replication.claims import Tier, load_all as load_claims
from replication.targets import load_all as load_analyses
from replication.verdict import Status

_MARK = {Tier.TOY: pytest.mark.toy, Tier.TINYLM: pytest.mark.tinylm, Tier.REAL: pytest.mark.gpu}


def _params() -> list:
    claims, analyses = load_claims(), load_analyses()
    params = []
    for claim in claims:
        for tier, target, analysis in analyses.bindings(claim):
            marks = [_MARK[tier], pytest.mark.claim]
            expectation = analyses.expectations.get((claim.id, target.name)) if target else None
            if target is not None:
                marks.append(pytest.mark.xdist_group(f"{analysis.name}:{target.name}"))
                if expectation is not None and not target.control:
                    marks.append(pytest.mark.xfail(strict=True, reason=expectation.reason))
            name = target.name if target else f"{tier.value}-not-implemented"
            params.append(pytest.param(claim, tier, target, analysis, marks=marks, id=f"{claim.id}-{name}"))
    return params


@pytest.mark.parametrize(("claim", "tier", "target", "analysis"), _params())
def test_claim(runner, claim, tier, target, analysis) -> None:
    verdict = runner.verdict(claim, tier, target, analysis)
    if verdict.status is Status.NOT_RUN:
        pytest.skip(f"{claim.id} on {tier.value}: not run ({verdict.not_run.value}): {verdict.reason}")
    if target.control:
        expected = load_analyses().expectations[(claim.id, target.name)]
        assert verdict.status is expected.status, (
            f"negative control {target.name}: expected {expected.status.value} ({expected.reason}), "
            f"got {verdict.summary()}")
    else:
        assert verdict.status is Status.REPLICATED, f"{claim.id} on {target.name}: {verdict.summary()}"
