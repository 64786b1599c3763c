"""Writes and queries of programmes and funded projects; co-financing, lateness, duplicates."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from difflib import SequenceMatcher
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from portal.audit.services import changes, record
from portal.budgeting.models import THEMES as BUDGETING_THEMES
from portal.budgeting.models import Proposal, Round
from portal.economy.models import Fair, Organization
from portal.economy.services import normalized_name
from portal.geo.models import Comuna, Municipality
from portal.programmes.models import (
    AGENCIES,
    LEVELS,
    PROJECT_STATUSES,
    FundedProject,
    Milestone,
    Programme,
    ProjectFollow,
    ProjectFunding,
    ProjectPhoto,
)

THEMES = list(BUDGETING_THEMES)
PROGRAMME_FIELDS = [
    "code",
    "name",
    "agency",
    "level",
    "region_cut",
    "yearly_amount",
    "period_start",
    "period_end",
    "axes",
    "description",
    "eligibility_text",
    "min_stalls",
    "legal_organization_required",
    "fair_kinds",
    "url",
    "contact_name",
    "contact_email",
    "contact_phone",
    "active",
]
PROJECT_FIELDS = [
    "title",
    "description",
    "theme",
    "year",
    "status",
    "progress",
    "budget",
    "spent",
    "bip_code",
    "start_date",
    "end_date",
    "district",
    "address",
    "comuna_cut",
    "latitude",
    "longitude",
    "organization_id",
]
FUNDING_FIELDS = ["amount", "agreement_ref", "agreement_date", "start_date", "end_date"]
SIMILAR_TITLE = 0.85
SANTIAGO = ZoneInfo("America/Santiago")


class ProgrammeError(ValueError):
    """A write that cannot be done, with a code the view turns into a message."""

    def __init__(self, code: str, **details: Any) -> None:
        super().__init__(code)
        self.code = code
        self.details = details


# --- programmes -------------------------------------------------------------------------------


def _programme_snapshot(programme: Programme) -> dict[str, Any]:
    return {name: getattr(programme, name) for name in PROGRAMME_FIELDS}


def _clean_programme(values: dict[str, Any]) -> dict[str, Any]:
    clean = {k: v for k, v in values.items() if k in PROGRAMME_FIELDS}
    for key in (
        "code",
        "name",
        "axes",
        "description",
        "eligibility_text",
        "fair_kinds",
        "url",
        "contact_name",
        "contact_email",
        "contact_phone",
    ):
        if key in clean:
            clean[key] = (clean[key] or "").strip()
    if "code" in clean:
        clean["code"] = clean["code"].lower()
    if clean.get("agency") not in AGENCIES:
        raise ProgrammeError("unknown-agency")
    if clean.get("level") not in LEVELS:
        raise ProgrammeError("unknown-level")
    if clean.get("level") == "national":
        clean["region_cut"] = None
    elif not clean.get("region_cut"):
        raise ProgrammeError("region-required")
    start, end = clean.get("period_start"), clean.get("period_end")
    if start and end and end < start:
        raise ProgrammeError("end-before-start")
    clean["legal_organization_required"] = bool(clean.get("legal_organization_required"))
    clean["active"] = bool(clean.get("active", True))
    return clean


def _code_taken(session: Session, code: str, exclude_id: int | None = None) -> bool:
    statement = select(Programme.id).where(Programme.code == code)
    if exclude_id is not None:
        statement = statement.where(Programme.id != exclude_id)
    return session.scalar(statement) is not None


def create_programme(session: Session, values: dict[str, Any], *, actor: Any = None) -> Programme:
    """Add a programme to the catalogue (regional staff: their region; admins: any)."""
    clean = _clean_programme(values)
    if _code_taken(session, clean["code"]):
        raise ProgrammeError("code-taken")
    programme = Programme(**clean)
    session.add(programme)
    session.flush()
    record(
        session,
        "programme.create",
        "programme",
        programme.id,
        region_cut=programme.region_cut,
        after=_programme_snapshot(programme),
        actor=actor,
    )
    return programme


def update_programme(session: Session, programme: Programme, values: dict[str, Any]) -> bool:
    """Change a programme; return whether anything changed."""
    clean = _clean_programme(values)
    if _code_taken(session, clean["code"], exclude_id=programme.id):
        raise ProgrammeError("code-taken")
    before, after = changes(programme, PROGRAMME_FIELDS, clean)
    if not after:
        return False
    session.flush()
    record(
        session,
        "programme.update",
        "programme",
        programme.id,
        region_cut=programme.region_cut or before.get("region_cut"),
        before=before,
        after=after,
    )
    return True


def programmes_for_region(session: Session, region_cut: str | None) -> list[Programme]:
    """Return the active programmes open to a region: its own and the national ones."""
    statement = select(Programme).where(Programme.active.is_(True))
    if region_cut is not None:
        statement = statement.where(
            (Programme.region_cut == region_cut) | Programme.region_cut.is_(None)
        )
    return list(session.scalars(statement.order_by(Programme.name)))


# The programme the portal ships with (moved here from the economy's old rule table).
DEFAULT_PROGRAMMES: list[dict[str, Any]] = [
    {
        "code": "sercotec-ferias-libres",
        "name": "Fondo de Desarrollo de Ferias Libres",
        "agency": "sercotec",
        "level": "national",
        "region_cut": None,
        "min_stalls": 15,
        "legal_organization_required": True,
        "fair_kinds": "feria_libre",
        "eligibility_text": (
            "Ferias libres con al menos 15 puestos, representadas por una organización con "
            "personalidad jurídica (sindicato, asociación gremial o cooperativa)."
        ),
        "url": "https://www.sercotec.cl/",
    },
]


def ensure_default_programmes(session: Session) -> None:
    """Add the programmes the portal ships with, when missing (safe to run again)."""
    existing = set(session.scalars(select(Programme.code)))
    for data in DEFAULT_PROGRAMMES:
        if data["code"] not in existing:
            session.add(Programme(**data))
    session.flush()


# --- fair eligibility -------------------------------------------------------------------------


@dataclass
class Eligibility:
    """Whether a fair could apply to a programme, and what it lacks."""

    programme: Programme
    missing: list[tuple[str, dict[str, Any]]]

    @property
    def eligible(self) -> bool:
        """Tell whether nothing is missing."""
        return not self.missing


def fair_eligibility(session: Session, fair: Fair) -> list[Eligibility]:
    """Check a fair against every active programme of its region that has rules for fairs."""
    results = []
    for programme in programmes_for_region(session, fair.municipality.region_cut):
        if not programme.has_fair_rules:
            continue
        missing: list[tuple[str, dict[str, Any]]] = []
        if programme.fair_kind_list and fair.kind not in programme.fair_kind_list:
            missing.append(("kind", {"kinds": programme.fair_kind_list}))
        if programme.min_stalls is not None and (fair.stalls or 0) < programme.min_stalls:
            missing.append(("stalls", {"min": programme.min_stalls, "has": fair.stalls or 0}))
        if programme.legal_organization_required and not any(
            o.status == "verified" and o.is_legal_entity for o in fair.organizers
        ):
            missing.append(("legal-organization", {}))
        results.append(Eligibility(programme, missing))
    return results


# --- funded projects --------------------------------------------------------------------------


def _project_snapshot(project: FundedProject) -> dict[str, Any]:
    return {name: getattr(project, name) for name in PROJECT_FIELDS}


def _clean_project(
    session: Session, municipality: Municipality, values: dict[str, Any]
) -> dict[str, Any]:
    clean = {k: v for k, v in values.items() if k in PROJECT_FIELDS}
    for key in ("title", "description", "bip_code", "district", "address"):
        if key in clean:
            clean[key] = (clean[key] or "").strip()
    if not clean.get("title"):
        raise ProgrammeError("title-required")
    if clean.get("theme") not in THEMES:
        raise ProgrammeError("unknown-theme")
    if clean.get("status", "planned") not in PROJECT_STATUSES:
        raise ProgrammeError("unknown-status")
    if (clean.get("budget") or 0) < 0 or (clean.get("spent") or 0) < 0:
        raise ProgrammeError("negative-amount")
    progress = clean.get("progress") or 0
    if not 0 <= progress <= 100:
        raise ProgrammeError("bad-progress")
    clean["progress"] = 100 if clean.get("status") == "completed" else progress
    clean["spent"] = clean.get("spent") or 0
    start, end = clean.get("start_date"), clean.get("end_date")
    if start and end and end < start:
        raise ProgrammeError("end-before-start")
    clean["comuna_cut"] = clean.get("comuna_cut") or municipality.comuna_cut
    if clean["comuna_cut"] != municipality.comuna_cut:
        # A municipality funds projects in its own comuna only.
        raise ProgrammeError("other-comuna")
    org_id = clean.get("organization_id")
    if org_id:
        org = session.get(Organization, org_id)
        if org is None or org.municipality_id != municipality.id or org.status == "merged":
            raise ProgrammeError("unknown-organization")
    else:
        clean["organization_id"] = None
    if (clean.get("latitude") is None) != (clean.get("longitude") is None):
        raise ProgrammeError("half-coordinates")
    return clean


def create_project(
    session: Session,
    municipality: Municipality,
    values: dict[str, Any],
    *,
    round_id: int | None = None,
    proposal_id: int | None = None,
    actor: Any = None,
) -> FundedProject:
    """Register a funded project of a municipality."""
    clean = _clean_project(session, municipality, values)
    project = FundedProject(
        municipality_id=municipality.id,
        municipality=municipality,
        round_id=round_id,
        proposal_id=proposal_id,
        **clean,
    )
    session.add(project)
    session.flush()
    record(
        session,
        "project.create",
        "funded_project",
        project.id,
        municipality_id=municipality.id,
        after={**_project_snapshot(project), "round_id": round_id, "proposal_id": proposal_id},
        actor=actor,
    )
    return project


def update_project(session: Session, project: FundedProject, values: dict[str, Any]) -> bool:
    """Change a funded project; return whether anything changed."""
    clean = _clean_project(session, project.municipality, values)
    before, after = changes(project, PROJECT_FIELDS, clean)
    if not after:
        return False
    session.flush()
    record(
        session,
        "project.update",
        "funded_project",
        project.id,
        municipality_id=project.municipality_id,
        before=before,
        after=after,
    )
    return True


def _surviving(org: Organization | None) -> int | None:
    """The organization a record now stands for: itself, or the one it was merged into
    (merges before proposals followed them may still name a merged record)."""
    seen = set()
    while org is not None and org.merged_into is not None and org.id not in seen:
        seen.add(org.id)
        org = org.merged_into
    return org.id if org is not None and org.status != "merged" else None


def create_from_round_winners(
    session: Session, round_: Round, winners: Sequence[Proposal], actor: Any
) -> list[FundedProject]:
    """Turn the winners of a published round into funded projects (skips those already turned).

    Each project takes the proposal's final cost as its budget (its estimate when no final cost
    was set), its title, summary and description, district, place and the registry organization
    that would carry it out. The caller commits.
    """
    if not winners:
        return []
    done = set(
        session.scalars(
            select(FundedProject.proposal_id).where(
                FundedProject.proposal_id.in_([p.id for p in winners])
            )
        )
    )
    year = round_.implementation_start.astimezone(SANTIAGO).year
    created = []
    for proposal in winners:
        if proposal.id in done or proposal.round_id != round_.id:
            continue
        description = "\n\n".join(t for t in (proposal.summary, proposal.description) if t)
        has_point = proposal.latitude is not None and proposal.longitude is not None
        values = {
            "title": proposal.title[:200],
            "description": description,
            "theme": proposal.theme if proposal.theme in THEMES else "other",
            "year": year,
            "status": "planned",
            "progress": 0,
            "budget": proposal.final_cost
            if proposal.final_cost is not None
            else proposal.estimated_cost,
            "spent": 0,
            "district": proposal.district.name if proposal.district else "",
            "address": proposal.address or "",
            "comuna_cut": round_.municipality.comuna_cut,
            "latitude": proposal.latitude if has_point else None,
            "longitude": proposal.longitude if has_point else None,
            "organization_id": _surviving(proposal.implementer),
        }
        created.append(
            create_project(
                session,
                round_.municipality,
                values,
                round_id=round_.id,
                proposal_id=proposal.id,
                actor=actor,
            )
        )
        done.add(proposal.id)
    return created


# --- co-financing -----------------------------------------------------------------------------


def _funding_snapshot(funding: ProjectFunding) -> dict[str, Any]:
    return {
        "programme_id": funding.programme_id,
        **{k: getattr(funding, k) for k in FUNDING_FIELDS},
    }


def _clean_funding(values: dict[str, Any]) -> dict[str, Any]:
    clean = {k: v for k, v in values.items() if k in FUNDING_FIELDS}
    if clean.get("amount") is None or clean["amount"] < 0:
        raise ProgrammeError("negative-amount")
    clean["agreement_ref"] = (clean.get("agreement_ref") or "").strip()
    start, end = clean.get("start_date"), clean.get("end_date")
    if start and end and end < start:
        raise ProgrammeError("end-before-start")
    return clean


def add_funding(
    session: Session, project: FundedProject, programme: Programme, values: dict[str, Any]
) -> ProjectFunding:
    """Link a project to a programme with the amount it contributes."""
    clean = _clean_funding(values)
    region = project.municipality.region_cut
    if programme.region_cut not in (None, region) or not programme.active:
        raise ProgrammeError("programme-not-open")
    if any(f.programme_id == programme.id for f in project.fundings):
        raise ProgrammeError("already-linked")
    funding = ProjectFunding(programme_id=programme.id, programme=programme, **clean)
    project.fundings.append(funding)
    session.flush()
    record(
        session,
        "project.add_funding",
        "funded_project",
        project.id,
        municipality_id=project.municipality_id,
        after=_funding_snapshot(funding),
    )
    return funding


def remove_funding(session: Session, project: FundedProject, funding: ProjectFunding) -> None:
    """Unlink a programme from a project."""
    before = _funding_snapshot(funding)
    project.fundings.remove(funding)
    session.flush()
    record(
        session,
        "project.remove_funding",
        "funded_project",
        project.id,
        municipality_id=project.municipality_id,
        before=before,
    )


@dataclass
class FundingSummary:
    """The contributions of programmes against a project's budget."""

    budget: int
    funded: int

    @property
    def over(self) -> int:
        """Return how much the contributions exceed the budget (0 when they do not)."""
        return max(self.funded - self.budget, 0)

    @property
    def own(self) -> int:
        """Return what the programmes leave to the municipality's own funds."""
        return max(self.budget - self.funded, 0)


