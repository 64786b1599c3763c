"""Public round pages, resident proposals, and the staff desk for rounds."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Select, bindparam, or_, select
from sqlalchemy.orm import Session, contains_eager, lazyload, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.wrappers import Response

from portal.accounts.auth import login_required_view, municipal_staff_required
from portal.accounts.forms import ConfirmForm
from portal.budgeting import bp
from portal.budgeting.census import census_size, parse_census, replace_census
from portal.budgeting.forms import (
    THEME_LABELS,
    CensusForm,
    DistrictForm,
    MergeForm,
    ProposalForm,
    ReviewForm,
    RoundForm,
    RulesForm,
    WithdrawForm,
)
from portal.budgeting.images import ImageRejected, store_image
from portal.budgeting.messages import census_problem_text, image_problem_text, round_error_text
from portal.budgeting.models import (
    District,
    Phase,
    Proposal,
    ProposalImage,
    ProposalStatus,
    Round,
)
from portal.budgeting.phases import current_phase, next_step, timeline
from portal.budgeting.services import (
    PROPOSAL_FIELDS,
    ROUND_FIELDS,
    RULE_FIELDS,
    RoundError,
    advance_phase,
    budget_problem,
    create_round,
    delete_district,
    edit_proposal,
    merge_proposal,
    publish_round,
    review_proposal,
    rules_frozen,
    save_district,
    submit_proposal,
    update_round,
    update_rules,
    withdraw_proposal,
)
from portal.database import REQUEST_CLOCK, shared_now
from portal.extensions import db
from portal.geo.models import Municipality
from portal.geo.services import municipality_by_slug
from portal.pagecache import cached_public_page, fresh_until, remember
from portal.pagination import paginate

MAX_IMAGES = 3


def upload_folder() -> Path:
    """Return where uploaded images are kept."""
    return Path(current_app.instance_path) / "uploads"


def public_municipality(slug: str) -> Municipality:
    """Find the municipality of a public URL or answer 404."""
    municipality = municipality_by_slug(db.session, slug)
    if municipality is None:
        abort(404)
    return municipality


@cache
def public_round_statement(with_districts: bool = False) -> Select[Any]:
    """Build once (on first use, when every model is mapped) the query the vote-day pages run on
    every request; SQLAlchemy then skips rebuilding it and its cache key. Values are bound.
    ``with_districts`` adds the round's districts as the second column, a row each (one row with
    none)."""
    columns: list[Any] = [Round]
    if with_districts:
        columns.append(District)
    statement = (
        select(*columns)
        .join(Round.municipality)
        .options(contains_eager(Round.municipality))
        .where(
            Round.id == bindparam("round_id"),
            Round.published_at.is_not(None),
            Municipality.slug == bindparam("slug"),
            Municipality.active.is_(True),
        )
    )
    if with_districts:
        statement = statement.outerjoin(District, District.round_id == Round.id).order_by(
            District.name
        )
    return statement


def _read_public_round(session: Session, slug: str, round_id: int, districts: bool) -> Round | None:
    """Read a published round of an active municipality, with its municipality and, if asked,
    its districts, in one query."""
    rows = session.execute(
        public_round_statement(districts), {"round_id": round_id, "slug": slug}
    ).all()
    if not rows:
        return None
    round_: Round = rows[0][0]
    if districts:
        set_committed_value(round_, "districts", [row[1] for row in rows if row[1] is not None])
    return round_


def _kept_public_round(slug: str, round_id: int) -> tuple[Round, frozenset[Any]] | None:
    """Read a published round, with its municipality and districts, into a session of its own
    and close it: the copies stay, detached, to be kept by `remember`, with the identity of
    every object loaded with them. The read goes through the request's connection (a request
    never holds two of the pool's)."""
    with Session(bind=db.session.connection()) as own:
        round_ = _read_public_round(own, slug, round_id, districts=True)
        return None if round_ is None else (round_, frozenset(own.identity_map.keys()))


