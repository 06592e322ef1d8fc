"""The latest report, committed: ``report/latest/`` (issue 17).

The pipeline's ``report-latest`` stage copies the report the ``report`` stage wrote under ``report/out/`` (DVC's
cache, not git's) into ``report/latest/``, which git tracks: ``report.md`` with the PNG figures it links to, and
``provenance.md``, when and at which git revision the report was built and what varies from run to run (not a
DVC output, so DVC never hashes it). The self-contained ``report.html`` is left out: it is the same figures
again, base64-encoded. Then it rewrites the README's block between :data:`README_BEGIN` and
:data:`README_END`, which points to the snapshot and names its date and git revision, taken from its provenance
page. The same report gives the same bytes, and a snapshot that already holds them keeps its provenance page
(the date and revision the content was first built at), so rerunning the main job leaves ``git status`` clean.

    python -m replication.snapshot --from report/out --to report/latest --readme README.md
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from replication.io import write_bytes_atomic, write_text_atomic
from replication.report import PROVENANCE_PAGE, REPORT_BUILT

REPORT_PAGE = "report.md"
FIGURES = "figures"
README_BEGIN = "<!-- latest-report: written by `python -m replication.snapshot` (dvc repro); do not edit -->"
README_END = "<!-- /latest-report -->"

_FIGURE_LINK = re.compile(r"!\[[^\n]*?\]\((figures/[^)\s]+\.png)\)")
_BUILT = re.compile(re.escape(REPORT_BUILT) + r"(\S+) at git revision (\S+)")
_RECORD_REVISIONS = re.compile(r"^- git revision\(s\): (.+)$", re.MULTILINE)


def figure_links(markdown: str) -> list[str]:
    """The figures a report page links to, as paths relative to it, in order (pure)."""
    return list(dict.fromkeys(_FIGURE_LINK.findall(markdown)))


def made_from(provenance: str) -> tuple[str, str, list[str]]:
    """``(when built, git revision built at, git revisions the records were measured at)`` from a report's
    provenance page (``"unknown"`` / ``[]`` where it does not say) (pure)."""
    built = _BUILT.search(provenance)
    records = _RECORD_REVISIONS.search(provenance)
    when, revision = built.groups() if built else ("unknown", "unknown")
    return when, revision, [r.strip() for r in records.group(1).split(",")] if records else []


def _short(revision: str) -> str:
    head, _, rest = revision.partition("+")
    return head[:10] + (f"+{rest}" if rest else "") if re.fullmatch(r"[0-9a-f]{40}", head) else revision


def readme_block(page: str, provenance: str, where: str) -> str:
    """The README's pointer to a snapshot whose report page is ``page`` and provenance page ``provenance``,
    in the folder ``where`` (relative to the README): its path, the date and git revision its provenance names
    and the report's summary line (pure)."""
    when, revision, measured = made_from(provenance)
    summary = next((line for line in page.splitlines() if line.startswith("Summary over")), "")
    lines = [README_BEGIN,
             f"**Latest report: [`{where}/{REPORT_PAGE}`]({where}/{REPORT_PAGE})**, opening with the "
             f"[at-a-glance verdict matrix]({where}/{REPORT_PAGE}#at-a-glance) (a cell per claim and tier, a mark "
             f"per target); built {when} at git revision `{_short(revision)}`"
             + (f" from records measured at {', '.join(f'`{_short(r)}`' for r in measured)}" if measured else "")
             + f" ([provenance]({where}/{PROVENANCE_PAGE})). The main job (`bash scripts/main.sh`) rewrites it.",
             *([] if not summary else ["", summary + "."]),
             README_END]
    return "\n".join(lines)


def with_readme_block(readme: str, block: str) -> str:
    """``readme`` with the text from :data:`README_BEGIN` to :data:`README_END` replaced by ``block`` (pure).

    Raises ``ValueError`` if the markers are missing."""
    start, end = readme.find(README_BEGIN), readme.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no block between {README_BEGIN!r} and {README_END!r}: put the two "
                         "lines, in that order, where the pointer to the latest report goes")
    return readme[:start] + block + readme[end + len(README_END):]


def copy_snapshot(src: Path, dst: Path) -> list[Path]:
    """Copy ``src``'s report page, the figures it links to and its provenance page into ``dst``, dropping
    figures there that the page no longer links to; returns the paths written (none if ``dst`` already holds
    the same page and figures: then its provenance page, which dates them, is kept too).

    Raises ``FileNotFoundError`` naming the missing file if the report is incomplete, before writing."""
    src, dst = Path(src), Path(dst)
    page = (src / REPORT_PAGE).read_text(encoding="utf-8")
    figures = figure_links(page)
    missing = [p for p in [PROVENANCE_PAGE, *figures] if not (src / p).is_file()]
    if missing:
        raise FileNotFoundError(f"{src}: the report lacks {', '.join(missing)}; build it first: "
                                f"`sae-replicate report --out {src}`")
    (dst / FIGURES).mkdir(parents=True, exist_ok=True)
    removed = False
    for stale in sorted((dst / FIGURES).iterdir()):
        if f"{FIGURES}/{stale.name}" not in figures and stale.is_file():
            stale.unlink()
            removed = True
    written = []
    for rel in [*figures, REPORT_PAGE]:
        data = (src / rel).read_bytes()
        if not (dst / rel).is_file() or (dst / rel).read_bytes() != data:
            write_bytes_atomic(dst / rel, data)
            written.append(dst / rel)
    # the provenance page says when this content was first built, so it is replaced only with the content:
    # a rerun that reproduces the same report (a fresh clone's main job) leaves the snapshot, and git, as they are
    if written or removed or not (dst / PROVENANCE_PAGE).is_file():
        write_text_atomic(dst / PROVENANCE_PAGE, (src / PROVENANCE_PAGE).read_text(encoding="utf-8"))
        written.append(dst / PROVENANCE_PAGE)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m replication.snapshot", description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="src", default="report/out", help="the built report (default: report/out)")
    parser.add_argument("--to", dest="dst", default="report/latest", help="the snapshot (default: report/latest)")
    parser.add_argument("--readme", default="README.md",
                        help="the README whose latest-report block to rewrite, '' for none (default: README.md); "
                             "the snapshot's path in it is --to relative to the README's folder")
    args = parser.parse_args(argv)
    if args.readme:
        with_readme_block(Path(args.readme).read_text(encoding="utf-8"), "")  # its markers, before copying
    copy_snapshot(Path(args.src), Path(args.dst))
    if args.readme:
        readme, dst = Path(args.readme), Path(args.dst)
        block = readme_block((dst / REPORT_PAGE).read_text(encoding="utf-8"),
                             (dst / PROVENANCE_PAGE).read_text(encoding="utf-8"),
                             dst.resolve().relative_to(readme.resolve().parent).as_posix())
        text = readme.read_text(encoding="utf-8")
        updated = with_readme_block(text, block)
        if updated != text:
            write_text_atomic(readme, updated)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
