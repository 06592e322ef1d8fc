"""The replication report: Markdown and a self-contained HTML page from the results store.

For every catalog claim and every (tier, target) it runs on: the paper's value, ours (mean, min-max over
seeds), the criterion and its rationale, and a verdict re-judged from the records with the same pure
:func:`replication.verdict.judge` that judged the run: under the primary reading of the claim's open
choice, with every other reading's verdict beside it; ``inconclusive`` (a failed precondition, named with its
value) in its own colour. A claim not measured says why (not implemented, needs a GPU, needs weights, needs
an LLM judge, not measured yet). Then a section per paper with figures,
and provenance (versions, devices) at the bottom.

Nothing in ``report.md``, ``report.html`` or the figures varies from run to run: the same records give the
same bytes. What does vary (git revisions, wall times, when records were written, the tiny LM's training
time) is written to ``provenance.md`` beside them (:func:`run_provenance_lines`), which the DVC stage does not
declare as an output, so DVC never hashes it.
"""

from __future__ import annotations

import base64
import html
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from replication.claims import REGISTRY, Claim, Tier
from replication.io import save_figure_atomic, write_text_atomic
from replication.results import (
    ResultRecord,
    ResultsDirError,
    check_results_dir,
    iter_records,
    read_provenance,
    record_path,
    record_to_measurement,
)
from replication.verdict import Status, Verdict, aggregate, judge



@dataclass(frozen=True)
class Row:
    claim: Claim
    tier: Tier
    target: str
    status: str
    ours: str
    reason: str
    seeds: str
    short: str = ""
    """For rows not run: why, in a few words (needs GPU, needs weights, not implemented, ...)."""
    control_ok: bool | None = None
    """For a negative control: whether it behaved as its expectation says."""
    readings: str = ""
    """Every reading's verdict (primary first), where the claim has an open choice."""
    reading_statuses: tuple[str, ...] = ()
    """Every reading's status (primary first, ``not run`` where unmeasured), where the claim has an open choice."""
    user: bool = False
    """A row of `sae-replicate check` on the user's own model and SAE (its own section of the report)."""


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
    from replication.papers import registry as analysis_registry

    registry, analyses = load_claims(), analysis_registry()
    grouped: dict[tuple[str, str, str, str | None], list[ResultRecord]] = defaultdict(list)
    for rec in records:
        grouped[(rec.claim_id, rec.tier, rec.target, rec.reading)].append(rec)
    rows = []
    for claim in registry:
        for tier, target, _analysis in analyses.bindings(claim):
            if target is None:
                reason = claim.requires.value if claim.requires else "not implemented on this tier yet"
                short = claim.requires.value.split(" (")[0].split(":")[0] if claim.requires else "not implemented"
                rows.append(Row(claim, tier, "—", Status.NOT_RUN.value, "", reason, "", short))
                continue
            by_reading = {reading: sorted(grouped.get((claim.id, tier.value, target.name, reading), []),
                                          key=lambda r: (r.seed is None, r.seed))
                          for reading in claim.reading_names}
            recs = by_reading[claim.reading_names[0]]
            expectation = analyses.expectations.get((claim.id, target.name))
            label = target.name + (" (negative control)" if target.control else "")
            if not recs:
                blocked = unavailable_reason(target)
                reason = blocked[1] if blocked else f"not measured yet: `sae-replicate run --tier {tier.value}`"
                short = blocked[0].value if blocked else "not measured yet"
                rows.append(Row(claim, tier, label, Status.NOT_RUN.value, "", reason, "", short))
                continue
            verdict, readings, statuses = _judged(claim, by_reading)
            reason = verdict.reason
            ok: bool | None = None
            if target.control and expectation is not None:
                ok = verdict.status is expectation.status
                reason = (f"control {'behaves as expected' if ok else 'DOES NOT behave as expected'}: "
                          f"{expectation.reason}" + (f" ({reason})" if reason else "")
                          + (f" — known: {expectation.violated}" if expectation.violated and not ok else ""))
            elif expectation is not None:
                reason = (reason + " — " if reason else "") + f"known: {expectation.reason}"
            seeds = ",".join("-" if r.seed is None else str(r.seed) for r in recs)
            shown = {**verdict.values, **verdict.preconditions, **verdict.reported}
            rows.append(Row(claim, tier, label, verdict.status.value, _fmt_values(shown), reason,
                            seeds, control_ok=ok, readings=readings, reading_statuses=statuses))
    return rows + _user_rows(registry, grouped)