def public_round_of(
    slug: str, round_id: int, *, districts: bool = False, kept: bool = False
) -> tuple[Municipality, Round]:
    """Find a published round of an active municipality from a public URL, or 404.

    ``kept``: for the vote-day pages (the round's page, the check, the ballot, the
    confirmation), which ask for it on every request and decide nothing from it that the ballot
    does not decide again under its lock (`cast_ballot`). Each process keeps a detached copy of
    the round, its municipality and its districts like the public pages (`remember`: a few
    seconds, forgotten by a commit that changes anything but ballots) and puts it in the
    request's session without a query (``merge(load=False)``). A request whose session holds
    any of them already reads the round instead. Other pages (proposals, results) read it
    (``districts``: with its districts, in the same query).

    The request then goes by the database's clock on PostgreSQL (`shared_now`, `request_now`):
    every instance shows alike whether voting is open."""
    round_: Round | None = None
    if kept and current_app.config["PUBLIC_PAGE_CACHE_SECONDS"]:
        found = remember(
            ("public-round", slug, round_id), lambda: _kept_public_round(slug, round_id)
        )
        if found is None:
            abort(404)
        copy, identities = found
        # A merge would put the kept values over what the session holds of them already (a
        # staff member's municipality, with their pending edit): such a request reads instead.
        if not any(identity in db.session.identity_map for identity in identities):
            round_ = db.session.merge(copy, load=False)
    if round_ is None:
        round_ = _read_public_round(db.session, slug, round_id, districts)
    if round_ is None:
        abort(404)
    request.environ[REQUEST_CLOCK] = shared_now(db.session)
    return round_.municipality, round_


def _staff_round(round_id: int) -> Round:
    """Find a round of the staff member's municipality (g.municipality) or answer 404."""
    round_ = db.session.get(Round, round_id)
    if round_ is None or round_.municipality_id != g.municipality.id:
        abort(404)
    return round_


def _staff_proposal(proposal_id: int) -> Proposal:
    """Find a proposal of the staff member's municipality or answer 404."""
    proposal = db.session.get(Proposal, proposal_id)
    if proposal is None or proposal.round.municipality_id != g.municipality.id:
        abort(404)
    return proposal


def district_choices(round_: Round, *, blank: Any = None) -> list[tuple[str, Any]]:
    """List a round's districts for a select (empty value: the comuna-wide list)."""
    choices = [(str(d.id), d.name) for d in round_.districts]
    if blank is not None:
        choices.insert(0, ("", blank))
    return choices


# ----------------------------------------------------------------------------- public pages


@bp.route("/<slug>/rondas/")
def list_rounds(slug: str) -> str:
    """List a municipality's published rounds."""
    municipality = public_municipality(slug)
    rounds = db.session.scalars(
        select(Round)
        .where(Round.municipality_id == municipality.id, Round.published_at.is_not(None))
        .order_by(Round.proposals_start.desc())
    ).all()
    return render_template(
        "budgeting/rounds_list.html",
        municipality=municipality,
        rounds=rounds,
        phase_of=current_phase,
    )


def _no_ballot_waiting(slug: str, round_id: int) -> bool:
    from portal.voting.views import ballot_waiting

    return not ballot_waiting(round_id)


@bp.route("/<slug>/rondas/<int:round_id>")
@cached_public_page(applies=_no_ballot_waiting)
def show_round(slug: str, round_id: int) -> str:
    """Show where a round stands, what comes next, its districts and its rules; while voting
    is open, the eligibility check starts right here (one page fewer on a slow phone)."""
    from portal.voting.forms import CheckForm
    from portal.voting.services import voting_open
    from portal.voting.views import ballot_waiting

    municipality, round_ = public_round_of(slug, round_id, kept=True)
    counts = dict(
        db.session.execute(
            select(Proposal.status, db.func.count())
            .where(Proposal.round_id == round_.id)
            .group_by(Proposal.status)
        ).all()
    )
    upcoming = next_step(round_)
    fresh_until(upcoming[1] if upcoming else None)
    waiting = ballot_waiting(round_.id)
    voting = voting_open(round_)
    return render_template(
        "budgeting/round_show.html",
        municipality=municipality,
        round=round_,
        phase=current_phase(round_),
        voting_open=voting,
        upcoming=upcoming,
        steps=timeline(round_),
        counts=counts,
        themes=THEME_LABELS,
        ballot_waiting=waiting,
        check_form=(
            CheckForm(formdata=None)
            if voting and not waiting and not current_user.is_authenticated
            else None
        ),
    )