def funding_summary(project: FundedProject) -> FundingSummary:
    """Sum the contributions of a project's programmes against its budget."""
    return FundingSummary(project.budget, project.funded_total)


# --- milestones and photos --------------------------------------------------------------------


def add_milestone(
    session: Session, project: FundedProject, title: str, planned_on: date, done_on: date | None
) -> Milestone:
    """Add a milestone with its planned date (and done date, when already reached)."""
    if not title.strip():
        raise ProgrammeError("title-required")
    milestone = Milestone(title=title.strip(), planned_on=planned_on, done_on=done_on)
    project.milestones.append(milestone)
    session.flush()
    record(
        session,
        "project.add_milestone",
        "funded_project",
        project.id,
        municipality_id=project.municipality_id,
        after={
            "milestone": milestone.id,
            "title": milestone.title,
            "planned_on": planned_on,
            "done_on": done_on,
        },
    )
    return milestone


def set_milestone_done(
    session: Session, project: FundedProject, milestone: Milestone, done_on: date | None
) -> None:
    """Record the date a milestone was reached (None: not reached)."""
    if milestone.done_on == done_on:
        return
    before = milestone.done_on
    milestone.done_on = done_on
    session.flush()
    record(
        session,
        "project.milestone_done",
        "funded_project",
        project.id,
        municipality_id=project.municipality_id,
        before={"milestone": milestone.id, "done_on": before},
        after={"milestone": milestone.id, "done_on": done_on},
    )