def _judged(claim: Claim, by_reading: dict[str | None, list[ResultRecord]]) -> tuple[Verdict, str, tuple[str, ...]]:
    """The primary reading's verdict re-judged from its records (it has some), every reading's status in words
    where the claim has an open choice ("" otherwise), and every reading's status (``()`` without one)."""
    verdicts = {reading: aggregate([judge(claim, record_to_measurement(r), reading) for r in recs])
                for reading, recs in by_reading.items() if recs}
    statuses = () if claim.readings is None else tuple(
        verdicts[reading].status.value if reading in verdicts else Status.NOT_RUN.value
        for reading in claim.reading_names)
    readings = "" if claim.readings is None else "; ".join(
        f"{reading}{' (primary)' if k == 0 else ''}: "
        + (verdicts[reading].status.value if reading in verdicts else "not measured")
        for k, reading in enumerate(claim.reading_names))
    return verdicts[claim.reading_names[0]], readings, statuses


def _user_rows(registry, grouped: dict) -> list[Row]:
    """One row per (claim, user target) of `sae-replicate check`'s records (targets named ``user-...``)."""
    from replication.check import USER_PREFIX
    from replication.claims import UnknownClaimError

    rows = []
    keys = sorted({(cid, tier, target) for cid, tier, target, _ in grouped if target.startswith(USER_PREFIX)})
    for claim_id, tier, target in keys:
        try:
            claim = registry.get(claim_id)
        except UnknownClaimError:
            continue
        by_reading = {r: grouped.get((claim_id, tier, target, r), []) for r in claim.reading_names}
        if not by_reading[claim.reading_names[0]]:
            continue
        verdict, readings, statuses = _judged(claim, by_reading)
        shown = {**verdict.values, **verdict.preconditions, **verdict.reported}
        rows.append(Row(claim, Tier(tier), target, verdict.status.value, _fmt_values(shown), verdict.reason, "-",
                        readings=readings, reading_statuses=statuses, user=True))
    return rows


def stale_records(records: list[ResultRecord]) -> tuple[list[ResultRecord], list[str]]:
    """``(current, stale)``: the records of a registered claim on a (tier, target) it is still bound to, and
    one line per (claim, tier, target) of the others (a claim or target since removed or renamed), which the
    report lists instead of dropping. Records of `sae-replicate check` (``user-...`` targets) are current while
    their claim is registered."""
    from replication.check import USER_PREFIX
    from replication.claims import load_all as load_claims
    from replication.papers import registry as analysis_registry

    load_claims()  # every catalog claim registered first: a claim not imported yet is not a removed one
    analyses = analysis_registry()
    bound = {(claim.id, tier.value, target.name) for claim in REGISTRY
             for tier, target, _ in analyses.bindings(claim) if target is not None}

    def is_current(r: ResultRecord) -> bool:
        return (r.claim_id, r.tier, r.target) in bound or (r.target.startswith(USER_PREFIX) and r.claim_id in REGISTRY)

    current = [r for r in records if is_current(r)]
    stale: dict[tuple[str, str, str], int] = defaultdict(int)
    for r in records:
        if not is_current(r):
            stale[(r.claim_id, r.tier, r.target)] += 1
    lines = [f"{cid} on {tier}/{target}: {n} record(s); "
             + ("the claim is no longer registered" if cid not in REGISTRY else "the claim no longer runs there")
             + f" (delete {tier}/{target}/{cid}/ under the results folder)"
             for (cid, tier, target), n in sorted(stale.items())]
    return current, lines


