"""Residents propose projects; staff review them; everyone can follow them."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from portal.audit.models import AuditEntry
from portal.budgeting.models import Ballot, Proposal, ProposalImage
from tests.conftest import csrf_token, login, post_form


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (800, 600), (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif[0x0131] = "Editor 1.0"  # Software
    exif[0x9003] = "2026:01:02 03:04:05"  # DateTimeOriginal
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def proposal_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "title": "Techado para la feria libre de Avenida Argentina",
        "summary": "Un techo liviano sobre los puestos para trabajar con lluvia.",
        "description": "Cubrir los 120 puestos del tramo central con una estructura desmontable.",
        "theme": "fairs-markets",
        "district_id": "",
        "estimated_cost": "18000000",
        "address": "Avenida Argentina entre Chacabuco y Yungay",
        "latitude": "-33.0478",
        "longitude": "-71.6098",
        "implementing_organization": "Sindicato Feria Libre Avenida Argentina",
    }
    data.update(overrides)
    return data


@pytest.fixture
def open_round(factory: Any) -> Any:
    municipality = factory.municipality("05101")
    round_ = factory.round(municipality, phase="proposals")
    factory.district(round_, "Cerro Alegre", 4_000_000)
    return round_


@pytest.fixture
def resident(client: Any, factory: Any) -> Any:
    factory.user("vecina@example.cl", name="María González")
    login(client, "vecina@example.cl")
    return client


def propose(
    client: Any, round_: Any, files: list[tuple[bytes, str]] | None = None, **overrides: Any
) -> Any:
    url = f"/valparaiso/rondas/{round_.id}/proponer"
    data = proposal_form(**overrides)
    data["csrf_token"] = csrf_token(client)
    if files:
        data["images"] = [(io.BytesIO(content), name) for content, name in files]
    return client.post(url, data=data, content_type="multipart/form-data")


def test_anonymous_visitor_is_asked_to_sign_in(client: Any, open_round: Any) -> None:
    response = client.get(f"/valparaiso/rondas/{open_round.id}/proponer")
    assert response.status_code == 302 and "/ingresar?next=" in response.headers["Location"]


def test_resident_proposes_with_a_photo_whose_metadata_is_dropped(
    app: Any, resident: Any, open_round: Any, db: Any
) -> None:
    response = propose(resident, open_round, files=[(jpeg_with_gps(), "foto.jpg")])
    assert response.status_code == 302
    proposal = db.session.query(Proposal).one()
    assert (proposal.status, proposal.estimated_cost, proposal.district_id) == (
        "submitted",
        18_000_000,
        None,
    )
    [image] = db.session.query(ProposalImage).all()
    stored = Path(app.instance_path) / "uploads" / image.filename
    with Image.open(stored) as reopened:
        assert not reopened.getexif()
        assert reopened.format == "JPEG"
    page = resident.get(response.headers["Location"]).get_data(as_text=True)
    assert "Techado para la feria libre de Avenida Argentina" in page
    assert "$18.000.000" in page and "En evaluación" in page
    thumbnail = resident.get(f"/media/{image.thumbnail}")
    assert thumbnail.status_code == 200 and thumbnail.content_type == "image/jpeg"
    assert "immutable" in thumbnail.headers["Cache-Control"]
    thumbnail.close()
    assert resident.get("/media/../secret_key").status_code == 404
    assert "Techado para la feria libre" in resident.get("/cuenta/propuestas").get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    ("overrides", "files", "message"),
    [
        ({"title": ""}, None, "Este campo es obligatorio."),
        ({"estimated_cost": "0"}, None, "Escribe un número entero de pesos"),
        ({"estimated_cost": "12.5"}, None, "No es un valor entero válido."),
        ({"latitude": "10"}, None, "El número debe estar entre"),
        ({"theme": "weapons"}, None, "Opción inválida"),
        ({}, [(b"%PDF-1.4 not an image", "doc.jpg")], "doc.jpg no es una imagen JPEG, PNG o WebP."),
        ({}, [(jpeg_with_gps(), f"f{i}.jpg") for i in range(4)], "como máximo 3 imágenes"),
    ],
)
def test_bad_proposals_rerender_with_messages_and_save_nothing(
    resident: Any, open_round: Any, db: Any, overrides: dict[str, str], files: Any, message: str
) -> None:
    response = propose(resident, open_round, files=files, **overrides)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert db.session.query(Proposal).count() == 0
    assert db.session.query(ProposalImage).count() == 0


def test_proposals_are_taken_only_during_the_proposal_phase(
    resident: Any, factory: Any, db: Any
) -> None:
    round_ = factory.round(factory.municipality("05101"), phase="review")
    response = propose(resident, round_)
    assert response.status_code == 302
    assert db.session.query(Proposal).count() == 0


def test_author_edits_until_the_phase_ends_and_no_one_else_can(
    app: Any, resident: Any, open_round: Any, factory: Any, db: Any
) -> None:
    propose(resident, open_round)
    proposal = db.session.query(Proposal).one()
    url = f"/valparaiso/propuestas/{proposal.id}/editar"
    assert (
        post_form(
            resident, url, proposal_form(title="Techado liviano para la feria"), token_from=url
        ).status_code
        == 302
    )
    db.session.expire_all()
    assert db.session.get(Proposal, proposal.id).title == "Techado liviano para la feria"
    factory.user("otro@example.cl")
    other = app.test_client()
    login(other, "otro@example.cl")
    assert other.get(url).status_code == 403


def test_public_list_filters_and_searches(client: Any, factory: Any) -> None:
    municipality = factory.municipality("05101")
    round_ = factory.round(municipality, phase="review")
    cerro = factory.district(round_, "Cerro Alegre", 5_000_000)
    author = factory.user("a@example.cl")
    factory.proposal(
        round_,
        author,
        district=cerro,
        title="Techado para la feria del cerro",
        status="feasible",
        final_cost=3_000_000,
    )
    factory.proposal(
        round_,
        author,
        title="Capacitación en ventas digitales para almaceneros",
        theme="training",
        status="not_feasible",
    )
    base = f"/valparaiso/rondas/{round_.id}/propuestas"
    assert "2 propuestas" in client.get(base).get_data(as_text=True)
    only_cerro = client.get(f"{base}?sector={cerro.id}").get_data(as_text=True)
    assert "Techado para la feria del cerro" in only_cerro and "almaceneros" not in only_cerro
    training = client.get(f"{base}?tema=training").get_data(as_text=True)
    assert "almaceneros" in training and "Techado" not in training
    feasible = client.get(f"{base}?estado=feasible").get_data(as_text=True)
    assert "Techado" in feasible and "almaceneros" not in feasible
    search = client.get(f"{base}?q=digitales").get_data(as_text=True)
    assert "almaceneros" in search and "Techado" not in search
    hostile = client.get(f"{base}?q=%27%20OR%201%3D1--&sector=x&pagina=-3")
    assert hostile.status_code == 200 and "Ninguna propuesta coincide." in hostile.get_data(
        as_text=True
    )


@pytest.fixture
def desk(app: Any, factory: Any, open_round: Any) -> Any:
    factory.user(
        "camila@valparaiso.cl", role="municipal_staff", municipality=open_round.municipality
    )
    staff = app.test_client()
    login(staff, "camila@valparaiso.cl")
    return staff


def review(staff: Any, proposal: Any, **data: Any) -> Any:
    url = f"/gestion/valparaiso/propuestas/{proposal.id}"
    payload = {f"{data.pop('prefix', 'review')}-{k}": v for k, v in data.items()}
    payload["action"] = payload.pop("review-action", None) or data.get("action", "review")
    return post_form(staff, url, payload, token_from=url)


def test_staff_review_proposals_and_every_decision_is_audited_and_public(
    desk: Any, client: Any, open_round: Any, factory: Any, db: Any
) -> None:
    author = factory.user("a@example.cl")
    roof = factory.proposal(open_round, author, title="Techado para la feria")
    course = factory.proposal(open_round, author, title="Curso de ventas digitales")
    copy = factory.proposal(open_round, author, title="Techo para la feria (repetida)")
    url = f"/gestion/valparaiso/propuestas/{roof.id}"
    assert (
        post_form(
            desk,
            url,
            {
                "action": "review",
                "review-decision": "feasible",
                "review-final_cost": "21000000",
                "review-reason": "Factible con estructura desmontable.",
            },
            token_from=url,
        ).status_code
        == 302
    )
    url = f"/gestion/valparaiso/propuestas/{course.id}"
    assert (
        post_form(
            desk,
            url,
            {
                "action": "review",
                "review-decision": "not_feasible",
                "review-final_cost": "",
                "review-reason": "Ya lo financia SERCOTEC en 2027.",
            },
            token_from=url,
        ).status_code
        == 302
    )
    url = f"/gestion/valparaiso/propuestas/{copy.id}"
    assert (
        post_form(
            desk,
            url,
            {"action": "merge", "merge-into": str(roof.id), "merge-reason": "Es la misma idea."},
            token_from=url,
        ).status_code
        == 302
    )
    db.session.expire_all()
    assert (
        db.session.get(Proposal, roof.id).status,
        db.session.get(Proposal, roof.id).final_cost,
    ) == ("feasible", 21_000_000)
    assert db.session.get(Proposal, copy.id).merged_into_id == roof.id
    actions = sorted(e.action for e in db.session.query(AuditEntry).all())
    assert actions == ["proposal.merge", "proposal.review", "proposal.review"]
    assert "Ya lo financia SERCOTEC en 2027." in client.get(
        f"/valparaiso/propuestas/{course.id}"
    ).get_data(as_text=True)
    merged_page = client.get(f"/valparaiso/propuestas/{copy.id}").get_data(as_text=True)
    assert (
        "Esta propuesta se fusionó con otra:" in merged_page
        and f"/valparaiso/propuestas/{roof.id}" in merged_page
    )


def test_feasible_needs_a_final_cost(desk: Any, open_round: Any, factory: Any, db: Any) -> None:
    proposal = factory.proposal(open_round, factory.user("a@example.cl"))
    url = f"/gestion/valparaiso/propuestas/{proposal.id}"
    response = post_form(
        desk,
        url,
        {
            "action": "review",
            "review-decision": "feasible",
            "review-final_cost": "",
            "review-reason": "Ok",
        },
        token_from=url,
    )
    assert response.status_code == 200
    assert "Indica el costo final de un proyecto factible." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Proposal, proposal.id).status == "submitted"


def assert_withdrawal_refused(desk: Any, proposal: Any, db: Any) -> None:
    """Staff try to withdraw a project on the ballot: refused, and it stays feasible."""
    url = f"/gestion/valparaiso/propuestas/{proposal.id}"
    response = post_form(
        desk,
        url,
        {"action": "withdraw", "withdraw-reason": "No"},
        token_from=url,
        follow_redirects=True,
    )
    assert "los proyectos de la papeleta ya no pueden cambiar" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Proposal, proposal.id).status == "feasible"


def test_the_ballot_is_fixed_once_a_vote_exists(
    desk: Any, open_round: Any, factory: Any, db: Any
) -> None:
    proposal = factory.proposal(
        open_round, factory.user("a@example.cl"), status="feasible", final_cost=1_000_000
    )
    db.session.add(Ballot(round_id=open_round.id, receipt_code="TEST-0002"))
    db.session.commit()
    assert_withdrawal_refused(desk, proposal, db)


def test_the_ballot_is_fixed_once_voting_opens_even_before_the_first_vote(
    desk: Any, open_round: Any, factory: Any, db: Any
) -> None:
    """A project withdrawn or merged away after voting opened could still be on a ballot being
    filled in (or cast the same instant): from the voting phase on it stays, ballots or not."""
    from datetime import timedelta

    from portal.database import utcnow

    proposal = factory.proposal(
        open_round, factory.user("a@example.cl"), status="feasible", final_cost=1_000_000
    )
    now = utcnow()
    open_round.review_start = now - timedelta(days=2)
    open_round.voting_start = now - timedelta(minutes=1)
    db.session.commit()
    assert_withdrawal_refused(desk, proposal, db)
    other = factory.proposal(
        open_round, factory.user("b@example.cl"), status="feasible", final_cost=2_000_000
    )
    url = f"/gestion/valparaiso/propuestas/{other.id}"
    merged = post_form(
        desk,
        url,
        {"action": "merge", "merge-into": str(proposal.id), "merge-reason": "La misma idea."},
        token_from=url,
        follow_redirects=True,
    )
    assert "los proyectos de la papeleta ya no pueden cambiar" in merged.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Proposal, other.id).status == "feasible"


def test_an_organization_proposes_through_its_representative(
    client: Any, open_round: Any, factory: Any, db: Any
) -> None:
    from portal.budgeting.models import Proposal
    from tests.economy.helpers import make_organization

    municipality = open_round.municipality
    representative = factory.user("presidenta@sindicato.cl", name="Rosa Pérez")
    union = make_organization(
        db,
        municipality,
        name="Sindicato Feria Libre Avenida Argentina",
        legal_form="independent_workers_union",
        representative=representative,
    )
    union.status = "verified"
    cooperative = make_organization(db, municipality, name="Cooperativa de Recicladores")
    db.session.commit()
    login(client, "presidenta@sindicato.cl")
    form_page = client.get(f"/valparaiso/rondas/{open_round.id}/proponer").get_data(as_text=True)
    assert "Sindicato Feria Libre Avenida Argentina" in form_page
    response = propose(
        client, open_round, organization_id=str(union.id), implementer_id=str(cooperative.id)
    )
    assert response.status_code == 302
    proposal = db.session.scalar(select(Proposal))
    assert proposal.organization_id == union.id and proposal.implementer_id == cooperative.id
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Propuesta por" in page and "Cooperativa de Recicladores" in page


def test_nobody_proposes_for_an_organization_they_do_not_represent(
    resident: Any, open_round: Any, db: Any
) -> None:
    from portal.budgeting.models import Proposal
    from tests.economy.helpers import make_organization

    union = make_organization(db, open_round.municipality, name="Sindicato ajeno")
    response = propose(resident, open_round, organization_id=str(union.id))
    assert response.status_code == 200
    assert db.session.scalar(select(Proposal)) is None


def test_public_list_costs_the_same_queries_for_1_or_12_proposals(
    app: Any, client: Any, factory: Any, db: Any, monkeypatch: Any
) -> None:
    """The cards show each proposal's first image: no query per proposal."""
    from sqlalchemy import event

    import portal.database
    from portal.budgeting.models import ProposalImage

    municipality = factory.municipality("05101")
    round_ = factory.round(municipality, phase="review")
    author = factory.user("a@example.cl")
    base = f"/valparaiso/rondas/{round_.id}/propuestas"
    counts = []
    made = 0
    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(args[2])

    # A process reads the database's clock once in a while (shared_now): once, here.
    monkeypatch.setattr(portal.database, "CLOCK_READ_EVERY", 3600.0)
    client.get(base)
    for n in (1, 12):
        while made < n:
            p = factory.proposal(round_, author, title=f"Propuesta {made}")
            db.session.add(
                ProposalImage(
                    proposal_id=p.id,
                    filename=f"i{made}.jpg",
                    thumbnail=f"t{made}.jpg",
                    width=1,
                    height=1,
                )
            )
            db.session.commit()
            made += 1
        seen.clear()
        event.listen(db.engine, "before_cursor_execute", note)
        try:
            page = client.get(base).get_data(as_text=True)
        finally:
            event.remove(db.engine, "before_cursor_execute", note)
        assert page.count('loading="lazy"') == n
        counts.append(len(seen))
    assert counts[0] == counts[1], counts
