"""``sae-replicate``: list claims and targets, run claims, build the report.

It drives the same registries, runner and verdicts as pytest and the DVC stages.

Examples::

    sae-replicate claims                     # every catalog claim, its tiers and status per tier
    sae-replicate claims --paper antipodal
    sae-replicate targets                    # what claims run on, per tier, and whether it can run here
    sae-replicate show topk.less_shrinkage   # one claim in full
    sae-replicate run --tier toy             # measure, judge and record every toy claim
    sae-replicate run --claim topk.dead_latents --target toy-sparse
    sae-replicate check --model DIR --sae DIR --text DIR   # the papers' SAE-level claims on your SAE
    sae-replicate report                     # Markdown + HTML report from the results store
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = REPO / "results"


def _load():
    from replication.claims import load_all as load_claims
    from replication.papers import registry

    return load_claims(), registry()


def tier_status(claim, tier) -> str:
    """How a claim stands on one tier, without running anything: implemented, or why not."""
    from replication.runner import unavailable_reason

    _, analyses = _load()
    if claim.requires is not None:
        return claim.requires.value
    analysis = analyses.analysis_for(claim, tier)
    if analysis is None:
        return "not implemented"
    names = []
    for target in (t for t in analysis.targets if t.makes(claim.id)):
        blocked = unavailable_reason(target)
        names.append(target.name + (f" ({blocked[0].value})" if blocked else ""))
    return "implemented: " + ", ".join(names)


def cmd_claims(args: argparse.Namespace) -> int:
    from replication.claims import Tier

    registry, _ = _load()
    claims = [c for c in registry if args.paper in (None, c.paper)]
    if not claims:
        print(f"no claims for paper {args.paper!r}; papers: {', '.join(registry.papers())}", file=sys.stderr)
        return 2
    width = max(len(c.id) for c in claims)
    print(f"{'claim'.ljust(width)}  {'tiers':<18}  status per tier")
    for claim in claims:
        tiers = [t for t in Tier if t in claim.tiers]
        statuses = "; ".join(f"{t.value}: {tier_status(claim, t)}" for t in tiers)
        print(f"{claim.id.ljust(width)}  {','.join(t.value for t in tiers):<18}  {statuses}")
    print(f"\n{len(claims)} claims")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from replication.claims import Tier, UnknownClaimError

    registry, analyses = _load()
    try:
        claim = registry.get(args.claim)
    except UnknownClaimError as err:
        raise UsageError(str(err)) from None
    wrap = lambda s: textwrap.fill(s, 100, initial_indent="  ", subsequent_indent="  ")  # noqa: E731
    print(f"{claim.id}  ({claim.paper}, {claim.source})")
    print(wrap(claim.statement))
    print(f"paper reports: {claim.paper_value}")
    print(f"criterion:     {claim.criterion}")
    if claim.preconditions:
        print("preconditions: " + " and ".join(str(c) for c in claim.preconditions)
              + " (if one fails, the verdict is inconclusive)")
    if claim.reported:
        print("reported:      " + ", ".join(claim.reported) + " (beside the verdict, not judged)")
    print("tolerance:\n" + wrap(claim.rationale))
    if claim.definition:
        print("definition:\n" + wrap(claim.definition))
    if claim.readings is not None:
        print(f"readings of the open choice {claim.readings.name!r} (each judged; the verdict is the primary's):")
        for reading in claim.readings.readings:
            primary = " (primary)" if reading.name == claim.readings.primary else ""
            print(wrap(f"{reading.name}{primary}: {reading.description}"))
        print(wrap(f"primary because {claim.readings.why}"))
    for tier in (t for t in Tier if t in claim.tiers):
        print(f"{tier.value}: {tier_status(claim, tier)}")
        for (cid, target), exp in analyses.expectations.items():
            if cid == claim.id and analyses.targets[target].tier is tier:
                print(f"  expected {exp.status.value} on {target}: {exp.reason}")
    return 0


def cmd_targets(args: argparse.Namespace) -> int:
    from replication.runner import unavailable_reason

    _, analyses = _load()
    for name, target in sorted(analyses.targets.items(), key=lambda kv: (kv[1].tier.value, kv[0])):
        if args.tier not in (None, target.tier.value):
            continue
        blocked = unavailable_reason(target)
        state = f"cannot run here: {blocked[1]}" if blocked else "runs here"
        kind = "negative control" if target.control else "target"
        seeds = ",".join("-" if s is None else str(s) for s in target.seeds)
        print(f"{name}  [{target.tier.value} {kind}, seeds {seeds}]  {state}\n    {target.description}")
    return 0


class UsageError(ValueError):
    """Bad input on the command line; :func:`main` prints it as one line and exits 2."""


def empty_selection_reason(registry, analyses, paper: str | None, claim_ids: list[str] | None,
                           tier: str | None, target: str | None) -> str:
    """Why a ``run`` selection matches no (claim, tier, target), naming the option at fault."""
    if paper is not None and paper not in registry.papers():
        return f"unknown paper {paper!r}; papers: {', '.join(registry.papers())}"
    claims = [registry.get(c) for c in claim_ids] if claim_ids else list(registry)
    if paper is not None:
        if not any(c.paper == paper for c in claims):
            return "; ".join(f"{c.id} is a claim of {c.paper}, not of {paper}" for c in claims)
        claims = [c for c in claims if c.paper == paper]
    if tier is not None and not any(tier in (t.value for t in c.tiers) for c in claims):
        if claim_ids:
            return "; ".join(f"{c.id} runs on: {', '.join(t.value for t in c.tiers)}" for c in claims)
        return f"no selected claim runs on the {tier} tier"
    if target is not None:
        target_tier = analyses.targets[target].tier.value
        if tier is not None and tier != target_tier:
            return f"target {target} is on the {target_tier} tier, not {tier}"
        return "; ".join(
            f"{c.id} does not run on {target}; its {target_tier} targets: "
            + (", ".join(tg.name for t, tg, _ in analyses.bindings(c) if tg is not None and t.value == target_tier)
               or "none") for c in claims[:5]) + (f" (and {len(claims) - 5} more claims)" if len(claims) > 5 else "")
    return "the selection matches no (claim, tier, target)"


def _check_output_dir(option: str, path: str | None) -> None:
    """``--metrics`` / ``--plots`` name folders: refuse a file there, or a folder that cannot be written."""
    from replication.io import writable_dir_problem

    if path is None:
        return
    if Path(path).is_file():
        raise UsageError(f"{option} {path} is a file; pass a folder, e.g. metrics/claims")
    problem = writable_dir_problem(Path(path))
    if problem:
        raise UsageError(f"{option} {path}: {problem}")


def cmd_run(args: argparse.Namespace) -> int:
    from replication.claims import Tier, UnknownClaimError
    from replication.results import check_results_dir

    registry, analyses = _load()
    try:
        claims = [registry.get(c) for c in args.claim] if args.claim else list(registry)
    except UnknownClaimError as err:
        raise UsageError(str(err)) from None
    if args.paper:
        claims = [c for c in claims if c.paper == args.paper]
    if args.target:
        try:
            analyses.target(args.target)
        except KeyError as err:
            raise UsageError(err.args[0]) from None
    tier = Tier(args.tier) if args.tier else None
    jobs = [(c, t, tg, a) for c in claims for t, tg, a in analyses.bindings(c)
            if (tier is None or t is tier) and (args.target is None or (tg is not None and tg.name == args.target))]
    if not jobs:
        raise UsageError("nothing to run: " + empty_selection_reason(registry, analyses, args.paper, args.claim,
                                                                     args.tier, args.target))
    # every input is checked before the first measurement
    check_results_dir(Path(args.results_dir), write=True)
    _check_output_dir("--metrics", args.metrics)
    _check_output_dir("--plots", args.plots)

    import torch
    from tqdm.auto import tqdm

    from replication.runner import Runner
    from replication.verdict import Status

    torch.set_num_threads(args.threads)
    if args.jobs is None:
        from replication.runner import default_jobs

        args.jobs = max(1, default_jobs() // args.threads)
    runner = Runner(results_dir=Path(args.results_dir))
    units = runner.units((c, tg, a) for c, _, tg, a in jobs)
    tiers = ", ".join(dict.fromkeys(t.value for _, t, _, _ in jobs))
    with tqdm(total=len(units), desc=f"{tiers}: measuring", unit="unit", disable=args.quiet or not units,
              dynamic_ncols=True) as bar:
        def finished(unit) -> None:
            analysis, target, seed = unit
            bar.set_postfix_str(f"{target.name} {analysis.name} seed {seed}", refresh=False)
            bar.update()

        runner.measure_all(units, jobs=args.jobs, threads=args.threads, done=finished)
    counts: dict[str, int] = {}
    done, unexpected = [], []
    for claim, t, target, analysis in jobs:
        verdict = runner.verdict(claim, t, target, analysis)  # every measurement is made: this only judges
        done.append((claim, t, target, verdict))
        expectation = analyses.expectations.get((claim.id, target.name)) if target else None
        note = f"  [expected: {expectation.status.value}]" if expectation else ""
        where = f"{t.value}/{target.name if target else '-'}"
        line = f"{claim.id:<42} {where:<32} {verdict.summary()}{note}"
        expected = expectation.status if expectation else Status.REPLICATED
        known = bool(expectation and expectation.violated)  # a control known to misbehave: in the report, in red
        if verdict.status is not Status.NOT_RUN and verdict.status is not expected and not known:
            unexpected.append(line)
        if not (args.quiet or args.summary):
            print(line)
        counts[verdict.status.value] = counts.get(verdict.status.value, 0) + 1
    if unexpected and (args.quiet or args.summary):  # what a reader of a short log must still see
        print(f"{len(unexpected)} verdict(s) differ from the outcome registered for them (replicated where none "
              "is):")
        print("\n".join("  " + line for line in unexpected))
    if args.metrics or args.plots:  # what `dvc metrics show` / `dvc plots show` read
        from replication import dvc_metrics

        if args.metrics:
            dvc_metrics.write_metrics(Path(args.metrics), done, analyses.expectations)
        if args.plots:
            dvc_metrics.write_sweep_plots(Path(args.plots), Path(args.results_dir), dict.fromkeys(d[1] for d in done))
    print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    print(f"{len(runner.written)} records written under {args.results_dir}" if runner.written else
          "no records written: every selected job is not run (the reasons are above)")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    import torch

    from replication.check import CheckError, check, not_answered, target_name
    from replication.lm.text import TextSource

    torch.set_num_threads(args.threads)
    if args.quiet:  # the libraries' own loading bars too: stderr then holds only what went wrong
        import transformers

        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()
    if args.tokens < 1:
        print(f"--tokens must be a positive count, got {args.tokens}", file=sys.stderr)
        return 2
    if args.text is not None and not Path(args.text).is_dir():
        print(f"--text {args.text} is not a folder of .txt files", file=sys.stderr)
        return 2
    papers = tuple(args.paper or ("antipodal", "bimodality"))
    name = target_name(args.model, args.sae)
    try:
        verdicts = check(args.model, args.sae, hook=args.hook, text=TextSource(folder=args.text), n_tokens=args.tokens,
                         papers=papers, results_dir=args.results_dir, name=name, device=args.device,
                         dtype=args.dtype, quiet=args.quiet)
    except (CheckError, FileNotFoundError) as err:
        print(f"sae-replicate check: {err}", file=sys.stderr)
        return 2
    for verdict in verdicts:
        print(f"{verdict.claim_id:<42} {verdict.summary()}")
    print("\nnot answered by one SAE:")
    for missing in not_answered(papers):
        print(f"  {missing.claim_id:<40} {missing.why}")
    counts: dict[str, int] = {}
    for verdict in verdicts:
        counts[verdict.status.value] = counts.get(verdict.status.value, 0) + 1
    print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    print(f"records written under {args.results_dir} (target {name}); `sae-replicate report --results-dir "
          f"{args.results_dir}` renders them")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from replication.report import PROVENANCE_PAGE, build_report

    paths = build_report(results_dir=Path(args.results_dir), out_dir=Path(args.out), html=not args.no_html)
    for p in [*paths, Path(args.out) / PROVENANCE_PAGE]:
        print(p)
    return 0


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: what is wrong and where the help is."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not >= 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sae-replicate",
        description="Replication benchmark for SAE interpretability papers: every claim of the papers, "
                    "measured on toy data, a tiny LM and the papers' own models, with a verdict.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=textwrap.dedent(__doc__.split("Examples::", 1)[1]),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("claims", help="list every catalog claim with its tiers and status per tier")
    p.add_argument("--paper", help="only this paper (`sae-replicate claims` lists them)")
    p.set_defaults(func=cmd_claims)

    p = sub.add_parser("show", help="one claim in full: statement, criterion, tolerance, definition")
    p.add_argument("claim", help="a catalog ID, e.g. topk.less_shrinkage")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("targets", help="list targets per tier and whether they can run on this machine")
    p.add_argument("--tier", choices=["toy", "tinylm", "real"])
    p.set_defaults(func=cmd_targets)

    p = sub.add_parser("run", help="measure, judge and record claims (toy SAEs are trained once, cached)")
    p.add_argument("--tier", choices=["toy", "tinylm", "real"], help="only this tier (default: all that can run)")
    p.add_argument("--paper", help="only this paper")
    p.add_argument("--claim", action="append", help="only this claim ID (repeatable)")
    p.add_argument("--target", help="only this target (see `sae-replicate targets`)")
    p.add_argument("--results-dir", default=os.environ.get("SAE_REPLICATION_RESULTS", str(DEFAULT_RESULTS)),
                   help="where result records go (default: results/)")
    p.add_argument("--threads", type=_positive_int, default=1, help="torch threads (default 1: fastest for toy SAEs)")
    p.add_argument("--metrics", metavar="DIR", help="also write DVC's metrics: DIR/<tier>/summary.json (verdict "
                   "counts) and DIR/<tier>/<claim>.json (its counts and primary value, mean over seeds)")
    p.add_argument("--plots", metavar="DIR", help="also write the sweeps' curves against L0 (mean over seeds) "
                   "from the records: DIR/<tier>/<target>/<family>.csv")
    p.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                   help="worker processes measuring at once, each with --threads torch threads (default: this "
                        "machine's cores); the values do not depend on it")
    p.add_argument("--summary", action="store_true", help="a progress bar and the totals only: no line per verdict "
                   "(except those that differ from their registered outcome)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no line per verdict: the totals only")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("check", help="judge the papers' SAE-level claims on your own model and SAE")
    p.add_argument("--model", required=True, help="a transformer-lens model name, or a transformers "
                                                  "`save_pretrained` folder")
    p.add_argument("--sae", required=True, help="a sae-lens RELEASE/SAE_ID, or a sae-lens `save_model` folder")
    p.add_argument("--paper", action="append", choices=["antipodal", "bimodality"],
                   help="only this paper's claims (repeatable; default: both)")
    p.add_argument("--hook", help="the hook the SAE reads (default: the SAE's metadata.hook_name)")
    p.add_argument("--tokens", type=int, default=250_000, help="counted tokens to stream (default 250,000, "
                                                               "the antipodal paper's)")
    p.add_argument("--text", help="a folder of .txt files to tokenise (default: C4 through `datasets`, which "
                                  "needs SAE_REPLICATION_ALLOW_DOWNLOAD=1)")
    p.add_argument("--device", default="auto", help="cpu, cuda, ... (default: CUDA when there is one)")
    p.add_argument("--dtype", default="float32", help="the model's dtype (float32, bfloat16)")
    p.add_argument("--results-dir", default=os.environ.get("SAE_REPLICATION_RESULTS", str(DEFAULT_RESULTS)),
                   help="where result records go (default: results/); `sae-replicate report` renders them")
    p.add_argument("--threads", type=int, default=1, help="torch threads on CPU")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("report", help="write the replication report (Markdown + HTML) from the results store")
    p.add_argument("--results-dir", default=os.environ.get("SAE_REPLICATION_RESULTS", str(DEFAULT_RESULTS)))
    p.add_argument("--out", default=str(REPO / "report" / "out"), help="output folder (default: report/out)")
    p.add_argument("--no-html", action="store_true", help="Markdown only")
    p.set_defaults(func=cmd_report)
    return parser


def _expected_errors() -> tuple[type[Exception], ...]:
    """Errors that are bad input or a damaged file, not a bug: one line each, exit 2."""
    from replication.checks import InvalidWeightsError
    from replication.results import MalformedRecordError, ResultsDirError
    from replication.tinylm.config import ParamsError

    return UsageError, MalformedRecordError, ResultsDirError, ParamsError, InvalidWeightsError


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("sae-replicate: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if not isinstance(err, _expected_errors()):
            raise
        print(f"sae-replicate: {' '.join(str(err).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
