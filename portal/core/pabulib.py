"""Read, check and write pabulib ``.pb`` files (pabulib.org/format).

A file has three sections, each a ``;``-separated table with CSV quoting: META (``key;value``),
PROJECTS (``project_id;cost;…``) and VOTES (``voter_id;vote;…``). Line endings may be CRLF or
LF, and a UTF-8 byte order mark is ignored. :func:`check_pb` reports every problem it finds,
each with its line number; :func:`read_pb` raises :class:`PbError` carrying them all.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from portal.core.model import (
    LIMIT_KEYS,
    Instance,
    Number,
    Project,
    Voter,
    VoteType,
    format_number,
    paused_gc,
    to_number,
)

REQUIRED_META = ("description", "num_projects", "num_votes", "budget", "vote_type")
# The format lists these as obligatory too; a file without them can still be tallied.
EXPECTED_META = ("country", "unit", "instance", "rule", "date_begin", "date_end")
SECTIONS = ("META", "PROJECTS", "VOTES")


@dataclass(frozen=True)
class Problem:
    """One problem in a file: its 1-based line (None when it concerns the whole file)."""

    line: int | None
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        return f"{where}: {self.severity}: {self.message}"


class PbError(ValueError):
    """A file that is not a valid pabulib instance; ``problems`` lists every error found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        head = "; ".join(str(p) for p in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{len(errors)} problem(s): {head}{more}")


# --- reading ----------------------------------------------------------------------------------
def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, fields) for each non-empty record of the file."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";", quotechar='"', strict=False)
    start = 1
    for row in reader:
        if row and (row[0].strip() or len(row) > 1 and any(cell.strip() for cell in row)):
            yield start, row
        start = reader.line_num + 1


def decode(data: bytes | str) -> str:
    """Bytes or text -> text without a byte order mark."""
    if isinstance(data, bytes):
        data = data.decode("utf-8-sig")
    return data[1:] if data.startswith("\ufeff") else data


def check_text(data: bytes | str) -> tuple[Instance | None, list[Problem]]:
    """Parse and validate a file's contents; return the instance (None when unusable) and
    every problem found (errors and warnings)."""
    with paused_gc():
        return _check_text(data)