@bp.route("/<slug>/rondas/<int:round_id>/propuestas")
def list_proposals(slug: str, round_id: int) -> str:
    """List a round's proposals with filters and search."""
    municipality, round_ = public_round_of(slug, round_id)
    statement = select(Proposal).where(Proposal.round_id == round_.id)
    district = request.args.get("sector", "")
    theme = request.args.get("tema", "")
    status = request.args.get("estado", "")
    query = request.args.get("q", "").strip()[:100]
    if district == "comuna":
        statement = statement.where(Proposal.district_id.is_(None))
    elif district.isdigit():
        statement = statement.where(Proposal.district_id == int(district))
    if theme in THEME_LABELS:
        statement = statement.where(Proposal.theme == theme)
    if status in {s.value for s in ProposalStatus}:
        statement = statement.where(Proposal.status == status)
    if query:
        statement = statement.where(Proposal.matching(query))
    # the cards show each proposal's first image; their round is the one already loaded
    statement = statement.options(selectinload(Proposal.images), lazyload(Proposal.round))
    page = paginate(statement.order_by(Proposal.created_at.desc(), Proposal.id.desc()), per_page=20)
    return render_template(
        "budgeting/proposals_list.html",
        municipality=municipality,
        round=round_,
        page=page,
        filters={"sector": district, "tema": theme, "estado": status, "q": query},
        themes=THEME_LABELS,
    )


@bp.route("/<slug>/propuestas/<int:proposal_id>")
def show_proposal(slug: str, proposal_id: int) -> str:
    """Show one proposal, its review and, when merged, where it went."""
    municipality = public_municipality(slug)
    proposal = db.session.get(Proposal, proposal_id)
    if (
        proposal is None
        or proposal.round.municipality_id != municipality.id
        or proposal.round.published_at is None
    ):
        abort(404)
    can_edit = (
        current_user.is_authenticated
        and proposal.author_id == current_user.id
        and proposal.status == ProposalStatus.SUBMITTED.value
        and current_phase(proposal.round) == Phase.PROPOSALS
    )
    return render_template(
        "budgeting/proposal_show.html",
        municipality=municipality,
        proposal=proposal,
        round=proposal.round,
        can_edit=can_edit,
        themes=THEME_LABELS,
    )


def _proposal_form(round_: Round, proposal: Proposal | None = None) -> ProposalForm:
    from portal.economy.models import Organization

    form = ProposalForm(obj=proposal)
    form.theme.choices = [(t, THEME_LABELS[t]) for t in round_.themes if t in THEME_LABELS]
    form.district_id.choices = district_choices(round_, blank=_("The whole comuna"))
    verified = list(
        db.session.scalars(
            select(Organization)
            .where(
                Organization.municipality_id == round_.municipality_id,
                Organization.status == "verified",
            )
            .order_by(Organization.name)
        )
    )
    represented = [o for o in verified if o.representative_user_id == current_user.id]
    form.organization_id.choices = [("", _("Myself, as a resident"))] + [
        (str(o.id), o.name) for o in represented
    ]
    form.implementer_id.choices = [("", _("None, or another one (name it below)"))] + [
        (str(o.id), o.name) for o in verified
    ]
    if proposal is not None and not form.is_submitted():
        form.district_id.data = str(proposal.district_id or "")
    for select_field in (form.organization_id, form.implementer_id):
        if select_field.data is None:  # WTForms leaves a missing id as None: the empty choice
            select_field.data = ""
    return form


def _proposal_values(form: ProposalForm) -> dict[str, Any]:
    values = {k: getattr(form, k).data for k in PROPOSAL_FIELDS}
    for key in ("district_id", "organization_id", "implementer_id"):
        values[key] = int(values[key]) if values[key] else None
    for key in ("latitude", "longitude"):
        values[key] = float(values[key]) if values[key] is not None else None
    for key in ("address", "implementing_organization"):
        values[key] = (values[key] or "").strip() or None
    return values


