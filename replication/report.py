"""The replication report: Markdown and a self-contained HTML page from the results store.

For every catalog claim and every (tier, target) it runs on: the paper's value, ours (mean, min-max over
seeds), the criterion and its rationale, and a verdict re-judged from the records with the same pure
:func:`replication.verdict.judge` that judged the run. A claim not measured says why (not implemented,
needs a GPU, needs weights, needs an LLM judge, not measured yet). Then a section per paper with figures,
and provenance (versions, git revisions, devices, wall times) at the bottom.
"""

from __future__ import annotations

import base64
import html
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from replication.claims import Claim, Tier
from replication.io import save_figure_atomic, write_text_atomic
from replication.results import ResultRecord, iter_records, record_to_measurement
from replication.verdict import Status, aggregate, judge

PAPER_TITLES = {
    "antipodal": "Antipodal Pairing and Mechanistic Signals in Dense SAE Latents",
    "bimodality": "Bimodality of Sparse Autoencoder Features is Still There and Can Be Fixed",
    "sagsae": "Sign-Aware Gated Sparse Autoencoders (Bi-Jump-ReLU)",
    "topk": "Background: TopK SAEs and the SAE primer",
}


@dataclass(frozen=True)
class Row:
    claim: Claim
    tier: Tier
    target: str
    status: str
    ours: str
    reason: str
    seeds: str


def _fmt_values(values: dict[str, tuple[float, ...]]) -> str:
    parts = []
    for metric, vals in values.items():
        if len(vals) == 1:
            parts.append(f"{metric} = {vals[0]:.4g}")
        else:
            parts.append(f"{metric} = {statistics.fmean(vals):.4g} [{min(vals):.4g}, {max(vals):.4g}]")
    return "; ".join(parts)


def collect_rows(records: list[ResultRecord]) -> list[Row]:
    """One row per (claim, tier, target) binding, judged from the records or explained as not run."""
    from replication.claims import load_all as load_claims
    from replication.runner import unavailable_reason
    from replication.targets import load_all as load_analyses

    registry, analyses = load_claims(), load_analyses()
    grouped: dict[tuple[str, str, str], list[ResultRecord]] = defaultdict(list)
    for rec in records:
        grouped[(rec.claim_id, rec.tier, rec.target)].append(rec)
    rows = []
    for claim in registry:
        for tier, target, _analysis in analyses.bindings(claim):
            if target is None:
                reason = claim.requires.value if claim.requires else "not implemented on this tier yet"
                rows.append(Row(claim, tier, "—", Status.NOT_RUN.value, "", reason, ""))
                continue
            recs = sorted(grouped.get((claim.id, tier.value, target.name), []), key=lambda r: (r.seed is None, r.seed))
            expectation = analyses.expectations.get((claim.id, target.name))
            label = target.name + (" (negative control)" if target.control else "")
            if not recs:
                blocked = unavailable_reason(target)
                reason = blocked[1] if blocked else f"not measured yet: `sae-replicate run --tier {tier.value}`"
                rows.append(Row(claim, tier, label, Status.NOT_RUN.value, "", reason, ""))
                continue
            verdict = aggregate([judge(claim, record_to_measurement(r)) for r in recs])
            reason = verdict.reason
            if target.control and expectation is not None:
                ok = verdict.status is expectation.status
                reason = (f"control {'behaves as expected' if ok else 'DOES NOT behave as expected'}: "
                          f"{expectation.reason}" + (f" ({reason})" if reason else ""))
            elif expectation is not None:
                reason = (reason + " — " if reason else "") + f"known: {expectation.reason}"
            seeds = ",".join("-" if r.seed is None else str(r.seed) for r in recs)
            rows.append(Row(claim, tier, label, verdict.status.value, _fmt_values(dict(verdict.values)), reason,
                            seeds))
    return rows


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _provenance(records: list[ResultRecord]) -> list[str]:
    if not records:
        return ["No result records yet."]
    revs = sorted({r.git_revision for r in records})
    devices = sorted({r.device for r in records})
    versions = sorted({tuple(sorted(r.versions.items())) for r in records})
    wall: dict[tuple[str, str], float] = defaultdict(float)
    seen = set()
    for r in records:
        key = (r.tier, r.target, r.seed)
        if key not in seen:  # one measurement serves every claim of a (target, seed): count it once
            seen.add(key)
            wall[(r.tier, r.target)] += r.wall_time_s
    lines = [f"- git revision(s): {', '.join(revs)}", f"- device(s): {', '.join(devices)}"]
    for v in versions:
        lines.append("- versions: " + ", ".join(f"{k} {val}" for k, val in v))
    lines.append("- measurement wall time per target (all seeds; cached training not re-counted): "
                 + ", ".join(f"{t}/{n} {s:.1f} s" for (t, n), s in sorted(wall.items())))
    lines.append(f"- records: {len(records)}, written {min(r.timestamp for r in records)} to "
                 f"{max(r.timestamp for r in records)}")
    return lines