def _check_text(data: bytes | str) -> tuple[Instance | None, list[Problem]]:
    try:
        text = decode(data)
    except UnicodeDecodeError as exc:
        return None, [Problem(None, f"not UTF-8 text: {exc}")]
    problems: list[Problem] = []
    add = problems.append
    section: str | None = None
    header: list[str] | None = None
    header_line = 0
    seen_sections: list[str] = []
    meta: dict[str, str] = {}
    meta_lines: dict[str, int] = {}
    projects: dict[str, Project] = {}
    project_lines: dict[str, int] = {}
    project_columns: list[str] = []
    voters: list[Voter] = []
    voter_lines: list[int] = []
    voter_columns: list[str] = []
    voter_ids: dict[str, int] = {}
    section_lines: dict[str, int] = {}
    vcols: tuple | None = None

    for line, row in _rows(text):
        first = row[0].strip()
        if len(row) == 1 and first.upper() in SECTIONS:
            name = first.upper()
            if name in seen_sections:
                add(Problem(line, f"section {name} appears twice"))
            expected = SECTIONS[len(seen_sections)] if len(seen_sections) < 3 else None
            if name != expected and name not in seen_sections:
                add(Problem(line, f"section {name} out of order (expected {expected})"))
            seen_sections.append(name)
            section_lines[name] = line
            section, header = name, None
            continue
        if section is None:
            add(Problem(line, "text before the META section"))
            continue
        if header is None:
            header = [c.strip() for c in row]
            header_line = line
            _check_header(section, header, line, add)
            if section == "PROJECTS":
                project_columns = [c for c in header if c not in {"project_id", "cost", "name"}]
            elif section == "VOTES":
                voter_columns = [c for c in header if c not in {"voter_id", "vote", "points"}]
            continue
        if len(row) != len(header):
            add(
                Problem(
                    line,
                    f"{len(row)} fields where the header (line {header_line}) has {len(header)}",
                )
            )
            if len(row) < len(header):
                row = row + [""] * (len(header) - len(row))
            else:
                row = row[: len(header)]
        if section == "META":
            key, value = row[0].strip(), row[1] if len(row) > 1 else ""
            if key in meta:
                add(Problem(line, f"META key {key!r} repeated (first on line {meta_lines[key]})"))
            meta[key] = value.strip()
            meta_lines[key] = line
        elif section == "PROJECTS":
            rec = dict(zip(header, row, strict=True))
            pid = rec.get("project_id", "").strip()
            if not pid:
                add(Problem(line, "project without project_id"))
                continue
            if pid in projects:
                add(
                    Problem(
                        line, f"duplicate project_id {pid!r} (first on line {project_lines[pid]})"
                    )
                )
                continue
            cost_text = rec.get("cost", "")
            try:
                cost: Number = to_number(cost_text)
            except (ValueError, ZeroDivisionError):
                add(Problem(line, f"project {pid}: cost {cost_text!r} is not a number"))
                cost = 0
            else:
                if cost <= 0:
                    add(Problem(line, f"project {pid}: cost {cost_text} is not positive"))
            extra = {c: rec[c] for c in project_columns}
            projects[pid] = Project(pid, cost, rec.get("name", ""), extra)
            project_lines[pid] = line
        else:  # VOTES
            if vcols is None or vcols[0] is not header:
                vcols = (
                    header,
                    _index(header, "voter_id"),
                    _index(header, "vote"),
                    _index(header, "points"),
                    [header.index(c) for c in voter_columns],
                )
            _h, iv, ivote, ipts, iextra = vcols
            vid = row[iv].strip() if iv is not None else ""
            if vid in voter_ids:
                add(Problem(line, f"duplicate voter_id {vid!r} (first on line {voter_ids[vid]})"))
            voter_ids[vid] = line
            vote_text = row[ivote].strip() if ivote is not None else ""
            if not vote_text:
                vote: tuple[str, ...] = ()
            elif " " in vote_text:
                vote = tuple(p.strip() for p in vote_text.split(","))
            else:
                vote = tuple(vote_text.split(","))
            points = None
            if ipts is not None:
                ptext = row[ipts].strip()
                try:
                    points = tuple(to_number(x) for x in ptext.split(",")) if ptext else ()
                except (ValueError, ZeroDivisionError):
                    add(Problem(line, f"voter {vid}: points {ptext!r} are not numbers"))
                    points = ()
            extra = {c: row[k] for c, k in zip(voter_columns, iextra, strict=True)}
            voters.append(Voter(vid, vote, points, extra))
            voter_lines.append(line)

    for name in SECTIONS:
        if name not in seen_sections:
            add(Problem(None, f"section {name} is missing"))
    if "META" not in seen_sections:
        return None, problems

    inst = Instance(meta, projects, voters, project_columns, voter_columns)
    meta_ok = _check_meta(inst, meta_lines, section_lines.get("META"), add)
    if meta_ok:
        _check_counts(inst, meta_lines, add)
        _check_votes(inst, voter_lines, add)
    return inst, problems


def _index(header: list[str], name: str) -> int | None:
    return header.index(name) if name in header else None


def _check_header(section: str, header: list[str], line: int, add) -> None:  # noqa: ANN001
    needed = {
        "META": ("key", "value"),
        "PROJECTS": ("project_id", "cost"),
        "VOTES": ("voter_id", "vote"),
    }[section]
    if section == "META":
        if header[:2] != ["key", "value"]:
            add(Problem(line, f"META header must be 'key;value', found {';'.join(header)!r}"))
        return
    for col in needed:
        if col not in header:
            add(Problem(line, f"{section} header lacks the column {col!r}"))
    dupes = {c for c in header if header.count(c) > 1}
    for col in sorted(dupes):
        add(Problem(line, f"{section} header repeats the column {col!r}"))


