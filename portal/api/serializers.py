"""Turn published records into the JSON shapes of portal.api.schemas (public fields only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import url_for

from portal.api.http import iso
from portal.budgeting.models import Proposal, ProposalStatus, Round
from portal.budgeting.phases import current_phase, next_step, timeline
from portal.economy.models import Fair, Organization
from portal.economy.schedule import SANTIAGO, Occurrence
from portal.geo.models import Municipality, Region
from portal.programmes.exchange import project_id as open_data_id
from portal.programmes.models import FundedProject, Programme
from portal.voting.models import ListResult


def _clock(value: Any) -> str:
    return f"{value:%H:%M}"


def named(org: Organization | None) -> dict[str, Any] | None:
    """Name an organization of the registry, only when the public may see it."""
    if org is None or not org.is_public:
        return None
    return {"id": org.id, "name": org.name}


def region(r: Region) -> dict[str, Any]:
    """Describe a region."""
    return {
        "cut": r.cut,
        "name": r.name,
        "short_name": r.short_name,
        "iso_code": r.iso_code,
        "slug": r.slug,
    }


def municipality(m: Municipality) -> dict[str, Any]:
    """Describe a municipality (no staff or contact details)."""
    return {
        "id": m.id,
        "name": m.name,
        "slug": m.slug,
        "comuna_cut": m.comuna_cut,
        "comuna": m.comuna.name,
        "region_cut": m.comuna.region_cut,
        "website": m.website or None,
        "url": url_for("public.municipality", slug=m.slug, _external=True),
    }


def round_(r: Round, now: datetime) -> dict[str, Any]:
    """Describe a published round: where it stands, its timeline, districts and rules."""
    upcoming = next_step(r, now)
    return {
        "id": r.id,
        "municipality_id": r.municipality_id,
        "title": r.title,
        "description": r.description,
        "total_budget": r.total_budget,
        "themes": list(r.themes or []),
        "published_at": iso(r.published_at),
        "phase": current_phase(r, now).value,
        "phases": [
            {"phase": step.phase.value, "starts": iso(step.starts), "state": step.state}
            for step in timeline(r, now)
        ],
        "next_phase": {"phase": upcoming[0].value, "starts": iso(upcoming[1])}
        if upcoming
        else None,
        "districts": [
            {"id": d.id, "name": d.name, "code": d.code or None, "budget": d.budget}
            for d in r.districts
        ],
        "rules": {
            "method": r.method,
            "min_selections": r.min_selections,
            "max_selections": r.max_selections,
            "points_total": r.points_total,
            "points_cap": r.points_cap,
            "rank_k": r.rank_k,
            "allocation_rule": r.allocation_rule,
            "threshold_votes": r.threshold_votes,
            "district_mode": r.district_mode,
            "comuna_wide_budget": r.comuna_wide_budget,
            "min_age": r.min_age,
            "age_reference_date": iso(r.age_reference_date),
            "eligibility": r.eligibility,
            "paper_conflict": r.paper_conflict,
        },
        "results_published_at": iso(r.results_published_at),
        "url": url_for(
            "budgeting.show_round", slug=r.municipality.slug, round_id=r.id, _external=True
        ),
    }


def proposal(p: Proposal) -> dict[str, Any]:
    """Describe a proposal as its public page does (no author)."""
    reviewed = p.status != ProposalStatus.SUBMITTED.value
    return {
        "id": p.id,
        "round_id": p.round_id,
        "district_id": p.district_id,
        "title": p.title,
        "summary": p.summary,
        "description": p.description,
        "theme": p.theme,
        "status": p.status,
        "on_ballot": p.on_ballot,
        "estimated_cost": p.estimated_cost,
        "final_cost": p.final_cost,
        "review_reason": p.review_reason if reviewed and p.review_reason else None,
        "merged_into_id": p.merged_into_id if p.status == ProposalStatus.MERGED.value else None,
        "address": p.address,
        "latitude": p.latitude,
        "longitude": p.longitude,
        "organization": named(p.organization),
        "implementer": named(p.implementer),
        "implementer_name": None if p.implementer_id else p.implementing_organization,
        "images": [
            {
                "url": url_for("budgeting.media", filename=i.filename, _external=True),
                "thumbnail_url": url_for("budgeting.media", filename=i.thumbnail, _external=True),
                "width": i.width,
                "height": i.height,
                "alt": i.alt_text,
            }
            for i in p.images
        ],
        "created_at": iso(p.created_at),
        "url": url_for(
            "budgeting.show_proposal",
            slug=p.round.municipality.slug,
            proposal_id=p.id,
            _external=True,
        ),
    }


def list_result(result: ListResult) -> dict[str, Any]:
    """Describe one list's outcome: every project with its votes, and the engine's why."""
    return {
        "list_key": result.list_key,
        "district_id": result.district_id,
        "district_name": result.district.name if result.district else None,
        "rule": result.rule,
        "budget": result.budget,
        "voters": result.voters,
        "total_cost": result.total_cost,
        "computed_at": iso(result.computed_at),
        "greedy_selected": result.greedy_selected,
        "detail": result.detail or {},
        "lines": [
            {
                "proposal_id": line.proposal_id,
                "title": line.proposal.title,
                "position": line.position,
                "votes": line.votes,
                "score": line.score,
                "cost": line.cost,
                "selected": line.selected,
                "selected_order": line.selected_order,
                "greedy_selected": line.greedy_selected,
            }
            for line in result.lines
        ],
    }


def programme(p: Programme) -> dict[str, Any]:
    """Describe a programme (its contact person is left out)."""
    return {
        "id": p.id,
        "code": p.code,
        "name": p.name,
        "agency": p.agency,
        "level": p.level,
        "region_cut": p.region_cut,
        "yearly_amount": p.yearly_amount,
        "period_start": iso(p.period_start),
        "period_end": iso(p.period_end),
        "axes": p.axis_list,
        "description": p.description,
        "eligibility_text": p.eligibility_text,
        "min_stalls": p.min_stalls,
        "legal_organization_required": p.legal_organization_required,
        "fair_kinds": p.fair_kind_list,
        "website": p.url,
        "active": p.active,
    }


def project(p: FundedProject, published_rounds: set[int]) -> dict[str, Any]:
    """Describe a funded project: money by programme, progress, milestones, photos."""
    slug = p.municipality.slug
    from_round = p.round_id in published_rounds
    return {
        "id": p.id,
        "open_data_id": open_data_id(p),
        "municipality_id": p.municipality_id,
        "round_id": p.round_id if from_round else None,
        "proposal_id": p.proposal_id if from_round else None,
        "title": p.title,
        "description": p.description,
        "theme": p.theme,
        "year": p.year,
        "status": p.status,
        "progress": p.progress,
        "budget": p.budget,
        "spent": p.spent,
        "funded_by_programmes": p.funded_total,
        "bip_code": p.bip_code,
        "start_date": iso(p.start_date),
        "end_date": iso(p.end_date),
        "district": p.district,
        "address": p.address,
        "comuna_cut": p.comuna_cut,
        "latitude": p.latitude,
        "longitude": p.longitude,
        "implementer": named(p.organization),
        "fundings": [
            {
                "programme_id": f.programme_id,
                "programme_code": f.programme.code,
                "programme_name": f.programme.name,
                "amount": f.amount,
                "agreement_ref": f.agreement_ref,
                "agreement_date": iso(f.agreement_date),
                "start_date": iso(f.start_date),
                "end_date": iso(f.end_date),
            }
            for f in p.fundings
        ],
        "milestones": [
            {"title": m.title, "planned_on": iso(m.planned_on), "done_on": iso(m.done_on)}
            for m in p.milestones
        ],
        "photos": [
            {
                "url": url_for(
                    "programmes.project_photo",
                    slug=slug,
                    project_id=p.id,
                    filename=photo.filename,
                    _external=True,
                ),
                "thumbnail_url": url_for(
                    "programmes.project_photo",
                    slug=slug,
                    project_id=p.id,
                    filename=photo.thumbnail,
                    _external=True,
                ),
                "width": photo.width,
                "height": photo.height,
                "caption": photo.caption,
            }
            for photo in p.photos
        ],
        "url": url_for("programmes.show_project", slug=slug, project_id=p.id, _external=True),
        "oc4ids_url": url_for(
            "programmes.project_json", slug=slug, project_id=p.id, _external=True
        ),
    }


def organization(o: Organization) -> dict[str, Any]:
    """Describe a verified organization (no email, phone or representative).

    The RUT is given, as a CL-RUT identifier, only for legal entities: an informal group's
    number may be a person's.
    """
    return {
        "id": o.id,
        "municipality_id": o.municipality_id,
        "name": o.name,
        "identifier": f"CL-RUT-{o.rut}" if o.is_legal_entity else None,
        "legal_form": o.legal_form,
        "sector": o.sector,
        "description": o.description,
        "products": o.products,
        "members_total": o.members_total,
        "members_women": o.members_women,
        "qualifiers": o.qualifiers,
        "opening_hours": o.opening_hours,
        "website": o.website or None,
        "social_url": o.social_url or None,
        "last_verified_on": iso(o.last_verified_on),
        "locations": [
            {
                "name": loc.name,
                "address": loc.address,
                "comuna_cut": loc.comuna_cut,
                "comuna": loc.comuna.name,
                "latitude": loc.latitude,
                "longitude": loc.longitude,
            }
            for loc in o.locations
        ],
        "url": url_for(
            "economy.organization", slug=o.municipality.slug, org_id=o.id, _external=True
        ),
    }


def fair(f: Fair, upcoming: list[Occurrence]) -> dict[str, Any]:
    """Describe a fair: its weekly schedules (Santiago wall time) and its next dates."""
    slug = f.municipality.slug
    return {
        "id": f.id,
        "municipality_id": f.municipality_id,
        "kind": f.kind,
        "name": f.name,
        "place": f.place,
        "latitude": f.latitude,
        "longitude": f.longitude,
        "stalls": f.stalls,
        "permit_number": f.permit_number,
        "categories": f.categories,
        "description": f.description,
        "timezone": str(SANTIAGO),
        "schedules": [
            {
                "freq": s.freq,
                "byday": s.days,
                "opens_at": _clock(s.opens_at),
                "closes_at": _clock(s.closes_at),
                "valid_from": iso(s.valid_from),
                "valid_to": iso(s.valid_to),
                "except_dates": [iso(e.day) for e in s.exceptions],
            }
            for s in f.schedules
        ],
        "one_offs": [
            {"date": iso(o.day), "opens_at": _clock(o.opens_at), "closes_at": _clock(o.closes_at)}
            for o in f.one_offs
        ],
        "next_dates": [
            {"start": iso(o.start.astimezone(SANTIAGO)), "end": iso(o.end.astimezone(SANTIAGO))}
            for o in upcoming
        ],
        "organizers": [n for n in (named(o) for o in f.organizers) if n],
        "vendors": [n for n in (named(o) for o in f.vendors) if n],
        "url": url_for("economy.fair", slug=slug, fair_id=f.id, _external=True),
        "ics_url": url_for("economy.fair_ics", slug=slug, fair_id=f.id, _external=True),
    }
