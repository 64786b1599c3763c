"""Eligibility, the ballot, receipts, paper ballots and results: public and staff pages."""

from __future__ import annotations

import csv
import io
import secrets
import time
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.wrappers import Response

from portal.accounts.auth import municipal_staff_required
from portal.accounts.forms import ConfirmForm
from portal.budgeting.models import Participation, Round
from portal.budgeting.phases import current_phase
from portal.budgeting.views import _staff_round, public_round_of
from portal.database import reads_only
from portal.extensions import db, limiter
from portal.geo.models import Municipality
from portal.text import csv_cell, is_whole_number
from portal.voting import bp
from portal.voting.ballots import Method as BallotMethod
from portal.voting.ballots import Problem, Section, problems_are_unique, read_section
from portal.voting.charts import Bar, bar_chart
from portal.voting.forms import (
    CheckForm,
    DeclareForm,
    PaperBallotForm,
    PaperImportForm,
    PaperVoterForm,
    SiteForm,
)
from portal.voting.messages import problem_text, refusal_text
from portal.voting.models import ListResult, VotingSite
from portal.voting.paper import import_paper_ballots, parse_paper_ballots
from portal.voting.services import (
    BallotList,
    Voter,
    VoteRefused,
    _census_voter,
    add_site,
    cast_ballot,
    census_entry,
    check_ballot,
    check_census,
    check_linked_account,
    compute_results,
    current_choices,
    declare_voter,
    link_account,
    paper_open,
    paper_voter,
    participation_of,
    publish_results,
    receipt_counts,
    record_paper_entry,
    results_allowed,
    results_of,
    turnout,
    voter_lists,
    voting_open,
)

VOTER_SESSION_SECONDS = 2 * 3600


# ----------------------------------------------------------------------------- rate limits


def _session_key() -> str:
    if "sid" not in session:
        session["sid"] = secrets.token_urlsafe(16)
    return "eligibility-session:" + session["sid"]


def _rut_key() -> str:
    from portal.voting.services import voter_hash_of

    voter_hash = voter_hash_of(request.form.get("rut", "")[:20])
    # An invalid RUT is counted against the session only (it names no one's account).
    return "eligibility-rut:" + voter_hash if voter_hash else _session_key()


def _check_limit() -> str:
    return str(current_app.config["ELIGIBILITY_RATE_LIMIT"])


def _check_ip_limit() -> str:
    return str(current_app.config["ELIGIBILITY_IP_RATE_LIMIT"])


def _failed(response: Response) -> bool:
    # A wrong answer re-renders the form (200); a success redirects to the ballot.
    return response.status_code == 200


def eligibility_limits(view: Any) -> Any:
    """Rate-limit failed eligibility checks per session, per RUT hash and per address."""
    view = limiter.limit(_check_ip_limit, methods=["POST"], deduct_when=_failed)(view)
    view = limiter.limit(_check_limit, methods=["POST"], key_func=_rut_key, deduct_when=_failed)(
        view
    )
    return limiter.limit(
        _check_limit, methods=["POST"], key_func=_session_key, deduct_when=_failed
    )(view)


# ----------------------------------------------------------------------------- voter session


def _voter_data(round_id: int) -> dict[str, Any] | None:
    data = session.get("voters", {}).get(str(round_id))
    if not data or data.get("t", 0) < time.time():
        return None
    return data


def ballot_waiting(round_id: int) -> bool:
    """Tell whether this browser holds an open voter session for the round."""
    return _voter_data(round_id) is not None


def _voter(round_: Round) -> Voter | None:
    data = _voter_data(round_.id)
    return None if data is None else Voter.from_session(round_.id, data)


def _start_voter_session(voter: Voter) -> None:
    voters = {k: v for k, v in session.get("voters", {}).items() if v.get("t", 0) >= time.time()}
    voters[str(voter.round_id)] = {**voter.to_session(), "t": time.time() + VOTER_SESSION_SECONDS}
    session["voters"] = voters


def _end_voter_session(round_: Round) -> None:
    voters = dict(session.get("voters", {}))
    voters.pop(str(round_.id), None)
    session["voters"] = voters


# ----------------------------------------------------------------------------- eligibility


