"""Open data of funded projects: OC4IDS-shaped JSON and a flat CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from portal.programmes.models import FundedProject
from portal.text import csv_cell

CURRENCY = "CLP"
ID_PREFIX = "CL-PORTAL"
# Our statuses → the OC4IDS projectStatus codelist.
OC4IDS_STATUS = {
    "planned": "preparation",
    "in_progress": "implementation",
    "completed": "completion",
    "cancelled": "cancelled",
}
CSV_COLUMNS = [
    "id",
    "title",
    "comuna_cut",
    "comuna",
    "municipality",
    "year",
    "theme",
    "status",
    "progress",
    "budget",
    "funded_by_programmes",
    "spent",
    "programmes",
    "bip_code",
    "start_date",
    "end_date",
    "implementer",
    "implementer_rut",
    "address",
    "latitude",
    "longitude",
    "late_milestones",
    "url",
]


def project_id(project: FundedProject) -> str:
    """Return the project's identifier in open data: prefix, comuna CUT and number."""
    return f"{ID_PREFIX}-{project.comuna_cut}-{project.id}"


def _amount(value: int) -> dict[str, Any]:
    return {"amount": value, "currency": CURRENCY}


def _period(start: Any, end: Any) -> dict[str, str]:
    period = {}
    if start:
        period["startDate"] = start.isoformat()
    if end:
        period["endDate"] = end.isoformat()
    return period


def oc4ids(project: FundedProject, url: str, *, public: bool = True) -> dict[str, Any]:
    """Describe a project with OC4IDS project fields (budget broken down by funding source).

    Public output names the implementer only when its registry record is verified.
    """
    municipality = project.municipality
    authority_id = f"CL-MUN-{municipality.comuna_cut}"
    parties: list[dict[str, Any]] = [
        {
            "id": authority_id,
            "name": municipality.name,
            "roles": ["publicAuthority"],
            "address": {"locality": municipality.comuna.name, "countryName": "Chile"},
        }
    ]
    breakdown = []
    for funding in project.fundings:
        programme = funding.programme
        funder_id = f"{ID_PREFIX}-PROGRAMME-{programme.code}"
        if not any(p["id"] == funder_id for p in parties):
            parties.append({"id": funder_id, "name": programme.name, "roles": ["funder"]})
        breakdown.append(
            {
                "id": str(funding.id),
                "description": programme.name,
                "amount": _amount(funding.amount),
                "sourceParty": {"id": funder_id, "name": programme.name},
                "period": _period(*funding.period),
                **(
                    {"approvalDate": funding.agreement_date.isoformat()}
                    if funding.agreement_date
                    else {}
                ),
                **({"agreementReference": funding.agreement_ref} if funding.agreement_ref else {}),
            }
        )
    own = project.budget - project.funded_total
    if own > 0:
        breakdown.append(
            {
                "id": "own",
                "description": municipality.name,
                "amount": _amount(own),
                "sourceParty": {"id": authority_id, "name": municipality.name},
            }
        )
    org = project.organization
    if org is not None and (org.is_public or not public):
        org_id = f"CL-RUT-{org.rut}" if org.rut else f"{ID_PREFIX}-ORG-{org.id}"
        parties.append({"id": org_id, "name": org.name, "roles": ["implementer"]})
    location: dict[str, Any] = {
        "id": "1",
        "description": project.address or project.comuna.name,
        "address": {
            "streetAddress": project.address,
            "locality": project.comuna.name,
            "region": project.comuna.region.name,
            "countryName": "Chile",
        },
    }
    if project.latitude is not None and project.longitude is not None:
        location["geometry"] = {
            "type": "Point",
            "coordinates": [project.longitude, project.latitude],
        }
    data: dict[str, Any] = {
        "id": project_id(project),
        "title": project.title,
        "description": project.description,
        "status": OC4IDS_STATUS.get(project.status, project.status),
        "period": _period(*project.period),
        "locations": [location],
        "budget": {"amount": _amount(project.budget), "budgetBreakdown": breakdown},
        "parties": parties,
        "publicAuthority": {"id": authority_id, "name": municipality.name},
        "purpose": project.theme,
        "url": url,
    }
    if project.bip_code:
        data["additionalClassifications"] = [{"scheme": "CL-BIP", "id": project.bip_code}]
    if project.status == "completed":
        data["completion"] = {
            "endDate": project.period[1].isoformat(),
            "finalValue": _amount(project.spent),
        }
    return data


def projects_csv(projects: Iterable[FundedProject], url: Any, today: Any) -> str:
    """Write projects as CSV, one row each, programmes and their amounts in one cell."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for p in projects:
        row = [
            project_id(p),
            p.title,
            p.comuna_cut,
            p.comuna.name,
            p.municipality.name,
            p.year,
            p.theme,
            p.status,
            p.progress,
            p.budget,
            p.funded_total,
            p.spent,
            "; ".join(f"{f.programme.code}={f.amount}" for f in p.fundings),
            p.bip_code,
            p.start_date.isoformat() if p.start_date else "",
            p.end_date.isoformat() if p.end_date else "",
            p.organization.name if p.organization else "",
            (p.organization.rut or "") if p.organization else "",
            p.address,
            "" if p.latitude is None else p.latitude,
            "" if p.longitude is None else p.longitude,
            len(p.late_milestones(today)),
            url(p),
        ]
        writer.writerow([csv_cell(value) for value in row])
    return out.getvalue()
