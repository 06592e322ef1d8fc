"""The report: Markdown and self-contained HTML from a results store, rendered in a real headless browser."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from replication.claims import REGISTRY, Tier, load_all
from replication.report import build_report
from replication.results import make_record, write_record
from replication.verdict import Measurement, judge

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _fake_topk_results(root: Path) -> None:
    """Records as a toy run writes them (values are made up: this tests rendering, not science)."""
    load_all()
    for seed in range(3):
        values = {"topk_l0_max_abs_deviation": 0.0, "magnitude_gap_min_over_l0_overlap": 0.3 + seed / 100,
                  "relu_dead_fraction_at_max_reconstructing_l1": 0.0 if seed == 1 else 0.1,
                  "relu_n_reconstructing_points": 0.0 if seed == 2 else 3.0, "relu_chosen_l1": 1.0,
                  "relu_chosen_l0": 5.0, "relu_chosen_explained_variance": 0.6}
        for k in (2, 4, 8):
            values |= {f"topk_k{k}_l0": float(k), f"topk_k{k}_shrinkage": 0.7 + k / 100,
                       f"topk_k{k}_explained_variance": 0.5 + k / 20, f"topk_k{k}_dead_fraction": 0.0}
        for lam, l0 in ((0.1, 40.0), (1.0, 5.0), (3.0, 0.03)):
            values |= {f"standard_l1_{lam:g}_l0": l0, f"standard_l1_{lam:g}_shrinkage": 0.2 + l0 / 60,
                       f"standard_l1_{lam:g}_explained_variance": l0 / 45, f"standard_l1_{lam:g}_dead_fraction": 0.0}
        m = Measurement(Tier.TOY, "toy-sparse", seed, values, wall_time_s=2.0)
        for claim in REGISTRY.by_paper("topk"):
            write_record(root, make_record(claim, m, judge(claim, m)))
        # a claim with two readings: inconclusive under the primary (no outlier in both subspaces), replicated
        # under the other
        claim = REGISTRY.get("antipodal.pairs_are_antipodal")
        values = {"n_dense": 2.0}
        for reading, n_both in (("processed", 0.0), ("raw", 2.0)):
            values |= {f"u1_pair_max_cosine@{reading}": -0.99, f"frac_both_outliers_antipodal@{reading}": 1.0,
                       f"n_both_outliers@{reading}": n_both, f"u1_pair_abs_cos_u1@{reading}": 0.99,
                       f"wu_sv_min_over_median@{reading}": 0.05, f"wu_sv_min_over_next@{reading}": 0.1}
        m = Measurement(Tier.TOY, "toy-antipodal-jumprelu", seed, values, wall_time_s=1.0)
        for reading in claim.reading_names:
            write_record(root, make_record(claim, m, judge(claim, m, reading)))
        # a cross-paper question: "holds", not "replicated"
        claim = REGISTRY.get("cross.aligned_keeps_pair")
        values = {f"{m}@{reading}": v for reading in claim.reading_names for m, v in (
            ("aligned_u1_pair_s", 0.99), ("aligned_u1_pair_min_density", 0.3), ("aligned_abs_corr_u1_pair_diff", 0.98),
            ("topk_u1_pair_s", 0.99), ("topk_u1_pair_min_density", 0.3), ("topk_abs_corr_u1_pair_diff", 0.98),
            ("aligned_u1_pair_max_cosine", -0.99))}
        m = Measurement(Tier.TOY, "toy-cross-dense", seed, values, wall_time_s=1.0)
        for reading in claim.reading_names:
            write_record(root, make_record(claim, m, judge(claim, m, reading)))
        # ... which holds on the toy tier and not on the tinylm tier under the primary reading (the aligned SAE
        # splits the pair: s = 0.2), though it does under the other
        values = {**values, "aligned_u1_pair_s@processed": 0.2}
        m = Measurement(Tier.TINYLM, "tinylm-cross-resid-post", seed, values, wall_time_s=1.0)
        for reading in claim.reading_names:
            write_record(root, make_record(claim, m, judge(claim, m, reading)))
        # a claim that holds by algebra
        claim = REGISTRY.get("sagsae.parameter_accounting")
        m = Measurement(Tier.TOY, "toy-sagsae-bipolar", seed, {"sagsae_h_minus_gated_2h_parameters": -4160.0})
        write_record(root, make_record(claim, m, judge(claim, m)))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("report")
    _fake_topk_results(root / "results")
    md, html = build_report(root / "results", root / "out")
    return md, html


def test_markdown_lists_every_claim_with_a_verdict(report: tuple[Path, Path]) -> None:
    text = report[0].read_text()
    lines = text.splitlines()
    for claim in REGISTRY:
        assert any(line.startswith(f"| {claim.id} | ") for line in lines), claim.id
    detail = next(line for line in lines if line.startswith("| topk.dead_latents | toy | toy-sparse |"))
    # a judged failure on seed 1 outweighs the inconclusive seed 2 (its precondition failed)
    assert "| not replicated |" in detail and "fails on 1 of 3 seeds" in detail
    assert "relu_dead_fraction_at_max_reconstructing_l1 = 0.06667 [0, 0.1]" in detail  # mean [min, max] over seeds
    assert "relu_n_reconstructing_points = 2 [0, 3]" in detail  # the precondition's values are shown too
    pair = next(line for line in lines
                if line.startswith("| antipodal.pairs_are_antipodal | toy | toy-antipodal-jumprelu"))
    assert "| inconclusive |" in pair and "precondition n_both_outliers = 0 fails >= 1" in pair
    assert "processed (primary): inconclusive; raw: replicated" in pair
    assert "Readings of the open choice 'W_U'" in text
    accounting = next(line for line in lines if line.startswith("| sagsae.parameter_accounting | toy |"))
    assert "| replicated by construction |" in accounting
    glance = next(line for line in lines if line.startswith("| topk.less_shrinkage | "))
    assert glance.endswith("| 🟩 ✓ |  |  |")  # replicated on its one toy target; no tinylm or real tier
    assert "- topk.less_shrinkage — toy: ✓ toy-sparse" in lines  # the words behind the marks, below the matrix
    question = next(line for line in lines if line.startswith("| cross.aligned_keeps_pair | toy | toy-cross-dense"))
    assert "| holds |" in question and "## cross: Cross-paper questions" in text
    # every not-run row says why: an LLM judge (autointerp), a GPU and weights (real targets), no records yet
    assert "needs an LLM judge" in text and "not measured yet" in text
    assert "needs a CUDA GPU" in text or "hf download" in text
    assert "![" in text and (report[0].parent / "figures" / "topk-shrinkage-vs-l0.png").exists()
    assert "## Provenance" in text and "torch" in text
    # what varies from run to run (issue 19) is on the page beside the report, never in it
    assert "provenance.md" in text and not re.search(r"\d{4}-\d\d-\d\dT|git revision\(s\): ", text)
    # these records were written without the runner, so without provenance entries: the page says so
    page = (report[0].parent / "provenance.md").read_text()
    assert page.startswith("# Run provenance") and "have no provenance entry" in page
    assert re.search(r"^- report built \d{4}-\d\d-\d\dT[\d:]+Z at git revision \S+$", page, re.MULTILINE)  # the README's


def _glance_row(lines: list[str], claim_id: str) -> list[str]:
    """The at-a-glance matrix's cells of one claim: claim, paper reports, toy, tinylm, real."""
    line = next(line for line in lines if line.startswith(f"| {claim_id} | "))
    return [cell.strip() for cell in line.strip("|").split(" | ")]