PROVENANCE_PAGE = "provenance.md"


def _provenance(records: list[ResultRecord]) -> list[str]:
    """What measured the records (devices, versions): the same for every run on a machine kind (pure)."""
    if not records:
        return ["- No result records yet."]
    devices = sorted({r.device for r in records})
    versions = sorted({tuple(sorted(r.versions.items())) for r in records})
    lines = [f"- device(s): {', '.join(devices)}"]
    for v in versions:
        lines.append("- versions: " + ", ".join(f"{k} {val}" for k, val in v))
    lines.append(f"- records: {len(records)}; git revisions, wall times and when they were written vary from run "
                 f"to run: see {PROVENANCE_PAGE} beside this report (not hashed by DVC)")
    return lines


def run_provenance_lines(records: list[ResultRecord], provenance: dict[tuple[str, str], dict],
                         tinylm: dict | None = None) -> list[str]:
    """What varies from run to run, from the results' provenance files (:func:`read_provenance`) and the
    tiny LM's stage provenance (pure)."""
    entries = []
    for r in records:
        rel = record_path(Path("."), r.tier, r.target, r.claim_id, r.seed, r.reading).relative_to(r.tier)
        entries.append((r, provenance.get((r.tier, rel.as_posix()))))
    known = [(r, e) for r, e in entries if e is not None]
    lines = []
    if len(known) < len(entries):
        lines.append(f"- {len(entries) - len(known)} of {len(entries)} records have no provenance entry (written "
                     "by an earlier version, or their provenance file was deleted)")
    if known:
        revs = sorted({str(e.get("git_revision", "unknown")) for _, e in known})
        stamps = sorted(str(e.get("timestamp", "?")) for _, e in known)
        wall: dict[tuple[str, str], float] = defaultdict(float)
        seen = set()
        for r, e in known:
            key = (r.tier, r.target, r.seed)
            if key not in seen:  # one measurement serves every claim of a (target, seed): count it once
                seen.add(key)
                wall[(r.tier, r.target)] += float(e.get("wall_time_s", 0.0))
        lines.append(f"- git revision(s): {', '.join(revs)}")
        lines.append("- measurement wall time per target (all seeds; cached training not re-counted): "
                     + ", ".join(f"{t}/{n} {s:.1f} s" for (t, n), s in sorted(wall.items())))
        lines.append(f"- records: {len(known)}, written {stamps[0]} to {stamps[-1]}")
    if tinylm:
        lines.append(f"- tiny LM: trained in {tinylm['train_wall_s']:.0f} s on {tinylm.get('threads', '?')} "
                     f"thread(s), {tinylm.get('timestamp', '?')}")
    return lines or ["- No result records yet."]


REPORT_BUILT = "- report built "
"""How the provenance page's line naming when and at which git revision the report was built begins."""


def report_built_line() -> str:
    """``- report built <UTC time> at git revision <HEAD>``: what the README's pointer to the committed
    snapshot (:mod:`replication.snapshot`) names."""
    import time

    from replication.provenance import git_revision

    return f"{REPORT_BUILT}{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} at git revision {git_revision()}"