@bp.route("/<slug>/rondas/<int:round_id>/votar", methods=["GET", "POST"])
@eligibility_limits
def check(slug: str, round_id: int) -> str | Response:
    """Check a resident's RUT and second fact against the census, without an account."""
    if not current_user.is_authenticated:  # nothing to write: no account to link the RUT to
        reads_only(db.session)
    municipality, round_ = public_round_of(slug, round_id, districts=True, kept=True)
    if not voting_open(round_):
        return render_template("voting/closed.html", municipality=municipality, round=round_)
    if _voter(round_) is not None and request.method == "GET":
        return redirect(url_for("voting.ballot", slug=slug, round_id=round_id))
    form = CheckForm()
    failed = False
    if form.validate_on_submit():
        try:
            voter = check_census(
                db.session, round_, form.rut.data or "", form.birth_date.data, form.serial.data
            )
        except VoteRefused as refused:
            flash(refusal_text(refused), "error")
            return render_template(
                "voting/check.html", municipality=municipality, round=round_, form=form
            ), 200
        if voter is not None:
            linking = form.link.data and current_user.is_authenticated
            if linking and link_account(db.session, current_user, voter):
                db.session.commit()
            _start_voter_session(voter)
            return redirect(url_for("voting.ballot", slug=slug, round_id=round_id))
        failed = True
    elif request.method == "POST":
        failed = True
    return render_template(
        "voting/check.html", municipality=municipality, round=round_, form=form, failed=failed
    )


@bp.route("/<slug>/rondas/<int:round_id>/votar/cuenta", methods=["POST"])
@eligibility_limits
def check_account(slug: str, round_id: int) -> str | Response:
    """Vote as a signed-in resident whose account holds their RUT."""
    municipality, round_ = public_round_of(slug, round_id)
    form = ConfirmForm()
    if not form.validate_on_submit() or not current_user.is_authenticated:
        abort(400)
    if not voting_open(round_):
        return render_template("voting/closed.html", municipality=municipality, round=round_)
    try:
        voter = check_linked_account(db.session, round_, current_user)
    except VoteRefused as refused:
        flash(refusal_text(refused), "error")
        voter = None
    if voter is None:
        return render_template(
            "voting/check.html",
            municipality=municipality,
            round=round_,
            form=CheckForm(formdata=None),
            failed=True,
        )
    _start_voter_session(voter)
    return redirect(url_for("voting.ballot", slug=slug, round_id=round_id))


@bp.route("/<slug>/rondas/<int:round_id>/declarar", methods=["GET", "POST"])
@eligibility_limits
def declare(slug: str, round_id: int) -> str | Response:
    """Vote under a sworn declaration, where the round lets residents outside the census vote."""
    municipality, round_ = public_round_of(slug, round_id)
    if round_.eligibility != "census-or-declared":
        abort(404)
    if not voting_open(round_):
        return render_template("voting/closed.html", municipality=municipality, round=round_)
    form = DeclareForm()
    form.district.choices = [(str(d.id), d.name) for d in round_.districts]
    failed = False
    if form.validate_on_submit():
        district_id = None
        if round_.districts:
            ids = {d.id for d in round_.districts}
            raw = form.district.data or ""
            district_id = int(raw) if is_whole_number(raw) and int(raw) in ids else None
            if district_id is None:
                form.district.errors = [_("Choose your district.")]
        if not form.district.errors:
            try:
                voter = declare_voter(
                    db.session, round_, form.rut.data or "", form.birth_date.data, district_id
                )
            except VoteRefused as refused:
                flash(refusal_text(refused), "error")
                voter = None
            if voter is not None:
                _start_voter_session(voter)
                return redirect(url_for("voting.ballot", slug=slug, round_id=round_id))
            failed = True
    elif request.method == "POST":
        failed = True
    return render_template(
        "voting/declare.html", municipality=municipality, round=round_, form=form, failed=failed
    )


# ----------------------------------------------------------------------------- the ballot


def read_ballot(round_: Round, lists: list[BallotList]) -> tuple[dict[str, Section], list[Problem]]:
    """Read every list of a ballot from the submitted form."""
    sections: dict[str, Section] = {}
    problems: list[Problem] = []
    for blist in lists:
        section, found = read_section(
            BallotMethod(round_.method), blist.options, request.form, blist.prefix
        )
        sections[blist.key] = section
        problems.extend(found)
    return sections, problems


