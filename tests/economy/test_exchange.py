"""CSV imports (whole file checked, errors with lines, nothing written) and HSDS-shaped exports."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlalchemy import func, select

from portal.economy.models import Fair, Organization
from tests.conftest import login, post_form
from tests.economy.helpers import make_fair, make_organization

ORGS_OK = """name;rut;legal_form;sector;products;qualifiers;address;comuna;latitude;longitude;members_total;members_women
Cooperativa Caleta Portales;65.123.456-1;cooperative;fishing;merluza, jibia;;Av. Altamirano 1480;Valparaíso;-33.0284;-71.5886;40;12
Huerta Playa Ancha;;Grupo informal;Agricultura y producción de alimentos;hortalizas;organic|led_by_women;Subida Carvallo 200;05101;;;8;6
"""
ORGS_BAD = """name,rut,legal_form,sector,latitude,longitude,address,members_total,members_women
Cooperativa Uno,11.111.111-2,cooperative,fishing,,,,,
,,cooperative,fishing,,,,,
Cooperativa Tres,,nope,fishing,,,,,
Cooperativa Cuatro,,cooperative,fishing,-95,-71.6,Calle 1,,
Cooperativa Cinco,,cooperative,fishing,,,,5,9
"""


def rut(body: str) -> str:
    from stdnum.cl import rut as cl_rut

    return cl_rut.format(body + cl_rut.calc_check_digit(body))


def upload(client: Any, path: str, text: str) -> Any:
    return post_form(
        client,
        path,
        {"file": (io.BytesIO(text.encode("utf-8")), "datos.csv")},
        token_from=path,
        content_type="multipart/form-data",
    )


def test_a_file_with_errors_lists_each_line_and_writes_nothing(
    client: Any, db: Any, valpo: Any, staff: Any
) -> None:
    login(client, staff.email)
    response = upload(client, "/gestion/valparaiso/organizaciones/importar", ORGS_BAD)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "5 problemas: no se importó nada." in html, html[
        html.find("<main") : html.find("</main>")
    ]
    for line in (2, 3, 4, 5, 6):
        assert f"Línea {line}:" in html
    assert db.session.scalar(select(func.count()).select_from(Organization)) == 0


def test_a_clean_file_is_imported_verified(client: Any, db: Any, valpo: Any, staff: Any) -> None:
    login(client, staff.email)
    text = ORGS_OK.replace("65.123.456-1", rut("65123456"))
    response = upload(client, "/gestion/valparaiso/organizaciones/importar", text)
    assert response.status_code == 302
    orgs = {o.name: o for o in db.session.scalars(select(Organization))}
    huerta = orgs["Huerta Playa Ancha"]
    assert huerta.legal_form == "informal_group" and huerta.sector == "agriculture"
    assert huerta.organic and huerta.led_by_women and huerta.status == "verified"
    assert orgs["Cooperativa Caleta Portales"].locations[0].latitude == -33.0284
    # The same file again: every RUT is already there.
    again = upload(client, "/gestion/valparaiso/organizaciones/importar", text)
    assert again.status_code == 200 and "ya está en el registro" in again.get_data(as_text=True)


def test_unknown_columns_are_reported_on_line_1(
    client: Any, db: Any, valpo: Any, staff: Any
) -> None:
    login(client, staff.email)
    html = upload(
        client, "/gestion/valparaiso/organizaciones/importar", "nombre,color\nx,y\n"
    ).get_data(as_text=True)
    assert "Línea 1:" in html and "Faltan columnas" in html


def test_fairs_import_links_organizers_by_rut_and_checks_every_line(
    client: Any, db: Any, valpo: Any, staff: Any
) -> None:
    union = make_organization(
        db,
        valpo,
        name="Sindicato Feria Argentina",
        rut=rut("70360100"),
        legal_form="independent_union",
    )
    login(client, staff.email)
    bad = (
        "name,kind,place,weekdays,opens_at,closes_at,exceptions,one_off_dates,organizer_ruts\n"
        "Feria A,feria_libre,Av. Argentina,MO|XX,07:00,15:00,,,\n"
        "Feria B,feria_libre,Av. Brasil,SA,25:00,15:00,,,\n"
        "Feria C,persa,Av. España,,,,,,\n"
        f"Feria D,feria_libre,Calle D,SA,07:00,15:00,,,{rut('11111111')}\n"
    )
    html = upload(client, "/gestion/valparaiso/ferias/importar", bad).get_data(as_text=True)
    assert all(f"Línea {n}:" in html for n in (2, 3, 4, 5))
    assert db.session.scalar(select(func.count()).select_from(Fair)) == 0
    good = (
        "name,kind,place,weekdays,opens_at,closes_at,valid_from,exceptions,one_off_dates,stalls,organizer_ruts\n"
        f"Feria Libre Avenida Argentina,Feria libre,Av. Argentina,mié|sáb|dom,07:00,15:00,01-01-2026,18-09-2026|19-09-2026,,600,{union.rut}\n"
        "Feria Navideña,emprendedores,Plaza Victoria,,,,,,20-12-2026 10:00-22:00|24-12-2026 10:00-20:00,80,\n"
    )
    assert upload(client, "/gestion/valparaiso/ferias/importar", good).status_code == 302
    fairs = {f.name: f for f in db.session.scalars(select(Fair))}
    argentina = fairs["Feria Libre Avenida Argentina"]
    assert (
        argentina.schedules[0].byday == "WE,SA,SU" and len(argentina.schedules[0].exceptions) == 2
    )
    assert argentina.organizers[0].id == union.id
    assert len(fairs["Feria Navideña"].one_offs) == 2 and fairs["Feria Navideña"].schedules == []


def test_exports_use_hsds_field_names(client: Any, db: Any, valpo: Any, staff: Any) -> None:
    org = make_organization(
        db, valpo, name="Cooperativa Caleta Portales", rut=rut("65123456"), organic=True
    )
    make_fair(db, valpo, organizers=[org])
    login(client, staff.email)
    data = json.loads(client.get("/gestion/valparaiso/organizaciones/exportar.json").data)
    first = data["organizations"][0]
    assert first["identifiers"] == [{"identifier_scheme": "CL-RUT", "identifier": org.rut}]
    assert first["legal_status"] == "cooperative" and first["ess_legal_form"] == "Co-operative"
    assert first["qualifiers"] == ["Organic"]
    assert (
        first["locations"][0]["city"] == "Valparaíso"
        and first["locations"][0]["latitude"] == -33.0284
    )
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get("/gestion/valparaiso/organizaciones/exportar.csv").data.decode(
                    "utf-8-sig"
                )
            )
        )
    )
    assert rows[0]["identifier"] == org.rut and rows[0]["address_1"] == "Av. Altamirano 1480"
    fairs = json.loads(client.get("/gestion/valparaiso/ferias/exportar.json").data)["fairs"]
    assert fairs[0]["schedules"][0] == {
        "freq": "WEEKLY",
        "byday": "WE,SA,SU",
        "opens_at": "07:00",
        "closes_at": "15:00",
        "valid_from": None,
        "valid_to": None,
        "except_dates": [],
        "timezone": "America/Santiago",
    }
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get("/gestion/valparaiso/ferias/exportar.csv").data.decode("utf-8-sig")
            )
        )
    )
    assert rows[0]["byday"] == "WE,SA,SU" and rows[0]["organizers"] == org.rut


def test_cli_import_with_errors_and_then_clean(
    app: Any, db: Any, valpo: Any, tmp_path: Any
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(ORGS_BAD, encoding="utf-8")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["economy", "import-organizations", "valparaiso", str(bad)])
    assert (
        result.exit_code != 0
        and "bad.csv:2:" in result.output
        and "nothing was imported" in result.output
    )
    good = tmp_path / "good.csv"
    good.write_text(ORGS_OK.replace("65.123.456-1", rut("65123456")), encoding="utf-8")
    result = runner.invoke(args=["economy", "import-organizations", "valparaiso", str(good)])
    assert result.exit_code == 0, result.output
    assert "Imported 2 organizations" in result.output
    fairs = tmp_path / "fairs.csv"
    fairs.write_text(
        "name,kind,place,weekdays,opens_at,closes_at\nFeria Uno,feria_libre,Calle 1,SA,07:00,15:00\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["economy", "import-fairs", "valparaiso", str(fairs)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["economy", "import-fairs", "no-existe", str(fairs)]).exit_code != 0