def remove_milestone(session: Session, project: FundedProject, milestone: Milestone) -> None:
    """Remove a milestone."""
    before = {
        "milestone": milestone.id,
        "title": milestone.title,
        "planned_on": milestone.planned_on,
        "done_on": milestone.done_on,
    }
    project.milestones.remove(milestone)
    session.flush()
    record(
        session,
        "project.remove_milestone",
        "funded_project",
        project.id,
        municipality_id=project.municipality_id,
        before=before,
    )


def add_photo(
    session: Session,
    project: FundedProject,
    filename: str,
    thumbnail: str,
    width: int,
    height: int,
    caption: str,
) -> ProjectPhoto:
    """Attach a stored (already re-encoded) photo of progress."""
    photo = ProjectPhoto(
        filename=filename,
        thumbnail=thumbnail,
        width=width,
        height=height,
        caption=caption.strip()[:200],
    )
    project.photos.append(photo)
    session.flush()
    record(
        session,
        "project.add_photo",
        "funded_project",
        project.id,
        municipality_id=project.municipality_id,
        after={"photo": photo.id, "filename": filename, "caption": photo.caption},
    )
    return photo


def remove_photo(session: Session, project: FundedProject, photo: ProjectPhoto) -> None:
    """Detach a photo (the caller deletes the files after the commit)."""
    before = {"photo": photo.id, "filename": photo.filename, "caption": photo.caption}
    project.photos.remove(photo)
    session.flush()
    record(
        session,
        "project.remove_photo",
        "funded_project",
        project.id,
        municipality_id=project.municipality_id,
        before=before,
    )