def _chosen_from_form(lists: list[BallotList]) -> dict[int, str]:
    """Return what the voter typed or ticked, to show it again on a rejected ballot."""
    chosen: dict[int, str] = {}
    for blist in lists:
        ticked = set(request.form.getlist(f"{blist.prefix}p"))
        for project in blist.projects:
            if str(project.id) in ticked:
                chosen[project.id] = "1"
            for key in ("points", "rank"):
                value = request.form.get(f"{blist.prefix}{key}-{project.id}", "").strip()
                if value:
                    chosen[project.id] = value[:4]
    return chosen


@bp.route("/<slug>/rondas/<int:round_id>/papeleta", methods=["GET", "POST"])
def ballot(slug: str, round_id: int) -> str | Response:
    """Show the voter's ballot and take it: complete without JavaScript, checked on the server."""
    if request.method == "GET":  # the page only reads; a ballot is written in a transaction
        reads_only(db.session)
    municipality, round_ = public_round_of(slug, round_id, districts=True, kept=True)
    if not voting_open(round_):
        return render_template("voting/closed.html", municipality=municipality, round=round_)
    voter = _voter(round_)
    if voter is None:
        return redirect(url_for("voting.check", slug=slug, round_id=round_id))

    def voted_on_paper() -> str:
        return render_template(
            "voting/voted_on_paper.html", municipality=municipality, round=round_
        )

    # A valid ballot goes straight to cast_ballot, which refuses a voter who voted on paper
    # under its lock; the ballot page and a ballot with problems read the participation first.
    participation = None
    if request.method == "GET":
        participation = participation_of(db.session, round_, voter.voter_hash)
        if participation is not None and participation.channel == "paper":
            return voted_on_paper()
    # The ballot's projects are fixed while voting is open: each process keeps them a moment.
    lists = voter_lists(db.session, round_, voter.district_id, kept=True)
    messages: dict[str, list[str]] = {}
    if request.method == "POST":  # its CSRF token checked already, as every POST's (CSRFProtect)
        sections, read_problems = read_ballot(round_, lists)
        found = check_ballot(round_, lists, sections)
        if read_problems:
            found.setdefault(lists[0].key if lists else "comuna", []).extend(read_problems)
        if not found:
            try:
                cast = cast_ballot(db.session, round_, voter, sections)
            except VoteRefused as refused:
                if refused.code == "voted-on-paper":
                    return voted_on_paper()
                flash(refusal_text(refused), "error")
                if refused.code == "census-changed":  # check again, against the census as it is
                    _end_voter_session(round_)
                    return redirect(url_for("voting.check", slug=slug, round_id=round_id))
                return redirect(url_for("budgeting.show_round", slug=slug, round_id=round_id))
            session["receipt"] = {"r": round_id, "c": cast.receipt, "changed": cast.replaced}
            return redirect(url_for("voting.confirmation", slug=slug, round_id=round_id))
        participation = participation_of(db.session, round_, voter.voter_hash)
        if participation is not None and participation.channel == "paper":
            return voted_on_paper()
        messages = {
            key: [problem_text(p) for p in problems_are_unique(problems)]
            for key, problems in found.items()
        }
        chosen = _chosen_from_form(lists)
        status = 422
    else:
        chosen = {k: str(v) for k, v in current_choices(db.session, round_, participation).items()}
        status = 200
    return render_template(
        "voting/ballot.html",
        municipality=municipality,
        round=round_,
        lists=lists,
        chosen=chosen,
        messages=messages,
        changing=participation is not None,
        district=next((d for d in round_.districts if d.id == voter.district_id), None),
    ), status


@bp.route("/<slug>/rondas/<int:round_id>/voto-registrado")
def confirmation(slug: str, round_id: int) -> str | Response:
    """Say plainly that the vote is counted, with its receipt."""
    municipality, round_ = public_round_of(slug, round_id, kept=True)
    receipt = session.get("receipt")
    if not receipt or receipt.get("r") != round_id:
        return redirect(url_for("budgeting.show_round", slug=slug, round_id=round_id))
    return render_template(
        "voting/confirmation.html",
        municipality=municipality,
        round=round_,
        receipt=receipt["c"],
        changed=receipt.get("changed"),
    )


@bp.route("/<slug>/rondas/<int:round_id>/salir", methods=["POST"])
def leave(slug: str, round_id: int) -> Response:
    """End the voter session on this device (a shared phone, a library computer)."""
    _municipality, round_ = public_round_of(slug, round_id, kept=True)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    _end_voter_session(round_)
    session.pop("receipt", None)
    flash(_("You have left the ballot on this device."), "info")
    return redirect(url_for("budgeting.show_round", slug=slug, round_id=round_id))