def _check_meta(inst: Instance, lines: dict[str, int], meta_line: int | None, add) -> bool:  # noqa: ANN001
    ok = True
    for key in REQUIRED_META:
        if key not in inst.meta:
            add(Problem(meta_line, f"META lacks the required key {key!r}"))
            if key in {"budget", "vote_type"}:
                ok = False
    for key in EXPECTED_META:
        if key not in inst.meta:
            add(Problem(meta_line, f"META lacks the key {key!r}", "warning"))
    if "vote_type" in inst.meta:
        try:
            inst.vote_type  # noqa: B018
        except ValueError:
            add(
                Problem(
                    lines["vote_type"],
                    f"unknown vote_type {inst.meta['vote_type']!r} "
                    f"(approval, cumulative, ordinal, scoring, choose-1)",
                )
            )
            ok = False
    if "budget" in inst.meta:
        try:
            if inst.budget <= 0:
                add(Problem(lines["budget"], "budget is not positive"))
        except (ValueError, ZeroDivisionError):
            add(Problem(lines["budget"], f"budget {inst.meta['budget']!r} is not a number"))
            ok = False
    for key in ("num_projects", "num_votes"):
        if key in inst.meta and not inst.meta[key].strip().isdigit():
            add(Problem(lines[key], f"{key} {inst.meta[key]!r} is not a whole number"))
    for key in LIMIT_KEYS:
        if key in inst.meta and inst.meta[key].strip():
            try:
                value = to_number(inst.meta[key])
            except (ValueError, ZeroDivisionError):
                add(Problem(lines[key], f"{key} {inst.meta[key]!r} is not a number"))
                ok = False
                continue
            if value < 0:
                add(Problem(lines[key], f"{key} is negative"))
    if ok and inst.vote_type == VoteType.ORDINAL:
        fn = inst.meta.get("scoring_fn", "Borda").strip().lower()
        if fn not in {"borda", ""}:
            add(Problem(lines.get("scoring_fn"), f"unsupported scoring_fn {fn!r} (Borda only)"))
            ok = False
    return ok


def _check_counts(inst: Instance, lines: dict[str, int], add) -> None:  # noqa: ANN001
    for key, actual, what in (
        ("num_projects", len(inst.projects), "projects"),
        ("num_votes", len(inst.voters), "votes"),
    ):
        raw = inst.meta.get(key, "").strip()
        if raw.isdigit() and int(raw) != actual:
            add(Problem(lines[key], f"{key} is {raw} but the file has {actual} {what}"))


def _check_votes(inst: Instance, voter_lines: list[int], add) -> None:  # noqa: ANN001
    vt = inst.vote_type
    projects = inst.projects
    lim = {k: inst.limit(k) for k in LIMIT_KEYS}
    min_len, max_len = lim["min_length"], lim["max_length"]
    if vt == VoteType.CHOOSE_1:
        min_len, max_len = 1, 1
    needs_points = vt in (VoteType.CUMULATIVE, VoteType.SCORING)
    cost = {p: pr.cost for p, pr in projects.items()}
    for v, line in zip(inst.voters, voter_lines, strict=True):
        vote = v.vote
        if not v.id:
            add(Problem(line, "vote without voter_id"))
        unknown = [p for p in vote if p not in projects]
        for p in unknown:
            add(Problem(line, f"voter {v.id}: vote for unknown project {p!r}"))
        if len(set(vote)) != len(vote):
            add(Problem(line, f"voter {v.id}: a project appears twice in the vote"))
        n = len(vote)
        if min_len is not None and n < min_len:
            add(Problem(line, f"voter {v.id}: {n} project(s), fewer than min_length {min_len}"))
        if max_len is not None and n > max_len:
            add(Problem(line, f"voter {v.id}: {n} projects, more than max_length {max_len}"))
        if lim["min_sum_cost"] or lim["max_sum_cost"] is not None:
            total = sum(cost.get(p, 0) for p in set(vote))
            if lim["max_sum_cost"] is not None and total > lim["max_sum_cost"]:
                add(
                    Problem(
                        line,
                        f"voter {v.id}: projects cost {format_number(total)}, more than "
                        f"max_sum_cost {format_number(lim['max_sum_cost'])}",
                    )
                )
            if lim["min_sum_cost"] and total < lim["min_sum_cost"]:
                add(
                    Problem(
                        line,
                        f"voter {v.id}: projects cost {format_number(total)}, less than "
                        f"min_sum_cost {format_number(lim['min_sum_cost'])}",
                    )
                )
        if needs_points and v.points is None:
            add(Problem(line, f"voter {v.id}: {vt} ballots need a points column"))
            continue
        if v.points is None:
            continue
        if len(v.points) != n:
            add(Problem(line, f"voter {v.id}: {len(v.points)} points for {n} projects"))
            continue
        if vt == VoteType.ORDINAL:
            continue  # the points of an ordinal file are informative; the rank decides
        for p, pts in zip(vote, v.points, strict=True):
            if lim["min_points"] is not None and pts < lim["min_points"]:
                add(
                    Problem(
                        line,
                        f"voter {v.id}: {format_number(pts)} points for {p}, fewer "
                        f"than min_points {format_number(lim['min_points'])}",
                    )
                )
            if lim["max_points"] is not None and pts > lim["max_points"]:
                add(
                    Problem(
                        line,
                        f"voter {v.id}: {format_number(pts)} points for {p}, more "
                        f"than max_points {format_number(lim['max_points'])}",
                    )
                )
            if pts < 0:
                add(Problem(line, f"voter {v.id}: negative points for {p}"))
        total_pts = sum(v.points)
        if lim["max_sum_points"] is not None and total_pts > lim["max_sum_points"]:
            add(
                Problem(
                    line,
                    f"voter {v.id}: {format_number(total_pts)} points in all, more "
                    f"than max_sum_points {format_number(lim['max_sum_points'])}",
                )
            )
        if lim["min_sum_points"] and total_pts < lim["min_sum_points"]:
            add(
                Problem(
                    line,
                    f"voter {v.id}: {format_number(total_pts)} points in all, fewer "
                    f"than min_sum_points {format_number(lim['min_sum_points'])}",
                )
            )