# --- follows ----------------------------------------------------------------------------------


def is_following(session: Session, user: Any, project: FundedProject) -> bool:
    """Tell whether a user follows a project."""
    return session.get(ProjectFollow, (user.id, project.id)) is not None


def set_following(session: Session, user: Any, project: FundedProject, follow: bool) -> None:
    """Follow or stop following a project."""
    existing = session.get(ProjectFollow, (user.id, project.id))
    if follow and existing is None:
        session.add(ProjectFollow(user_id=user.id, project_id=project.id))
    elif not follow and existing is not None:
        session.delete(existing)
    session.flush()


def followed_projects(session: Session, user: Any) -> list[FundedProject]:
    """Return the projects a user follows, newest first."""
    return list(
        session.scalars(
            select(FundedProject)
            .join(ProjectFollow, ProjectFollow.project_id == FundedProject.id)
            .where(ProjectFollow.user_id == user.id)
            .order_by(ProjectFollow.created_at.desc(), FundedProject.id.desc())
        )
    )


# --- the regional view ------------------------------------------------------------------------


@dataclass
class ProjectFilters:
    """What the regional view is narrowed to (empty: everything)."""

    comuna: str = ""
    programme: int | None = None
    status: str = ""
    theme: str = ""
    year: int | None = None


def region_projects_query(region_cut: str, filters: ProjectFilters) -> Select[tuple[FundedProject]]:
    """Select the funded projects of a region's comunas, narrowed by the filters."""
    statement = (
        select(FundedProject)
        .join(Comuna, Comuna.cut == FundedProject.comuna_cut)
        .where(Comuna.region_cut == region_cut)
    )
    if filters.comuna:
        statement = statement.where(FundedProject.comuna_cut == filters.comuna)
    if filters.programme is not None:
        statement = statement.where(
            FundedProject.fundings.any(ProjectFunding.programme_id == filters.programme)
        )
    if filters.status:
        statement = statement.where(FundedProject.status == filters.status)
    if filters.theme:
        statement = statement.where(FundedProject.theme == filters.theme)
    if filters.year is not None:
        statement = statement.where(FundedProject.year == filters.year)
    return statement.order_by(Comuna.name, FundedProject.year.desc(), FundedProject.title)