def _save_images(form: ProposalForm, proposal: Proposal) -> bool:
    """Store the uploaded images; on a bad one, add the error to the form and store none."""
    files = [f for f in (form.images.data or []) if getattr(f, "filename", "")]
    if len(files) + len(proposal.images) > MAX_IMAGES:
        form.images.errors.append(_("A proposal can have at most %(n)d images.", n=MAX_IMAGES))
        return False
    stored = []
    for file in files:
        try:
            stored.append(store_image(file.stream, upload_folder()))
        except ImageRejected as error:
            for image in stored:
                (upload_folder() / image.filename).unlink(missing_ok=True)
                (upload_folder() / image.thumbnail).unlink(missing_ok=True)
            form.images.errors.append(image_problem_text(error.code, file.filename))
            return False
    for position, image in enumerate(stored, start=len(proposal.images)):
        proposal.images.append(
            ProposalImage(
                filename=image.filename,
                thumbnail=image.thumbnail,
                width=image.width,
                height=image.height,
                position=position,
                alt_text=proposal.title,
            )
        )
    return True


@bp.route("/<slug>/rondas/<int:round_id>/proponer", methods=["GET", "POST"])
@login_required_view
def propose(slug: str, round_id: int) -> str | Response:
    """Submit a proposal during the proposal phase."""
    municipality, round_ = public_round_of(slug, round_id)
    if current_phase(round_) != Phase.PROPOSALS:
        flash(_("This round is not taking proposals now."), "error")
        return redirect(url_for("budgeting.show_round", slug=slug, round_id=round_.id))
    form = _proposal_form(round_)
    if form.validate_on_submit():
        proposal = submit_proposal(db.session, round_, current_user, _proposal_values(form))
        if _save_images(form, proposal):
            db.session.commit()
            flash(
                _(
                    "Your proposal has been received. Staff will review it after the proposal phase."
                ),
                "success",
            )
            return redirect(url_for("budgeting.show_proposal", slug=slug, proposal_id=proposal.id))
        db.session.rollback()
    return render_template(
        "budgeting/proposal_form.html",
        municipality=municipality,
        round=round_,
        form=form,
        proposal=None,
    )


@bp.route("/<slug>/propuestas/<int:proposal_id>/editar", methods=["GET", "POST"])
@login_required_view
def edit_proposal_view(slug: str, proposal_id: int) -> str | Response:
    """Let the author change their proposal until the proposal phase ends."""
    municipality = public_municipality(slug)
    proposal = db.session.get(Proposal, proposal_id)
    if proposal is None or proposal.round.municipality_id != municipality.id:
        abort(404)
    if proposal.author_id != current_user.id:
        abort(403)
    round_ = proposal.round
    if (
        current_phase(round_) != Phase.PROPOSALS
        or proposal.status != ProposalStatus.SUBMITTED.value
    ):
        flash(_("This proposal can no longer be changed."), "error")
        return redirect(url_for("budgeting.show_proposal", slug=slug, proposal_id=proposal.id))
    form = _proposal_form(round_, proposal)
    if form.validate_on_submit():
        edit_proposal(db.session, proposal, _proposal_values(form))
        if _save_images(form, proposal):
            db.session.commit()
            flash(_("The changes have been saved."), "success")
            return redirect(url_for("budgeting.show_proposal", slug=slug, proposal_id=proposal.id))
        db.session.rollback()
    return render_template(
        "budgeting/proposal_form.html",
        municipality=municipality,
        round=round_,
        form=form,
        proposal=proposal,
    )


@bp.route("/cuenta/propuestas")
@login_required_view
def my_proposals() -> str:
    """List the signed-in resident's proposals and where each stands."""
    proposals = db.session.scalars(
        select(Proposal)
        .where(Proposal.author_id == current_user.id)
        .order_by(Proposal.created_at.desc())
    ).all()
    return render_template("budgeting/my_proposals.html", proposals=proposals)


@bp.route("/media/<path:filename>")
def media(filename: str) -> Response:
    """Serve a stored proposal image (names are random; nothing else lives there)."""
    if "/" in filename or not filename.endswith(".jpg"):
        abort(404)
    image = db.session.scalar(
        select(ProposalImage).where(
            or_(ProposalImage.filename == filename, ProposalImage.thumbnail == filename)
        )
    )
    if image is None or image.proposal.round.published_at is None:
        abort(404)
    response = send_from_directory(upload_folder(), filename, max_age=31536000)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


