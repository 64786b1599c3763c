"""Census import at scale: check and store a padrón of N residents, on SQLite and PostgreSQL.

    python benchmarks/census.py [--rows 300000] [--postgresql URL]

Writes a CSV of N valid residents (RUT, date of birth, district) into a temporary folder,
then times the two steps the web form and `portal census import` run: checking the whole file
(`parse_census`: RUT check digits, dates, districts, duplicates, keyed hashes) and replacing the
round's census in one transaction (`replace_census`). Prints one line per database.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from stdnum.cl import rut as stdnum_rut

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal import create_app  # noqa: E402


def write_census(path: Path, rows: int) -> None:
    """Write a census CSV of valid residents in two districts."""
    with path.open("w", encoding="utf-8") as out:
        out.write("rut;fecha_nacimiento;sector\n")
        for i in range(rows):
            body = str(5_000_000 + i * 37)
            rut = stdnum_rut.format(body + stdnum_rut.calc_check_digit(body))
            out.write(
                f"{rut};{1 + i % 28:02d}-{1 + i % 12:02d}-{1940 + i % 70};{'Norte' if i % 2 else 'Sur'}\n"
            )


def run(url: str, csv_path: Path, tmp: Path) -> tuple[float, float, int]:
    """Migrate a database, make a round with two districts, import the census; return times."""
    from flask_migrate import upgrade

    from portal.budgeting.census import parse_census, replace_census
    from portal.budgeting.models import District, Round
    from portal.database import utcnow
    from portal.extensions import db
    from portal.geo.models import Municipality
    from portal.geo.services import load_geography

    app = create_app(
        {
            "PORTAL_ENV": "testing",
            "SECRET_KEY": "bench",
            "RUT_HASH_KEY": "bench",
            "INSTANCE_PATH": str(tmp / "instance"),
            "DATABASE_URL": url,
        }
    )
    with app.app_context():
        if url.startswith("postgresql"):
            db.session.execute(db.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        upgrade()
        load_geography(db.session)
        municipality = Municipality(comuna_cut="05101", name="Valparaíso", slug="valparaiso")
        db.session.add(municipality)
        db.session.flush()
        now = utcnow()
        starts = {
            f"{p}_start": now + timedelta(days=10 * i)
            for i, p in enumerate(
                ["proposals", "review", "voting", "results", "implementation", "closed"]
            )
        }
        round_ = Round(municipality_id=municipality.id, title="Bench", total_budget=2, **starts)
        db.session.add(round_)
        db.session.flush()
        for name in ("Norte", "Sur"):
            db.session.add(District(round_id=round_.id, name=name, budget=1))
        db.session.commit()
        data = csv_path.read_bytes()
        started = time.perf_counter()
        rows, problems = parse_census(data, round_.districts)
        checked = time.perf_counter() - started
        assert not problems, problems[:3]
        started = time.perf_counter()
        count = replace_census(db.session, round_, rows)
        db.session.commit()
        stored = time.perf_counter() - started
        db.engine.dispose()
    return checked, stored, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--postgresql", default="", help="a PostgreSQL URL it may wipe")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        csv_path = tmp / "padron.csv"
        write_census(csv_path, args.rows)
        size = csv_path.stat().st_size / 1e6
        print(f"census of {args.rows:,} residents ({size:.1f} MB)")
        targets = [("SQLite", f"sqlite:///{tmp / 'bench.sqlite3'}")]
        if args.postgresql:
            targets.append(("PostgreSQL", args.postgresql))
        print(f"{'database':<12}{'check (s)':>12}{'store (s)':>12}{'total (s)':>12}{'rows/s':>12}")
        for name, url in targets:
            checked, stored, count = run(url, csv_path, tmp)
            total = checked + stored
            print(f"{name:<12}{checked:>12.1f}{stored:>12.1f}{total:>12.1f}{count / total:>12,.0f}")


if __name__ == "__main__":
    main()
