"""Reading a person's feedback reply; loading the follow-up policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailflow.config import PROJECT_ROOT
from mailflow.errors import RulesError
from mailflow.feedback import parse_feedback
from mailflow.policy import load_policy

QUOTED = (
    "\n\nLe 17 mars 2026 à 10:00, Ambassadeurs <relay+x@mailflow.test> a écrit :\n"
    "> 1. Cet échange vous a-t-il aidé ? Répondez de 1 (pas du tout) à 5 (beaucoup).\n"
    "> 2. Avez-vous rencontré l'ambassadeur ? oui / non\n"
)


@pytest.mark.parametrize(
    ("reply", "score", "met"),
    [
        ("4, oui", 4, True),
        ("5 oui merci beaucoup !", 5, True),
        ("Note : 3/5. Non pas encore.", 3, False),
        ("2 sur 5, non", 2, False),
        ("OUI ! 5", 5, True),
        ("Oui", None, True),
        ("1", 1, None),
        ("Très bien merci, 4. On s'est vus mercredi, oui.", 4, True),
        ("Bof", None, None),
        ("Je ne sais pas", None, None),
        ("7, oui", None, True),  # not on the 1..5 scale
    ],
)
def test_parse_feedback(reply: str, score: int | None, met: bool | None) -> None:
    answer = parse_feedback(reply + QUOTED)
    assert (answer.score, answer.met) == (score, met)


def test_quoted_request_alone_is_not_an_answer() -> None:
    assert parse_feedback(QUOTED.strip()) == parse_feedback("")


def test_policy_from_rules_and_its_errors(tmp_path: Path) -> None:
    policy = load_policy(PROJECT_ROOT / "rules")
    assert (policy.first_reminder_after, policy.second_reminder_after, policy.reassign_after) == (
        3,
        5,
        7,
    )
    text = (PROJECT_ROOT / "rules" / "followup.toml").read_text(encoding="utf-8")
    (tmp_path / "followup.toml").write_text(
        text.replace("reassign_after = 7", "reassign_after = 4"), encoding="utf-8"
    )
    with pytest.raises(RulesError, match="must grow"):
        load_policy(tmp_path)
    other = tmp_path / "b"
    other.mkdir()
    (other / "followup.toml").write_text(
        text.replace("nudge_after_days = 4", 'nudge_after_days = "4"'), encoding="utf-8"
    )
    with pytest.raises(RulesError, match="person.nudge_after_days"):
        load_policy(other)
