"""Naming what kind of mail arrived, before anything else looks at it.

Automated mail (auto-replies, bounces, lists, our own mail coming back) must never be
answered, or two robots mail each other forever; nor must what the receiving server's spam
filter flagged (answering it is backscatter, relaying it spams a party). The rules are data
(rules/classify.toml); the order they are tried in is code, below, because it matters: a
bounce that also says Auto-Submitted is a bounce, a newsletter that also says Precedence:
bulk is a list, and a bounce of ours that a filter flagged as spam is still a bounce.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path

from mailflow.core.outcomes import Outcome
from mailflow.core.rules_file import BUILD_ERRORS, read_toml, rules_error

# Our own mark on every mail we send, so our mail coming back is recognised (compose.py sets it).
LOOP_HEADER = "X-Mailflow-Loop"

NORMAL = "normal"
AUTO_REPLY = Outcome.AUTO_REPLY
BOUNCE = Outcome.BOUNCE
MAILING_LIST = Outcome.MAILING_LIST
OWN_LOOP = Outcome.OWN_LOOP
SPAM = Outcome.SPAM


@dataclass(frozen=True)
class ClassifyRules:
    own_message_id_prefixes: tuple[str, ...]
    auto_reply_headers: frozenset[str]
    auto_submitted_replied: frozenset[str]
    auto_submitted_human: frozenset[str]
    auto_response_suppress: frozenset[str]
    precedence_automated: frozenset[str]
    report_types_automated: frozenset[str]
    auto_reply_subjects: tuple[str, ...]
    list_headers: frozenset[str]
    bounce_senders: frozenset[str]
    bounce_sender_prefixes: tuple[str, ...]
    bounce_headers: frozenset[str]
    bounce_subjects: tuple[str, ...]
    spam_headers: frozenset[str]
    spam_values: frozenset[str]
    spam_scores: tuple[tuple[str, float], ...] = ()  # (header, threshold): spam at or above


_PREFIX_KEYS = ("subjects", "prefixes")  # matched with str.startswith: keep them ordered
_TABLES = {"spam_scores"}


def load_classify_rules(rules_dir: Path) -> ClassifyRules:
    path = Path(rules_dir) / "classify.toml"
    data = read_toml(path)
    try:
        scores = tuple(
            (str(name).lower(), _threshold(name, value))
            for name, value in sorted(data["spam_scores"].items())
        )
        return ClassifyRules(
            **{
                key: (tuple if key.endswith(_PREFIX_KEYS) else frozenset)(
                    str(v).lower() for v in data[key]
                )
                for key in ClassifyRules.__dataclass_fields__
                if key not in _TABLES
            },
            spam_scores=scores,
        )
    except BUILD_ERRORS as exc:
        raise rules_error(path, exc) from exc


def _threshold(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"spam_scores.{name} must be a number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Classification:
    outcome: str
    reason: str

    @property
    def automated(self) -> bool:
        return self.outcome != NORMAL


def _header(msg: EmailMessage, name: str) -> str:
    """One header's value, lower-cased; "" when absent or too broken to read."""
    try:
        value = msg.get(name)
    except Exception:  # a header too broken to parse: fall back to its raw text
        value = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), "")
    return re.sub(r"\s+", " ", str(value or "")).strip().lower()


def _present(msg: EmailMessage, name: str) -> bool:
    return name in msg  # case-insensitive


def _first_word(value: str) -> str:
    """'auto-replied (zimbra; vacation)' -> 'auto-replied'; 'auto-generated; x' too."""
    return re.split(r"[\s;(]", value, maxsplit=1)[0]


def _sender_local(msg: EmailMessage) -> str:
    pairs = getaddresses([_header(msg, "from")]) or [("", "")]
    return pairs[0][1].rpartition("@")[0] if "@" in pairs[0][1] else pairs[0][1]


def _report_type(msg: EmailMessage) -> str:
    try:
        if msg.get_content_type() != "multipart/report":
            return ""
        return str(msg.get_param("report-type") or "").lower()
    except Exception:  # an unparsable Content-Type says nothing
        return ""


def _own_loop(msg: EmailMessage, rules: ClassifyRules, marker: str, domain: str) -> str:
    """Why this is our own mail coming back, or ""."""
    if marker and marker in _header(msg, LOOP_HEADER):
        return f"{LOOP_HEADER} carries our own marker"
    if marker and marker in _header(msg, "x-loop"):
        return "X-Loop carries our own marker"
    if domain:
        for local, host in re.findall(r"<([^<>@\s]+)@([^<>\s]+)>", _header(msg, "message-id")):
            if host == domain and local.startswith(rules.own_message_id_prefixes):
                return f"Message-ID minted by mailflow under {domain}"
    return ""