def check_pb(path: str | os.PathLike[str]) -> tuple[Instance | None, list[Problem]]:
    """Read and validate a file; see :func:`check_text`."""
    return check_text(Path(path).read_bytes())


def loads(data: bytes | str) -> Instance:
    """Parse a file's contents; raise :class:`PbError` listing every error."""
    inst, problems = check_text(data)
    errors = [p for p in problems if p.severity == "error"]
    if errors or inst is None:
        raise PbError(problems)
    return inst


def read_pb(path: str | os.PathLike[str]) -> Instance:
    """Read a ``.pb`` file; raise :class:`PbError` listing every error."""
    return loads(Path(path).read_bytes())


# --- writing ----------------------------------------------------------------------------------
def dumps(instance: Instance) -> str:
    """The instance as ``.pb`` text (LF line endings, minimal CSV quoting). ``num_projects``
    and ``num_votes`` are written from the data."""
    out = io.StringIO()
    w = csv.writer(
        out, delimiter=";", quotechar='"', lineterminator="\n", quoting=csv.QUOTE_MINIMAL
    )
    meta = dict(instance.meta)
    meta["num_projects"] = str(len(instance.projects))
    meta["num_votes"] = str(len(instance.voters))
    out.write("META\n")
    w.writerow(["key", "value"])
    for k, v in meta.items():
        w.writerow([k, v])
    out.write("PROJECTS\n")
    pcols = list(instance.project_columns)
    has_name = any(p.name for p in instance.projects.values()) or "name" in pcols
    head = (
        ["project_id", "cost"] + (["name"] if has_name else []) + [c for c in pcols if c != "name"]
    )
    w.writerow(head)
    for p in instance.projects.values():
        row = [p.id, format_number(p.cost)] + ([p.name] if has_name else [])
        row += [p.extra.get(c, "") for c in head[len(row) :]]
        w.writerow(row)
    out.write("VOTES\n")
    has_points = any(v.points is not None for v in instance.voters) or instance.vote_type in (
        VoteType.CUMULATIVE,
        VoteType.SCORING,
    )
    vhead = ["voter_id", "vote"] + (["points"] if has_points else []) + list(instance.voter_columns)
    w.writerow(vhead)
    for v in instance.voters:
        row = [v.id, ",".join(v.vote)]
        if has_points:
            row.append(",".join(format_number(x) for x in (v.points or ())))
        row += [v.extra.get(c, "") for c in instance.voter_columns]
        w.writerow(row)
    return out.getvalue()


def write_pb(instance: Instance, path: str | os.PathLike[str]) -> None:
    """Write the instance to a ``.pb`` file (UTF-8, LF)."""
    Path(path).write_text(dumps(instance), encoding="utf-8", newline="")