@bp.route("/<slug>/rondas/<int:round_id>/comprobante")
@limiter.limit("30 per minute")
def receipt(slug: str, round_id: int) -> str:
    """Check that a ballot with a receipt code is in the count, without showing its choices."""
    municipality, round_ = public_round_of(slug, round_id)
    code = request.args.get("codigo", "").strip()[:30]
    found = receipt_counts(db.session, round_, code) if code else None
    return render_template(
        "voting/receipt.html", municipality=municipality, round=round_, code=code, found=found
    )


# ----------------------------------------------------------------------------- results


def _published_results(slug: str, round_id: int) -> tuple[Municipality, Round, list[ListResult]]:
    municipality, round_ = public_round_of(slug, round_id)
    if round_.results_published_at is None:
        abort(404)
    return municipality, round_, results_of(db.session, round_)


def result_chart(result: ListResult, title: str) -> Any:
    """Draw a list's projects by score, winners highlighted."""
    bars = [
        Bar(line.proposal.title, line.score, str(line.score), line.selected)
        for line in sorted(result.lines, key=lambda ln: (-ln.score, ln.position))
    ]
    return bar_chart(bars, title, chart_id=f"chart-list-{result.id}")


def list_title(round_: Round, result: ListResult) -> str:
    """Name a list: its district, or the whole comuna."""
    if result.district is not None:
        return result.district.name
    return _("Whole comuna") if round_.districts else round_.title


@bp.route("/<slug>/rondas/<int:round_id>/resultados")
def results(slug: str, round_id: int) -> str:
    """Show the published results: winners, votes, costs, turnout, and why."""
    municipality, round_, stored = _published_results(slug, round_id)
    return render_template(
        "voting/results.html",
        municipality=municipality,
        round=round_,
        results=stored,
        charts={r.id: result_chart(r, list_title(round_, r)) for r in stored},
        titles={r.id: list_title(round_, r) for r in stored},
        turnout=turnout(db.session, round_),
        districts={d.id: d.name for d in round_.districts},
    )


@bp.route("/<slug>/rondas/<int:round_id>/resultados.csv")
def results_csv(slug: str, round_id: int) -> Response:
    """Export the projects of a published round with their votes, as CSV."""
    _municipality, round_, stored = _published_results(slug, round_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["list", "district", "project_id", "title", "cost", "votes", "score", "selected", "rule"]
    )
    for result in stored:
        for line in result.lines:
            writer.writerow(
                csv_cell(value)
                for value in [
                    result.list_key,
                    result.district.name if result.district else "",
                    line.proposal_id,
                    line.proposal.title,
                    line.cost,
                    line.votes,
                    line.score,
                    1 if line.selected else 0,
                    result.rule,
                ]
            )
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="ronda-{round_.id}-resultados.csv"'},
    )


@bp.route("/<slug>/rondas/<int:round_id>/resultados/<list_key>.pb")
def results_pb(slug: str, round_id: int, list_key: str) -> Response:
    """Export one list's ballots as a pabulib file that the allocation engine reads back."""
    from portal.voting.tally import pabulib_export

    _municipality, round_, stored = _published_results(slug, round_id)
    result = next((r for r in stored if r.list_key == list_key), None)
    if result is None:
        abort(404)
    text = pabulib_export(db.session, round_, result)
    return Response(
        text,
        mimetype="text/plain",
        headers={"Content-Disposition": f'attachment; filename="ronda-{round_.id}-{list_key}.pb"'},
    )


# ----------------------------------------------------------------------------- staff: results


@bp.route("/gestion/<slug>/rondas/<int:round_id>/resultados", methods=["GET", "POST"])
@municipal_staff_required
def staff_results(slug: str, round_id: int) -> str | Response:
    """Count the votes once voting has closed, review the outcome, and publish it."""
    round_ = _staff_round(round_id)
    form = ConfirmForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        action = request.form.get("action")
        try:
            if action == "compute":
                compute_results(db.session, round_)
                db.session.commit()
                flash(_("The votes were counted. Check the outcome, then publish it."), "success")
            elif action == "publish":
                publish_results(db.session, round_)
                db.session.commit()
                flash(_("The results are published."), "success")
            else:
                abort(400)
        except VoteRefused as refused:
            db.session.rollback()
            flash(refusal_text(refused), "error")
        return redirect(url_for("voting.staff_results", slug=slug, round_id=round_id))
    stored = results_of(db.session, round_)
    return render_template(
        "voting/staff_results.html",
        municipality=g.municipality,
        round=round_,
        results=stored,
        titles={r.id: list_title(round_, r) for r in stored},
        turnout=turnout(db.session, round_),
        can_compute=results_allowed(round_) and round_.results_published_at is None,
        phase=current_phase(round_),
        form=form,
    )


