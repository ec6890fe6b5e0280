"""The access journal in French: its events' causes are stored in English, like every cause
(`mailflow log --actions` prints them as stored); the *Journal des accès* says them in
French, split into who and what. A cause no pattern knows is shown as stored."""

from __future__ import annotations

import re

ROLES = {"coordinator": "coordination", "observer": "observation"}
_WHO = re.compile(r"^(?P<email>\S+@\S+) \((?P<role>\w+)\): (?P<what>.*)$", re.DOTALL)
_WHAT: tuple[tuple[str, str], ...] = (
    (r"viewed À traiter", "a consulté « À traiter »"),
    (r"viewed the timeline of request #(\d+)", r"a consulté la chronologie de la demande n° \1"),
    (r"listed requests \(no filter\): (\d+) shown", r"a listé les demandes (sans filtre) : \1"),
    (r"listed requests \((.*)\): (\d+) shown", r"a listé les demandes (\1) : \2"),
    (r"read the text of (\w+) message #(\d+)", r"a lu le texte du message \1 n° \2"),
    (r"read the raw source of (\w+) message #(\d+)", r"a lu la source brute du message \1 n° \2"),
    (r"viewed the access journal", "a consulté le journal des accès"),
    (r"viewed the ambassador directory: (\d+) shown", r"a consulté l'annuaire (\1 ambassadeurs)"),
    (r"closed request #(\d+):.*", r"a fermé la demande n° \1"),
    (r"corrected request #(\d+):.*", r"a corrigé la demande n° \1"),
    (r"assigned request #(\d+):.*", r"a confié la demande n° \1 à un ambassadeur"),
    (r"merged request #(\d+) into #(\d+):.*", r"a rattaché la demande n° \1 à la n° \2"),
    (r"released inbound message #(\d+) from quarantine", r"a relancé le message n° \1"),
    (r"dropped inbound message #(\d+) from quarantine", r"a abandonné le message n° \1"),
    (
        r"cleared the bounce state of ambassador #(\d+)",
        r"a rétabli l'adresse de l'ambassadeur n° \1",
    ),
    (r"signed in by a mailed link from (.+)", r"s'est connecté par un lien reçu par e-mail (\1)"),
    (r"signed in from (.+)", r"s'est connecté (\1)"),
    (r"signed out", "s'est déconnecté"),
    (r"a sign-in link was mailed", "a demandé un lien de connexion par e-mail"),
)
_ALONE: tuple[tuple[str, str], ...] = (
    (r"sign-in refused for (\S*) from (\S+): limits reached",
     r"connexion refusée pour « \1 » (\2) : trop d'essais manqués"),
    (r"sign-in refused for (\S*) from (\S+): wrong address or password",
     r"connexion refusée pour « \1 » (\2) : adresse ou mot de passe incorrect"),
    (r"sign-in link refused from (\S+)", r"lien de connexion refusé (\1) : plus valable"),
    (r"console account (\S+) added \((\w+)\)", r"compte \1 créé (\2)"),
    (r"console account (\S+) disabled", r"compte \1 désactivé"),
)  # fmt: skip


def _french(text: str, patterns: tuple[tuple[str, str], ...]) -> str | None:
    for pattern, french in patterns:
        found = re.fullmatch(pattern, text, flags=re.DOTALL)
        if found:
            return found.expand(french)
    return None


def journal_line(cause: str) -> tuple[str, str]:
    """(who, what) of one console event's cause, in French."""
    who = _WHO.match(cause)
    if who is None:
        return "—", _french(cause, _ALONE) or cause
    account = f"{who['email']} ({ROLES.get(who['role'], who['role'])})"
    return account, _french(who["what"], _WHAT) or who["what"]
