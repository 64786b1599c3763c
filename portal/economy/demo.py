"""Demo data of the registry: organizations and fairs in the four demo municipalities."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.economy.models import Fair, Organization
from portal.economy.services import (
    LocationData,
    ScheduleData,
    clean_rut,
    create_fair,
    create_organization,
    register_organization,
)


def _rut(body: str) -> str:
    from stdnum.cl import rut

    return clean_rut(body + rut.calc_check_digit(body)) or ""


# slug → organizations: (name, rut body or None, legal form, sector, products, qualifiers, address, lat, lon, members, women)
ORGANIZATIONS: dict[str, list[tuple[Any, ...]]] = {
    "valparaiso": [
        (
            "Sindicato de Trabajadores Independientes Feria Libre Avenida Argentina",
            "71234560",
            "independent_union",
            "retail",
            "frutas, verduras, legumbres, abarrotes",
            [],
            "Av. Argentina 850",
            -33.0472,
            -71.6127,
            420,
            260,
        ),
        (
            "Cooperativa de Pescadores Artesanales Caleta Portales",
            "65098712",
            "cooperative",
            "fishing",
            "merluza, reineta, jibia, mariscos frescos",
            [],
            "Av. España 1480, Caleta Portales",
            -33.0284,
            -71.5886,
            58,
            9,
        ),
        (
            "Huerta Comunitaria Playa Ancha",
            None,
            "informal_group",
            "agriculture",
            "hortalizas agroecológicas, plantines, compost",
            ["organic", "led_by_women"],
            "Subida Carvallo 200",
            -33.0329,
            -71.6408,
            14,
            11,
        ),
        (
            "Agrupación de Artesanas Cerro Alegre",
            "65187345",
            "community_functional",
            "crafts",
            "textiles en telar, cerámica, joyería en cobre",
            ["led_by_women"],
            "Pasaje Templeman 45",
            -33.0412,
            -71.6283,
            22,
            20,
        ),
    ],
    "vina-del-mar": [
        (
            "Asociación Gremial de Comerciantes Feria Viña",
            "65311298",
            "trade_association",
            "retail",
            "frutas, verduras, ropa usada, herramientas",
            [],
            "Av. Sporting 100",
            -33.0192,
            -71.5441,
            310,
            170,
        ),
        (
            "Cooperativa de Reciclaje Recicla Viña",
            "65432876",
            "cooperative",
            "recycling",
            "reciclaje de cartón, vidrio y plástico, compostaje",
            ["youth"],
            "Calle Álvarez 2150",
            -33.0285,
            -71.5273,
            26,
            12,
        ),
    ],
    "concepcion": [
        (
            "Cooperativa Campesina Mapuche Küme Mongen",
            "65543219",
            "cooperative",
            "agriculture",
            "merkén, piñones, hortalizas, miel",
            ["indigenous", "organic"],
            "Av. Los Carrera 1200",
            -36.8270,
            -73.0500,
            35,
            19,
        ),
        (
            "Emprendedoras del Biobío",
            None,
            "informal_group",
            "food",
            "pan amasado, mermeladas, empanadas",
            ["led_by_women", "fair_trade"],
            "Calle Maipú 540",
            -36.8262,
            -73.0462,
            12,
            12,
        ),
    ],
    "talcahuano": [
        (
            "Sindicato de Pescadores Artesanales Caleta Tumbes",
            "71678904",
            "independent_union",
            "fishing",
            "pescado fresco, algas, mariscos",
            [],
            "Caleta Tumbes s/n",
            -36.6353,
            -73.0901,
            96,
            21,
        ),
        (
            "Mercado Municipal de Talcahuano, Asociación de Locatarios",
            "65876541",
            "trade_association",
            "food",
            "pescados, mariscos, cocinerías",
            [],
            "Colón 400",
            -36.7140,
            -73.1143,
            60,
            33,
        ),
    ],
}

# slug → fairs: (name, kind, place, lat, lon, stalls, permit, categories, byday, opens, closes, one-offs, organizer names)
FAIRS: dict[str, list[tuple[Any, ...]]] = {
    "valparaiso": [
        (
            "Feria Libre Avenida Argentina",
            "feria_libre",
            "Av. Argentina entre Pedro Montt y Av. Brasil",
            -33.0472,
            -71.6127,
            600,
            "DOM-VAL-2026-114",
            "frutas, verduras, pescados, abarrotes",
            ("WE", "SA", "SU"),
            time(7),
            time(15),
            [],
            ["Sindicato de Trabajadores Independientes Feria Libre Avenida Argentina"],
        ),
        (
            "Persa Avenida Argentina",
            "persa",
            "Bandejón central de Av. Argentina",
            -33.0455,
            -71.6131,
            180,
            "DOM-VAL-2026-115",
            "ropa usada, antigüedades, herramientas",
            ("SA", "SU"),
            time(9),
            time(16),
            [],
            [],
        ),
        (
            "Feria Navideña Plaza Victoria",
            "emprendedores",
            "Plaza Victoria",
            -33.0469,
            -71.6192,
            80,
            "DOM-VAL-2026-301",
            "artesanía, regalos, repostería",
            (),
            None,
            None,
            [
                (date(2026, d, n), time(10), time(22))
                for d, n in ((12, 18), (12, 19), (12, 20), (12, 21), (12, 22), (12, 23), (12, 24))
            ],
            ["Agrupación de Artesanas Cerro Alegre"],
        ),
    ],
    "vina-del-mar": [
        (
            "Feria Libre Estero de Viña",
            "feria_libre",
            "Av. Sporting, ribera norte del estero",
            -33.0192,
            -71.5441,
            550,
            "DOM-VDM-2026-022",
            "frutas, verduras, ropa, paquetería",
            ("WE", "SA"),
            time(7),
            time(15),
            [],
            ["Asociación Gremial de Comerciantes Feria Viña"],
        ),
    ],
    "concepcion": [
        (
            "Feria de Emprendedores Plaza Independencia",
            "emprendedores",
            "Plaza de la Independencia",
            -36.8270,
            -73.0503,
            40,
            "DOM-CCP-2026-077",
            "alimentos, artesanía",
            ("FR", "SA"),
            time(10),
            time(19),
            [],
            ["Emprendedoras del Biobío"],
        ),
    ],
    "talcahuano": [
        (
            "Mercado Municipal de Talcahuano",
            "mercado_municipal",
            "Colón 400",
            -36.7140,
            -73.1143,
            60,
            "DOM-THNO-2026-003",
            "pescados, mariscos, cocinerías",
            ("MO", "TU", "WE", "TH", "FR", "SA", "SU"),
            time(8),
            time(18),
            [],
            ["Mercado Municipal de Talcahuano, Asociación de Locatarios"],
        ),
    ],
}


def economy_step(session: Session, ctx: Any) -> None:
    """Add realistic organizations and fairs (safe to run again: existing names are kept)."""
    for slug, rows in ORGANIZATIONS.items():
        municipality = ctx.municipalities[slug]
        for name, rut, form, sector, products, qualifiers, address, lat, lon, total, women in rows:
            if session.scalar(
                select(Organization.id).where(
                    Organization.municipality_id == municipality.id, Organization.name == name
                )
            ):
                continue
            values = {
                "name": name,
                "rut": _rut(rut) if rut else None,
                "legal_form": form,
                "sector": sector,
                "products": products,
                "members_total": total,
                "members_women": women,
                "description": "",
                **{q: True for q in qualifiers},
            }
            create_organization(
                session,
                municipality,
                values,
                [
                    LocationData(
                        address=address,
                        comuna_cut=municipality.comuna_cut,
                        latitude=lat,
                        longitude=lon,
                    )
                ],
                refuse_same_rut=False,
            )
    # A self-registration waiting for verification, by the demo resident.
    valparaiso = ctx.municipalities["valparaiso"]
    resident = ctx.users.get("vecina@portal.demo")
    pending = "Taller de Costura Cerro Cordillera"
    if resident is not None and not session.scalar(
        select(Organization.id).where(Organization.name == pending)
    ):
        register_organization(
            session,
            valparaiso,
            {
                "name": pending,
                "legal_form": "informal_group",
                "sector": "textiles",
                "products": "arreglos de ropa, bolsas de tela",
                "led_by_women": True,
            },
            [LocationData(address="Calle Castillo 120", comuna_cut=valparaiso.comuna_cut)],
            resident,
        )
    for slug, rows in FAIRS.items():
        municipality = ctx.municipalities[slug]
        for (
            name,
            kind,
            place,
            lat,
            lon,
            stalls,
            permit,
            categories,
            byday,
            opens,
            closes,
            one_offs,
            organizers,
        ) in rows:
            if session.scalar(
                select(Fair.id).where(Fair.municipality_id == municipality.id, Fair.name == name)
            ):
                continue
            organizer_ids = list(
                session.scalars(
                    select(Organization.id).where(
                        Organization.municipality_id == municipality.id,
                        Organization.name.in_(organizers),
                    )
                )
            )
            schedules = (
                [
                    ScheduleData(
                        byday,
                        opens,
                        closes,
                        None,
                        None,
                        [date(2026, 9, 18), date(2026, 9, 19)] if kind == "feria_libre" else [],
                    )
                ]
                if byday
                else []
            )
            create_fair(
                session,
                municipality,
                {
                    "name": name,
                    "kind": kind,
                    "place": place,
                    "latitude": lat,
                    "longitude": lon,
                    "stalls": stalls,
                    "permit_number": permit,
                    "product_categories": categories,
                    "description": "",
                },
                schedules,
                one_offs,
                organizer_ids,
            )
    ctx.notes.append(
        "Registry: organizations and fairs loaded; see /valparaiso/ferias/ and /ferias/hoy"
    )