# ----------------------------------------------------------------------------- staff desk


@bp.route("/gestion/<slug>/rondas/")
@municipal_staff_required
def staff_rounds(slug: str) -> str:
    """List every round of the municipality, drafts included."""
    rounds = db.session.scalars(
        select(Round)
        .where(Round.municipality_id == g.municipality.id)
        .order_by(Round.proposals_start.desc())
    ).all()
    return render_template(
        "budgeting/staff_rounds.html",
        municipality=g.municipality,
        rounds=rounds,
        phase_of=current_phase,
    )


@bp.route("/gestion/<slug>/rondas/nueva", methods=["GET", "POST"])
@municipal_staff_required
def create_round_view(slug: str) -> str | Response:
    """Create a draft round."""
    form = RoundForm()
    if form.validate_on_submit():
        try:
            round_ = create_round(
                db.session, g.municipality, {k: getattr(form, k).data for k in ROUND_FIELDS}
            )
        except RoundError as error:
            form.proposals_start.errors.append(round_error_text(error))
        else:
            db.session.commit()
            flash(
                _(
                    "The round has been created as a draft. Add districts and rules, then publish it."
                ),
                "success",
            )
            return redirect(url_for("budgeting.staff_round", slug=slug, round_id=round_.id))
    return render_template(
        "budgeting/round_form.html", municipality=g.municipality, form=form, round=None
    )


@bp.route("/gestion/<slug>/rondas/<int:round_id>")
@municipal_staff_required
def staff_round(slug: str, round_id: int) -> str:
    """Show a round's desk: phase, budget check, districts, rules, proposals, census."""
    round_ = _staff_round(round_id)
    counts = dict(
        db.session.execute(
            select(Proposal.status, db.func.count())
            .where(Proposal.round_id == round_.id)
            .group_by(Proposal.status)
        ).all()
    )
    return render_template(
        "budgeting/staff_round.html",
        municipality=g.municipality,
        round=round_,
        phase=current_phase(round_),
        upcoming=next_step(round_),
        steps=timeline(round_),
        problem=budget_problem(round_),
        problem_text=round_error_text,
        frozen=rules_frozen(db.session, round_),
        counts=counts,
        census=census_size(db.session, round_),
        confirm=ConfirmForm(),
        themes=THEME_LABELS,
    )


@bp.route("/gestion/<slug>/rondas/<int:round_id>/editar", methods=["GET", "POST"])
@municipal_staff_required
def edit_round(slug: str, round_id: int) -> str | Response:
    """Change a round's description, budget, themes and dates."""
    round_ = _staff_round(round_id)
    form = RoundForm(obj=round_)
    if form.validate_on_submit():
        try:
            update_round(db.session, round_, {k: getattr(form, k).data for k in ROUND_FIELDS})
        except RoundError as error:
            db.session.rollback()
            target = form.total_budget if error.code == "frozen" else form.proposals_start
            target.errors.append(round_error_text(error))
        else:
            db.session.commit()
            flash(_("The changes have been saved."), "success")
            return redirect(url_for("budgeting.staff_round", slug=slug, round_id=round_.id))
    return render_template(
        "budgeting/round_form.html", municipality=g.municipality, form=form, round=round_
    )


@bp.route("/gestion/<slug>/rondas/<int:round_id>/publicar", methods=["POST"])
@municipal_staff_required
def publish(slug: str, round_id: int) -> Response:
    """Publish a draft round."""
    return _round_step(slug, round_id, publish_round, lambda: _("The round is published."))


def _round_step(
    slug: str, round_id: int, step: Callable[[Any, Round], Any], done: Callable[[], str]
) -> Response:
    """Confirm, take a step on a round, flash its outcome and go back to the round's page."""
    round_ = _staff_round(round_id)
    if ConfirmForm().validate_on_submit():
        try:
            step(db.session, round_)
        except RoundError as error:
            flash(round_error_text(error), "error")
        else:
            db.session.commit()
            flash(done(), "success")
    return redirect(url_for("budgeting.staff_round", slug=slug, round_id=round_.id))