# ----------------------------------------------------------------------------- staff: paper


def _sites(round_: Round) -> list[VotingSite]:
    return list(
        db.session.scalars(
            select(VotingSite).where(VotingSite.round_id == round_.id).order_by(VotingSite.name)
        )
    )


def _site_choices(round_: Round) -> list[tuple[str, str]]:
    return [("", _("No site"))] + [(str(s.id), s.name) for s in _sites(round_)]


def _site(round_: Round, raw: str | None) -> VotingSite | None:
    if not raw or not is_whole_number(raw) or len(raw) > 18:
        return None
    site = db.session.get(VotingSite, int(raw))
    return site if site is not None and site.round_id == round_.id else None


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="paper-voter")


@bp.route("/gestion/<slug>/rondas/<int:round_id>/papeletas", methods=["GET", "POST"])
@municipal_staff_required
def staff_paper(slug: str, round_id: int) -> str | Response:
    """Voting sites, paper turnout, and the way in to typing or importing paper ballots."""
    round_ = _staff_round(round_id)
    form = SiteForm()
    if form.validate_on_submit():
        try:
            add_site(db.session, round_, form.name.data or "", form.address.data or "")
            db.session.commit()
            flash(_("Voting site added."), "success")
            return redirect(url_for("voting.staff_paper", slug=slug, round_id=round_id))
        except VoteRefused as refused:
            db.session.rollback()
            form.name.errors = [refusal_text(refused)]
    per_site = _paper_by_site(round_)
    return render_template(
        "voting/staff_paper.html",
        municipality=g.municipality,
        round=round_,
        form=form,
        sites=_sites(round_),
        per_site=per_site,
        turnout=turnout(db.session, round_),
        open=paper_open(round_),
    )


def _paper_by_site(round_: Round) -> dict[int | None, int]:
    return {
        site_id: count
        for site_id, count in db.session.execute(
            select(Participation.site_id, func.count())
            .where(Participation.round_id == round_.id, Participation.channel == "paper")
            .group_by(Participation.site_id)
        )
    }


@bp.route("/gestion/<slug>/rondas/<int:round_id>/papeletas/ingresar", methods=["GET", "POST"])
@municipal_staff_required
def enter_paper(slug: str, round_id: int) -> str | Response:
    """Type in one paper ballot: first the voter's RUT, then their choices."""
    round_ = _staff_round(round_id)
    if not paper_open(round_):
        return render_template(
            "voting/paper_voter.html", municipality=g.municipality, round=round_, closed=True
        )
    voter_form = PaperVoterForm()
    voter_form.site.choices = _site_choices(round_)
    if request.method == "GET" and request.args.get("sitio"):
        voter_form.site.data = request.args["sitio"]
    context: dict[str, Any] = {"municipality": g.municipality, "round": round_}
    if request.form.get("step") == "ballot":
        return _paper_ballot_step(round_, context)
    if voter_form.validate_on_submit():
        try:
            checked = paper_voter(db.session, round_, voter_form.rut.data or "")
        except VoteRefused as refused:
            voter_form.rut.errors = [refusal_text(refused)]
        else:
            site = _site(round_, voter_form.site.data)
            token = _serializer().dumps({"r": round_.id, "h": checked.voter.voter_hash})
            ballot_form = PaperBallotForm(formdata=None, voter=token, site=site.id if site else "")
            return render_template(
                "voting/paper_ballot.html",
                **context,
                form=ballot_form,
                lists=voter_lists(db.session, round_, checked.voter.district_id),
                chosen={},
                messages={},
                conflict=checked.conflict,
                site=site,
            )
    return render_template("voting/paper_voter.html", **context, form=voter_form)


