"""Reading a person's feedback reply; loading the follow-up policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailflow.config import PROJECT_ROOT
from mailflow.core.feedback_answer import load_feedback_rules, parse_feedback
from mailflow.core.followup_policy import load_policy
from mailflow.errors import RulesError

RULES = load_feedback_rules(PROJECT_ROOT / "rules")
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
        # dates, ages, classes, durations and counts are no score
        ("On s'est vus le 2 mars, je mets 5", 5, True),
        ("Oui\n\nLéa, 15 ans, 3e B", None, True),
        ("J'ai 14 ans, on s'est vus le 3, je lui donne 5", 5, True),
        ("5/5 !!! Oui, on s'est vus 2 fois, c'était génial", 5, True),
        ("Bonjour,\n\nje dirais 4 sur 5. Nous nous sommes vus le 12/03 à 14h.\n\nMerci !", 4, True),
        ("RDV prévu le 04/01/2027 à 10:30, je vous dirai. Note : 4", 4, None),
        # number words
        ("cinq, oui", 5, True),
        ("Quatre sur cinq. Oui on s'est rencontrés au salon.", 4, True),
        ("Un bon échange, oui. 4", 4, True),  # "un" is an article here
        ("Deux.\nNon.", 2, False),
        # "did you meet?" said in words
        ("On ne s'est pas vus, mais l'échange m'a aidé : 3", 3, False),
        ("Je ne l'ai pas encore rencontré. Note 4/5", 4, False),
        ("Pas encore vu mais oui très utile, 4", 4, False),  # the first answer said wins
        ("Non, pas eu l'occasion. 2", 2, False),
        ("Super échange, 5 étoiles ! On s'est rencontrés samedi.", 5, True),
        # signatures and quoted text are not the answer
        ("Oui\n4\n-- \nLéa Martin\n06 12 34 56 78\n3e B, collège Pagnol", 4, True),
        ("Oui c'était bien\n\nEnvoyé de mon iPhone", None, True),
        (
            "je mets 4\nLe mar. 17 mars 2026 à 10:00, Ambassadeurs <\n"
            "relay+x@mailflow.test> a écrit :\n> Répondez de 1 à 5, oui / non",
            4,
            None,
        ),
        (
            "4 oui\n\nDe : Ambassadeurs <relay+x@mailflow.test>\nEnvoyé : mardi 17 mars 2026\n"
            "Objet : Votre avis\n\nRépondez de 1 (pas du tout) à 5 (beaucoup). oui / non",
            4,
            True,
        ),
        ("Oui !\n\n> 1. Cet échange vous a-t-il aidé ? Répondez de 1 à 5.", None, True),
    ],
)
def test_parse_feedback(reply: str, score: int | None, met: bool | None) -> None:
    answer = parse_feedback(reply + QUOTED, RULES)
    assert (answer.score, answer.met, answer.ambiguous) == (score, met, False)


@pytest.mark.parametrize(
    "reply",
    ["3 ou 4, oui", "Entre 3 et 4", "Note 2, enfin plutôt 4/5", "cinq\n2", "4/5 ou 3 sur 5"],
)
def test_two_scores_are_ambiguous_and_none_is_guessed(reply: str) -> None:
    answer = parse_feedback(reply + QUOTED, RULES)
    assert answer.score is None and answer.ambiguous and not answer.understood


def test_quoted_request_alone_is_not_an_answer() -> None:
    assert parse_feedback(QUOTED.strip(), RULES) == parse_feedback("", RULES)
    assert not parse_feedback(QUOTED.strip(), RULES).understood


def test_wrong_feedback_rules_are_reported_by_file(tmp_path: Path) -> None:
    text = (PROJECT_ROOT / "rules" / "feedback.toml").read_text(encoding="utf-8")
    (tmp_path / "feedback.toml").write_text(text.replace("highest = 5", "highest = 0"))
    with pytest.raises(RulesError, match="feedback.toml"):
        load_feedback_rules(tmp_path)
    (tmp_path / "feedback.toml").write_text(text.replace("[met]", "[mett]"))
    with pytest.raises(RulesError, match="feedback.toml.*met"):
        load_feedback_rules(tmp_path)


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


def test_ambiguous_reply_is_asked_again_once_then_a_clear_one_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailflow.daemon import run_followups
    from mailflow.store.models import Conversation, OutboundMail, Request
    from tests.inprocess import close_context, mail_bytes, open_context, store_and_process

    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T09:00:00")
    ctx = open_context(tmp_path, trusted=True)
    try:
        ask = "Bonjour, j'ai 15 ans et je voudrais rencontrer une boulangère près de Caen."
        assert store_and_process(ctx, mail_bytes(ask)) == {"request-offered": 1}
        conv = Conversation.get()
        to_lea = ctx.cfg.relay.token_address(conv.ambassador_token)
        answer = mail_bytes("Avec plaisir !", "Marie <amb1@pros.test>", to_lea, "Re: demande")
        assert store_and_process(ctx, answer) == {"relayed": 1}
        monkeypatch.setenv("MAILFLOW_NOW", "2026-03-16T10:00:00")
        assert run_followups(ctx)["feedback-asked"] == 1
        feedback = ctx.cfg.relay.token_address(Request.get().feedback_token)

        def answers(*bodies: str) -> list[str]:
            said = [mail_bytes(b, "Léa <lea@users.test>", feedback, "Re: avis") for b in bodies]
            return [next(iter(store_and_process(ctx, raw))) for raw in said]

        assert answers("3 ou 4, oui", "Entre 3 et 4") == ["feedback-unclear"] * 2
        request = Request.get()
        assert (request.feedback_score, request.feedback_met, request.state) == (
            None,
            None,
            "feedback_asked",
        )
        assert answers("4, oui\n-- \nLéa, 15 ans, 3e B") == ["feedback-recorded"]
        request = Request.get()
        assert (request.feedback_score, request.feedback_met, request.state) == (4, True, "closed")
        purposes = [m.purpose for m in OutboundMail.select().order_by(OutboundMail.id)]
        assert purposes.count("feedback_unclear") == 1
        assert purposes.count("feedback_thanks") == 1
    finally:
        close_context()
