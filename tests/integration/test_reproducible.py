"""Bit-for-bit reproducibility (issue 19): the same inputs, code and machine give the same bytes.

One toy target measured twice, into two results folders (in one process, then on two worker processes:
``--jobs``), writes byte-identical records and arrays; the
report built from each is byte-identical too (``report.md``, ``report.html``, figures). What varies from run
to run lives only in the files DVC does not hash: ``<results>/provenance/<tier>.json`` and the report's
``provenance.md``. Both runs share an SAE cache of their own, empty at first: the first run trains the SAEs and
the second reads them, so the test also checks that a cached SAE measures as a fresh one does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TARGET = "toy-orthogonal"  # a toy target whose analysis also saves arrays (.npz), and trains in seconds
pytestmark = pytest.mark.xdist_group("reproducible")  # one process for the module: its fixture runs once


def _files(root: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.relative_to(root).as_posix().startswith(skip)}


def _run(tinylm: Path, cache: Path, *args: str) -> None:
    # one empty tiny-LM root for both runs (the tinylm claims are not run, and say so naming the same path)
    env = {**os.environ, "SAE_REPLICATION_THREADS": "1", "SAE_REPLICATION_TINYLM_DIR": str(tinylm),
           "SAE_REPLICATION_CACHE": str(cache)}
    done = subprocess.run([sys.executable, "-m", "replication.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    roots, tinylm, cache = [], tmp_path_factory.mktemp("no-tinylm"), tmp_path_factory.mktemp("sae-cache")
    # the first run measures in this process, the second on two worker processes: the bytes may not depend on it
    for name, jobs in (("one", "1"), ("two", "2")):
        root = tmp_path_factory.mktemp(name)
        _run(tinylm, cache, "run", "--target", TARGET, "--results-dir", str(root / "results"), "--quiet",
             "--threads", "1", "--jobs", jobs)
        _run(tinylm, cache, "report", "--results-dir", str(root / "results"), "--out", str(root / "report"))
        roots.append(root)
    return roots[0], roots[1]


def test_a_toy_target_measured_twice_writes_the_same_bytes(two_runs: tuple[Path, Path]) -> None:
    one, two = (_files(r / "results", skip=("provenance/",)) for r in two_runs)
    assert any(k.endswith(".json") for k in one) and any(k.endswith(".npz") for k in one)
    assert sorted(one) == sorted(two)
    differ = [k for k in one if one[k] != two[k]]
    assert not differ, f"{len(differ)} of {len(one)} files differ, e.g. {differ[:3]}"


def test_what_varies_is_only_in_the_provenance_files(two_runs: tuple[Path, Path]) -> None:
    from replication.results import read_provenance

    for root in two_runs:
        records = [p for p in (root / "results").rglob("seed-*.json")]
        prov = read_provenance(root / "results")
        assert len(prov) == len(records) and all(e["wall_time_s"] > 0 for e in prov.values())
        assert "wall time per target" in (root / "report" / "provenance.md").read_text()


def test_the_report_of_the_same_records_is_the_same_bytes(two_runs: tuple[Path, Path]) -> None:
    one, two = (_files(r / "report", skip=("provenance.md",)) for r in two_runs)
    assert {"report.md", "report.html"} <= set(one) and any(k.startswith("figures/") for k in one)
    assert sorted(one) == sorted(two)
    assert [k for k in one if one[k] != two[k]] == []