def _paper_ballot_step(round_: Round, context: dict[str, Any]) -> str | Response:
    form = PaperBallotForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        data = _serializer().loads(form.voter.data or "", max_age=3600)
    except BadSignature:
        abort(400)
    if not isinstance(data, dict) or data.get("r") != round_.id:
        abort(400)  # a token of another round
    entry = census_entry(db.session, round_, str(data.get("h", "")))
    if entry is None:
        abort(400)
    try:  # the census again: district and age as they stand now
        voter = _census_voter(round_, entry)
    except VoteRefused as refused:
        flash(refusal_text(refused), "error")
        return redirect(url_for("voting.enter_paper", slug=g.municipality.slug, round_id=round_.id))
    site = _site(round_, form.site.data)
    lists = voter_lists(db.session, round_, voter.district_id)
    sections, read_problems = read_ballot(round_, lists)
    found = check_ballot(round_, lists, sections)
    if read_problems:
        found.setdefault(lists[0].key if lists else "comuna", []).extend(read_problems)
    if not found:
        round_id, site_name = round_.id, site.name if site else None
        try:
            cast = cast_ballot(
                db.session,
                round_,
                voter,
                sections,
                channel="paper",
                site_id=site.id if site else None,
                before_commit=lambda session: record_paper_entry(
                    session, session.get(Round, round_id), site_name, 1
                ),
            )
        except VoteRefused as refused:
            db.session.rollback()
            flash(refusal_text(refused), "error")
        else:
            if cast.replaced == "online":
                flash(
                    _("Paper ballot counted; it replaces this person's online ballot."), "success"
                )
            else:
                flash(_("Paper ballot counted."), "success")
        return redirect(
            url_for(
                "voting.enter_paper",
                slug=g.municipality.slug,
                round_id=round_.id,
                sitio=site.id if site else None,
            )
        )
    messages = {
        key: [problem_text(p) for p in problems_are_unique(problems)]
        for key, problems in found.items()
    }
    return render_template(
        "voting/paper_ballot.html",
        **context,
        form=form,
        lists=lists,
        chosen=_chosen_from_form(lists),
        messages=messages,
        conflict=None,
        site=site,
    ), 422


@bp.route("/gestion/<slug>/rondas/<int:round_id>/papeletas/importar", methods=["GET", "POST"])
@municipal_staff_required
def import_paper(slug: str, round_id: int) -> str | Response:
    """Import paper ballots from a CSV file, validated whole before anything is written."""
    round_ = _staff_round(round_id)
    form = PaperImportForm()
    form.site.choices = _site_choices(round_)
    problems: list[str] = []
    if form.validate_on_submit():
        if not paper_open(round_):
            flash(
                _("Paper ballots are entered while voting is open and before the count."), "error"
            )
            return redirect(url_for("voting.staff_paper", slug=slug, round_id=round_id))
        raw = form.file.data.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = None
            problems = [_("The file is not UTF-8 text. Save it as “CSV UTF-8” and try again.")]
        if text is not None:
            lines, found = parse_paper_ballots(db.session, round_, text)
            problems = [
                _(
                    "Line %(line)d: %(problem)s",
                    line=p.line,
                    problem=refusal_text(p.refusal) if p.refusal else problem_text(p.problem),  # type: ignore[arg-type]
                )
                for p in found[:200]
            ]
            if not found:
                site = _site(round_, form.site.data)
                db.session.rollback()
                try:
                    count = import_paper_ballots(
                        db.session, round_, lines, site.id if site else None
                    )
                    round_ = db.session.get(Round, round_id)  # type: ignore[assignment]
                    record_paper_entry(db.session, round_, site.name if site else None, count)
                    db.session.commit()
                except (VoteRefused, IntegrityError) as error:
                    # A voter of the file voted online meanwhile, or voting closed: nothing is
                    # written, and checking the file again names the line.
                    db.session.rollback()
                    refused = error if isinstance(error, VoteRefused) else VoteRefused("busy")
                    problems = [refusal_text(refused)]
                except OperationalError:
                    # The database busy (SQLite's writer lock held past its timeout, a
                    # PostgreSQL deadlock or timeout): nothing is written either.
                    db.session.rollback()
                    problems = [
                        _(
                            "The database was busy: nothing from this file was written. Send it again."
                        )
                    ]
                else:
                    flash(
                        _("%(n)d paper ballots imported.", n=count),
                        "success",
                    )
                    return redirect(url_for("voting.staff_paper", slug=slug, round_id=round_id))
    return render_template(
        "voting/paper_import.html",
        municipality=g.municipality,
        round=round_,
        form=form,
        problems=problems,
    )