def _figures(records: list[ResultRecord], results_dir: Path, out_dir: Path) -> dict[str, list[tuple[Path, str]]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from replication.figures import FigureInputs, measured_frame
    from replication.papers import figure_makers

    frame = measured_frame(records)
    inputs = FigureInputs(frame, Path(results_dir))
    made: dict[str, list[tuple[Path, str]]] = defaultdict(list)
    if frame.empty:
        return made
    for paper, makers in figure_makers().items():
        for maker in makers:
            path = out_dir / "figures" / f"{paper}-{maker.name}.png"
            ok = [False]

            def save(tmp: Path, maker=maker, ok=ok) -> None:
                ok[0] = maker.make(inputs, tmp)
                if not ok[0]:
                    tmp.touch()

            save_figure_atomic(path, save)
            plt.close("all")
            if ok[0]:
                made[paper].append((path, maker.caption))
            else:
                path.unlink(missing_ok=True)
    return made


# ---------------------------------------------------------------------------------- document model
# The report is built once as a list of blocks and rendered twice (Markdown, HTML), so both say the same.

Block = tuple  # ("h1"|"h2"|"h3"|"p", text) | ("table", header, rows, row_classes) | ("figure", path, caption) | ("ul", items)
#               | ("glance", header, rows: [claim id, paper value, GlanceCell per tier]) | ("legend",): the matrix's

_SHORT = {"replicated": "replicated", "not replicated": "NOT replicated", "inconclusive": "inconclusive",
          "not run": "not run"}


#: verdict words of a paper with no value to replicate (the catalog's cross-paper questions): a prediction holds
PREDICTIONS = {"cross"}
_PREDICTION_WORDS = {Status.REPLICATED.value: "holds", Status.NOT_REPLICATED.value: "does not hold",
                     "NOT replicated": "does NOT hold"}


def _verdict_text(r: Row, text: str) -> str:
    """The verdict as shown: a claim that holds by algebra says so; a prediction holds or does not hold."""
    if r.claim.paper in PREDICTIONS:
        text = _PREDICTION_WORDS.get(text, text)
    return text + (" by construction" if r.claim.by_construction and r.status == Status.REPLICATED.value else "")


# ---------------------------------------------------------------------------------- the at-a-glance matrix
# One cell per (claim, tier), coloured by that cell's verdict, with one mark per target (and per reading); the
# words (which target is which mark, why a target did not run) are in the notes below the matrix.

#: a target's mark: its verdict under one reading
MARKS = {Status.REPLICATED.value: "✓", Status.NOT_REPLICATED.value: "✗", Status.INCONCLUSIVE.value: "?",
         Status.NOT_RUN.value: "–"}
#: a negative control's mark under the primary reading: whether it behaved as its expectation says
CONTROL_MARKS = {True: "c✓", False: "c✗"}
#: a matrix cell's class: its square in Markdown (which cannot colour a cell) and what the colour means
CELL_CLASSES = {
    "replicated": ("🟩", "replicated"),
    "not-replicated": ("🟥", "not replicated"),
    "inconclusive": ("🟨", "inconclusive"),
    "mixed": ("🟪", "mixed (the targets disagree)"),
    "not-run": ("⬜", "not run"),
}
ABSENT = "absent"
"""The class of a cell whose claim is not registered on that tier (blank)."""


@dataclass(frozen=True)
class Mark:
    text: str
    """One mark per reading, the primary first: ``✓``, ``c✗``, ``?/✓``."""
    title: str
    """The target and its verdict in words (the HTML page's tooltip)."""


@dataclass(frozen=True)
class GlanceCell:
    css: str
    """A key of :data:`CELL_CLASSES`, or :data:`ABSENT`."""
    marks: tuple[Mark, ...] = ()

    def markdown(self) -> str:
        if self.css == ABSENT:
            return ""
        return " ".join([CELL_CLASSES[self.css][0], *(m.text for m in self.marks)])


def _mark(r: Row) -> Mark:
    """A target's mark: its verdict under every reading (a control: as expected or not, under the primary)."""
    if r.status == Status.NOT_RUN.value:
        return Mark(MARKS[r.status], f"{r.target}: not run: {r.short}")
    first = CONTROL_MARKS[r.control_ok] if r.control_ok is not None else MARKS[r.status]
    text = "/".join([first, *(MARKS[s] for s in r.reading_statuses[1:])])
    verdict = _verdict_text(r, _SHORT[r.status])
    words = (f"control {'as expected' if r.control_ok else 'NOT as expected'} ({verdict})"
             if r.control_ok is not None else verdict)
    return Mark(text, f"{r.target}: {words}" + (f"; readings: {r.readings}" if r.readings else ""))


def _cell_class(rows: list[Row]) -> str:
    """The verdict of one claim on one tier over the targets that ran, under the primary reading: the one they
    share, else ``mixed``; a control that does not behave as expected counts as not replicated, one that does is
    not counted; ``not-run`` if no target ran, :data:`ABSENT` if the claim has no such tier."""
    if not rows:
        return ABSENT
    outcomes = {"not-replicated" if r.control_ok is False else r.status.replace(" ", "-") for r in rows
                if r.status != Status.NOT_RUN.value and r.control_ok is not True}
    if not outcomes:
        return "not-run"
    return outcomes.pop() if len(outcomes) == 1 else "mixed"


def _glance_cell(rows: list[Row]) -> GlanceCell:
    return GlanceCell(_cell_class(rows), tuple(_mark(r) for r in rows))


def _glance_note(claim: Claim, rows: list[Row]) -> str:
    """The words behind one claim's marks, a tier at a time: each target with its mark, in the marks' order (or,
    for a tier where nothing ran, why, identical reasons counted)."""
    parts, marks = [], []
    for tier in (t for t in Tier if t in claim.tiers):
        mine = [r for r in rows if r.tier is tier]
        marks += [_mark(r).text for r in mine]
        if all(r.status == Status.NOT_RUN.value for r in mine):
            why = [r.short for r in mine]
            counted = {w: why.count(w) for w in dict.fromkeys(why)}
            text = "not run: " + "; ".join(w if n == 1 else f"{w} ×{n}" for w, n in counted.items())
        else:
            text = ", ".join(
                f"{_mark(r).text} {r.target}"
                + (f" (not run: {r.short})" if r.status == Status.NOT_RUN.value else "")
                + (" (by construction)" if r.claim.by_construction and r.status == Status.REPLICATED.value else "")
                for r in mine)
        parts.append(f"{tier.value}: {text}")
    readings = "" if not any("/" in m for m in marks) else (
        " (a mark per reading: " + "/".join(claim.reading_names) + f", {claim.reading_names[0]} primary)")
    return f"{claim.id}{readings} — " + "; ".join(parts)


def _legend(swatch) -> list[str]:
    """The matrix's legend as two lines; ``swatch(css)`` draws a cell class's colour (pure)."""
    colours = " · ".join(f"{swatch(css)} {words}" for css, (_sq, words) in CELL_CLASSES.items())
    return [(f"Each cell is one claim on one tier, coloured by the verdict of its targets that ran, under the "
             f"primary reading: {colours}; blank: the claim is not registered on that tier."),
            ("Marks, one per target, in the order the notes below the matrix name them: ✓ replicated (a "
             "cross-paper question: holds) · ✗ not replicated (does not hold) · ? inconclusive · – not run · "
             "c✓ / c✗ a negative control that did / did NOT behave as expected (c✗ colours the cell as not "
             "replicated). A claim with readings of an open choice has a mark per reading, the primary first: "
             "✓/✗.")]


def _row_class(rows: list[Row]) -> str:
    """Red if any positive target fails or a control misbehaves, amber if a positive target is inconclusive,
    green if something replicated, else grey."""
    if any(r.control_ok is False for r in rows) or any(
            r.status == Status.NOT_REPLICATED.value and r.control_ok is None for r in rows):
        return "not-replicated"
    if any(r.status == Status.INCONCLUSIVE.value and r.control_ok is None for r in rows):
        return "inconclusive"
    if any(r.status == Status.REPLICATED.value for r in rows):
        return "replicated"
    return "not-run"


def build_blocks(rows: list[Row], figures: dict[str, list[tuple[Path, str]]], records: list[ResultRecord],
                 stale: list[str] = ()) -> list[Block]:
    user = [r for r in rows if r.user]
    rows = [r for r in rows if not r.user]
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row.status] += 1
    blocks: list[Block] = [
        ("h1", "SAE replication report"),
        ("p", "Every quantitative claim of the papers (IDs from the claims catalog), on each tier and target it "
              "applies to. Verdicts are re-judged from the result records by the same code that judged the runs: "
              "replicated means every condition holds on every seed; inconclusive means a precondition the claim "
              "presupposes failed (named with its value), so the claim could not be judged: it never counts as "
              "replicated. Where a paper leaves a choice open, every reading is judged and shown; the verdict is "
              "the primary reading's, declared in advance. A negative control is a target without the "
              "phenomenon, on which the claim is expected not to replicate."),
        ("p", "Summary over (claim, tier, target) rows: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))),
        ("h2", "At a glance"),
    ]
    tiers = list(Tier)
    glance, notes = [], []
    for claim in dict.fromkeys(r.claim for r in rows):
        mine = [r for r in rows if r.claim is claim]
        glance.append([claim.id, claim.paper_value] + [_glance_cell([r for r in mine if r.tier is t])
                                                        if t in claim.tiers else GlanceCell(ABSENT) for t in tiers])
        notes.append(_glance_note(claim, mine))
    blocks += [("legend",), ("glance", ["claim", "paper reports"] + [t.value for t in tiers], glance),
               ("h3", "Which target is which mark"), ("ul", notes)]
    for paper in dict.fromkeys(r.claim.paper for r in rows):
        prows = [r for r in rows if r.claim.paper == paper]
        blocks.append(("h2", f"{paper}: {REGISTRY.title(paper)}"))
        for path, caption in figures.get(paper, []):
            blocks.append(("figure", path, caption))
        blocks.append(("table", ["claim", "tier", "target", "ours: mean [min, max] over seeds", "criterion",
                                 "verdict", "every reading", "why / notes"],
                       [[r.claim.id, r.tier.value, r.target, r.ours + (f" (seeds {r.seeds})" if r.seeds else ""),
                         r.claim.criterion, _verdict_text(r, r.status), r.readings or "—", r.reason] for r in prows],
                       [_row_class([r]) for r in prows]))
        blocks.append(("ul", [_claim_note(c) for c in dict.fromkeys(r.claim for r in prows)]))
    if user:
        blocks += _user_blocks(user)
    tinylm = _tinylm_lines()
    if tinylm:
        blocks += [("h2", "The tiny LM of the tinylm tier"), ("ul", tinylm)]
    if stale:
        blocks += [("h2", "Stale records (not judged)"), ("ul", list(stale))]
    blocks += [("h2", "Provenance"), ("ul", [line[2:] for line in _provenance(records)])]
    return blocks


def _user_blocks(rows: list[Row]) -> list[Block]:
    """The section of `sae-replicate check`'s targets: each claim on the user's SAE beside the paper's value
    (its figures are drawn with the papers' own, in their sections)."""
    blocks: list[Block] = [
        ("h2", "Your SAEs (sae-replicate check)"),
        ("p", "The papers' SAE-level claims measured on models and SAEs named on the command line, judged with "
              "the real tier's conditions. Their panels are in the papers' figures above (targets named user-...)."),
    ]
    for target in dict.fromkeys(r.target for r in rows):
        mine = [r for r in rows if r.target == target]
        blocks.append(("h3", target))
        blocks.append(("table", ["claim", "paper reports", "this SAE", "criterion", "verdict", "every reading",
                                 "why / notes"],
                       [[r.claim.id, r.claim.paper_value, r.ours, r.claim.criterion, _verdict_text(r, r.status),
                         r.readings or "—", r.reason] for r in mine],
                       [_row_class([r]) for r in mine]))
    return blocks


def _claim_note(c: Claim) -> str:
    note = (f"{c.id} ({c.source}): {c.statement}. Paper: {c.paper_value}. Tolerance: {c.rationale}"
            + (f" Definition: {c.definition}" if c.definition else ""))
    if c.readings is not None:
        note += (f" Readings of the open choice '{c.readings.name}': "
                 + "; ".join(f"{r.name}{' (primary)' if r.name == c.readings.primary else ''}: {r.description}"
                             for r in c.readings.readings)
                 + f". Primary because {c.readings.why}")
    return note


def _tinylm_lines() -> list[str]:
    """Corpus provenance and the LM's held-out loss against the unigram baseline, if the tier was built."""
    import json

    from replication.tinylm import artifacts, default_profile

    paths = artifacts()
    corpus, lm = paths.corpus / "provenance.json", paths.lm / "metrics.json"
    if not corpus.exists() or not lm.exists():
        return []
    prov, metrics = json.loads(corpus.read_text()), json.loads(lm.read_text())
    pin = prov.get("pin")
    pinned = (f"pinned by `{pin['file']}` (sha256 {pin['sha256'][:16]}…): every machine that builds it gets these "
              "documents or stops" if pin else "not pinned: the text available offline on the machine that built it")
    lines = [f"profile `{default_profile()}`: corpus of {prov['documents']} documents, {prov['bytes'] / 1e6:.2f} MB, "
             + pinned]
    for src in prov["sources"]:
        where = src["options"].get("root", "")
        lines.append(f"source {src['kind']} {where}: {src['documents']} documents, {src['bytes'] / 1e6:.2f} MB")
    for name, split in prov["splits"].items():
        lines.append(f"{name} split: {split['documents']} documents, sha256 {split['sha256'][:16]}…")
    lines.append(f"LM: {metrics['n_params'] / 1e6:.2f}M parameters, {metrics['steps']} steps, "
                 f"{metrics['tokens_seen'] / 1e6:.2f}M tokens seen; held-out loss {metrics['heldout_loss']:.3f} "
                 f"nats/token vs the unigram baseline {metrics['unigram_heldout_loss']:.3f} on the same "
                 f"{metrics['heldout_tokens_evaluated']} held-out tokens")
    return lines


def _tinylm_run_provenance() -> dict | None:
    """The tiny LM stage's run-varying provenance (training wall time), if the tier was built."""
    import json

    from replication.tinylm import artifacts
    from replication.tinylm.config import stage_provenance_path

    path = stage_provenance_path(artifacts().lm)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("train_wall_s"), (int, float)) else None


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks: list[Block], out_dir: Path) -> str:
    lines: list[str] = []
    for block in blocks:
        kind = block[0]
        if kind == "h1":
            lines += [f"# {block[1]}", ""]
        elif kind == "h2":
            lines += [f"## {block[1]}", ""]
        elif kind == "h3":
            lines += [f"### {block[1]}", ""]
        elif kind == "p":
            lines += [block[1], ""]
        elif kind == "table":
            _, header, body, _classes = block
            lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(_md_cell(str(c)) for c in row) + " |" for row in body] + [""]
        elif kind == "glance":
            _, header, body = block
            lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(_md_cell(c.markdown() if isinstance(c, GlanceCell) else str(c)) for c in row)
                      + " |" for row in body] + [""]
        elif kind == "legend":
            for line in _legend(lambda css: CELL_CLASSES[css][0]):
                lines += [line, ""]
        elif kind == "figure":
            _, path, caption = block
            lines += [f"![{caption}]({path.relative_to(out_dir).as_posix()})", "", f"*{caption}*", ""]
        elif kind == "ul":
            lines += [f"- {item}" for item in block[1]] + [""]
    return "\n".join(lines)


