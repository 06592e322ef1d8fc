"""The bootstrap benchmark runs, and its two implementations agree (the benchmark's ratio means nothing else)."""

from __future__ import annotations

import pytest

from benchmarks import bench_bootstrap


def test_the_benchmark_runs_and_both_intervals_agree(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_bootstrap.main(["--sizes", "64"]) == 0
    row = capsys.readouterr().out.splitlines()[-1].split()
    assert row[0] == "64" and float(row[-1]) < 1e-12
