"""The command line: listing, errors that name the fix."""

from __future__ import annotations

import pytest

from replication.claims import REGISTRY, load_all
from replication.cli import main


def test_claims_lists_every_catalog_id_with_tiers_and_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["claims"]) == 0
    out = capsys.readouterr().out
    for claim in load_all():
        line = next(line for line in out.splitlines() if line.startswith(claim.id + " "))
        for tier in claim.tiers:
            assert f"{tier.value}: " in line, line
    assert f"{len(REGISTRY)} claims" in out
    assert "bimodality.autointerp_correlation" in out and "needs an LLM judge" in out


def test_unknown_claim_lists_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "topk.nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown claim ID 'topk.nope'" in err and "topk.less_shrinkage" in err
    assert main(["run", "--claim", "topk.nope", "--quiet"]) == 2


def test_unknown_target_lists_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--target", "nope", "--quiet"]) == 2
    assert "known targets:" in capsys.readouterr().err


def test_show_prints_definition_and_tolerance(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "topk.less_shrinkage"]) == 0
    out = capsys.readouterr().out
    assert "criterion:     magnitude_gap_min_over_l0_overlap > 0" in out and "definition:" in out


def test_unknown_paper_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["claims", "--paper", "nope"]) == 2
    assert "papers: antipodal, bimodality, sagsae, topk" in capsys.readouterr().err


def test_help_names_the_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for sub in ("claims", "show", "targets", "run", "report"):
        assert sub in out
