"""The committed snapshot of the latest report (issue 17): copying it, and the README's pointer to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from replication.snapshot import (
    README_BEGIN,
    README_END,
    copy_snapshot,
    figure_links,
    made_from,
    main,
    readme_block,
    with_readme_block,
)

PAGE = """# SAE replication report

Summary over (claim, tier, target) rows: 1 replicated

![Fig 2a (a) [x]: pairs](figures/a-fig2a.png)

*caption*

![b](figures/b.png)
"""
PROVENANCE = """# Run provenance

- report built 2026-12-02T05:00:00Z at git revision 0123456789abcdef0123456789abcdef01234567
- git revision(s): 89abcdef0123456789abcdef0123456789abcdef, 0123456789abcdef0123456789abcdef01234567+dirty
- records: 3, written 2026-12-02T04:10:21Z to 2026-12-02T04:20:25Z
"""


def test_figure_links_are_the_pages_png_links_in_order() -> None:
    assert figure_links(PAGE) == ["figures/a-fig2a.png", "figures/b.png"]


def test_made_from_reads_the_provenance_page() -> None:
    assert made_from(PROVENANCE) == ("2026-12-02T05:00:00Z", "0123456789abcdef0123456789abcdef01234567",
                                     ["89abcdef0123456789abcdef0123456789abcdef",
                                      "0123456789abcdef0123456789abcdef01234567+dirty"])
    assert made_from("# Run provenance\n\n- No result records yet.\n") == ("unknown", "unknown", [])


def test_the_readme_block_names_the_date_and_revisions() -> None:
    block = readme_block(PAGE, PROVENANCE, "report/latest")
    assert block.startswith(README_BEGIN) and block.endswith(README_END)
    assert "[`report/latest/report.md`](report/latest/report.md)" in block
    assert "(report/latest/report.md#at-a-glance)" in block  # GitHub's anchor of "## At a glance"
    assert "built 2026-12-02T05:00:00Z at git revision `0123456789`" in block
    assert "records measured at `89abcdef01`, `0123456789+dirty`" in block
    assert "Summary over (claim, tier, target) rows: 1 replicated." in block


def test_with_readme_block_replaces_only_the_block() -> None:
    readme = f"# t\n\nintro\n\n{README_BEGIN}\nold\n{README_END}\n\n## rest\n"
    assert with_readme_block(readme, f"{README_BEGIN}\nnew\n{README_END}") == \
        f"# t\n\nintro\n\n{README_BEGIN}\nnew\n{README_END}\n\n## rest\n"
    with pytest.raises(ValueError, match="no block between"):
        with_readme_block("# t\n", "x")


def _report(root: Path) -> Path:
    (root / "figures").mkdir(parents=True)
    (root / "report.md").write_text(PAGE)
    (root / "provenance.md").write_text(PROVENANCE)
    for name in ("a-fig2a.png", "b.png", "unlinked.png"):
        (root / "figures" / name).write_bytes(b"\x89PNG " + name.encode())
    (root / "report.html").write_text("<html>")
    return root


def test_copy_snapshot_copies_the_page_its_figures_and_provenance_only(tmp_path: Path) -> None:
    src, dst = _report(tmp_path / "out"), tmp_path / "latest"
    (dst / "figures").mkdir(parents=True)
    (dst / "figures" / "removed-since.png").write_bytes(b"old")
    copy_snapshot(src, dst)
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file()) == \
        ["figures/a-fig2a.png", "figures/b.png", "provenance.md", "report.md"]
    assert (dst / "figures" / "b.png").read_bytes() == (src / "figures" / "b.png").read_bytes()
    assert (dst / "report.md").read_text() == PAGE


def test_the_same_report_rebuilt_keeps_the_snapshots_provenance(tmp_path: Path) -> None:
    # a fresh clone's main job rebuilds the same report at another time and revision: nothing is rewritten
    src, dst = _report(tmp_path / "out"), tmp_path / "latest"
    copy_snapshot(src, dst)
    (src / "provenance.md").write_text(PROVENANCE.replace("T", "X", 1) + "\nrebuilt later\n")
    assert copy_snapshot(src, dst) == [] and (dst / "provenance.md").read_text() == PROVENANCE
    (src / "report.md").write_text(PAGE + "\na change\n")
    assert sorted(p.name for p in copy_snapshot(src, dst)) == ["provenance.md", "report.md"]
    assert (dst / "provenance.md").read_text().endswith("rebuilt later\n")


def test_copy_snapshot_of_an_incomplete_report_names_what_is_missing(tmp_path: Path) -> None:
    src = _report(tmp_path / "out")
    (src / "figures" / "b.png").unlink()
    with pytest.raises(FileNotFoundError, match="figures/b.png"):
        copy_snapshot(src, tmp_path / "latest")
    assert not (tmp_path / "latest").exists()


def test_main_copies_and_rewrites_the_readme_twice_the_same(tmp_path: Path) -> None:
    src = _report(tmp_path / "report" / "out")
    readme = tmp_path / "README.md"
    readme.write_text(f"# t\n\n{README_BEGIN}\n{README_END}\n")
    args = ["--from", str(src), "--to", str(tmp_path / "report" / "latest"), "--readme", str(readme)]
    assert main(args) == 0
    first = readme.read_text()
    assert "(report/latest/report.md)" in first and "`0123456789`" in first
    assert main(args) == 0 and readme.read_text() == first


# ------------------------------------------------------------------ the committed snapshot (no science rerun)
REPO = Path(__file__).resolve().parents[2]
LATEST = REPO / "report" / "latest"
REGENERATE = "regenerate it: `dvc repro report-latest` (or `bash scripts/main.sh`) and commit report/latest/ and README.md"


def test_the_committed_snapshot_names_every_registered_claim() -> None:
    from replication.claims import REGISTRY, load_all

    load_all()
    lines = (LATEST / "report.md").read_text(encoding="utf-8").splitlines()
    missing = [claim.id for claim in REGISTRY if not any(line.startswith(f"| {claim.id} | ") for line in lines)]
    assert not missing, f"report/latest/report.md has no row for {', '.join(missing)}; {REGENERATE}"


def test_the_committed_snapshots_figures_exist() -> None:
    links = figure_links((LATEST / "report.md").read_text(encoding="utf-8"))
    assert links, "report/latest/report.md links to no figure"
    missing = [link for link in links if not (LATEST / link).is_file()]
    assert not missing, f"report/latest/ lacks {', '.join(missing)}; {REGENERATE}"
    unlinked = sorted({f"figures/{p.name}" for p in (LATEST / "figures").iterdir()} - set(links))
    assert not unlinked, f"report/latest/ has figures its page does not link to: {', '.join(unlinked)}; {REGENERATE}"


def test_the_readme_opens_with_a_pointer_to_the_committed_snapshot() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme_block((LATEST / "report.md").read_text(encoding="utf-8"),
                         (LATEST / "provenance.md").read_text(encoding="utf-8"), "report/latest")
    assert with_readme_block(readme, block) == readme, f"the README's pointer is not the snapshot's; {REGENERATE}"
    assert readme.splitlines().index(README_BEGIN) < 15  # on the first screen, right after the title paragraph
    assert "at git revision `unknown`" not in block
