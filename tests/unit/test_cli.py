"""The command line: listing, errors that name the fix."""

from __future__ import annotations

from pathlib import Path

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
    assert "papers: antipodal, bimodality, cross, sagsae, topk" in capsys.readouterr().err


def test_help_names_the_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for sub in ("claims", "show", "targets", "run", "report"):
        assert sub in out


# -- issue 16: bad input gets one line and exit 2, before any work; nothing is written ---------------------

def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def _tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


@pytest.mark.parametrize(("argv", "cause"), [
    (["--paper", "nope"], "unknown paper 'nope'; papers: antipodal"),
    (["--claim", "topk.exact_sparsity", "--tier", "tinylm"], "topk.exact_sparsity runs on: toy"),
    (["--claim", "topk.exact_sparsity", "--target", "toy-antipodal-relu"],
     "topk.exact_sparsity does not run on toy-antipodal-relu; its toy targets: toy-sparse"),
    (["--claim", "topk.exact_sparsity", "--paper", "antipodal"], "topk.exact_sparsity is a claim of topk, not of"),
    (["--target", "toy-sparse", "--tier", "real"], "target toy-sparse is on the toy tier, not real"),
])
def test_a_selection_matching_nothing_exits_2_naming_the_cause(
        argv: list[str], cause: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    assert main(["run", *argv, "--quiet", "--results-dir", str(results)]) == 2
    err = _one_line_error(capsys)
    assert "nothing to run: " in err and cause in err, err
    assert "records written" not in capsys.readouterr().out
    assert not results.exists()


def test_a_run_where_nothing_runs_says_so_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    assert main(["run", "--claim", "bimodality.autointerp_correlation", "--quiet",
                 "--results-dir", str(results)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("no records written: every selected job is not run"), last
    assert not results.exists() or not list(results.rglob("*.json"))


@pytest.mark.parametrize("make", ["file", "under-a-file"])
def test_a_results_dir_that_cannot_hold_records_is_refused_before_any_work(
        make: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import replication.runner

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("measured before the results folder was checked")

    monkeypatch.setattr(replication.runner.Runner, "verdict", no_work)
    monkeypatch.setattr(replication.runner.Runner, "measure_all", no_work)
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    results = blocker if make == "file" else blocker / "results"
    assert main(["run", "--claim", "topk.exact_sparsity", "--quiet", "--results-dir", str(results)]) == 2
    err = _one_line_error(capsys)
    assert "results folder: " in err and "is a file, not a folder" in err and "--results-dir" in err
    assert blocker.read_text() == "x" and _tree(tmp_path) == ["blocker"]


def test_a_results_dir_that_is_not_writable_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path else real_access(p, mode))
    assert main(["run", "--claim", "topk.exact_sparsity", "--quiet", "--results-dir", str(tmp_path / "r")]) == 2
    assert f"{tmp_path} is not writable" in _one_line_error(capsys)
    assert _tree(tmp_path) == []


@pytest.mark.parametrize("make", ["missing", "file"])
def test_report_of_a_missing_or_file_results_dir_is_an_error(
        make: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    if make == "file":
        results.write_text("x")
    out = tmp_path / "out"
    assert main(["report", "--results-dir", str(results), "--out", str(out)]) == 2
    err = _one_line_error(capsys)
    assert str(results) in err and ("does not exist" if make == "missing" else "is a file, not a folder") in err
    assert not out.exists()


@pytest.mark.parametrize("threads", ["0", "two", "-1"])
def test_bad_threads_is_one_line_and_exit_2(threads: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["run", "--tier", "toy", "--threads", threads])
    assert done.value.code == 2
    err = _one_line_error(capsys)
    assert "--threads" in err and "see `sae-replicate run --help`" in err


def test_a_metrics_path_that_cannot_be_written_is_refused_before_any_work(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    (tmp_path / "f").write_text("x")
    for option in ("--metrics", "--plots"):
        assert main(["run", "--claim", "topk.exact_sparsity", "--quiet", "--results-dir", str(results),
                     option, str(tmp_path / "f")]) == 2
        assert f"{option} {tmp_path / 'f'} is a file; pass a folder" in _one_line_error(capsys)
        assert main(["run", "--claim", "topk.exact_sparsity", "--quiet", "--results-dir", str(results),
                     option, str(tmp_path / "f" / "m")]) == 2
        assert "which is a file, not a folder" in _one_line_error(capsys)
    assert _tree(tmp_path) == ["f"]


def test_a_malformed_record_reaches_the_user_as_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "results" / "toy" / "toy-sparse" / "topk.exact_sparsity" / "seed-0.json"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"\xff\xfe not utf-8")
    assert main(["report", "--results-dir", str(tmp_path / "results"), "--out", str(tmp_path / "out")]) == 2
    err = _one_line_error(capsys)
    assert err.startswith("sae-replicate: ") and str(bad) in err and "not UTF-8" in err
    assert not (tmp_path / "out").exists()


def test_a_bad_params_file_reaches_the_user_as_one_line(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import replication.cli as cli
    from replication.tinylm.config import ParamsError

    def bad(_args: object) -> int:
        raise ParamsError("params.yaml: tinylm.full.lm.lr must be a number, got the string '3e-3'")

    monkeypatch.setattr(cli, "cmd_targets", bad)
    assert main(["targets"]) == 2
    assert "tinylm.full.lm.lr must be a number" in _one_line_error(capsys)


def test_ctrl_c_exits_130_with_interrupted(capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import replication.cli as cli

    def interrupted(_args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_targets", interrupted)
    assert main(["targets"]) == 130
    assert _one_line_error(capsys) == "sae-replicate: interrupted"


def test_show_prints_each_expectation_under_its_own_tier_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "antipodal.no_duplicate_pairs"]) == 0
    out = capsys.readouterr().out
    tiers = {}
    current = None
    for line in out.splitlines():
        head = line.split(":", 1)[0]
        if head in ("toy", "tinylm", "real"):
            current = head
        elif line.startswith("  expected ") and current:
            tiers.setdefault(current, []).append(line)
    assert any("toy-antipodal-relu" in line for line in tiers["toy"])
    assert not any("toy-" in line for t in ("tinylm", "real") for line in tiers.get(t, []))


def test_summary_prints_the_totals_and_only_the_verdicts_that_differ_from_their_outcome(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # toy-sparse: topk.exact_sparsity replicates; topk.dead_latents is registered as not replicated there
    argv = ["run", "--target", "toy-sparse", "--results-dir", str(tmp_path / "r"), "--jobs", "1"]
    assert main([*argv, "--summary"]) == 0
    brief = capsys.readouterr().out
    assert main([*argv, "--quiet"]) == 0
    assert capsys.readouterr().out == brief
    assert main(argv) == 0
    full = capsys.readouterr().out
    verdict_lines = [line for line in full.splitlines() if line.startswith("topk.")]
    assert len(verdict_lines) >= 2 and not any(line.startswith("topk.") for line in brief.splitlines())
    assert full.splitlines()[-2:] == brief.splitlines()[-2:]
