"""The census (padrón): read a CSV whole, report every problem by line, then replace atomically."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from portal.audit.services import record
from portal.budgeting.models import CensusEntry, District, Round
from portal.budgeting.services import hold_round
from portal.rut import InvalidRut, keyed_hash, normalize_rut
from portal.text import fold

COLUMNS = {
    "rut": {"rut", "run", "rut/run"},
    "birth_date": {
        "fecha_nacimiento",
        "fecha de nacimiento",
        "nacimiento",
        "birth_date",
        "date_of_birth",
        "dob",
    },
    "serial": {
        "numero_serie",
        "numero de serie",
        "serie",
        "serial",
        "id_serial",
        "numero_documento",
        "n serie",
    },
    "district": {
        "sector",
        "district",
        "distrito",
        "unidad_vecinal",
        "unidad vecinal",
        "territorio",
    },
}
BATCH = 5000


@dataclass(frozen=True)
class CensusProblem:
    """A problem with one line of the file (line 1 is the header)."""

    line: int
    code: str
    value: str = ""


@dataclass(frozen=True)
class CensusRow:
    """A clean row, ready to store."""

    rut_hash: str
    birth_date: date | None
    serial_hash: str | None
    district_id: int | None


def decode(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM), falling back to Latin-1 as Excel writes it."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse_date(text: str) -> date:
    """Read 14-03-2026, 14/03/2026 or 2026-03-14."""
    text = text.strip()
    for sep in ("-", "/", "."):
        parts = text.split(sep)
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            if len(parts[0]) == 4:
                return date(int(parts[0]), int(parts[1]), int(parts[2]))
            if len(parts[2]) == 4:
                return date(int(parts[2]), int(parts[1]), int(parts[0]))
    raise ValueError(text)


def normalize_serial(text: str) -> str:
    """Normalise an ID card serial number: no dots, spaces or dashes, upper case."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


def serial_hash(text: str) -> str:
    """Hash a normalised ID serial (it is a credential, so it is not stored in clear)."""
    return keyed_hash(normalize_serial(text), "serial")


def parse_census(
    data: bytes,
    districts: Iterable[District],
    *,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[CensusRow], list[CensusProblem]]:
    """Read a whole census file; return clean rows, or every problem found (and no rows)."""
    text = decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") >= first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    problems: list[CensusProblem] = []
    try:
        header = next(reader)
    except StopIteration:
        return [], [CensusProblem(1, "empty-file")]
    names = [fold(h).replace("_", " ") for h in header]
    index: dict[str, int] = {}
    for key, aliases in COLUMNS.items():
        folded = {fold(a).replace("_", " ") for a in aliases}
        for position, name in enumerate(names):
            if name in folded:
                index[key] = position
    district_list = list(districts)
    if "rut" not in index:
        problems.append(CensusProblem(1, "missing-rut-column"))
    if "birth_date" not in index and "serial" not in index:
        problems.append(CensusProblem(1, "missing-second-fact-column"))
    if district_list and "district" not in index:
        problems.append(CensusProblem(1, "missing-district-column"))
    if problems:
        return [], problems

    by_name = {fold(d.name): d.id for d in district_list}
    by_name.update({fold(d.code): d.id for d in district_list if d.code})
    seen: dict[str, int] = {}
    rows: list[CensusRow] = []
    width = max(index.values()) + 1
    for line_number, record_ in enumerate(reader, start=2):
        if progress and line_number % 1000 == 0:
            progress(1000)
        if not any(cell.strip() for cell in record_):
            continue
        if len(record_) < width:
            record_ = record_ + [""] * (width - len(record_))
        found: list[CensusProblem] = []
        raw_rut = record_[index["rut"]]
        try:
            compact = normalize_rut(raw_rut)
        except InvalidRut:
            found.append(CensusProblem(line_number, "bad-rut", raw_rut))
            compact = ""
        birth: date | None = None
        raw_date = record_[index["birth_date"]].strip() if "birth_date" in index else ""
        if raw_date:
            try:
                birth = parse_date(raw_date)
                if birth.year < 1900 or birth > date.today():
                    raise ValueError(raw_date)
            except ValueError:
                found.append(CensusProblem(line_number, "bad-date", raw_date))
        serial: str | None = None
        raw_serial = record_[index["serial"]].strip() if "serial" in index else ""
        if raw_serial:
            if 6 <= len(normalize_serial(raw_serial)) <= 12:
                serial = serial_hash(raw_serial)
            else:
                found.append(CensusProblem(line_number, "bad-serial", raw_serial))
        if not raw_date and not raw_serial:
            found.append(CensusProblem(line_number, "missing-second-fact"))
        district_id: int | None = None
        if district_list:
            raw_district = record_[index["district"]]
            district_id = by_name.get(fold(raw_district))
            if district_id is None:
                found.append(CensusProblem(line_number, "unknown-district", raw_district))
        if compact:
            if compact in seen:
                found.append(
                    CensusProblem(line_number, "duplicate-rut", f"{raw_rut} ({seen[compact]})")
                )
            else:
                seen[compact] = line_number
        if found:
            problems.extend(found)
        elif not problems:
            rows.append(CensusRow(keyed_hash(compact, "rut"), birth, serial, district_id))
    if problems:
        return [], problems
    if not rows:
        return [], [CensusProblem(2, "no-rows")]
    return rows, []


def replace_census(
    session: Session,
    round_: Round,
    rows: list[CensusRow],
    *,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Replace a round's census with clean rows in one transaction (the caller commits)."""
    # Two uploads at once must not mix: the second waits for the first to commit and then
    # deletes what the first inserted. Ballots go on meanwhile (300,000 rows take about 30 s).
    hold_round(session, round_.id)
    before = session.scalar(
        select(func.count()).select_from(CensusEntry).where(CensusEntry.round_id == round_.id)
    )
    session.execute(delete(CensusEntry).where(CensusEntry.round_id == round_.id))
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        session.execute(
            insert(CensusEntry),
            [
                {
                    "round_id": round_.id,
                    "rut_hash": r.rut_hash,
                    "birth_date": r.birth_date,
                    "serial_hash": r.serial_hash,
                    "district_id": r.district_id,
                }
                for r in chunk
            ],
        )
        if progress:
            progress(len(chunk))
    record(
        session,
        "census.replace",
        "round",
        round_.id,
        municipality_id=round_.municipality_id,
        region_cut=round_.municipality.comuna.region_cut,
        before={"entries": before},
        after={"entries": len(rows)},
    )
    return len(rows)


def census_size(session: Session, round_: Round) -> int:
    """Count a round's census entries."""
    return (
        session.scalar(
            select(func.count()).select_from(CensusEntry).where(CensusEntry.round_id == round_.id)
        )
        or 0
    )
