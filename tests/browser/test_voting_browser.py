"""A resident votes on a phone, with and without JavaScript; keyboard only; on a slow network."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    LCP_OBSERVER,
    Transfer,
    accessibility_problems,
    screenshot,
)

# Each method's rules, the choices made first, and the changed vote.
# Residents 0, 2, 4… live in Cerro Alegre: its projects are on their ballot.
METHODS = {
    "approval": (
        {"method": "approval", "min_selections": 1, "max_selections": 2},
        {"Techado feria Cerro Alegre": "x"},
        {"Taller de oficios": "x", "Mercado de artesanas": "x"},
    ),
    "knapsack": (
        {"method": "knapsack", "min_selections": 1, "max_selections": None},
        {"Techado feria Cerro Alegre": "x", "Taller de oficios": "x"},
        {"Mercado de artesanas": "x"},
    ),
    "cumulative": (
        {
            "method": "cumulative",
            "points_total": 5,
            "points_cap": 3,
            "min_selections": 1,
            "max_selections": None,
        },
        {"Techado feria Cerro Alegre": "3", "Taller de oficios": "2"},
        {"Mercado de artesanas": "3"},
    ),
    "ranked": (
        {"method": "ranked", "rank_k": 2, "min_selections": 1, "max_selections": None},
        {"Mercado de artesanas": "1", "Techado feria Cerro Alegre": "2"},
        {"Taller de oficios": "1"},
    ),
}


def find_the_round(page: Any, base: str, vr: Any) -> None:
    """From the comuna's page to the round, whose page starts the eligibility check."""
    page.goto(f"{base}/{vr.municipality.slug}/")
    page.get_by_role("link", name=vr.round.title).click()
    assert page.url.endswith(vr.base)
    expect(page.get_by_role("heading", name="Votar", exact=True)).to_be_visible()


def check_eligibility(page: Any, resident: Any) -> None:
    page.get_by_label("RUT", exact=True).fill(resident.rut)
    page.get_by_label("Fecha de nacimiento").fill(resident.birth.isoformat())
    page.get_by_role("button", name="Seguir a la papeleta").click()
    heading = page.get_by_role("heading", name="Tu papeleta")
    heading.wait_for(state="visible", timeout=15_000)  # a throttled phone takes its time
    assert heading.is_visible()


def fill_ballot(page: Any, vr: Any, choices: dict[str, str]) -> None:
    """Clear the ballot, then tick or type the given choices."""
    for title in vr.projects:
        field = page.locator(f"[id$='{vr.projects[title].id}'][id^='c-']")
        if field.count() == 0:
            continue  # another district's project
        kind = field.get_attribute("type")
        value = choices.get(title)
        if kind == "checkbox":
            field.set_checked(value is not None)
        else:
            field.fill(value or "")


def receipt_of(page: Any) -> str:
    return page.locator(".receipt strong").inner_text().strip()


def vote_and_change(page: Any, base: str, vr: Any, method: str, axe: str | None) -> list[str]:
    """Find, check, vote, see the receipt, change the vote, check both receipts."""
    _rules, first, second = METHODS[method]
    problems: list[str] = []
    find_the_round(page, base, vr)
    if axe and method == "approval":  # the same page for every method: checked once
        problems += accessibility_problems(page, axe)
    check_eligibility(page, vr.residents[0])
    if axe:
        problems += accessibility_problems(page, axe)
    fill_ballot(page, vr, first)
    page.get_by_role("button", name="Enviar mi voto").click()
    assert page.get_by_role("heading", name="Tu voto está registrado").is_visible()
    if axe:
        problems += accessibility_problems(page, axe)
    first_receipt = receipt_of(page)

    page.get_by_role("link", name="Cambiar mi voto").click()
    assert page.get_by_text("Ya votaste.").is_visible()
    fill_ballot(page, vr, second)
    page.get_by_role("button", name="Enviar mi voto").click()
    assert page.get_by_text("Esta papeleta reemplaza la que enviaste antes.").is_visible()
    second_receipt = receipt_of(page)
    assert second_receipt != first_receipt

    page.get_by_role("link", name="Verificar este comprobante").click()
    assert page.get_by_role("status").filter(has_text=second_receipt.upper()).is_visible()
    if axe and method == "approval":
        problems += accessibility_problems(page, axe)
    page.get_by_label("Código del comprobante").fill(first_receipt)
    page.get_by_role("button", name="Verificar", exact=True).click()
    assert page.get_by_text("Ninguna papeleta con este comprobante").is_visible()
    return problems


@pytest.mark.parametrize("method", list(METHODS))
def test_resident_votes_and_changes_the_vote_on_a_phone(
    phone: Any, live_url: str, voting_round: Any, method: str, axe_source: str
) -> None:
    vr = voting_round(**METHODS[method][0])
    problems = vote_and_change(phone, live_url, vr, method, axe_source)
    assert problems == []
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert phone.problems == []


@pytest.mark.parametrize("method", list(METHODS))
def test_resident_votes_without_javascript(
    phone_without_js: Any, live_url: str, voting_round: Any, method: str
) -> None:
    vr = voting_round(**METHODS[method][0])
    vote_and_change(phone_without_js, live_url, vr, method, None)
    assert phone_without_js.problems == []