def test_the_matrix_colours_and_marks_each_tier_on_its_own(report: tuple[Path, Path]) -> None:
    text = report[0].read_text()
    lines = text.splitlines()
    assert lines.index("## At a glance") < lines.index("| claim | paper reports | toy | tinylm | real |")
    assert "🟩 replicated · 🟥 not replicated · 🟨 inconclusive · 🟪 mixed" in text  # the legend
    # holds on toy-cross-dense (both readings; its control has no records), not under the primary reading on
    # the tinylm tier though it does under the other: two cells of two colours, a mark per target and reading
    _id, _paper, toy, tinylm, real = _glance_row(lines, "cross.aligned_keeps_pair")
    assert (toy, tinylm, real) == ("🟩 ✓/✓ –", "🟥 ✗/✓", "")
    # a primary reading inconclusive on its one target, the other replicated: amber; the other targets not run
    assert _glance_row(lines, "antipodal.pairs_are_antipodal")[2].startswith("🟨 ?/✓ –")
    # a tier on which no target ran is grey, one dash per target
    assert re.fullmatch(r"⬜( –)+", _glance_row(lines, "antipodal.pairs_are_antipodal")[4])
    # the prose is below the matrix, naming the targets in the marks' order
    note = next(line for line in lines if line.startswith("- cross.aligned_keeps_pair "))
    matrix_end = next(k for k, line in enumerate(lines) if line.startswith("| topk.less_shrinkage | "))
    assert lines.index(note) > matrix_end
    assert ("(a mark per reading: processed/raw, processed primary) — toy: ✓/✓ toy-cross-dense, – toy-cross-control "
            "(negative control) (not run: not measured yet); tinylm: ✗/✓ tinylm-cross-resid-post") in note
    assert "- topk.exact_sparsity — toy: ✓ toy-sparse" in lines
    assert "- sagsae.parameter_accounting — toy: ✓ toy-sagsae-bipolar (by construction)" in lines


