"""Consent for children under 15 (loi Informatique et Libertés, art. 45): the policy read
from rules/minors.toml, and the decisions it takes, on data alone.

- `consent_plan`: whom to ask (the adult who wrote, an adult in Cc, or the child for an
  adult's address), and whether the writer's own mail stands as the adult's request;
- `read_answer`: what the adult's reply says (yes, no, withdraw, unclear; and "keep me in
  copy");
- `due_step`: at a follow-up run, whether a pending consent is reminded or expires.

Asking, recording and acting is services/consent.py; the replies are inbound/consent_reply.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from mailflow.core.rules_file import BUILD_ERRORS, read_toml, rules_error
from mailflow.core.textnorm import fold, words
from mailflow.core.values import WRITER_ROLES

RULES_FILE = "minors.toml"

GUARDIAN, REVIEW, NONE = "guardian", "review", "none"  # [minors] consent
POLICIES = (GUARDIAN, REVIEW, NONE)
ASK, ALWAYS, NEVER = "ask", "always", "never"  # [minors] guardian_copy
COPY_CHOICES = (ASK, ALWAYS, NEVER)

# Consent.state: stored strings (contracts)
PENDING, GIVEN, REFUSED, EXPIRED, WITHDRAWN = "pending", "given", "refused", "expired", "withdrawn"
OPEN_CONSENT = (PENDING,)

# Request.writer_role values of an adult writing for a young person (core/values.py, the
# one list); None: the young person wrote.
ADULT_WRITERS = frozenset(WRITER_ROLES)


@dataclass(frozen=True)
class ConsentWords:
    yes: re.Pattern[str]
    no: re.Pattern[str]
    copy: re.Pattern[str]
    withdraw: re.Pattern[str]


@dataclass(frozen=True)
class MinorsPolicy:
    consent: str = GUARDIAN
    guardian_copy: str = ASK
    remind_after_days: tuple[int, ...] = (3, 7)
    expire_after_days: int = 14
    words: ConsentWords | None = None

    @property
    def holds(self) -> bool:
        """Whether a child's request waits for someone's consent before it is routed."""
        return self.consent != NONE


def _phrases(items: list[str]) -> re.Pattern[str]:
    keys = sorted({words(str(i)) for i in items if words(str(i))}, key=len, reverse=True)
    alternatives = "|".join(re.escape(k) for k in keys) or "(?!)"
    return re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])")


def build_minors_policy(data: dict) -> MinorsPolicy:
    table = data["minors"]
    consent = str(table["consent"])
    if consent not in POLICIES:
        raise ValueError(f"minors.consent must be one of {', '.join(POLICIES)}, not {consent!r}")
    copy = str(table["guardian_copy"])
    if copy not in COPY_CHOICES:
        raise ValueError(
            f"minors.guardian_copy must be one of {', '.join(COPY_CHOICES)}, not {copy!r}"
        )
    reminders = tuple(int(d) for d in table["remind_after_days"])
    expire = int(table["expire_after_days"])
    if any(d < 1 for d in reminders) or list(reminders) != sorted(set(reminders)):
        raise ValueError("minors.remind_after_days: increasing whole days, each at least 1")
    if expire < 1 or (reminders and expire <= reminders[-1]):
        raise ValueError("minors.expire_after_days must come after the last reminder")
    w = table["words"]
    return MinorsPolicy(
        consent=consent,
        guardian_copy=copy,
        remind_after_days=reminders,
        expire_after_days=expire,
        words=ConsentWords(
            yes=_phrases(w["yes"]),
            no=_phrases(w["no"]),
            copy=_phrases(w["copy"]),
            withdraw=_phrases(w["withdraw"]),
        ),
    )


def load_minors_policy(rules_dir: Path) -> MinorsPolicy:
    path = Path(rules_dir) / RULES_FILE
    data = read_toml(path)
    try:
        return build_minors_policy(data)
    except BUILD_ERRORS as exc:
        raise rules_error(path, exc) from exc


# -- whom to ask ---------------------------------------------------------------------------


class Ask(StrEnum):
    WRITER = "writer"  # an adult wrote for the child: they are asked directly
    CC = "cc"  # the child wrote with an adult in Cc: that adult is asked
    CHILD = "child"  # the child alone: asked for an adult's address
    COORDINATOR = "coordinator"  # review policy: a coordinator approves


@dataclass(frozen=True)
class ConsentPlan:
    ask: Ask
    adult: str | None  # the address the consent mail goes to (None: not known yet)
    writer_is_adult: bool  # the writer's own mail stands as the adult's request
    with_child: bool  # the child and the adult wrote together (the adult was in Cc)
    child_mail: bool  # the child gets a mail (asking for an adult, or saying who was asked)


def consent_plan(
    policy: str,
    sender: str,
    cc: tuple[str, ...] = (),
    writer_role: str | None = None,
) -> ConsentPlan:
    """Whom to ask for the consent of a request from (or for) a child under 15.

    `sender`: the address the request came from; `cc`: the other people it was written to
    (our own addresses already left out); `writer_role`: who wrote, when an adult wrote for
    the young person (None: the young person). An adult who wrote is asked directly, and
    no mail goes to a child whose address we do not have; an adult in Cc is asked, the child
    told; otherwise the child is asked for an adult's address. Under the review policy a
    coordinator decides, and nobody is asked."""
    sender = sender.lower()
    adults = tuple(a.lower() for a in cc if a and a.lower() != sender)
    if policy == REVIEW:
        return ConsentPlan(Ask.COORDINATOR, None, False, False, child_mail=True)
    if writer_role in ADULT_WRITERS:
        return ConsentPlan(Ask.WRITER, sender, True, False, child_mail=False)
    if adults:
        return ConsentPlan(Ask.CC, adults[0], False, True, child_mail=True)
    return ConsentPlan(Ask.CHILD, None, False, False, child_mail=True)


# -- the adult's answer --------------------------------------------------------------------


class Answer(StrEnum):
    YES = "yes"
    NO = "no"
    WITHDRAW = "withdraw"
    UNCLEAR = "unclear"


@dataclass(frozen=True)
class ReadAnswer:
    answer: Answer
    copy: bool  # they asked to be kept in copy


def read_answer(own_text: str, subject: str, cw: ConsentWords, given: bool) -> ReadAnswer:
    """What the adult's own words say (`own_text`: the reply above the quoted mail; the
    subject counts too, unless it is a reply's: "Re: Votre accord ..." is our words, not
    theirs). Before they consented: yes or no, and unclear
    when both or neither are there. After (`given`): a withdrawal word withdraws, and "no"
    alone is read as a withdrawal too; anything else is unclear (but may ask for a copy).
    STOP is a withdrawal word: it never means yes."""
    replied = re.match(r"^\s*(re|tr|fwd?|aw|sv)\s*:", fold(subject or ""))
    subject_words = "" if replied else fold(subject or "")
    text = words(f"{subject_words}\n{own_text}")
    copy = bool(cw.copy.search(text))
    withdraw = bool(cw.withdraw.search(text))
    no = bool(cw.no.search(text))
    yes = bool(cw.yes.search(cw.no.sub(" ", text)))  # "pas d'accord" holds no "d'accord"
    if given:
        if withdraw or (no and not yes):
            return ReadAnswer(Answer.WITHDRAW, False)
        return ReadAnswer(Answer.UNCLEAR, copy)
    if withdraw and not yes:
        return ReadAnswer(Answer.NO, False)
    if yes and not no and not withdraw:
        return ReadAnswer(Answer.YES, copy)
    if no and not yes:
        return ReadAnswer(Answer.NO, False)
    return ReadAnswer(Answer.UNCLEAR, copy)


def keeps_copy(choice: str, asked: bool) -> bool:
    """Whether the consenting adult is kept in copy, by [minors] guardian_copy."""
    return choice == ALWAYS or (choice == ASK and asked)


# -- reminders and expiry ------------------------------------------------------------------


class Step(StrEnum):
    WAIT = "wait"
    REMIND = "remind"
    EXPIRE = "expire"


def due_step(asked_at: datetime, reminders_sent: int, now: datetime, policy: MinorsPolicy) -> Step:
    """At `now`, for a consent pending since `asked_at` with `reminders_sent` reminders:
    the next reminder when its day has come, expiry after `expire_after_days`."""
    if now >= asked_at + timedelta(days=policy.expire_after_days):
        return Step.EXPIRE
    due = [d for d in policy.remind_after_days if now >= asked_at + timedelta(days=d)]
    return Step.REMIND if len(due) > reminders_sent else Step.WAIT