def _bounce(msg: EmailMessage, rules: ClassifyRules, subject: str) -> str:
    """Why this is a delivery status notification, or ""."""
    if _report_type(msg) in {"delivery-status", "global-delivery-status"}:
        return "multipart/report; report-type=delivery-status"
    local = _sender_local(msg)
    if local in rules.bounce_senders or (local and local.startswith(rules.bounce_sender_prefixes)):
        return f"sender {local}@ is a mail system"
    for name in rules.bounce_headers:
        if _present(msg, name):
            return f"header {name}"
    if subject.startswith(rules.bounce_subjects):
        if _header(msg, "return-path") == "<>":
            return "null sender and non-delivery subject"
        if _header(msg, "auto-submitted") not in {"", *rules.auto_submitted_human}:
            return "Auto-Submitted and non-delivery subject"
        if not local:
            return "no sender and non-delivery subject"
    return ""


def _spam(msg: EmailMessage, rules: ClassifyRules) -> str:
    """Why the receiving server's spam filter called this spam, or ""."""
    for name in sorted(rules.spam_headers):
        value = _header(msg, name)
        if value and re.split(r"[\s,;]", value, maxsplit=1)[0] in rules.spam_values:
            return f"{name}: {value[:80]}"
    for name, threshold in rules.spam_scores:
        found = re.match(r"[+-]?\d+(?:\.\d+)?", _header(msg, name))
        if found and float(found.group()) >= threshold:
            return f"{name}: {found.group()} (spam from {threshold:g})"
    return ""


def _auto_reply(msg: EmailMessage, rules: ClassifyRules, subject: str) -> str:
    """Why this is explicitly an auto-reply, or ""."""
    auto = _header(msg, "auto-submitted")
    if auto and _first_word(auto) in rules.auto_submitted_replied:
        return f"Auto-Submitted: {auto}"
    for name in sorted(rules.auto_reply_headers):
        if _present(msg, name):
            return f"header {name}"
    suppress = {v.strip() for v in _header(msg, "x-auto-response-suppress").split(",")}
    if suppress & rules.auto_response_suppress:
        return f"X-Auto-Response-Suppress: {', '.join(sorted(suppress - {''}))}"
    report = _report_type(msg)
    if report in rules.report_types_automated:
        return f"multipart/report; report-type={report}"
    return ""


def _mailing_list(msg: EmailMessage, rules: ClassifyRules) -> str:
    for name in sorted(rules.list_headers):
        if _present(msg, name):
            return f"header {name}"
    for name in ("precedence", "x-precedence"):
        if _header(msg, name) == "list":
            return f"{name}: list"
    return ""


def _weak_auto(msg: EmailMessage, rules: ClassifyRules, subject: str) -> str:
    """Weaker signs of a robot; tried after the list headers."""
    auto = _header(msg, "auto-submitted")
    if auto and _first_word(auto) not in rules.auto_submitted_human:
        return f"Auto-Submitted: {auto}"
    for name in ("precedence", "x-precedence"):
        value = _header(msg, name)
        if value in rules.precedence_automated:
            return f"{name}: {value}"
    if _present(msg, "x-loop"):
        return "header x-loop"
    if _header(msg, "return-path") == "<>":
        return "null Return-Path"
    if subject.startswith(rules.auto_reply_subjects):
        return "out-of-office subject"
    return ""


def classify(
    msg: EmailMessage, rules: ClassifyRules, own_marker: str, *, own_domain: str | None = None
) -> Classification:
    """The first rule that matches names the message; otherwise it is normal mail.

    `own_marker` is the value of our loop header; `own_domain` the domain our Message-IDs
    are minted under (by default the domain of `own_marker` when it is an address).
    """
    marker = own_marker.strip().lower()
    domain = (own_domain or (marker.rpartition("@")[2] if "@" in marker else "")).lower()
    subject = _header(msg, "subject")
    checks = (
        (OWN_LOOP, lambda: _own_loop(msg, rules, marker, domain)),
        (BOUNCE, lambda: _bounce(msg, rules, subject)),
        (SPAM, lambda: _spam(msg, rules)),
        (AUTO_REPLY, lambda: _auto_reply(msg, rules, subject)),
        (MAILING_LIST, lambda: _mailing_list(msg, rules)),
        (AUTO_REPLY, lambda: _weak_auto(msg, rules, subject)),
    )
    for outcome, check in checks:
        reason = check()
        if reason:
            return Classification(outcome, reason)
    return Classification(NORMAL, "no automation marker")