def test_html_is_self_contained(report: tuple[Path, Path]) -> None:
    html = report[1].read_text()
    images = re.findall(r"src='data:image/png;base64,([^']+)'", html)
    assert images, "no embedded figure"
    assert all(base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    assert "src='http" not in html and 'src="http' not in html
    assert "<tr class='inconclusive'>" in html and "tr.inconclusive td{background" in html  # its own colour
    # the matrix: a cell per tier with its own class, a tooltip per mark naming the target and its verdict
    row = next(line for line in html.splitlines() if line.startswith("<tr><td>cross.aligned_keeps_pair</td>"))
    assert re.findall(r"<td class='cell ([a-z-]+)'>", row) == ["replicated", "not-replicated", "absent"]
    assert ("<span title='tinylm-cross-resid-post: does NOT hold; readings: processed (primary): not replicated; "
            "raw: replicated'>✗/✓</span>") in row
    assert "<span class='swatch mixed'></span>" in html  # the legend's colours are the cells' own


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium: `apt-get install chromium` "
                                                "(scripts/test.sh installs it)")
def test_html_renders_in_headless_chromium(report: tuple[Path, Path], tmp_path: Path) -> None:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    url = report[1].resolve().as_uri()
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    assert "<table>" in dom and "topk.less_shrinkage" in dom and dom.count("<img") >= 1
    assert "cross: Cross-paper questions" in dom and ">holds<" in dom  # the questions' own section and words
    # the browser paints the two tiers of a claim that holds on one and not on the other in two colours: the
    # page's cells, with their computed backgrounds written into the DOM by a script
    probe = tmp_path / "probe.html"
    probe.write_text(report[1].read_text().replace("</body>", "<script>for (const td of document.querySelectorAll("
                     "'td.cell')) td.dataset.bg = getComputedStyle(td).backgroundColor;</script></body>"))
    probed = subprocess.run([CHROMIUM, *flags, "--dump-dom", probe.resolve().as_uri()], capture_output=True,
                            text=True, timeout=120, check=False).stdout
    row = re.search(r"<tr><td>cross\.aligned_keeps_pair</td>.*?</tr>", probed, re.DOTALL).group(0)
    toy, tinylm, real = re.findall(r'data-bg="([^"]+)"', row)
    assert len({toy, tinylm, real}) == 3 and "rgba(0, 0, 0, 0)" in (real,)  # green, red, and no colour
    shot = tmp_path / "page.png"
    subprocess.run([CHROMIUM, *flags, "--window-size=1400,2400", f"--screenshot={shot}", url],
                   capture_output=True, timeout=120)
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[0] >= 2000 and pixels.shape[1] >= 1300
    assert float(pixels[..., :3].std()) > 0.05  # not a blank page: text, table colours and figure rendered
