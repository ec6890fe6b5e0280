"""The young person's own address an adult gave (issue 14) is personal data of the request:
shown in the adult's `person export`, erased with the request when the adult is forgotten
(the column, and the log's `writer` event), never in the introduction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.context import Context
from mailflow.privacy.erasure import find_person, forget_person
from mailflow.privacy.export import export
from mailflow.privacy.retention_unlinked import kept_addresses
from mailflow.store.models import Event, OutboundMail, Request
from tests.db.test_ambassador_mail import NOW, mail
from tests.inprocess import close_context, open_context
from tests.inprocess import store_and_process as run

COUNSELLOR, YOUNG = "conseillere@users.test", "enzo.lemaire@users.test"
BODY = (
    "Bonjour, je suis conseillère à la Mission Locale de Caen et je vous écris pour un jeune "
    "de 17 ans qui voudrait rencontrer une boulangère près de Caen.\n"
    f"Il vous écrira de son adresse : {YOUNG}\nCordialement, Nathalie"
)


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", NOW)
    yield open_context(tmp_path)
    close_context()


def test_the_young_persons_address_is_exported_and_erased(ctx: Context) -> None:
    assert run(ctx, mail("Pour un jeune", BODY, sender=COUNSELLOR)) == {"request-offered": 1}
    request = Request.get()
    assert (request.writer_role, request.young_address) == ("conseiller_insertion", YOUNG)
    intro = OutboundMail.get(OutboundMail.purpose == "intro")
    assert YOUNG.encode() not in bytes(intro.raw)
    exported = export(COUNSELLOR)
    [shown] = exported["requests"]
    assert (shown["young_address"], shown["writer_role"]) == (YOUNG, "conseiller_insertion")

    forget_person(find_person(COUNSELLOR), kept_addresses(ctx.cfg))
    gone = Request.get_by_id(request.id)
    assert gone.young_address is None and gone.writer_role == "conseiller_insertion"  # counted
    assert not [e.cause for e in Event.select() if YOUNG in (e.cause or "")]
