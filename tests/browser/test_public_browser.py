"""Residents find fairs and organizations; every public page passes axe and its byte budget."""

from __future__ import annotations

import re
from datetime import time
from typing import Any
from urllib.parse import urljoin, urlsplit

from playwright.sync_api import expect

from tests.browser.conftest import Transfer, accessibility_problems, screenshot
from tests.browser.test_foundation_browser import sign_in
from tests.economy.helpers import make_fair, make_organization

EVERY_DAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
PUBLIC_PAGE_BUDGET = 150 * 1024


def test_resident_finds_todays_fairs_and_an_organization_on_the_map(
    phone: Any, live_url: str, db: Any, factory: Any, axe_source: str
) -> None:
    valparaiso = factory.municipality("05101")
    make_fair(db, valparaiso, byday=EVERY_DAY, opens=time(0, 0), closes=time(23, 59))
    make_organization(db, valparaiso)
    make_organization(
        db,
        valparaiso,
        name="Taller de Costura Mujeres del Cerro",
        legal_form="community",
        sector="textiles",
        products="ropa, bordados",
        lat=-33.0420,
        lon=-71.6230,
    )
    problems: list[str] = []

    phone.goto(live_url + "/ferias/hoy")
    expect(phone.get_by_role("link", name="Feria Libre Avenida Argentina").first).to_be_visible()
    problems += accessibility_problems(phone, axe_source)
    screenshot(phone, "phone-fairs-today")

    phone.goto(live_url + "/valparaiso/")
    phone.get_by_role("link", name="Organizaciones de economía social").click()
    # The list says everything; the map is optional.
    expect(phone.get_by_role("link", name="Cooperativa Caleta Portales")).to_be_visible()
    expect(phone.get_by_role("link", name="Taller de Costura Mujeres del Cerro")).to_be_visible()
    problems += accessibility_problems(phone, axe_source)
    phone.get_by_role("button", name="Mostrar el mapa").click()
    markers = phone.locator(".leaflet-marker-icon")
    expect(markers).to_have_count(2)
    problems += accessibility_problems(phone, axe_source)
    screenshot(phone, "phone-directory-map")
    markers.first.click()
    popup = phone.locator(".leaflet-popup-content a")
    expect(popup).to_be_visible()
    name = popup.inner_text()
    popup.click()
    expect(phone.get_by_role("heading", name=name)).to_be_visible()
    assert problems == []
    assert phone.problems == []


def test_resident_finds_an_organization_without_javascript(
    phone_without_js: Any, live_url: str, db: Any, factory: Any
) -> None:
    valparaiso = factory.municipality("05101")
    make_organization(db, valparaiso)
    page = phone_without_js
    page.goto(live_url + "/valparaiso/organizaciones/")
    expect(page.get_by_role("button", name="Mostrar el mapa")).to_be_hidden()
    page.locator("#q").fill("caleta")
    page.get_by_role("button", name="Buscar").click()
    page.get_by_role("link", name="Cooperativa Caleta Portales").click()
    expect(page.get_by_role("heading", name="Cooperativa Caleta Portales")).to_be_visible()
    assert page.problems == []


SKIP = re.compile(r"\.(csv|json|ics|pb|png|jpe?g|webp|svg|ico)$|/media/|/salir|/idioma")


SLUGS = re.compile(r"/(valparaiso|vina-del-mar|concepcion|talcahuano)/")


def pattern_of(path: str) -> str:
    """One page per route: numbers stand for any id, a demo comuna for any comuna."""
    return SLUGS.sub("/S/", re.sub(r"\d+", "N", path))


def crawl(page: Any, base: str, seeds: list[str], limit: int, axe: str) -> tuple[Any, Any]:
    """Visit one page per route pattern reachable from the seeds; axe and bytes of each."""
    network = Transfer(page)
    seen: set[str] = set()
    queue = list(seeds)
    problems: list[str] = []
    sizes: dict[str, int] = {}
    while queue and len(sizes) < limit:
        path = queue.pop(0)
        if pattern_of(path) in seen:
            continue
        seen.add(pattern_of(path))
        network.reset()
        response = page.goto(base + path)
        if response is None or response.status != 200:
            continue
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        page.wait_for_load_state("load")
        sizes[path] = network.total()
        problems += accessibility_problems(page, axe)
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            url = urlsplit(urljoin(base + path, href))
            if f"{url.scheme}://{url.netloc}" != base or SKIP.search(url.path):
                continue
            target = url.path + (f"?{url.query}" if url.query else "")
            if pattern_of(url.path) not in seen:
                queue.append(target)
    network.cdp.detach()
    return problems, sizes


def report(kind: str, sizes: dict[str, int]) -> None:
    print(f"\n[bytes] {kind}: {len(sizes)} pages, transferred per page (cache off):")
    for path, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        print(f"[bytes]   {size / 1024:6.1f} KB  {path}")


def test_every_public_and_key_staff_page_passes_axe_within_budget(
    phone: Any, desktop: Any, live_url: str, db: Any, axe_source: str
) -> None:
    """The demo's data: rounds in every phase, results, registry, fairs, programmes."""
    from portal.demo import DEMO_PASSWORD, load_demo

    load_demo(db.session)
    db.session.commit()
    seeds = [
        "/",
        "/ferias/hoy",
        "/ferias/semana",
        "/programas",
        "/ingresar",
        "/registro",
        "/valparaiso/rondas/1/votar",
        "/valparaiso/rondas/1/comprobante",
        "/valparaiso/rondas/2/resultados",
        "/regiones/valparaiso/organizaciones/",
    ]
    problems, sizes = crawl(phone, live_url, seeds, 45, axe_source)
    report("public pages on a phone", sizes)
    assert len(sizes) >= 20
    assert problems == []
    assert {p: s for p, s in sizes.items() if s >= PUBLIC_PAGE_BUDGET} == {}
    screenshot(phone, "phone-last-public-page")

    sign_in(desktop, live_url, "fomento@valparaiso.demo", DEMO_PASSWORD)
    staff_seeds = [
        "/gestion/valparaiso/",
        "/gestion/valparaiso/rondas/",
        "/gestion/valparaiso/rondas/1",
        "/gestion/valparaiso/rondas/1/propuestas",
        "/gestion/valparaiso/rondas/1/papeletas",
        "/gestion/valparaiso/rondas/2/resultados",
        "/gestion/valparaiso/organizaciones/",
        "/gestion/valparaiso/ferias/",
        "/gestion/valparaiso/proyectos/",
    ]
    problems, staff_sizes = crawl(desktop, live_url, staff_seeds, 12, axe_source)
    report("staff pages on a desktop", staff_sizes)
    screenshot(desktop, "desktop-last-staff-page")
    assert len(staff_sizes) >= 9
    assert problems == []
    assert phone.problems == [] and desktop.problems == []