_CSS = """body{font-family:system-ui,sans-serif;max-width:1500px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top}
th{background:#f0f0f0;text-align:left}tr.replicated td{background:#eaf7ea}tr.not-replicated td{background:#fbe3e2}
tr.inconclusive td{background:#fdf1d6}
tr.not-run td{color:#666}td:first-child{font-family:monospace;white-space:nowrap}img{max-width:100%;display:block}
table.glance td.cell{white-space:nowrap;font-size:15px;text-align:center;min-width:4em}
table.glance td.cell span{cursor:help}td.cell.replicated,.swatch.replicated{background:#b9e4b9}
td.cell.not-replicated,.swatch.not-replicated{background:#f4b6b2}td.cell.inconclusive,.swatch.inconclusive{background:#fbdf9d}
td.cell.mixed,.swatch.mixed{background:#d7c6ef}td.cell.not-run,.swatch.not-run{background:#f2f2f2;color:#888}
.swatch{display:inline-block;width:.9em;height:.9em;border:1px solid #999;vertical-align:middle}
p.legend{font-size:13px;max-width:1100px}
figure{margin:1.5em 0}figcaption{font-style:italic;font-size:13px;max-width:1100px}li{margin:.3em 0;font-size:14px}"""


def _html_glance_cell(cell: GlanceCell) -> str:
    marks = " ".join(f"<span title='{html.escape(m.title)}'>{html.escape(m.text)}</span>" for m in cell.marks)
    return f"<td class='cell {cell.css}'>{marks}</td>"


