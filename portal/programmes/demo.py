"""Demo data: programmes of Valparaíso (05), Biobío (08) and national ones; funded projects."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.economy.models import Organization
from portal.programmes.models import FundedProject, Programme
from portal.programmes.services import (
    add_funding,
    add_milestone,
    create_programme,
    create_project,
    ensure_default_programmes,
)

PROGRAMMES: list[dict[str, Any]] = [
    {
        "code": "fndr-valparaiso-fomento",
        "name": "FNDR Valparaíso: Fomento Productivo y Economía Local",
        "agency": "gore",
        "level": "regional",
        "region_cut": "05",
        "yearly_amount": 2_400_000_000,
        "period_start": date(2026, 1, 1),
        "period_end": date(2027, 12, 31),
        "axes": "Desarrollo económico inclusivo y territorial\nBorde costero y pesca artesanal\n"
        "Patrimonio y turismo de Valparaíso",
        "description": "Inversión del Gobierno Regional en infraestructura productiva de las "
        "comunas; las iniciativas de inversión llevan código BIP.",
        "eligibility_text": "Municipalidades de la región, con iniciativa de inversión "
        "recomendada (RS) por el Sistema Nacional de Inversiones.",
        "contact_name": "División de Fomento e Industria (DIFOI)",
        "contact_email": "difoi@gorevalparaiso.demo",
    },
    {
        "code": "fndr-biobio-fomento",
        "name": "FNDR Biobío: Infraestructura para el Desarrollo Económico Local",
        "agency": "gore",
        "level": "regional",
        "region_cut": "08",
        "yearly_amount": 3_100_000_000,
        "period_start": date(2026, 1, 1),
        "period_end": date(2027, 12, 31),
        "axes": "Biobío productivo y diversificado\nMercados y ferias como espacios públicos",
        "eligibility_text": "Municipalidades de la región, con iniciativa de inversión "
        "recomendada (RS).",
        "contact_name": "División de Fomento e Industria (DIFOI)",
        "contact_email": "difoi@gorebiobio.demo",
    },
    {
        "code": "fic-r-biobio",
        "name": "Fondo de Innovación para la Competitividad Regional (FIC-R) Biobío",
        "agency": "gore",
        "level": "regional",
        "region_cut": "08",
        "yearly_amount": 1_200_000_000,
        "axes": "Innovación social y economía solidaria\nBiobío productivo y diversificado",
        "eligibility_text": "Proyectos de innovación con una entidad receptora; co-financiamiento "
        "municipal u organizacional deseable.",
        "legal_organization_required": True,
    },
    {
        "code": "corfo-red-asociativa",
        "name": "CORFO Red Asociativa",
        "agency": "corfo",
        "level": "national",
        "region_cut": None,
        "yearly_amount": 4_000_000_000,
        "eligibility_text": "Grupos de al menos 3 empresas o cooperativas que desarrollan un "
        "proyecto común de mejora de su competitividad.",
        "legal_organization_required": True,
        "url": "https://www.corfo.cl/",
    },
    {
        "code": "sernatur-destinos",
        "name": "SERNATUR: Destinos Turísticos Sustentables",
        "agency": "sernatur",
        "level": "national",
        "region_cut": None,
        "yearly_amount": 800_000_000,
        "eligibility_text": "Municipalidades con un plan de desarrollo turístico vigente.",
        "url": "https://www.sernatur.cl/",
    },
    {
        "code": "promdel",
        "name": "PROMDEL: Programa de Desarrollo Económico Local",
        "agency": "other",
        "level": "national",
        "region_cut": None,
        "yearly_amount": 600_000_000,
        "description": "Fortalece las oficinas municipales de desarrollo económico local y su "
        "coordinación con el gobierno regional.",
        "eligibility_text": "Municipalidades con oficina de fomento productivo.",
    },
]

# slug → projects: title, year, status, progress, budget, spent, organization name or None,
# BIP code, [(programme code, amount, start, end)], [(milestone, planned, done)], (lat, lon)
PROJECTS: dict[str, list[tuple[Any, ...]]] = {
    "valparaiso": [
        (
            "Techado de la Feria Libre Avenida Argentina",
            2026,
            "in_progress",
            45,
            180_000_000,
            62_000_000,
            "Sindicato de Trabajadores Independientes Feria Libre Avenida Argentina",
            "40051234-0",
            [
                ("fndr-valparaiso-fomento", 110_000_000, date(2026, 1, 15), date(2027, 6, 30)),
                ("sercotec-ferias-libres", 40_000_000, date(2026, 3, 1), date(2026, 12, 31)),
            ],
            [
                ("Diseño aprobado por la DOM", date(2026, 1, 20), date(2026, 1, 28)),
                ("Licitación adjudicada", date(2026, 3, 15), date(2026, 4, 2)),
                ("Estructura del techo instalada", date(2026, 8, 31), None),
                ("Recepción final de obras", date(2027, 3, 31), None),
            ],
            (-33.0472, -71.6127),
        ),
        (
            "Sala de proceso de la Caleta Portales",
            2025,
            "completed",
            100,
            150_000_000,
            148_500_000,
            "Cooperativa de Pescadores Artesanales Caleta Portales",
            "30487612-0",
            [("fndr-valparaiso-fomento", 120_000_000, date(2025, 2, 1), date(2025, 12, 31))],
            [
                ("Resolución sanitaria", date(2025, 6, 30), date(2025, 7, 10)),
                ("Inauguración", date(2025, 11, 30), date(2025, 12, 5)),
            ],
            (-33.0284, -71.5886),
        ),
        (
            "Capacitación en comercio electrónico para ferias libres",
            2026,
            "in_progress",
            30,
            24_000_000,
            7_000_000,
            None,
            "",
            [("corfo-red-asociativa", 18_000_000, date(2026, 3, 1), date(2026, 11, 30))],
            [("Primer ciclo de talleres", date(2026, 6, 30), date(2026, 6, 27))],
            None,
        ),
        (
            "Ruta de artesanas del Cerro Alegre",
            2027,
            "planned",
            0,
            35_000_000,
            0,
            "Agrupación de Artesanas Cerro Alegre",
            "",
            [
                ("sernatur-destinos", 20_000_000, None, None),
                ("promdel", 8_000_000, None, None),
            ],
            [("Señalética diseñada", date(2027, 4, 30), None)],
            (-33.0412, -71.6283),
        ),
    ],
    "vina-del-mar": [
        (
            "Capacitación en comercio electrónico para ferias libres de Viña",
            2026,
            "in_progress",
            20,
            22_000_000,
            4_000_000,
            "Asociación Gremial de Comerciantes Feria Viña",
            "",
            [("corfo-red-asociativa", 16_000_000, date(2026, 4, 1), date(2026, 12, 31))],
            [("Diagnóstico digital de puestos", date(2026, 5, 31), None)],
            (-33.0245, -71.5518),
        ),
        (
            "Centro de acopio de la Cooperativa Recicla Viña",
            2026,
            "planned",
            5,
            60_000_000,
            0,
            "Cooperativa de Reciclaje Recicla Viña",
            "",
            [("fndr-valparaiso-fomento", 45_000_000, None, None)],
            [("Terreno en comodato firmado", date(2026, 9, 30), None)],
            (-33.0153, -71.5500),
        ),
    ],
    "concepcion": [
        (
            "Centro de negocios para la economía social",
            2026,
            "in_progress",
            55,
            95_000_000,
            50_000_000,
            "Emprendedoras del Biobío",
            "",
            [
                ("fic-r-biobio", 60_000_000, date(2026, 1, 1), date(2027, 6, 30)),
                ("promdel", 15_000_000, date(2026, 1, 1), date(2026, 12, 31)),
            ],
            [
                ("Local habilitado", date(2026, 4, 30), date(2026, 5, 12)),
                ("Primeras 40 asesorías", date(2026, 10, 31), None),
            ],
            (-36.8270, -73.0503),
        ),
        (
            "Feria mapuche de invierno en el Parque Ecuador",
            2025,
            "completed",
            100,
            12_000_000,
            11_800_000,
            "Cooperativa Campesina Mapuche Küme Mongen",
            "",
            [],
            [("Feria realizada", date(2025, 7, 20), date(2025, 7, 20))],
            (-36.8305, -73.0445),
        ),
    ],
    "talcahuano": [
        (
            "Recuperación del Mercado de Talcahuano",
            2026,
            "in_progress",
            20,
            420_000_000,
            80_000_000,
            "Mercado Municipal de Talcahuano, Asociación de Locatarios",
            "40023456-0",
            [("fndr-biobio-fomento", 380_000_000, date(2026, 1, 1), date(2027, 12, 31))],
            [
                ("Diseño de arquitectura", date(2026, 2, 28), date(2026, 3, 20)),
                ("Inicio de obras", date(2026, 6, 1), None),
            ],
            (-36.7249, -73.1168),
        ),
        (
            # Crafted to show a duplication warning: the same association, a second programme,
            # the same period.
            "Equipamiento de locales del Mercado de Talcahuano",
            2026,
            "planned",
            0,
            70_000_000,
            0,
            "Mercado Municipal de Talcahuano, Asociación de Locatarios",
            "",
            [("corfo-red-asociativa", 50_000_000, date(2026, 5, 1), date(2027, 4, 30))],
            [("Compra de vitrinas refrigeradas", date(2026, 11, 30), None)],
            (-36.7249, -73.1168),
        ),
    ],
}


def programmes_step(session: Session, ctx: Any) -> None:
    """Add the demo programmes and funded projects (safe to run again: existing ones are kept)."""
    ensure_default_programmes(session)
    existing = set(session.scalars(select(Programme.code)))
    admin = ctx.users.get("admin@portal.demo")
    for data in PROGRAMMES:
        if data["code"] not in existing:
            create_programme(session, data, actor=admin)
    by_code = {p.code: p for p in session.scalars(select(Programme))}
    for slug, rows in PROJECTS.items():
        municipality = ctx.municipalities[slug]
        for (
            title,
            year,
            status,
            progress,
            budget,
            spent,
            org_name,
            bip,
            fundings,
            milestones,
            point,
        ) in rows:
            if session.scalar(
                select(FundedProject.id).where(
                    FundedProject.municipality_id == municipality.id, FundedProject.title == title
                )
            ):
                continue
            org_id = (
                session.scalar(
                    select(Organization.id).where(
                        Organization.municipality_id == municipality.id,
                        Organization.name == org_name,
                    )
                )
                if org_name
                else None
            )
            project = create_project(
                session,
                municipality,
                {
                    "title": title,
                    "description": "",
                    "theme": "fairs-markets" if "eria" in title else "sse-organizations",
                    "year": year,
                    "status": status,
                    "progress": progress,
                    "budget": budget,
                    "spent": spent,
                    "bip_code": bip,
                    "address": "",
                    "latitude": point[0] if point else None,
                    "longitude": point[1] if point else None,
                    "organization_id": org_id,
                },
                actor=admin,
            )
            for code, amount, start, end in fundings:
                add_funding(
                    session,
                    project,
                    by_code[code],
                    {
                        "amount": amount,
                        "agreement_ref": f"Convenio {code.upper()}-{year}-{project.id:03d}",
                        "agreement_date": start,
                        "start_date": start,
                        "end_date": end,
                    },
                )
            for name, planned, done in milestones:
                add_milestone(session, project, name, planned, done)
    ctx.notes.append(
        "Programmes: see /programas and, as difoi@gorebiobio.demo, /region/08/proyectos/ "
        "(a duplication warning is crafted there and in /region/05/proyectos/)"
    )