def _figures(records: list[ResultRecord], out_dir: Path) -> dict[str, list[tuple[Path, str]]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import replication.analyses  # noqa: F401  (registers figure makers)
    from replication.figures import FIGURES, measured_frame

    frame = measured_frame(records)
    made: dict[str, list[tuple[Path, str]]] = defaultdict(list)
    if frame.empty:
        return made
    for paper, makers in FIGURES.items():
        for maker in makers:
            path = out_dir / "figures" / f"{paper}-{maker.name}.png"
            ok = [False]

            def save(tmp: Path, maker=maker, ok=ok) -> None:
                ok[0] = maker.make(frame, tmp)
                if not ok[0]:
                    tmp.touch()

            save_figure_atomic(path, save)
            plt.close("all")
            if ok[0]:
                made[paper].append((path, maker.caption))
            else:
                path.unlink(missing_ok=True)
    return made


def render_markdown(rows: list[Row], figures: dict[str, list[tuple[Path, str]]], records: list[ResultRecord],
                    out_dir: Path) -> str:
    counts = defaultdict(int)
    for row in rows:
        counts[row.status] += 1
    lines = ["# SAE replication report", "",
             "Every quantitative claim of the papers (IDs from the claims catalog), measured on each tier and "
             "target it applies to. Verdicts are re-judged from the result records by the same code that judged "
             "the runs: *replicated* means every condition holds on every seed.", "",
             "**Summary:** " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())), "",
             "## Overview", "",
             "| claim | tier | target | paper reports | ours (mean [min, max] over seeds) | criterion | verdict | why / notes |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| " + " | ".join(_md_cell(x) for x in (
            f"`{r.claim.id}`", r.tier.value, r.target, r.claim.paper_value, r.ours + (f" (seeds {r.seeds})" if r.seeds else ""),
            r.claim.criterion, f"**{r.status}**", r.reason)) + " |")
    by_paper: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        by_paper[r.claim.paper].append(r)
    for paper, prows in by_paper.items():
        lines += ["", f"## {paper}: {PAPER_TITLES.get(paper, paper)}", ""]
        for path, caption in figures.get(paper, []):
            lines += [f"![{caption}]({path.relative_to(out_dir).as_posix()})", "", f"*{caption}*", ""]
        seen = set()
        for r in prows:
            if r.claim.id in seen:
                continue
            seen.add(r.claim.id)
            c = r.claim
            lines += [f"- **`{c.id}`** ({c.source}): {c.statement}. Paper: {c.paper_value}. "
                      f"Criterion: `{c.criterion}`. Tolerance: {c.rationale}"
                      + (f" Definition: {c.definition}" if c.definition else "")]
    lines += ["", "## Provenance", ""] + _provenance(records)
    return "\n".join(lines) + "\n"


_CSS = """body{font-family:system-ui,sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top}
th{background:#f0f0f0}tr.replicated td.v{background:#d9f2d9}tr.not-replicated td.v{background:#f9d6d5}
tr.not-run td.v{background:#eee}code{font-size:12px}img{max-width:900px;display:block}figure{margin:1em 0}
figcaption{font-style:italic;font-size:13px;max-width:900px}"""


def render_html(rows: list[Row], figures: dict[str, list[tuple[Path, str]]], records: list[ResultRecord]) -> str:
    e = html.escape
    counts = defaultdict(int)
    for row in rows:
        counts[row.status] += 1
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>SAE replication report</title>",
           f"<style>{_CSS}</style></head><body><h1>SAE replication report</h1>",
           "<p>Every quantitative claim of the papers, measured on each tier and target it applies to; verdicts "
           "re-judged from the result records (replicated = every condition holds on every seed).</p>",
           "<p><b>Summary:</b> " + e(", ".join(f"{n} {s}" for s, n in sorted(counts.items()))) + "</p>",
           "<h2>Overview</h2><table><tr><th>claim</th><th>tier</th><th>target</th><th>paper reports</th>"
           "<th>ours (mean [min, max] over seeds)</th><th>criterion</th><th>verdict</th><th>why / notes</th></tr>"]
    for r in rows:
        css = r.status.replace(" ", "-")
        ours = r.ours + (f" (seeds {r.seeds})" if r.seeds else "")
        out.append(f"<tr class='{css}'><td><code>{e(r.claim.id)}</code></td><td>{e(r.tier.value)}</td>"
                   f"<td>{e(r.target)}</td><td>{e(r.claim.paper_value)}</td><td>{e(ours)}</td>"
                   f"<td><code>{e(r.claim.criterion)}</code></td><td class='v'><b>{e(r.status)}</b></td>"
                   f"<td>{e(r.reason)}</td></tr>")
    out.append("</table>")
    papers = list(dict.fromkeys(r.claim.paper for r in rows))
    for paper in papers:
        out.append(f"<h2>{e(paper)}: {e(PAPER_TITLES.get(paper, paper))}</h2>")
        for path, caption in figures.get(paper, []):
            data = base64.b64encode(path.read_bytes()).decode()
            out.append(f"<figure><img alt='{e(caption)}' src='data:image/png;base64,{data}'>"
                       f"<figcaption>{e(caption)}</figcaption></figure>")
        out.append("<ul>")
        for c in dict.fromkeys(r.claim for r in rows if r.claim.paper == paper):
            out.append(f"<li><b><code>{e(c.id)}</code></b> ({e(c.source)}): {e(c.statement)}. Paper: "
                       f"{e(c.paper_value)}. Criterion: <code>{e(c.criterion)}</code>. Tolerance: {e(c.rationale)}"
                       + (f" Definition: {e(c.definition)}" if c.definition else "") + "</li>")
        out.append("</ul>")
    out.append("<h2>Provenance</h2><ul>" + "".join(f"<li>{e(line[2:])}</li>" for line in _provenance(records))
               + "</ul></body></html>")
    return "\n".join(out)


def build_report(results_dir: Path, out_dir: Path, html: bool = True) -> list[Path]:
    """Write ``report.md`` (and ``report.html``) under ``out_dir`` from the records under ``results_dir``."""
    records = iter_records(results_dir) if Path(results_dir).exists() else []
    rows = collect_rows(records)
    figures = _figures(records, Path(out_dir))
    md_path = Path(out_dir) / "report.md"
    write_text_atomic(md_path, render_markdown(rows, figures, records, Path(out_dir)))
    paths = [md_path]
    if html:
        html_path = Path(out_dir) / "report.html"
        write_text_atomic(html_path, render_html(rows, figures, records))
        paths.append(html_path)
    return paths