@bp.route("/gestion/<slug>/rondas/<int:round_id>/avanzar", methods=["POST"])
@municipal_staff_required
def advance(slug: str, round_id: int) -> Response:
    """Start the next phase now."""
    expected = request.args.get("fase", "")  # the phase the page offered to start
    return _round_step(
        slug,
        round_id,
        lambda session, round_: advance_phase(session, round_, expected=expected),
        lambda: _("The round has moved on to the next phase."),
    )


@bp.route("/gestion/<slug>/rondas/<int:round_id>/reglas", methods=["GET", "POST"])
@municipal_staff_required
def edit_rules(slug: str, round_id: int) -> str | Response:
    """Choose the voting rules (until they are frozen)."""
    round_ = _staff_round(round_id)
    frozen = rules_frozen(db.session, round_)
    form = RulesForm(obj=round_)
    if form.validate_on_submit():
        values = {k: getattr(form, k).data for k in RULE_FIELDS}
        values["comuna_wide_budget"] = values["comuna_wide_budget"] or 0
        try:
            update_rules(db.session, round_, values)
        except RoundError as error:
            db.session.rollback()
            form.method.errors.append(round_error_text(error))
        else:
            db.session.commit()
            flash(_("The voting rules have been saved."), "success")
            return redirect(url_for("budgeting.staff_round", slug=slug, round_id=round_.id))
    return render_template(
        "budgeting/rules_form.html",
        municipality=g.municipality,
        round=round_,
        form=form,
        frozen=frozen,
    )


@bp.route("/gestion/<slug>/rondas/<int:round_id>/sectores", methods=["GET", "POST"])
@bp.route(
    "/gestion/<slug>/rondas/<int:round_id>/sectores/<int:district_id>", methods=["GET", "POST"]
)
@municipal_staff_required
def edit_district(slug: str, round_id: int, district_id: int | None = None) -> str | Response:
    """Add a district, or change one."""
    round_ = _staff_round(round_id)
    district = None
    if district_id is not None:
        district = db.session.get(District, district_id)
        if district is None or district.round_id != round_.id:
            abort(404)
    form = DistrictForm(obj=district)
    if form.validate_on_submit():
        values = {
            "name": (form.name.data or "").strip(),
            "code": (form.code.data or "").strip() or None,
            "budget": form.budget.data,
        }
        try:
            save_district(db.session, round_, values, district)
        except RoundError as error:
            db.session.rollback()
            form.name.errors.append(round_error_text(error))
        else:
            db.session.commit()
            flash(_("The district has been saved."), "success")
            return redirect(url_for("budgeting.staff_round", slug=slug, round_id=round_.id))
    return render_template(
        "budgeting/district_form.html",
        municipality=g.municipality,
        round=round_,
        form=form,
        district=district,
    )


@bp.route(
    "/gestion/<slug>/rondas/<int:round_id>/sectores/<int:district_id>/eliminar", methods=["POST"]
)
@municipal_staff_required
def remove_district(slug: str, round_id: int, district_id: int) -> Response:
    """Remove a district nothing refers to."""
    round_ = _staff_round(round_id)
    district = db.session.get(District, district_id)
    if district is None or district.round_id != round_.id:
        abort(404)
    if ConfirmForm().validate_on_submit():
        try:
            delete_district(db.session, round_, district)
        except RoundError as error:
            db.session.rollback()
            flash(round_error_text(error), "error")
        else:
            db.session.commit()
            flash(_("The district has been removed."), "success")
    return redirect(url_for("budgeting.staff_round", slug=slug, round_id=round_.id))


@bp.route("/gestion/<slug>/rondas/<int:round_id>/propuestas")
@municipal_staff_required
def review_list(slug: str, round_id: int) -> str:
    """List a round's proposals for review, the unreviewed first."""
    round_ = _staff_round(round_id)
    status = request.args.get("estado", "")
    statement = select(Proposal).where(Proposal.round_id == round_.id)
    if status in {s.value for s in ProposalStatus}:
        statement = statement.where(Proposal.status == status)
    order = db.case((Proposal.status == ProposalStatus.SUBMITTED.value, 0), else_=1)
    page = paginate(statement.order_by(order, Proposal.id), per_page=30)
    return render_template(
        "budgeting/review_list.html",
        municipality=g.municipality,
        round=round_,
        page=page,
        status=status,
        themes=THEME_LABELS,
    )