@dataclass
class Total:
    """A line of a totals table: what it groups by, the projects and the money."""

    key: Any
    label: str
    projects: int = 0
    amount: int = 0
    budget: int = 0


def totals_by_programme(projects: Iterable[FundedProject]) -> list[Total]:
    """Sum the programmes' contributions to these projects, largest first."""
    totals: dict[int, Total] = {}
    for project in projects:
        for funding in project.fundings:
            total = totals.setdefault(
                funding.programme_id, Total(funding.programme_id, funding.programme.name)
            )
            total.projects += 1
            total.amount += funding.amount
            total.budget += project.budget
    return sorted(totals.values(), key=lambda t: (-t.amount, t.label))


def totals_by_comuna(projects: Iterable[FundedProject]) -> list[Total]:
    """Sum the budgets and programme contributions of these projects per comuna."""
    totals: dict[str, Total] = {}
    for project in projects:
        total = totals.setdefault(
            project.comuna_cut, Total(project.comuna_cut, project.comuna.name)
        )
        total.projects += 1
        total.budget += project.budget
        total.amount += project.funded_total
    return sorted(totals.values(), key=lambda t: (-t.budget, t.label))


def late_projects(
    projects: Iterable[FundedProject], today: date
) -> list[tuple[FundedProject, list[Milestone]]]:
    """Return the projects with milestones past their planned date and not done."""
    found = []
    for project in projects:
        late = project.late_milestones(today)
        if late:
            found.append((project, late))
    return found


