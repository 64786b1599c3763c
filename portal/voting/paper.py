"""Import paper ballots from a CSV file: validated whole, every problem with its line number.

Columns (a header row; `;` or `,`): `rut` and `proyectos`. `proyectos` lists project numbers
separated by `|`: in any order for approval and knapsack ballots, from first to last for ranked
ballots, and as `number:points` for cumulative ballots. Nothing is written unless every line is
valid; then all ballots are written in one transaction.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.budgeting.models import CensusEntry, Method, PaperConflict, Participation, Round
from portal.text import fold, is_whole_number
from portal.voting.ballots import Problem, Section
from portal.voting.services import (
    BallotList,
    Voter,
    VoteRefused,
    _cast_once,
    _census_voter,
    _choice_rows,
    check_ballot,
    voter_hash_of,
    voter_lists,
)

MAX_ROWS = 200_000


@dataclass(frozen=True)
class PaperLine:
    """One valid line: the voter and their sections."""

    line: int
    voter: Voter
    sections: dict[str, Section]


@dataclass(frozen=True)
class PaperProblem:
    """A problem on one line of the file: a refusal or ballot-rule problem."""

    line: int
    refusal: VoteRefused | None = None
    problem: Problem | None = None


def _read_choices(method: str, text: str) -> dict[int, int]:
    choices: dict[int, int] = {}
    parts = [p.strip() for p in text.replace(",", "|").split("|") if p.strip()]
    for position, part in enumerate(parts, start=1):
        if method == Method.CUMULATIVE.value:
            number, _sep, points = part.partition(":")
            if not (is_whole_number(number.strip()) and is_whole_number(points.strip())):
                raise VoteRefused("bad-choice", value=part[:40])
            if int(number) in choices:
                raise VoteRefused("repeated-project", value=number.strip())
            choices[int(number)] = int(points)
        else:
            if not is_whole_number(part) or len(part) > 9:
                raise VoteRefused("bad-choice", value=part[:40])
            if int(part) in choices:
                raise VoteRefused("repeated-project", value=part)
            choices[int(part)] = position if method == Method.RANKED.value else 1
    return choices


def _sections(lists: list[BallotList], choices: dict[int, int], method: str) -> dict[str, Section]:
    sections: dict[str, dict[int, int]] = {b.key: {} for b in lists}
    where = {p.id: b.key for b in lists for p in b.projects}
    for project_id, value in choices.items():
        if project_id not in where:
            raise VoteRefused("not-in-list")
        sections[where[project_id]][project_id] = value
    if method == Method.RANKED.value:
        # One ordered list in the file; each list of the ballot is ranked on its own from 1.
        for key, section in sections.items():
            ordered = sorted(section, key=section.__getitem__)
            sections[key] = {pid: i for i, pid in enumerate(ordered, start=1)}
    return {k: Section(v) for k, v in sections.items()}


def parse_paper_ballots(
    session: Session, round_: Round, text: str
) -> tuple[list[PaperLine], list[PaperProblem]]:
    """Read and check a whole file; return the valid lines and every problem found."""
    if text.startswith("\ufeff"):
        text = text[1:]
    sample = text[:2048]
    delimiter = ";" if sample.count(";") >= sample.count(",") else ","
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as error:
        return [], [PaperProblem(1, VoteRefused("bad-csv", error=str(error)[:200]))]
    reader = iter(rows)
    header = next(reader, None)
    if header is None:
        return [], [PaperProblem(1, VoteRefused("empty-file"))]
    names = [fold(h).strip() for h in header]
    if "rut" not in names or not ({"proyectos", "projects"} & set(names)):
        return [], [PaperProblem(1, VoteRefused("no-rut-column"))]
    rut_at = names.index("rut")
    choices_at = names.index("proyectos") if "proyectos" in names else names.index("projects")
    lines: list[PaperLine] = []
    problems: list[PaperProblem] = []
    seen: dict[str, int] = {}
    lists_cache: dict[int | None, list[BallotList]] = {}
    # One query each for the census and the ballots already cast, not two per line.
    census = {
        e.rut_hash: e
        for e in session.scalars(select(CensusEntry).where(CensusEntry.round_id == round_.id))
    }
    voted = dict(
        session.execute(
            select(Participation.voter_hash, Participation.channel).where(
                Participation.round_id == round_.id
            )
        ).all()
    )
    for line_number, row in enumerate(reader, start=2):
        if line_number > MAX_ROWS + 1:
            problems.append(PaperProblem(line_number, VoteRefused("too-long", max=MAX_ROWS)))
            break
        if not any(cell.strip() for cell in row):
            continue
        rut = row[rut_at] if rut_at < len(row) else ""
        raw_choices = row[choices_at] if choices_at < len(row) else ""
        try:
            voter_hash = voter_hash_of(rut[:20])
            if voter_hash is None:
                raise VoteRefused("bad-rut")
            entry = census.get(voter_hash)
            if entry is None:
                raise VoteRefused("not-in-census")
            voter = _census_voter(round_, entry)
            previous = seen.get(voter_hash)
            if previous is not None:
                raise VoteRefused("duplicate-rut", line=previous)
            seen[voter_hash] = line_number
            conflict = voted.get(voter_hash)
            if conflict == "paper":
                raise VoteRefused("voted-on-paper")
            if conflict == "online" and round_.paper_conflict != PaperConflict.PAPER_REPLACES.value:
                raise VoteRefused("voted-online")
            district = voter.district_id
            if district not in lists_cache:
                lists_cache[district] = voter_lists(session, round_, district)
            lists = lists_cache[district]
            sections = _sections(lists, _read_choices(round_.method, raw_choices), round_.method)
        except VoteRefused as refusal:
            problems.append(PaperProblem(line_number, refusal=refusal))
            continue
        found = check_ballot(round_, lists, sections)
        if found:
            for list_problems in found.values():
                problems.extend(PaperProblem(line_number, problem=p) for p in list_problems)
            continue
        lines.append(PaperLine(line_number, voter, sections))
    if not lines and not problems:
        problems.append(PaperProblem(1, VoteRefused("empty-file")))
    return lines, problems


def import_paper_ballots(
    session: Session, round_: Round, lines: list[PaperLine], site_id: int | None
) -> int:
    """Write checked paper ballots in one transaction (the caller commits or rolls back).

    In the order of the voters' hashes: two files that share voters then lock their
    participations in the same order, and the second waits instead of deadlocking."""
    for line in sorted(lines, key=lambda line: line.voter.voter_hash):
        _cast_once(
            session,
            round_.id,
            line.voter,
            _choice_rows(round_, line.sections),
            channel="paper",
            site_id=site_id,
            now=None,
        )
    return len(lines)