def render_html(blocks: list[Block]) -> str:
    e = html.escape
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>SAE replication report</title>",
           f"<style>{_CSS}</style></head><body>"]
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "h3", "p"):
            out.append(f"<{kind}>{e(block[1])}</{kind}>")
        elif kind == "table":
            _, header, body, classes = block
            out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
            for row, css in zip(body, classes):
                out.append(f"<tr class='{css}'>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>")
            out.append("</table>")
        elif kind == "glance":
            _, header, body = block
            out.append("<table class='glance'><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
            for row in body:
                out.append("<tr>" + "".join(_html_glance_cell(c) if isinstance(c, GlanceCell) else f"<td>{e(str(c))}</td>"
                                            for c in row) + "</tr>")
            out.append("</table>")
        elif kind == "legend":
            # the words are escaped before the swatches (markup) go in
            for line in _legend(lambda css: f"\0{css}\0"):
                parts = line.split("\0")
                out.append("<p class='legend'>" + "".join(f"<span class='swatch {p}'></span>" if k % 2 else e(p)
                                                          for k, p in enumerate(parts)) + "</p>")
        elif kind == "figure":
            _, path, caption = block
            data = base64.b64encode(path.read_bytes()).decode()
            out.append(f"<figure><img alt='{e(caption)}' src='data:image/png;base64,{data}'>"
                       f"<figcaption>{e(caption)}</figcaption></figure>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{e(item)}</li>" for item in block[1]) + "</ul>")
    out.append("</body></html>")
    return "\n".join(out)


