"""classify(): every rule of rules/classify.toml, and the order they are tried in."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from mailflow.config import PROJECT_ROOT
from mailflow.core.classify import (
    AUTO_REPLY,
    BOUNCE,
    MAILING_LIST,
    NORMAL,
    OWN_LOOP,
    SPAM,
    classify,
    load_classify_rules,
)
from mailflow.errors import RulesError
from mailflow.inbound.pipeline import parse

RULES = load_classify_rules(PROJECT_ROOT / "rules")
MARKER = "relay@mailflow.test"


def mail(sender: str = "Léa <lea@users.test>", subject: str = "Demande", **headers: str):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "relay@mailflow.test", subject
    msg["Message-ID"] = "<abc@users.test>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Bonjour, je voudrais rencontrer une boulangère.")
    return msg


def outcome(msg: EmailMessage, **kwargs: str) -> str:
    return classify(msg, RULES, MARKER, **kwargs).outcome


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, NORMAL),
        ({"Auto_Submitted": "no"}, NORMAL),
        ({"Auto_Submitted": "auto-replied"}, AUTO_REPLY),
        ({"Auto_Submitted": "auto-replied (zimbra; vacation)"}, AUTO_REPLY),
        ({"Auto_Submitted": "auto-generated"}, AUTO_REPLY),
        ({"Auto_Submitted": "auto-notified"}, AUTO_REPLY),
        ({"X_Autoreply": "yes"}, AUTO_REPLY),
        ({"X_Autorespond": "x"}, AUTO_REPLY),
        ({"X_Autoresponse": "x"}, AUTO_REPLY),
        ({"X_MS_Exchange_Inbox_Rules_Loop": "a@b.test"}, AUTO_REPLY),
        ({"X_Auto_Response_Suppress": "All"}, AUTO_REPLY),
        ({"X_Auto_Response_Suppress": "DR, OOF, AutoReply"}, AUTO_REPLY),
        ({"X_Auto_Response_Suppress": "DR, RN"}, NORMAL),
        ({"Precedence": "bulk"}, AUTO_REPLY),
        ({"Precedence": "junk"}, AUTO_REPLY),
        ({"Precedence": "auto_reply"}, AUTO_REPLY),
        ({"X_Precedence": "bulk"}, AUTO_REPLY),
        ({"Precedence": "list"}, MAILING_LIST),
        ({"Precedence": "first-class"}, NORMAL),
        ({"X_Loop": "support@helpdesk.test"}, AUTO_REPLY),
        ({"Return_Path": "<>"}, AUTO_REPLY),
        ({"List_Id": "<news.example.test>"}, MAILING_LIST),
        ({"List_Unsubscribe": "<mailto:u@example.test>"}, MAILING_LIST),
        ({"Mailing_List": "contact x@y.test; run by ezmlm"}, MAILING_LIST),
        ({"X_Failed_Recipients": "gone@example.test"}, BOUNCE),
        ({"X_Mailflow_Loop": MARKER}, OWN_LOOP),
        ({"X_Mailflow_Loop": "RELAY@MAILFLOW.TEST"}, OWN_LOOP),
        ({"X_Mailflow_Loop": "other@elsewhere.test"}, NORMAL),
        ({"X_Loop": MARKER}, OWN_LOOP),
        ({"X_Spam_Flag": "YES"}, SPAM),
        ({"X_Spam_Flag": "NO"}, NORMAL),
        ({"X_Spam_Status": "Yes, score=15.2 required=5.0 tests=BAYES_99"}, SPAM),
        ({"X_Spam_Status": "No, score=7.2 required=8.0"}, NORMAL),
        ({"X_Spam": "Yes"}, SPAM),
        ({"X_Spam": "no"}, NORMAL),
        ({"X_Spam_Score": "5"}, SPAM),
        ({"X_Spam_Score": "4.99"}, NORMAL),
        ({"X_Spam_Score": "-3.1"}, NORMAL),
        ({"X_Spam_Score": "n/a"}, NORMAL),
        ({"X_Rspamd_Score": "6.0"}, SPAM),
        ({"X_Rspamd_Score": "5.9"}, NORMAL),
    ],
)
def test_header_rules(headers: dict[str, str], expected: str) -> None:
    assert outcome(mail(**headers)) == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Réponse automatique : Demande", AUTO_REPLY),
        ("Automatic reply: Demande", AUTO_REPLY),
        ("Absence du bureau : Demande", AUTO_REPLY),
        ("Out of Office", AUTO_REPLY),
        ("Auto: Demande", AUTO_REPLY),
        ("TR: Réponse automatique : Demande", NORMAL),  # a person forwarding one
        ("Undeliverable: Demande", NORMAL),  # a bounce subject alone proves nothing
    ],
)
def test_subjects(subject: str, expected: str) -> None:
    assert outcome(mail(subject=subject)) == expected


@pytest.mark.parametrize(
    "sender",
    [
        "MAILER-DAEMON@mail.example.test",
        "Mail Delivery System <Mailer-Daemon@mx.example.test>",
        "postmaster@example.test",
        "Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@ex.test>",
    ],
)
def test_mail_system_senders_are_bounces(sender: str) -> None:
    assert outcome(mail(sender=sender)) == BOUNCE


def test_bounce_subject_counts_with_a_null_sender_or_auto_submitted() -> None:
    subject = "Undelivered Mail Returned to Sender"
    assert outcome(mail(sender="x@y.test", subject=subject, Return_Path="<>")) == BOUNCE
    assert (
        outcome(mail(sender="x@y.test", subject=subject, Auto_Submitted="auto-replied")) == BOUNCE
    )


def test_delivery_status_report_is_a_bounce() -> None:
    msg = mail(sender="Someone <someone@example.test>")
    msg.make_mixed()
    msg.replace_header(
        "Content-Type", 'multipart/report; report-type=delivery-status; boundary="b"'
    )
    assert outcome(msg) == BOUNCE


def test_read_receipt_is_an_auto_reply() -> None:
    msg = mail()
    msg.make_mixed()
    msg.replace_header(
        "Content-Type", 'multipart/report; report-type=disposition-notification; boundary="b"'
    )
    assert outcome(msg) == AUTO_REPLY


def test_order_bounce_before_auto_reply_before_list() -> None:
    postmaster = mail(sender="postmaster@x.test", Auto_Submitted="auto-replied")
    assert outcome(postmaster) == BOUNCE
    vacation_on_list = mail(Auto_Submitted="auto-replied", List_Id="<l.test>")
    assert outcome(vacation_on_list) == AUTO_REPLY
    newsletter = mail(Precedence="bulk", List_Unsubscribe="<mailto:u@x.test>")
    assert outcome(newsletter) == MAILING_LIST
    digest = mail(Auto_Submitted="auto-generated", List_Id="<l.test>")
    assert outcome(digest) == MAILING_LIST
    looped_bounce = mail(sender="mailer-daemon@x.test", X_Mailflow_Loop=MARKER)
    assert outcome(looped_bounce) == OWN_LOOP


def test_spam_comes_after_bounces_and_before_auto_replies() -> None:
    flagged_bounce = mail(sender="mailer-daemon@x.test", X_Spam_Flag="YES")
    assert outcome(flagged_bounce) == BOUNCE  # a DSN of ours is still handled
    flagged_vacation = mail(Auto_Submitted="auto-replied", X_Spam="Yes")
    assert outcome(flagged_vacation) == SPAM
    assert "x-spam-flag: yes" in classify(mail(X_Spam_Flag="YES"), RULES, MARKER).reason


def test_spam_score_thresholds_are_data(tmp_path: Path) -> None:
    text = (PROJECT_ROOT / "rules" / "classify.toml").read_text(encoding="utf-8")
    (tmp_path / "classify.toml").write_text(
        text.replace('"x-spam-score" = 5.0', '"x-spam-score" = 9.5'), encoding="utf-8"
    )
    rules = load_classify_rules(tmp_path)
    assert classify(mail(X_Spam_Score="9.4"), rules, MARKER).outcome == NORMAL
    assert classify(mail(X_Spam_Score="9.5"), rules, MARKER).outcome == SPAM
    (tmp_path / "classify.toml").write_text(
        text.replace('"x-spam-score" = 5.0', '"x-spam-score" = "high"'), encoding="utf-8"
    )
    with pytest.raises(RulesError, match="spam_scores.x-spam-score must be a number"):
        load_classify_rules(tmp_path)


def test_own_message_id_is_a_loop_only_in_our_shape() -> None:
    ours = mail()
    ours.replace_header("Message-ID", "<mf.0123456789abcdef0123456789abcdef@mailflow.test>")
    assert outcome(ours) == OWN_LOOP
    assert outcome(ours, own_domain="other.test") == NORMAL
    coordinator = mail()  # a person's client on our domain mints ids there too
    coordinator.replace_header("Message-ID", "<8f3c1a2b-4d5e@mailflow.test>")
    assert outcome(coordinator) == NORMAL
    sub = mail()
    sub.replace_header("Message-ID", "<mf.0123@evil.mailflow.test>")
    assert outcome(sub) == NORMAL


def test_reason_names_the_rule() -> None:
    verdict = classify(mail(X_Autoreply="yes"), RULES, MARKER)
    assert verdict.automated and "x-autoreply" in verdict.reason
    assert not classify(mail(), RULES, MARKER).automated


def test_broken_headers_do_not_raise() -> None:
    raw = (
        b"From: =?utf-8?q?broken <x@y.test>\nTo: relay@mailflow.test\n"
        b"Subject: =?bogus?x?zz?=\nAuto-Submitted: \xff\xfe\nContent-Type: multipart/report\n\nx"
    )
    assert classify(parse(raw), RULES, MARKER).outcome in {NORMAL, AUTO_REPLY}
