"""The coordinators' console in a real headless Chromium, against the real `mailflow web`.

A coordinator signs in through the form, sees *À traiter* (the quarantined message, the
12-year-old's request), retries the quarantined message, opens a request that came
through the pipeline, reads its first message, closes the request with a reason, and
finds the closing and the page views in the *Journal des accès*, in
`mailflow log --actions --kind web` and in the person's export; a form whose CSRF token
was removed is refused; an observer, in a browser of its own, reads the statistics and
the timeline with no address anywhere (text and HTML); ten wrong passwords typed in the
form lock the account. Screenshots (desktop and phone) go to tests/artifacts/.

Chromium comes from Debian (/usr/bin/chromium); without it this test fails.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from mailflow.cli.main import main
from mailflow.store.models import InboundMessage, Request
from tests.console_support import COORDINATOR, OBSERVER, console, seed
from tests.e2e.test_report_browser import CHROMIUM_FLAGS
from tests.headless import Browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ADDRESS = re.compile(r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)+")
PHONE = (390, 844)


@pytest.fixture
def chromium():  # noqa: ANN201
    binary = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(binary).exists(), "Chromium is needed: apt-get install chromium"
    browser = Browser(binary, list(CHROMIUM_FLAGS))
    yield browser
    browser.close()


def _shot(browser: Browser, tab: str, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    browser.screenshot(tab, ARTIFACTS / f"console-{name}.png")
    browser.resize(tab, *PHONE, mobile=True)
    browser.screenshot(tab, ARTIFACTS / f"console-{name}-phone.png")
    browser.resize(tab, 1280, 2000)


def test_a_coordinator_works_and_an_observer_reads(
    tmp_path: Path, chromium: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = seed(tmp_path)
    with console(seeded.config, seeded.port) as url:
        tab = chromium.open(f"{url}/a-traiter")
        assert chromium.evaluate(tab, "location.pathname") == "/connexion"
        _shot(chromium, tab, "signin")
        chromium.submit(tab, "form[action='/connexion']", {"email": COORDINATOR[0],
                        "password": COORDINATOR[1]})  # fmt: skip
        assert chromium.evaluate(tab, "location.pathname") == "/a-traiter"
        todo = chromium.text(tab)
        assert "Courrier en quarantaine (1)" in todo and "test: held for the coordinator" in todo
        assert "Moins de 15 ans (1)" in todo and f"n° {seeded.tom}" in todo
        _shot(chromium, tab, "a-traiter")
        chromium.submit(tab, f"form[action='/quarantaine/{seeded.quarantined}/relancer']", {})
        assert "traité de nouveau" in chromium.text(tab)
        assert "Courrier en quarantaine (0)" in chromium.text(tab)
        assert InboundMessage.get_by_id(seeded.quarantined).status == "stored"

        chromium.goto(tab, f"{url}/demandes")
        listing = chromium.text(tab)
        assert f"n° {seeded.lea}" in listing and "Léa" in listing
        _shot(chromium, tab, "demandes")

        chromium.goto(tab, f"{url}/demandes/{seeded.lea}")
        timeline = chromium.text(tab)
        assert "Chronologie" in timeline and "stage boulangerie" in timeline
        assert "Fermer la demande" in timeline
        _shot(chromium, tab, "demande")
        first = chromium.evaluate(tab, "document.querySelector('a[href^=\"/messages/\"]').href")
        chromium.goto(tab, first)
        assert "très tôt" in chromium.text(tab)  # Léa's own words, readable
        chromium.goto(tab, f"{url}/demandes/{seeded.lea}")

        # the token removed from the page's form: the server refuses it
        chromium.evaluate(tab, "document.querySelector('form#fermer input[name=csrf]').remove()")
        chromium.submit(tab, "form#fermer", {"reason": "sans jeton"})
        assert "ne vient pas de la console" in chromium.text(tab)
        assert Request.get_by_id(seeded.lea).state != "closed"

        chromium.goto(tab, f"{url}/demandes/{seeded.lea}")
        chromium.submit(tab, "form#fermer", {"reason": "elle a trouvé un stage seule"})
        assert "La demande est fermée." in chromium.text(tab)
        assert Request.get_by_id(seeded.lea).state == "closed"

        chromium.goto(tab, f"{url}/journal")
        journal = chromium.text(tab)
        assert f"{COORDINATOR[0]} (coordination)\ta fermé la demande n° {seeded.lea}" in journal
        assert f"a consulté la chronologie de la demande n° {seeded.lea}" in journal
        assert "s'est connecté (127.0.0.1)" in journal
        assert f"a relancé le message n° {seeded.quarantined}" in journal
        _shot(chromium, tab, "journal")

        capsys.readouterr()
        assert main(["--config", str(seeded.config), "log", "--actions", "--kind", "web"]) == 0
        actions = capsys.readouterr().out
        assert f"WEB-ACTION {COORDINATOR[0]} (coordinator): closed request #{seeded.lea}" in (
            actions
        )
        assert f"[request #{seeded.lea}]" in actions
        assert (
            main(["--config", str(seeded.config), "person", "export", "lea.martin@users.test"]) == 0
        )
        exported = capsys.readouterr().out  # who looked at her request is hers to know
        assert f"{COORDINATOR[0]} (coordinator): viewed the timeline of request #{seeded.lea}" in (
            exported
        )

        other = chromium.open(f"{url}/connexion", isolated=True)
        chromium.submit(other, "form[action='/connexion']", {"email": OBSERVER[0],
                        "password": OBSERVER[1]})  # fmt: skip
        assert chromium.evaluate(other, "location.pathname") == "/statistiques"
        assert "Statistiques" in chromium.text(other)
        _shot(chromium, other, "statistiques")
        for path in ("/statistiques", "/demandes", f"/demandes/{seeded.lea}",
                     f"/demandes/{seeded.tom}"):  # fmt: skip
            chromium.goto(other, url + path)
            for shown in (chromium.text(other), chromium.dom(other)):
                assert not ADDRESS.findall(shown), (path, ADDRESS.findall(shown))
        assert "Vue anonymisée" in chromium.text(other)
        chromium.goto(other, f"{url}/a-traiter")
        assert "réservée aux coordinateurs" in chromium.text(other)

        third = chromium.open(f"{url}/connexion", isolated=True)
        for i in range(10):
            chromium.submit(third, "form[action='/connexion']",
                            {"email": COORDINATOR[0], "password": f"essai {i}"})  # fmt: skip
            assert "Adresse ou mot de passe incorrect." in chromium.text(third)
        chromium.submit(third, "form[action='/connexion']",
                        {"email": COORDINATOR[0], "password": COORDINATOR[1]})  # fmt: skip
        assert "bloqué pendant encore 15 minutes" in chromium.text(third)
        assert chromium.evaluate(third, "location.pathname") == "/connexion"
