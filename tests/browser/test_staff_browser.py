"""Municipal staff on a desktop: a round from creation to published results."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from playwright.sync_api import expect

from portal.database import utcnow
from tests.browser.conftest import accessibility_problems, screenshot
from tests.browser.test_foundation_browser import sign_in
from tests.conftest import PASSWORD
from tests.voting.conftest import check_in, make_rut, vote


def staff_signs_in(page: Any, base: str, factory: Any, municipality: Any) -> None:
    factory.user(
        "camila@valparaiso.cl", role="municipal_staff", municipality=municipality, name="Camila"
    )
    sign_in(page, base, "camila@valparaiso.cl", PASSWORD)


def test_staff_creates_a_round_reviews_proposals_and_uploads_the_census(
    desktop: Any, live_url: str, factory: Any, axe_source: str
) -> None:
    page = desktop
    valparaiso = factory.municipality("05101")
    staff_signs_in(page, live_url, factory, valparaiso)
    problems: list[str] = []

    page.goto(f"{live_url}/gestion/valparaiso/rondas/")
    page.get_by_role("link", name="Nueva ronda").click()
    problems += accessibility_problems(page, axe_source)
    page.locator("#title").fill("Presupuesto participativo 2028")
    page.locator("#description").fill("Ferias, mercados y comercio de barrio.")
    page.locator("#total_budget").fill("20000000")
    page.get_by_label("Ferias y mercados").check()
    start = utcnow() + timedelta(days=30)
    for i, name in enumerate(
        [
            "proposals_start",
            "review_start",
            "voting_start",
            "results_start",
            "implementation_start",
            "closed_start",
        ]
    ):
        page.locator(f"#{name}").fill((start + timedelta(days=20 * i)).strftime("%Y-%m-%dT10:00"))
    page.get_by_role("button", name="Guardar").click()
    expect(page.get_by_role("heading", name="Presupuesto participativo 2028")).to_be_visible()
    problems += accessibility_problems(page, axe_source)
    screenshot(page, "desktop-staff-round")

    # A round in review, with proposals residents sent.
    round_ = factory.round(valparaiso, phase="review", title="Presupuesto participativo 2027")
    cerro = factory.district(round_, "Cerro Alegre", 5_000_000)
    factory.district(round_, "Playa Ancha", 5_000_000, code="UV-7")
    author = factory.user()
    factory.proposal(round_, author, district=cerro, title="Techado feria Cerro Alegre")
    factory.proposal(round_, author, district=cerro, title="Baños para la feria", cost=900_000)

    page.goto(f"{live_url}/gestion/valparaiso/rondas/{round_.id}")
    page.get_by_role("link", name="Evaluar propuestas").click()
    problems += accessibility_problems(page, axe_source)
    page.get_by_role("link", name="Techado feria Cerro Alegre").click()
    problems += accessibility_problems(page, axe_source)
    page.locator("#review-decision").select_option("feasible")
    page.locator("#review-final_cost").fill("3200000")
    page.locator("#review-reason").fill("Factible con la instalación eléctrica incluida.")
    page.get_by_role("button", name="Guardar la evaluación").click()
    expect(page.get_by_text("La evaluación fue guardada.")).to_be_visible()
    screenshot(page, "desktop-staff-review")

    page.goto(f"{live_url}/gestion/valparaiso/rondas/{round_.id}")
    page.get_by_role("link", name="Subir el padrón").click()
    problems += accessibility_problems(page, axe_source)
    census = "rut;fecha_nacimiento;sector\n" + "".join(
        f"{make_rut(i)};0{1 + i}-03-1980;{'Cerro Alegre' if i % 2 else 'UV-7'}\n" for i in range(4)
    )
    page.locator("input[type=file]").set_input_files(
        {"name": "padron.csv", "mimeType": "text/csv", "buffer": census.encode()}
    )
    page.get_by_role("button", name="Subir", exact=True).click()
    expect(page.get_by_text("El padrón fue reemplazado: 4 personas.")).to_be_visible()
    assert problems == []
    assert page.problems == []


def test_staff_enters_paper_ballots_and_publishes_results(
    desktop: Any,
    phone: Any,
    live_url: str,
    app: Any,
    db: Any,
    factory: Any,
    voting_round: Any,
    axe_source: str,
) -> None:
    vr = voting_round(method="approval", min_selections=1, max_selections=2)
    # Residents vote online (through HTTP: the phone tests already click through it).
    for index, title in [(0, "Techado feria Cerro Alegre"), (1, "Capacitación digital")]:
        client = app.test_client()
        resident = vr.residents[index]
        assert check_in(client, vr, resident).status_code == 302
        fields = [(f"d{resident.district.id}-p", str(vr.projects[title].id))]
        assert vote(client, vr, fields).status_code == 302

    page = desktop
    staff_signs_in(page, live_url, factory, vr.municipality)
    problems: list[str] = []
    page.goto(live_url + vr.staff_base)
    page.get_by_role("link", name="Papeletas en papel y locales de votación").click()
    page.locator("#name").fill("Escuela Joaquín Edwards Bello")
    page.get_by_role("button", name="Agregar").click()
    expect(page.get_by_text("Local de votación agregado.")).to_be_visible()
    problems += accessibility_problems(page, axe_source)
    page.get_by_role("link", name="Ingresar papeletas en papel").click()
    page.locator("#rut").fill(vr.residents[2].rut)
    page.locator("#site").select_option(label="Escuela Joaquín Edwards Bello")
    page.get_by_role("button", name="Verificar y seguir").click()
    problems += accessibility_problems(page, axe_source)
    page.get_by_label("Taller de oficios").check()
    page.get_by_role("button", name="Contar esta papeleta").click()
    expect(page.get_by_text("Papeleta en papel contada.")).to_be_visible()

    # Voting closes (as its dates would), the votes are counted and published.
    from portal.budgeting.models import Round

    round_ = db.session.get(Round, vr.round.id)
    round_.results_start = utcnow() - timedelta(minutes=1)
    db.session.commit()
    page.goto(live_url + vr.staff_base)
    page.get_by_role("link", name="Contar y publicar los resultados").click()
    page.get_by_role("button", name="Contar los votos").click()
    expect(page.get_by_text("Se contaron los votos.")).to_be_visible()
    problems += accessibility_problems(page, axe_source)
    page.get_by_role("button", name="Publicar los resultados").click()
    expect(page.get_by_text("Los resultados están publicados.")).to_be_visible()
    screenshot(page, "desktop-staff-results")

    # Residents see them: two districts, two charts, no repeated ids.
    for viewer, name in [(page, "desktop-results"), (phone, "phone-results")]:
        viewer.goto(live_url + vr.base)
        viewer.get_by_role("link", name="Ver los resultados").click()
        expect(viewer.locator("svg.chart")).to_have_count(2)
        problems += accessibility_problems(viewer, axe_source)
        screenshot(viewer, name)
    assert problems == []
    assert page.problems == [] and phone.problems == []
