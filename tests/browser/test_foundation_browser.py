"""The foundation as people see it in a real browser."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import screenshot


def sign_in(page: Any, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/ingresar")
    page.get_by_label("Correo electrónico").fill(email)
    page.get_by_label("Contraseña").fill(password)
    page.get_by_role("button", name="Ingresar").click()


def test_public_pages_load_cleanly_on_a_phone(phone: Any, live_url: str, factory: Any) -> None:
    factory.municipality("05101")
    for path, name in [
        ("/", "home"),
        ("/valparaiso/", "municipality"),
        ("/ingresar", "login"),
        ("/registro", "signup"),
    ]:
        response = phone.goto(live_url + path)
        assert response.status == 200, path
        assert phone.evaluate("document.documentElement.lang") == "es-CL"
        # Nothing wider than the phone's screen.
        assert phone.evaluate("document.documentElement.scrollWidth") <= 360, path
        screenshot(phone, f"phone-{name}")
    assert phone.problems == []


def test_staff_signs_in_on_a_phone_without_javascript(
    phone_without_js: Any, live_url: str, factory: Any
) -> None:
    from tests.conftest import PASSWORD

    valparaiso = factory.municipality("05101")
    factory.user(
        "camila@valparaiso.cl", role="municipal_staff", municipality=valparaiso, name="Camila Rojas"
    )
    page = phone_without_js
    sign_in(page, live_url, "camila@valparaiso.cl", "wrong password")
    assert page.get_by_text("El correo o la contraseña no son correctos.").is_visible()
    sign_in(page, live_url, "camila@valparaiso.cl", PASSWORD)
    assert page.get_by_text("Hola, Camila Rojas.").is_visible()
    page.get_by_role("link", name="Municipalidad de Valparaíso").click()
    assert page.url.endswith("/gestion/valparaiso/")
    page.get_by_role("button", name="Salir").click()
    assert page.get_by_text("Cerraste tu sesión.").is_visible()
    assert page.problems == []


def test_language_switch_persists(phone: Any, live_url: str) -> None:
    phone.goto(live_url + "/ingresar")
    phone.get_by_role("button", name="English").click()
    assert phone.get_by_role("heading", name="Sign in").is_visible()
    phone.goto(live_url + "/")
    assert phone.evaluate("document.documentElement.lang") == "en"
    assert phone.get_by_text("Municipalities on Portal").is_visible()
    phone.get_by_role("button", name="Español").click()
    assert phone.get_by_text("Municipalidades en Portal").is_visible()


def test_skip_link_is_the_first_thing_the_keyboard_reaches(desktop: Any, live_url: str) -> None:
    desktop.goto(live_url + "/")
    desktop.keyboard.press("Tab")
    focused = desktop.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Saltar al contenido"
    desktop.keyboard.press("Enter")
    # a same-document navigation: wait for it (on a loaded machine it lands after press returns)
    desktop.wait_for_function("() => location.hash === '#main'", timeout=5000)
    assert desktop.url.endswith("#main")
    assert desktop.evaluate("document.activeElement.id") == "main"


def test_admin_creates_a_municipality_and_invites_staff(
    desktop: Any, live_url: str, factory: Any, app: Any
) -> None:
    from portal.mail import outbox_messages
    from tests.conftest import PASSWORD

    factory.user("admin@portal.cl", role="admin")
    sign_in(desktop, live_url, "admin@portal.cl", PASSWORD)
    desktop.goto(live_url + "/admin/")
    desktop.get_by_role("link", name="Nueva municipalidad").click()
    desktop.get_by_label("Comuna").select_option("13107")
    desktop.get_by_role("button", name="Crear").click()
    assert desktop.get_by_text("Municipalidad de Huechuraba fue creada.").is_visible()
    desktop.get_by_role("link", name="Invitar a una persona").click()
    desktop.get_by_label("Correo electrónico").fill("fomento@huechuraba.cl")
    desktop.get_by_label("Municipalidad").select_option(label="Municipalidad de Huechuraba")
    desktop.get_by_role("button", name="Enviar la invitación").click()
    assert desktop.get_by_text("La invitación fue enviada a fomento@huechuraba.cl.").is_visible()
    screenshot(desktop, "desktop-admin")
    with app.app_context():
        assert outbox_messages()[-1]["To"] == "fomento@huechuraba.cl"
    assert desktop.problems == []