@dataclass
class DuplicateWarning:
    """Two projects that may fund the same thing twice, and why."""

    kind: str  # "organization", "title" or "comunas"
    first: FundedProject
    second: FundedProject
    programmes: list[Programme] = field(default_factory=list)
    ratio: float = 1.0


def _overlaps(a: tuple[date, date], b: tuple[date, date]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def title_similarity(first: str, second: str) -> float:
    """Return how alike two titles are, from 0 to 1, ignoring case, accents and punctuation."""
    a, b = normalized_name(first), normalized_name(second)
    if not a or not b:
        return 0.0
    matcher = SequenceMatcher(None, a, b)
    if matcher.real_quick_ratio() < SIMILAR_TITLE or matcher.quick_ratio() < SIMILAR_TITLE:
        return 0.0
    return matcher.ratio()


def duplicate_warnings(projects: Sequence[FundedProject]) -> list[DuplicateWarning]:
    """Find projects that may be funded twice.

    - the same implementing organization, funded by two or more programmes in overlapping periods;
    - near-identical titles in one comuna, funded by programmes in overlapping periods;
    - near-identical titles in two comunas, funded by the same programme in overlapping periods.
    """
    live = [p for p in projects if p.status != "cancelled" and p.fundings]
    warnings: list[DuplicateWarning] = []
    for i, first in enumerate(live):
        for second in live[i + 1 :]:
            pairs = [
                (a, b)
                for a in first.fundings
                for b in second.fundings
                if _overlaps(a.period, b.period)
            ]
            if not pairs:
                continue
            programmes = {a.programme_id: a.programme for a, _ in pairs}
            programmes.update({b.programme_id: b.programme for _, b in pairs})
            involved = sorted(programmes.values(), key=lambda p: p.name)
            shared = sorted(
                {
                    a.programme_id: a.programme
                    for a, b in pairs
                    if a.programme_id == b.programme_id
                }.values(),
                key=lambda p: p.name,
            )
            same_org = (
                first.organization_id is not None
                and first.organization_id == second.organization_id
            )
            if same_org and len(programmes) >= 2:
                warnings.append(DuplicateWarning("organization", first, second, involved))
                continue
            ratio = title_similarity(first.title, second.title)
            if ratio < SIMILAR_TITLE:
                continue
            if first.comuna_cut == second.comuna_cut:
                warnings.append(DuplicateWarning("title", first, second, involved, ratio))
            elif shared:
                warnings.append(DuplicateWarning("comunas", first, second, shared, ratio))
    return warnings
