"""The census: checked whole with line numbers, replaced atomically, no RUT in clear text."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from sqlalchemy import inspect, text
from stdnum.cl import rut as stdnum_rut

from portal.budgeting.models import CensusEntry
from tests.conftest import csrf_token, login


def make_rut(n: int) -> str:
    body = str(10_000_000 + n)
    return stdnum_rut.format(body + stdnum_rut.calc_check_digit(body))


GOOD = (
    "\ufeffrut;fecha_nacimiento;sector\n"
    + "\n".join(
        f"{make_rut(i)};{(i % 28) + 1:02d}-03-19{60 + i % 40};{'Cerro Alegre' if i % 2 else 'UV-7'}"
        for i in range(40)
    )
    + "\n"
)


@pytest.fixture
def setup(app: Any, client: Any, factory: Any) -> Any:
    municipality = factory.municipality("05101")
    round_ = factory.round(municipality, phase="review")
    factory.district(round_, "Cerro Alegre", 5_000_000)
    factory.district(round_, "Playa Ancha", 5_000_000, code="UV-7")
    factory.user("camila@valparaiso.cl", role="municipal_staff", municipality=municipality)
    login(client, "camila@valparaiso.cl")
    return round_


def upload(client: Any, round_: Any, content: bytes, name: str = "padron.csv") -> Any:
    url = f"/gestion/valparaiso/rondas/{round_.id}/padron"
    return client.post(
        url,
        data={"csrf_token": csrf_token(client, url), "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )


def test_clean_file_imports_and_only_hashes_are_stored(setup: Any, client: Any, db: Any) -> None:
    response = upload(client, setup, GOOD.encode())
    assert "El padrón fue reemplazado: 40 personas." in response.get_data(as_text=True)
    assert db.session.query(CensusEntry).count() == 40
    # Read every text column of every table: no RUT in any spelling.
    spellings = set()
    for i in range(40):
        formatted = make_rut(i)
        compact = stdnum_rut.compact(formatted)
        spellings |= {
            formatted,
            compact,
            compact[:-1],
            formatted.replace(".", ""),
            compact[:-1] + "-" + compact[-1],
        }
    engine = db.engine
    found = []
    for table in inspect(engine).get_table_names():
        for row in db.session.execute(text(f"SELECT * FROM {table}")):  # noqa: S608 - table names come from the schema
            for value in row:
                if isinstance(value, str) and any(s in value for s in spellings):
                    found.append((table, value))
    assert found == []


def test_file_with_every_kind_of_error_reports_them_all_and_writes_nothing(
    setup: Any, client: Any, db: Any
) -> None:
    upload(client, setup, GOOD.encode())
    bad = (
        "rut,fecha_nacimiento,sector\n"
        f"{make_rut(1)},01-01-1990,Cerro Alegre\n"  # line 2: fine
        "12.345.678-9,01-01-1990,Cerro Alegre\n"  # 3: bad check digit
        f"{make_rut(2)},31-02-1990,Cerro Alegre\n"  # 4: no such date
        f"{make_rut(3)},01-01-1990,Cerro Bellavista\n"  # 5: unknown district
        f"{make_rut(1)},01-01-1990,Cerro Alegre\n"  # 6: duplicate of line 2
        f"{make_rut(4)},,Cerro Alegre\n"  # 7: no second fact
    )
    body = upload(client, setup, bad.encode()).get_data(as_text=True)
    assert "El archivo no se importó." in body
    assert "Línea 3: «12.345.678-9» no es un RUT válido" in body
    assert "Línea 4: «31-02-1990» no es una fecha de nacimiento válida" in body
    assert "Línea 5: «Cerro Bellavista» no es un sector de esta ronda." in body
    assert re.search(r"Línea 6: el RUT [\d.]+-\w \(2\) aparece dos veces", body)
    assert "Línea 7: indica una fecha de nacimiento" in body
    assert db.session.query(CensusEntry).count() == 40  # the previous census is untouched


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "el archivo está vacío"),
        (b"nombre;edad\nAna;30\n", "no hay columna de RUT"),
        (b"rut;sector\n12.345.678-5;Cerro Alegre\n", "no hay columna de fecha de nacimiento"),
        (b"rut;fecha_nacimiento\n12.345.678-5;01-01-1990\n", "no tiene columna de sector"),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "no hay columna de RUT"),
    ],
)
def test_malformed_files_get_a_clear_error(
    setup: Any, client: Any, db: Any, content: bytes, message: str
) -> None:
    response = upload(client, setup, content)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert db.session.query(CensusEntry).count() == 0


def test_latin1_file_with_serial_numbers_and_commas(setup: Any, client: Any, db: Any) -> None:
    content = "RUT,Número de serie,Sector\n".encode(
        "latin-1"
    ) + f"{make_rut(7)},A 012.345.678,playa ancha\n".encode("latin-1")
    assert "El padrón fue reemplazado" in upload(client, setup, content).get_data(as_text=True)
    entry = db.session.query(CensusEntry).one()
    assert entry.birth_date is None and len(entry.serial_hash) == 64


def test_a_new_upload_replaces_the_census(setup: Any, client: Any, db: Any) -> None:
    upload(client, setup, GOOD.encode())
    smaller = "rut;fecha_nacimiento;sector\n" + f"{make_rut(99)};01-01-1980;Cerro Alegre\n"
    upload(client, setup, smaller.encode())
    assert db.session.query(CensusEntry).count() == 1


def test_command_line_import_reports_errors_and_imports(
    app: Any, setup: Any, tmp_path: Any, db: Any
) -> None:
    runner = app.test_cli_runner()
    bad = tmp_path / "bad.csv"
    bad.write_text("rut;fecha_nacimiento;sector\n1-1;01-01-1990;Cerro Alegre\n")
    result = runner.invoke(args=["census", "import", str(setup.id), str(bad)])
    assert result.exit_code == 1
    assert "Línea 2" in result.output
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    result = runner.invoke(args=["census", "import", str(setup.id), str(good)])
    assert result.exit_code == 0, result.output
    assert "now has 40 residents" in result.output
    assert db.session.query(CensusEntry).count() == 40
