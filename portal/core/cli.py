"""``portal pb``: check and tally pabulib files from the command line (click only, no app)."""

from __future__ import annotations

import json
import os
import sys

import click

from portal.core.model import format_number
from portal.core.pabulib import check_pb
from portal.core.rules import PABULIB_RULES, RULES, tally


@click.group(name="pb")
def pb() -> None:
    """Read, validate and tally pabulib .pb files (no app or database needed)."""


def _load(path: str):  # type: ignore[no-untyped-def]
    inst, problems = check_pb(path)
    errors = [p for p in problems if p.severity == "error"]
    return inst, problems, errors


@pb.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def check_cmd(file: str) -> None:
    """Validate FILE: print a summary, or every problem with its line number (exit 1)."""
    inst, problems, errors = _load(file)
    for p in problems:
        click.echo(str(p), err=bool(errors))
    if errors or inst is None:
        click.echo(f"{len(errors)} problem(s) in {file}", err=True)
        sys.exit(1)
    click.echo(f"{file}: valid")
    click.echo(f"  vote type: {inst.vote_type.value}")
    click.echo(f"  projects:  {len(inst.projects)}")
    click.echo(f"  voters:    {len(inst.voters)} ({len(inst.ballots)} distinct ballots)")
    click.echo(f"  budget:    {format_number(inst.budget)}")
    if inst.rule:
        click.echo(f"  rule:      {inst.rule}")


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@pb.command("tally")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--rule",
    "rule",
    default="auto",
    show_default=True,
    help=f"{', '.join(RULES)}, a pabulib name ({', '.join(PABULIB_RULES)}) or auto "
    "(the file's META rule).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--threshold",
    type=str,
    default=None,
    help="Minimum score for greedy (default: META min_project_score_threshold).",
)
@click.option(
    "--no-skip", is_flag=True, help="Greedy stops at the first project that does not fit."
)
@click.option(
    "--keep-raising",
    is_flag=True,
    help="add1 keeps raising the per-voter share past the first exhaustive outcome "
    "until the next step would overspend (reproduces Wieliczka 2023).",
)
@click.option(
    "--comparison", is_flag=True, help="After MES, use greedy's outcome if more voters prefer it."
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Processes for the add1 search (default: the CPUs this process may use; 1 = here).",
)
@click.option(
    "--tie-order",
    default=None,
    help="Comma-separated project ids settling ties left after cost and votes.",
)
def tally_cmd(
    file: str,
    rule: str,
    as_json: bool,
    threshold: str | None,
    no_skip: bool,
    keep_raising: bool,
    comparison: bool,
    tie_order: str | None,
    jobs: int | None,
) -> None:
    """Compute the winners of FILE under a rule."""
    from portal.core.model import to_number

    inst, problems, errors = _load(file)
    if errors or inst is None:
        for p in problems:
            click.echo(str(p), err=True)
        sys.exit(1)
    options: dict = {"jobs": jobs or _cpus()}
    if threshold is not None:
        options["threshold"] = to_number(threshold)
    if no_skip:
        options["no_skip"] = True
    if keep_raising:
        options["keep_raising"] = True
    if comparison:
        options["comparison"] = True
    if tie_order:
        options["tie_order"] = [p.strip() for p in tie_order.split(",") if p.strip()]
    try:
        result = tally(inst, rule, **options)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    click.echo(
        f"rule: {result.rule}   budget: {format_number(result.budget)}   "
        f"spent: {format_number(result.total_cost)}   funded: {len(result.selected)}"
    )
    for k, pid in enumerate(result.selected, 1):
        p = inst.projects[pid]
        click.echo(f"{k:3d}. {pid:>10}  {format_number(p.cost):>12}  {p.name[:60]}")
    for t in result.ties:
        flag = "  (UNRESOLVED: decided by tie order)" if t.broken_by == "order" else ""
        click.echo(f"tie at {t.step}: {', '.join(t.projects)} -> {t.chosen} by {t.broken_by}{flag}")
