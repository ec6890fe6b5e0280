"""Naming what kind of mail arrived, before anything else looks at it."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses
from functools import lru_cache
from pathlib import Path

from .compose import LOOP_HEADER
from .errors import RulesError

NORMAL = "normal"
AUTO_REPLY = "auto-reply"
BOUNCE = "bounce"
MAILING_LIST = "mailing-list"
OWN_LOOP = "own-loop"


@dataclass(frozen=True)
class ClassifyRules:
    auto_reply_headers: frozenset[str]
    auto_submitted_human: frozenset[str]
    precedence_automated: frozenset[str]
    auto_response_suppress: frozenset[str]
    auto_reply_subjects: tuple[str, ...]
    list_headers: frozenset[str]
    bounce_senders: frozenset[str]
    bounce_subjects: tuple[str, ...]


@lru_cache(maxsize=4)
def load_classify_rules(rules_dir: Path) -> ClassifyRules:
    path = rules_dir / "classify.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return ClassifyRules(
            **{
                key: (tuple if key.endswith("subjects") else frozenset)(
                    str(v).lower() for v in data[key]
                )
                for key in ClassifyRules.__dataclass_fields__
            }
        )
    except (OSError, tomllib.TOMLDecodeError, KeyError) as exc:
        raise RulesError(f"{path}: {exc}") from exc


@dataclass(frozen=True)
class Classification:
    outcome: str
    reason: str

    @property
    def automated(self) -> bool:
        return self.outcome != NORMAL


def _header(msg: EmailMessage, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a header too broken to parse says nothing useful
        return ""
    return str(value or "").strip().lower()


def _sender_local(msg: EmailMessage) -> str:
    pairs = getaddresses([_header(msg, "from")]) or [("", "")]
    return pairs[0][1].split("@")[0]


def classify(msg: EmailMessage, rules: ClassifyRules, own_marker: str) -> Classification:
    """The first rule that matches names the message; otherwise it is normal mail."""
    if own_marker.lower() in _header(msg, LOOP_HEADER):
        return Classification(OWN_LOOP, f"{LOOP_HEADER} carries our own marker")
    ctype = msg.get_content_type()
    report = (msg.get_param("report-type") or "").lower() if ctype == "multipart/report" else ""
    if report == "delivery-status" or _sender_local(msg) in rules.bounce_senders:
        return Classification(BOUNCE, "delivery status notification")
    subject = _header(msg, "subject")
    if _header(msg, "return-path") == "<>" and subject.startswith(rules.bounce_subjects):
        return Classification(BOUNCE, "null sender and non-delivery subject")
    auto = _header(msg, "auto-submitted")
    if auto and auto.split(";")[0].strip() not in rules.auto_submitted_human:
        return Classification(AUTO_REPLY, f"Auto-Submitted: {auto}")
    for name in rules.auto_reply_headers:
        if msg.get(name) is not None:
            return Classification(AUTO_REPLY, f"header {name}")
    suppress = {v.strip() for v in _header(msg, "x-auto-response-suppress").split(",")}
    if suppress & rules.auto_response_suppress and subject.startswith(rules.auto_reply_subjects):
        return Classification(AUTO_REPLY, "X-Auto-Response-Suppress and out-of-office subject")
    for name in ("precedence", "x-precedence"):
        if _header(msg, name) in rules.precedence_automated:
            if _header(msg, name) == "list":
                return Classification(MAILING_LIST, f"{name}: list")
            return Classification(AUTO_REPLY, f"{name}: {_header(msg, name)}")
    for name in rules.list_headers:
        if msg.get(name) is not None:
            return Classification(MAILING_LIST, f"header {name}")
    if _header(msg, "return-path") == "<>":
        return Classification(AUTO_REPLY, "null Return-Path")
    if subject.startswith(rules.auto_reply_subjects):
        return Classification(AUTO_REPLY, "out-of-office subject")
    return Classification(NORMAL, "no automation marker")
