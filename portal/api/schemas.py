"""JSON Schemas (OpenAPI 3.0 dialect) of what the API answers; the serializers follow them."""

from __future__ import annotations

from typing import Any

from portal.budgeting.models import (
    AllocationRule,
    DistrictMode,
    Eligibility,
    Method,
    PaperConflict,
    Phase,
    ProposalStatus,
)
from portal.economy.vocab import FAIR_KINDS, LEGAL_FORMS, QUALIFIERS, SECTORS
from portal.programmes.models import AGENCIES, LEVELS, PROJECT_STATUSES

STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
MONEY: dict[str, Any] = {"type": "integer", "minimum": 0, "description": "Whole pesos (CLP)."}
BOOL: dict[str, Any] = {"type": "boolean"}
NUM: dict[str, Any] = {"type": "number"}
DATE: dict[str, Any] = {"type": "string", "format": "date"}
MOMENT: dict[str, Any] = {"type": "string", "format": "date-time"}
CLOCK: dict[str, Any] = {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"}


def null(schema: dict[str, Any]) -> dict[str, Any]:
    """Allow null besides the schema (not for $ref: OpenAPI 3.0 ignores siblings of $ref)."""
    return {**schema, "nullable": True}


def ref(name: str) -> dict[str, Any]:
    """Point at a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def array(items: dict[str, Any]) -> dict[str, Any]:
    """A list of items."""
    return {"type": "array", "items": items}


def enum(values: Any) -> dict[str, Any]:
    """A string out of a fixed list."""
    return {"type": "string", "enum": [str(v) for v in values]}


def obj(properties: dict[str, Any]) -> dict[str, Any]:
    """An object with exactly these properties, all present (null where allowed)."""
    return {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
    }


def page_of(name: str) -> dict[str, Any]:
    """The envelope of a paginated list of a component."""
    return obj({"data": array(ref(name)), "meta": ref("PageMeta"), "links": ref("PageLinks")})


NAMED = obj({"id": INT, "name": STR})
PHASES = [p.value for p in Phase]

COMPONENTS: dict[str, Any] = {
    "Error": obj({"error": obj({"status": INT, "title": STR, "message": STR})}),
    "PageMeta": obj(
        {"page": INT, "per_page": INT, "total": {"type": "integer", "minimum": 0}, "pages": INT}
    ),
    "PageLinks": obj(
        {"self": STR, "first": STR, "last": STR, "next": null(STR), "prev": null(STR)}
    ),
    "Region": obj({"cut": STR, "name": STR, "short_name": STR, "iso_code": STR, "slug": STR}),
    "RegionDetail": obj(
        {
            "cut": STR,
            "name": STR,
            "short_name": STR,
            "iso_code": STR,
            "slug": STR,
            "municipalities": array(ref("Municipality")),
        }
    ),
    "Municipality": obj(
        {
            "id": INT,
            "name": STR,
            "slug": STR,
            "comuna_cut": STR,
            "comuna": STR,
            "region_cut": STR,
            "website": null(STR),
            "url": STR,
        }
    ),
    "Round": obj(
        {
            "id": INT,
            "municipality_id": INT,
            "title": STR,
            "description": STR,
            "total_budget": MONEY,
            "themes": array(STR),
            "published_at": MOMENT,
            "phase": enum(PHASES),
            "phases": array(
                obj(
                    {
                        "phase": enum(PHASES),
                        "starts": MOMENT,
                        "state": enum(["past", "current", "future"]),
                    }
                )
            ),
            "next_phase": null(obj({"phase": enum(PHASES), "starts": MOMENT})),
            "districts": array(obj({"id": INT, "name": STR, "code": null(STR), "budget": MONEY})),
            "rules": obj(
                {
                    "method": enum([m.value for m in Method]),
                    "min_selections": INT,
                    "max_selections": null(INT),
                    "points_total": null(INT),
                    "points_cap": null(INT),
                    "rank_k": null(INT),
                    "allocation_rule": enum([r.value for r in AllocationRule]),
                    "threshold_votes": null(INT),
                    "district_mode": enum([d.value for d in DistrictMode]),
                    "comuna_wide_budget": MONEY,
                    "min_age": INT,
                    "age_reference_date": null(DATE),
                    "eligibility": enum([e.value for e in Eligibility]),
                    "paper_conflict": enum([p.value for p in PaperConflict]),
                }
            ),
            "results_published_at": null(MOMENT),
            "url": STR,
        }
    ),
    "Proposal": obj(
        {
            "id": INT,
            "round_id": INT,
            "district_id": null(INT),
            "title": STR,
            "summary": STR,
            "description": STR,
            "theme": STR,
            "status": enum([s.value for s in ProposalStatus]),
            "on_ballot": BOOL,
            "estimated_cost": MONEY,
            "final_cost": null(MONEY),
            "review_reason": null(STR),
            "merged_into_id": null(INT),
            "address": null(STR),
            "latitude": null(NUM),
            "longitude": null(NUM),
            "organization": null(NAMED),
            "implementer": null(NAMED),
            "implementer_name": null(STR),
            "images": array(
                obj(
                    {
                        "url": STR,
                        "thumbnail_url": STR,
                        "width": INT,
                        "height": INT,
                        "alt": STR,
                    }
                )
            ),
            "created_at": MOMENT,
            "url": STR,
        }
    ),
    "Results": obj(
        {
            "round_id": INT,
            "published_at": MOMENT,
            "method": STR,
            "allocation_rule": STR,
            "lists": array(ref("ListResult")),
            "winners": array(
                obj({"proposal_id": INT, "title": STR, "list_key": STR, "cost": MONEY})
            ),
            "turnout": obj(
                {
                    "ballots": INT,
                    "online": INT,
                    "paper": INT,
                    "census_size": INT,
                    "by_district": array(obj({"district_id": null(INT), "ballots": INT})),
                    "by_age": array(obj({"band": STR, "ballots": INT})),
                }
            ),
            "url": STR,
        }
    ),
    "ListResult": obj(
        {
            "list_key": STR,
            "district_id": null(INT),
            "district_name": null(STR),
            "rule": STR,
            "budget": MONEY,
            "voters": INT,
            "total_cost": MONEY,
            "computed_at": MOMENT,
            "greedy_selected": null(array(INT)),
            "detail": {
                "type": "object",
                "description": "The counting engine's explanation: selection order, ties, "
                "and per project (keyed by proposal id) why it was or was not funded.",
                "additionalProperties": True,
            },
            "lines": array(
                obj(
                    {
                        "proposal_id": INT,
                        "title": STR,
                        "position": INT,
                        "votes": INT,
                        "score": INT,
                        "cost": MONEY,
                        "selected": BOOL,
                        "selected_order": null(INT),
                        "greedy_selected": null(BOOL),
                    }
                )
            ),
        }
    ),
    "Programme": obj(
        {
            "id": INT,
            "code": STR,
            "name": STR,
            "agency": enum(AGENCIES),
            "level": enum(LEVELS),
            "region_cut": null(STR),
            "yearly_amount": null(MONEY),
            "period_start": null(DATE),
            "period_end": null(DATE),
            "axes": array(STR),
            "description": STR,
            "eligibility_text": STR,
            "min_stalls": null(INT),
            "legal_organization_required": BOOL,
            "fair_kinds": array(STR),
            "website": STR,
            "active": BOOL,
        }
    ),
    "Project": obj(
        {
            "id": INT,
            "open_data_id": STR,
            "municipality_id": INT,
            "round_id": null(INT),
            "proposal_id": null(INT),
            "title": STR,
            "description": STR,
            "theme": STR,
            "year": INT,
            "status": enum(PROJECT_STATUSES),
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "budget": MONEY,
            "spent": MONEY,
            "funded_by_programmes": MONEY,
            "bip_code": STR,
            "start_date": null(DATE),
            "end_date": null(DATE),
            "district": STR,
            "address": STR,
            "comuna_cut": STR,
            "latitude": null(NUM),
            "longitude": null(NUM),
            "implementer": null(NAMED),
            "fundings": array(
                obj(
                    {
                        "programme_id": INT,
                        "programme_code": STR,
                        "programme_name": STR,
                        "amount": MONEY,
                        "agreement_ref": STR,
                        "agreement_date": null(DATE),
                        "start_date": null(DATE),
                        "end_date": null(DATE),
                    }
                )
            ),
            "milestones": array(obj({"title": STR, "planned_on": DATE, "done_on": null(DATE)})),
            "photos": array(
                obj(
                    {
                        "url": STR,
                        "thumbnail_url": STR,
                        "width": INT,
                        "height": INT,
                        "caption": STR,
                    }
                )
            ),
            "url": STR,
            "oc4ids_url": STR,
        }
    ),
    "Organization": obj(
        {
            "id": INT,
            "municipality_id": INT,
            "name": STR,
            "identifier": null(STR),
            "legal_form": enum(LEGAL_FORMS),
            "sector": enum(SECTORS),
            "description": STR,
            "products": STR,
            "members_total": null(INT),
            "members_women": null(INT),
            "qualifiers": array(enum(QUALIFIERS)),
            "opening_hours": STR,
            "website": null(STR),
            "social_url": null(STR),
            "last_verified_on": null(DATE),
            "locations": array(
                obj(
                    {
                        "name": STR,
                        "address": STR,
                        "comuna_cut": STR,
                        "comuna": STR,
                        "latitude": null(NUM),
                        "longitude": null(NUM),
                    }
                )
            ),
            "url": STR,
        }
    ),
    "Fair": obj(
        {
            "id": INT,
            "municipality_id": INT,
            "kind": enum(FAIR_KINDS),
            "name": STR,
            "place": STR,
            "latitude": null(NUM),
            "longitude": null(NUM),
            "stalls": null(INT),
            "permit_number": STR,
            "categories": array(STR),
            "description": STR,
            "timezone": STR,
            "schedules": array(
                obj(
                    {
                        "freq": STR,
                        "byday": array(enum(["MO", "TU", "WE", "TH", "FR", "SA", "SU"])),
                        "opens_at": CLOCK,
                        "closes_at": CLOCK,
                        "valid_from": null(DATE),
                        "valid_to": null(DATE),
                        "except_dates": array(DATE),
                    }
                )
            ),
            "one_offs": array(obj({"date": DATE, "opens_at": CLOCK, "closes_at": CLOCK})),
            "next_dates": array(obj({"start": MOMENT, "end": MOMENT})),
            "organizers": array(NAMED),
            "vendors": array(NAMED),
            "url": STR,
            "ics_url": STR,
        }
    ),
}
for _name in ("Region", "Municipality", "Round", "Proposal", "Programme", "Project"):
    COMPONENTS[f"{_name}Page"] = page_of(_name)
COMPONENTS["OrganizationPage"] = page_of("Organization")
COMPONENTS["FairPage"] = page_of("Fair")