def build_report(results_dir: Path, out_dir: Path, html: bool = True) -> list[Path]:
    """Write ``report.md`` (and ``report.html``) under ``out_dir`` from the records under ``results_dir``, and
    beside them :data:`PROVENANCE_PAGE`, what varies from run to run; returns the report's paths.

    Raises :class:`~replication.results.ResultsDirError` if ``results_dir`` is no folder or ``out_dir`` cannot
    be written, and :class:`~replication.results.MalformedRecordError` for a damaged record, before writing."""
    from replication.io import writable_dir_problem

    check_results_dir(results_dir, write=False)
    problem = writable_dir_problem(Path(out_dir))
    if problem:
        raise ResultsDirError(f"report folder: {problem}; pass --out a writable folder")
    records, stale = stale_records(iter_records(results_dir))
    rows = collect_rows(records)
    (Path(out_dir) / "figures").mkdir(parents=True, exist_ok=True)  # a DVC output, even when no figure is drawn
    figures = _figures(records, Path(results_dir), Path(out_dir))
    blocks = build_blocks(rows, figures, records, stale)
    md_path = Path(out_dir) / "report.md"
    write_text_atomic(md_path, render_markdown(blocks, Path(out_dir)))
    lines = [report_built_line(), *run_provenance_lines(records, read_provenance(results_dir),
                                                           _tinylm_run_provenance())]
    page = "\n".join(["# Run provenance", "", f"What varies from run to run for the report {md_path.name} beside "
                      "this page (DVC does not hash this file).", "", *lines, ""])
    write_text_atomic(Path(out_dir) / PROVENANCE_PAGE, page)
    paths = [md_path]
    if html:
        html_path = Path(out_dir) / "report.html"
        write_text_atomic(html_path, render_html(blocks))
        paths.append(html_path)
    return paths
