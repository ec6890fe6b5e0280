"""When an absent ambassador is back: French dates in an ABSENT command or an out-of-office.

Everything here is pure: text, rules and `now` in, a date out. The result is always the
*first day the ambassador is available again* (`back_on`):

- "jusqu'au 15/12" (an `until` phrase, or a bare date after ABSENT) is inclusive in French:
  absent on the 15th too, back on the 16th;
- "de retour le 15/12" (a `back` phrase) is back on the 15th.

A date without a year is its next occurrence from today (today included). Numeric dates are
read day first (15/12/2026, 15.12.26, 15-12); ISO dates (2026-12-15) are read as such;
"I will be back on 12/15/2026" is therefore not understood, which leaves things unchanged.
Days are those of the configuration's [schedule] timezone: callers give `now` as local wall
time, and `available_from` turns the local midnight of the day back into a stored UTC time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path

from mailflow.clock import from_local, local
from mailflow.core.rules_file import BUILD_ERRORS, read_toml, rules_error
from mailflow.core.textnorm import fold, words

ONE_DAY = timedelta(days=1)
UNTIL, BACK = "until", "back"


@dataclass(frozen=True)
class DateRules:
    months: Mapping[str, int]  # folded spelling -> 1..12
    month_names: tuple[str, ...]  # as written in mails, January first
    weekday_names: tuple[str, ...]  # as written in mails, Monday first
    phrases: Mapping[str, str]  # folded phrase -> UNTIL | BACK
    cut_at: tuple[str, ...]  # folded markers of a quoted original message
    date: re.Pattern[str]  # one date, on folded text
    phrased: re.Pattern[str]  # a phrase then a date, on folded text


def load_date_rules(rules_dir: Path) -> DateRules:
    """The [dates] and [autoreply] tables of rules_dir/commands.toml (load_command_rules
    builds them too, for the Rules; this is for a caller that needs the dates alone)."""
    path = Path(rules_dir) / "commands.toml"
    data = read_toml(path)
    try:
        return build_date_rules(data["dates"], data["autoreply"])
    except BUILD_ERRORS as exc:
        raise rules_error(path, exc) from exc


def _alternatives(phrases: list[str]) -> str:
    """Folded phrases, longest first, any punctuation or space between their words."""
    keys = sorted({words(p) for p in phrases if words(p)}, key=len, reverse=True)
    return "|".join(r"[\W_]*".join(re.escape(w) for w in k.split()) for k in keys)


def build_date_rules(dates: dict, autoreply: dict) -> DateRules:
    months = {words(name): i for i, names in enumerate(dates["months"], 1) for name in names}
    if len(dates["months"]) != 12 or len(dates["weekdays"]) != 7:
        raise ValueError("dates.months needs 12 entries and dates.weekdays 7")
    phrases = {words(p): UNTIL for p in dates["until"]} | {words(p): BACK for p in dates["back"]}
    month = _alternatives(list(months))
    weekday = _alternatives(dates["weekdays"])
    one = (
        rf"(?:(?:{weekday})[\W_]+)?(?:"
        r"(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2})"
        r"|(?P<nd>\d{1,2})[/.\-](?P<nm>\d{1,2})(?:[/.\-](?P<ny>\d{4}|\d{2}))?"
        rf"|(?P<wd>\d{{1,2}})(?:er)?\s+(?P<wm>{month})(?![a-z])\.?(?:\s+(?P<wy>\d{{4}}))?"
        r")(?![\d/])"
    )
    return DateRules(
        months=months,
        month_names=tuple(names[0] for names in dates["months"]),
        weekday_names=tuple(dates["weekdays"]),
        phrases=phrases,
        cut_at=tuple(fold(c) for c in autoreply["cut_at"]),
        date=re.compile(rf"(?<![\w/.\-]){one}"),
        phrased=re.compile(rf"(?<![a-z0-9])(?P<phrase>{_alternatives(list(phrases))})[\W_]*{one}"),
    )


def _day(match: re.Match[str], rules: DateRules, today: date) -> date | None:
    """The date a match names; a missing year is the next occurrence from today."""
    g = match.groupdict()
    if g["iy"]:
        return _valid(int(g["iy"]), int(g["im"]), int(g["id"]))
    if g["nd"]:
        day, month, year = int(g["nd"]), int(g["nm"]), g["ny"]
    else:
        day, month, year = int(g["wd"]), rules.months[words(g["wm"])], g["wy"]
    if year:
        return _valid(int(year) + (2000 if len(year) == 2 else 0), month, day)
    for candidate in range(today.year, today.year + 5):  # 29/02 may wait a few years
        found = _valid(candidate, month, day)
        if found and found >= today:
            return found
    return None


def _valid(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _back_on(match: re.Match[str], rules: DateRules, today: date, default: str) -> date | None:
    said = _day(match, rules, today)
    if said is None:
        return None
    phrase = match.groupdict().get("phrase")
    meaning = rules.phrases.get(words(phrase), default) if phrase else default
    return said + ONE_DAY if meaning == UNTIL else said


def command_return(text: str, rules: DateRules, now: datetime) -> date | None:
    """The day back for an ABSENT command's words, possibly in the past; None if no date.

    A phrased date wins ("du 10/12 au 15/12": the 16th); otherwise the last bare date,
    read as the last day of absence."""
    folded, today = fold(text), now.date()
    phrased = [_back_on(m, rules, today, UNTIL) for m in rules.phrased.finditer(folded)]
    found = [d for d in phrased if d is not None]
    if not found:
        bare = [_back_on(m, rules, today, UNTIL) for m in rules.date.finditer(folded)]
        found = [d for d in bare if d is not None][-1:]
    return max(found) if found else None


def autoreply_return(text: str, rules: DateRules, now: datetime) -> date | None:
    """The latest day back an out-of-office announces; only phrased dates count, since
    such mails carry other dates (sent on, quoted from)."""
    today = now.date()
    found = [_back_on(m, rules, today, BACK) for m in rules.phrased.finditer(own_text(text, rules))]
    return max((d for d in found if d is not None), default=None)


def own_text(text: str, rules: DateRules) -> str:
    """The folded text before any quoted original message."""
    kept: list[str] = []
    for line in fold(text).splitlines():
        if line.lstrip().startswith(">") or any(cut in line for cut in rules.cut_at):
            break
        kept.append(line)
    return "\n".join(kept)


def available_from(back_on: date, zone: tzinfo) -> datetime:
    """The stored `absent_until` (naive UTC): local midnight of the first day back."""
    return from_local(datetime.combine(back_on, time()), zone)


def last_day_away(absent_until: datetime, zone: tzinfo) -> date:
    """The local day before the one `absent_until` (stored) falls in."""
    return local(absent_until, zone).date() - ONE_DAY


def french_date(day: date, rules: DateRules) -> str:
    """'mardi 15 décembre 2026', 'mardi 1er décembre 2026'."""
    number = "1er" if day.day == 1 else str(day.day)
    weekday, month = rules.weekday_names[day.weekday()], rules.month_names[day.month - 1]
    return f"{weekday} {number} {month} {day.year}"
