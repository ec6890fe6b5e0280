"""Partner structures in-process on a database: what intake stores on a request (and the
adviser's address only when the policy will use it), the imported list replacing the rules
file's, and the adviser's address erased with the person."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.admin.structures import import_file
from mailflow.context import Context
from mailflow.core.labels import load_labels
from mailflow.privacy.erasure import forget_person
from mailflow.review.report import build
from mailflow.review.stats import collect
from mailflow.review.stats_render import render_text
from mailflow.review.stats_structures import structure_words
from mailflow.store.models import Request
from tests.db.test_ambassador_mail import NOW, mail
from tests.inprocess import close_context, open_context
from tests.inprocess import store_and_process as run

LEA = "Léa Martin <lea@users.test>"
BAKERY = "Bonjour, j'ai 17 ans et je voudrais rencontrer une boulangère près de Caen. Léa"


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", NOW)
    yield open_context(tmp_path)
    close_context()


def stored() -> list[tuple]:
    query = Request.select().order_by(Request.id)
    return [(r.structure, r.structure_kind, r.structure_via, r.structure_adviser) for r in query]


def test_what_intake_stores_for_each_way_a_structure_relays(ctx: Context) -> None:
    run(
        ctx,
        mail("Demande", BAKERY, sender=LEA, Cc="Thomas <Thomas.Girard@ML-Caen.test>"),
        mail("Demande", BAKERY, sender="Nina <nina@users.test>", Cc="x@ft-rouen.example.test"),
        mail(
            "VAE",
            "Mon conseiller France Travail m'a parlé de la VAE d'aide-soignante.",
            sender="Samia <samia@users.test>",
        ),
        mail(
            "Stage",
            "Je suis au lycée Malherbe, je cherche un stage en boulangerie à Caen.",
            sender="Tom <tom@users.test>",
        ),
        mail("Demande", BAKERY, sender="Zoé <zoe@users.test>"),
    )
    assert stored() == [
        # ML Caen tells its advisers: the address is kept until the first answer
        ("ml-caen", "mission_locale", "through", "thomas.girard@ml-caen.test"),
        # France Travail Rouen does not (the default, false): nothing kept
        ("ft-rouen", "france_travail", "through", None),
        (None, "france_travail", "text", None),
        ("lycee-malherbe", "etablissement", "text", None),
        (None, None, None, None),
    ]


def test_the_imported_list_replaces_the_rules_files(ctx: Context, tmp_path: Path) -> None:
    csv = tmp_path / "structures.csv"
    csv.write_text(
        "key;name;kind;domains;notify\nml-vire;Mission Locale de Vire;mission_locale;"
        "ml-vire.fr;oui\n",
        encoding="utf-8",
    )
    import_file(csv)
    run(
        ctx,
        mail("Demande", BAKERY, sender=LEA, Cc="anne@ml-vire.fr"),
        mail("Demande", BAKERY, sender="Nina <nina@users.test>", Cc="x@ml-caen.test"),
    )
    assert stored() == [
        ("ml-vire", "mission_locale", "through", "anne@ml-vire.fr"),
        (None, None, None, None),  # ml-caen was the example list's
    ]


def test_the_advisers_address_is_erased_with_the_person(ctx: Context) -> None:
    run(ctx, mail("Demande", BAKERY, sender=LEA, Cc="thomas@ml-caen.test"))
    [request] = Request.select()
    assert request.structure_adviser == "thomas@ml-caen.test"
    forget_person(request.person, kept=lambda address: False)
    assert stored() == [("ml-caen", "mission_locale", "through", None)]  # still counted


def test_the_report_and_the_text_show_the_structures_in_french(ctx: Context) -> None:
    run(
        ctx,
        mail("Demande", BAKERY, sender=LEA, Cc="thomas@ml-caen.test"),
        mail(
            "Demande",
            "ma conseillère mission locale m'a donné votre adresse, je veux être boulanger à Caen",
            sender="Nina <nina@users.test>",
        ),
        mail("Demande", BAKERY, sender="Zoé <zoe@users.test>"),
    )
    words = structure_words(ctx.rules.structures)
    labels = load_labels(ctx.cfg.paths.rules)
    zone = ctx.cfg.schedule.zone
    index = build(2026, zone, labels, words)["index.html"]
    assert "Relayées par les structures partenaires" in index
    for shown in (
        "Mission Locale de Caen",
        "structure non nommée (type seulement)",
        "Missions Locales",
        "conseiller de la structure en copie",
    ):
        assert shown in index, shown
    text = render_text(collect(2026, zone), labels, words)
    section = text[text.index("Relayées par les structures partenaires") :]
    for line in (
        r"total : relayées par une structure +2",
        r"structure : Mission Locale de Caen +1",
        r"structure : structure non nommée \(type seulement\) +1",
        r"type : Missions Locales +2",
        r"voie : conseiller de la structure en copie +1",
        r"voie : aucune structure +1",
    ):
        assert re.search(rf"^  {line}$", section, re.M), line


def test_writing_again_with_the_adviser_in_copy_attributes_the_open_request(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(ctx, mail("Demande", BAKERY, sender=LEA))
    assert stored() == [(None, None, None, None)]
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-03T09:00:00")
    again = "Bonjour, je vous réécris : je voudrais rencontrer une boulangère près de Caen. Léa"
    assert run(ctx, mail("Re: Demande", again, sender=LEA, Cc="thomas@ml-caen.test")) == {
        "request-joined": 1
    }
    assert stored() == [("ml-caen", "mission_locale", "through", "thomas@ml-caen.test")]
