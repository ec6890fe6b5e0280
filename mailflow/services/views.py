"""How requests, people and ambassadors are shown in mails (never with a real address)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from mailflow.core.labels import Labels
from mailflow.core.values import age_band
from mailflow.masking.request_text import shown_text
from mailflow.store.directory import ambassador_fields
from mailflow.store.models import Ambassador, Request
from mailflow.understand.first_names import first_name_or_none
from mailflow.understand.referential import Referential


def trade_label(request: Request) -> str | None:
    """What is asked, as mails name it; None when nothing is known yet: every template
    then reads without it (tests/unit/test_templates_missing.py), never a stand-in word."""
    if request.diploma and request.trade_text:
        words = request.trade_text
        if words.lower().startswith(request.diploma.lower()):
            return words
        return f"{request.diploma} {words}"
    return request.rome_label or request.trade_text or None


def place_label(request: Request, ref: Referential) -> str | None:
    dept = request.department
    if request.commune:
        return f"{request.commune} ({dept})" if dept else request.commune
    if dept:
        name = ref.department_name(dept)
        return f"{name} ({dept})" if name else dept
    if request.region:
        return ref.region_name(request.region) if hasattr(ref, "region_name") else None
    return None


def who_of(request: Request) -> str:
    """How mails name the person of a request: their first name, if they gave one."""
    return first_name_or_none(request.first_name) or "Une personne"


def request_view(request: Request, ref: Referential, keep: Collection[str] = ()) -> dict[str, Any]:
    """The request as every mail shows it: what comes from the person's text (message,
    trade words, first name) with no address in it but those of `keep` (masking/request_text.py),
    whoever the mail goes to; the stored request keeps what they wrote, for the coordinator."""
    first = first_name_or_none(request.first_name)
    own = request.person.email if request.person_id else None
    return {
        "id": request.id,
        "kind": request.kind,
        "code_rome": request.code_rome,
        "trade_label": shown_text(trade_label(request) or "", own, keep) or None,
        "place": place_label(request, ref),
        "age": request.age,
        "age_band": age_band(request.age),
        "situation": request.situation,
        "first_name": first,
        "who": who_of(request),
        "who_short": first or "cette personne",
        "message": shown_text(request.message, own, keep).strip() or "(pas de message)",
        "lang": request.lang or "fr",  # "en": the person writes in English (intro.txt says so)
    }


# Up to this age, the one an adult writes for is "un·e jeune"; older, "une personne".
_YOUNG_UNTIL = 25


def writer_view(request: Request, labels: Labels) -> dict[str, str] | None:
    """Who wrote, when an adult wrote for someone else (request.writer_role), as the intro
    and the ack say it: "d'un·e conseiller·ère en insertion (...)" (rules/labels.toml
    [writer_phrases]) and whom for, "pour un·e jeune de 17 ans"; None when the person wrote
    for themselves."""
    role = request.writer_role
    if not role:
        return None
    age = request.age
    if role == "parent":
        young = "son enfant"
    elif age is not None and age > _YOUNG_UNTIL:
        young = "une personne"
    else:
        young = "un·e jeune"
    aged = f" de {age} ans" if age is not None else ""
    return {
        "role": role,
        "from": labels.of("writer_phrases", role, "d'un adulte"),
        "for": f"pour {young}{aged}",
        "young_writes": "yes" if request.young_address else "",  # may write from their own
    }


def in_sentence(title: str) -> str:
    """'Boulangère' -> 'boulangère' mid-sentence, but 'CAP Pâtissier' stays as written."""
    if len(title) > 1 and title[0].isupper() and title[1].islower():
        return title[0].lower() + title[1:]
    return title


def ambassador_view(ambassador: Ambassador) -> dict[str, Any]:
    """The ambassador as mails show them: first name, title mid-sentence, city."""
    view = ambassador_fields(ambassador, ("first_name", "title", "city"))
    return {**view, "title": in_sentence(ambassador.title)}