@bp.route("/gestion/<slug>/propuestas/<int:proposal_id>", methods=["GET", "POST"])
@municipal_staff_required
def review(slug: str, proposal_id: int) -> str | Response:
    """Review a proposal: feasible with a final cost, or not feasible; merge; withdraw."""
    proposal = _staff_proposal(proposal_id)
    round_ = proposal.round
    form = ReviewForm(prefix="review")
    merge = MergeForm(prefix="merge")
    withdraw = WithdrawForm(prefix="withdraw")
    merge.into.choices = [
        (str(p.id), f"#{p.id} {p.title}")
        for p in db.session.scalars(
            select(Proposal)
            .where(
                Proposal.round_id == round_.id,
                Proposal.id != proposal.id,
                Proposal.status.not_in(
                    [ProposalStatus.MERGED.value, ProposalStatus.WITHDRAWN.value]
                ),
            )
            .order_by(Proposal.id)
        )
    ]
    if request.method == "GET":
        form.final_cost.data = proposal.final_cost or proposal.estimated_cost
        form.reason.data = proposal.review_reason
        if proposal.status == ProposalStatus.NOT_FEASIBLE.value:
            form.decision.data = "not_feasible"
    action = request.form.get("action")
    try:
        if action == "review" and form.validate_on_submit():
            feasible = form.decision.data == "feasible"
            if feasible and not form.final_cost.data:
                form.final_cost.errors.append(_("Give the final cost of a feasible project."))
            else:
                review_proposal(
                    db.session, proposal, feasible, form.reason.data or "", form.final_cost.data
                )
                db.session.commit()
                flash(_("The review has been saved."), "success")
                return redirect(url_for("budgeting.review_list", slug=slug, round_id=round_.id))
        elif action == "merge" and merge.validate_on_submit():
            into = db.session.get(Proposal, int(merge.into.data))
            if into is None:
                abort(404)
            merge_proposal(db.session, proposal, into, merge.reason.data or "")
            db.session.commit()
            flash(_("The proposal has been merged."), "success")
            return redirect(url_for("budgeting.review_list", slug=slug, round_id=round_.id))
        elif action == "withdraw" and withdraw.validate_on_submit():
            withdraw_proposal(db.session, proposal, withdraw.reason.data or "")
            db.session.commit()
            flash(_("The proposal has been withdrawn."), "success")
            return redirect(url_for("budgeting.review_list", slug=slug, round_id=round_.id))
    except RoundError as error:
        db.session.rollback()
        flash(round_error_text(error), "error")
    return render_template(
        "budgeting/review.html",
        municipality=g.municipality,
        round=round_,
        proposal=proposal,
        form=form,
        merge=merge,
        withdraw=withdraw,
        themes=THEME_LABELS,
    )


@bp.route("/gestion/<slug>/rondas/<int:round_id>/padron", methods=["GET", "POST"])
@municipal_staff_required
def census(slug: str, round_id: int) -> str | Response:
    """Upload the census: checked whole, replaced atomically, only keyed hashes stored."""
    round_ = _staff_round(round_id)
    form = CensusForm()
    problems: list[str] = []
    if form.validate_on_submit():
        data = form.file.data.read()
        rows, found = parse_census(data, round_.districts)
        if found:
            problems = [census_problem_text(p) for p in found[:500]]
            if len(found) > 500:
                problems.append(_("…and %(n)d more problems.", n=len(found) - 500))
        else:
            count = replace_census(db.session, round_, rows)
            db.session.commit()
            flash(_("The census has been replaced: %(n)d residents.", n=count), "success")
            return redirect(url_for("budgeting.census", slug=slug, round_id=round_.id))
    return render_template(
        "budgeting/census.html",
        municipality=g.municipality,
        round=round_,
        form=form,
        problems=problems,
        size=census_size(db.session, round_),
    )