def test_ballot_shows_running_totals_and_server_errors(
    phone: Any, live_url: str, voting_round: Any
) -> None:
    vr = voting_round(**METHODS["knapsack"][0])
    phone.goto(live_url + vr.base + "/votar")
    check_eligibility(phone, vr.residents[0])
    tally = phone.locator(".tally").first
    expect(tally).to_be_visible()  # the script shows it; without JavaScript it stays hidden
    fill_ballot(phone, vr, {"Techado feria Cerro Alegre": "x", "Taller de oficios": "x"})
    expect(phone.locator("[data-used]").first).to_have_text(re.compile(r"\$\s?5\.000\.000"))
    # Over budget: the server refuses it and says why, keeping the choices.
    fill_ballot(
        phone,
        vr,
        {"Techado feria Cerro Alegre": "x", "Taller de oficios": "x", "Mercado de artesanas": "x"},
    )
    expect(tally).to_have_class(re.compile(r"\bover\b"))
    screenshot(phone, "phone-ballot-knapsack")
    phone.get_by_role("button", name="Enviar mi voto").click()
    assert phone.get_by_text("Tu papeleta aún no se envió").is_visible()
    kept = phone.locator(f"#c-d{vr.districts[0].id}-{vr.projects['Mercado de artesanas'].id}")
    assert kept.is_checked()
    # The refused ballot comes back with 422, which Chromium reports on the console.
    assert [p for p in phone.problems if "422" not in p] == []


def test_keyboard_only_vote(desktop: Any, live_url: str, voting_round: Any) -> None:
    """Tab, Space and Enter only: from the round's page to the receipt."""
    vr = voting_round(**METHODS["approval"][0])
    resident = vr.residents[2]
    page = desktop
    page.goto(live_url + vr.base)

    def tab_to(describe: str, max_presses: int = 60) -> None:
        for _ in range(max_presses):
            page.keyboard.press("Tab")
            if page.evaluate(
                f"(() => {{ const e = document.activeElement; return {describe}; }})()"
            ):
                return
        raise AssertionError(f"Tab never reached {describe}")

    tab_to("e.id === 'rut'")  # the round's page holds the eligibility check
    page.keyboard.type(resident.rut)
    tab_to("e.id === 'birth_date'", 2)
    page.keyboard.type(resident.birth.strftime("%d%m%Y"))
    tab_to("e.type === 'submit' && e.textContent.trim() === 'Seguir a la papeleta'")
    page.keyboard.press("Enter")
    page.wait_for_url("**/papeleta")
    project = vr.projects["Taller de oficios"]
    tab_to(f"e.id === 'c-d{vr.districts[0].id}-{project.id}'")
    page.keyboard.press("Space")
    assert page.evaluate("document.activeElement.checked")
    tab_to("e.textContent.trim() === 'Enviar mi voto'")
    page.keyboard.press("Enter")
    page.wait_for_url("**/voto-registrado")
    assert page.get_by_role("heading", name="Tu voto está registrado").is_visible()
    tab_to("e.textContent.trim() === 'Verificar este comprobante'")
    page.keyboard.press("Enter")
    page.wait_for_url("**/comprobante?**")
    assert page.get_by_role("status").filter(has_text="está en el conteo").is_visible()
    assert page.problems == []


# Slow 3G as Chrome's DevTools define it is 400 ms and 400 kbit/s; upload 400 kbit/s too.
SLOW_LATENCY_MS = 400
SLOW_DOWN_KBIT = 400
SLOW_UP_KBIT = 400


def test_ballot_is_usable_quickly_on_a_slow_phone(
    phone: Any, live_url: str, voting_round: Any
) -> None:
    vr = voting_round(**METHODS["approval"][0])
    phone.goto(live_url + vr.base + "/votar")
    check_eligibility(phone, vr.residents[0])
    phone.context.add_init_script(LCP_OBSERVER)
    network = Transfer(phone)
    network.slow_3g(SLOW_LATENCY_MS, SLOW_DOWN_KBIT, SLOW_UP_KBIT)
    network.reset()
    phone.goto(live_url + vr.base + "/papeleta", wait_until="load")
    phone.wait_for_timeout(300)  # let the observer report
    lcp = phone.evaluate("window.__lcp")
    load = phone.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
    network.fast()
    sizes = network.by_url()
    total = sum(sizes.values())
    print(
        f"\n[speed] ballot on slow 3G ({SLOW_LATENCY_MS} ms, {SLOW_DOWN_KBIT} kbit/s down, "
        f"{SLOW_UP_KBIT} kbit/s up, cache off): LCP {lcp:.0f} ms, load {load:.0f} ms, "
        f"{total / 1024:.1f} KB in {len(sizes)} requests"
    )
    for url, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        print(f"[speed]   {size / 1024:6.1f} KB  {url.replace(live_url, '')}")
    assert lcp is not None and lcp < 2000
    assert total < 50 * 1024
    assert phone.get_by_role("button", name="Enviar mi voto").is_enabled()
    assert phone.problems == []
