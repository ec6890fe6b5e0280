"""Every `mailflow` command, option and help text, in one place: the command line is a
contract deployments rely on, so it is read and reviewed here, apart from what the
commands do (the other modules of cli/, dispatched through the table in commands.py).
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def build_parser(description: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mailflow",
        description=description,
        epilog="`mailflow COMMAND --help` gives the options of one command "
        "(`mailflow person --help`, then `mailflow person forget --help`).",
    )
    p.add_argument(
        "--config", help="configuration file (default: $MAILFLOW_CONFIG or ./mailflow.toml)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="write a configuration file if missing and create the database")
    run = sub.add_parser("run", help="run the daemon until SIGTERM / SIGINT")
    run.add_argument(
        "--once", action="store_true", help="process everything waiting, flush the outbox and exit"
    )
    amb = sub.add_parser("ambassadors", help="the ambassador directory (default: list)")
    amb.add_argument("--json", action="store_true", help="with no action: the list as JSON")
    amb_sub = amb.add_subparsers(dest="action")
    imp = amb_sub.add_parser("import", help="import or update ambassadors from a UTF-8 CSV")
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--strict",
        action="store_true",
        help="a title that gets no ROME code is an error (nothing imported), not a warning",
    )
    lst = amb_sub.add_parser("list", help="show the directory")
    lst.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    clear = amb_sub.add_parser(
        "clear-bounce", help="the address works again (checked with them): new requests may go"
    )
    clear.add_argument("email")
    st = sub.add_parser(
        "structures", help="the partner structures (structures relais; default: list)"
    )
    st.add_argument("--json", action="store_true", help="with no action: the list as JSON")
    st_sub = st.add_subparsers(dest="action")
    st_imp = st_sub.add_parser(
        "import", help="replace the partner structures by a CSV's (UTF-8 or Windows-1252)"
    )
    st_imp.add_argument("file", type=Path)
    st_lst = st_sub.add_parser("list", help="show the structures in use and where they come from")
    st_lst.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    hon = amb_sub.add_parser(
        "honorability",
        help="record the honorability check (contrôle d'honorabilité) of an ambassador: "
        "requests from children under 15 may then go to them (rules/charter.toml)",
    )
    hon.add_argument("email")
    hon.add_argument("--checked-by", required=True, metavar="NAME", help="who checked")
    hon.add_argument(
        "--on", type=_day, metavar="YYYY-MM-DD", help="the day it was checked (default: today)"
    )
    hon.add_argument(
        "--valid-until",
        type=_day,
        metavar="YYYY-MM-DD",
        help="its last valid day (default: [honorability] valid_days after --on)",
    )
    log = sub.add_parser(
        "log",
        help="the exchange log, one timeline per request",
        description="The text shows times in [schedule] timezone (named on its first line); "
        "--json keeps them in UTC (ISO 8601 with Z).",
    )
    log.add_argument("--request", type=int, metavar="ID")
    log.add_argument("--json", action="store_true", help="for tools: times in UTC, ending in Z")
    log.add_argument(
        "--actions",
        action="store_true",
        help="events outside any request (imports, RGPD actions, newsletters, schema, ...)",
    )
    log.add_argument(
        "--kind",
        metavar="KIND[,KIND]",
        help="with --actions: only these kinds ('privacy': privacy-export, privacy-forget ...)",
    )
    _coordinator_parsers(sub, log)
    _request_parsers(sub)
    qua = sub.add_parser("quarantine", help="messages that could not be processed")
    qua_sub = qua.add_subparsers(dest="action", required=True)
    qua_sub.add_parser("list", help="id, received, sender, subject, reason")
    qshow = qua_sub.add_parser("show", help="headers, reason and size of one message")
    qshow.add_argument("id", type=int)
    qshow.add_argument("--raw", action="store_true", help="print the raw message as received")
    for action, text in (
        ("retry", "process the message again at the next run"),
        ("drop", "give up on the message (kept in the database for the log)"),
    ):
        qua_sub.add_parser(action, help=text).add_argument("id", type=int)
    _care_parsers(sub)
    _web_parsers(sub)
    dbp = sub.add_parser("db", help="the database schema: version and upgrades")
    db_sub = dbp.add_subparsers(dest="action", required=True)
    db_sub.add_parser("status", help="current and latest schema version, pending upgrades")
    db_sub.add_parser("upgrade", help="apply the pending upgrades (back the database up first)")
    return p


def _coordinator_parsers(sub: argparse._SubParsersAction, log: argparse.ArgumentParser) -> None:
    """Coordinators' review: log filters, yearly statistics, one stored message."""
    day = "a day of [schedule] timezone (local midnight to midnight), not of UTC"
    for option, metavar, text in (
        ("person", "EMAIL", None),
        ("ambassador", "EMAIL", None),
        ("trade", "TEXT", None),
        ("department", "CODE", None),
        ("state", "STATE", None),
        ("since", "YYYY-MM-DD", f"from this day on, inclusive: {day}"),
        ("until", "YYYY-MM-DD", f"up to this day, inclusive: {day}"),
        ("outcome", "OUTCOME", None),
    ):
        log.add_argument(f"--{option}", metavar=metavar, help=text)
    stats = sub.add_parser("stats", help="the programme's figures per year (Tableau 1)")
    stats.add_argument("--year", type=int, metavar="YYYY")
    shape = stats.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true")
    shape.add_argument("--csv", action="store_true", help="rows year,table,key,value")
    shape.add_argument(
        "--excel",
        action="store_true",
        help="the --csv rows for French Excel (';', decimal comma, UTF-8 BOM) with a French label",
    )
    report = sub.add_parser("report", help="a static HTML site of one year, to open in a browser")
    report.add_argument("--year", type=int, metavar="YYYY", required=True)
    report.add_argument("--out", type=Path, metavar="DIR", required=True)
    msg = sub.add_parser("message", help="one stored message")
    show = msg.add_subparsers(dest="action", required=True).add_parser(
        "show", help="what became of one mail: status, times, request (inbound unless --outbound)"
    )
    show.add_argument("id", type=int)  # any whole number: beyond the ids, "no ... #ID"
    show.add_argument("--raw", action="store_true", help="the exact stored bytes")
    show.add_argument("--outbound", action="store_true", help="an outbound mail, by its id")


def _correction_options(parser: argparse.ArgumentParser) -> None:
    """What `request set` and `request assign` may correct (admin/correction.py)."""
    parser.add_argument("--trade", metavar="TEXT", help="trade or training, words or ROME code")
    parser.add_argument("--kind", metavar="KIND", help="metier, formation or vae")
    parser.add_argument("--place", metavar="TEXT", help="a town, a department, a region")
    parser.add_argument("--department", metavar="CODE", help="a department code: 14, 2A, 971")
    parser.add_argument("--age", type=int, metavar="N")
    parser.add_argument("--situation", metavar="TEXT", help="collegien, lyceen, etudiant...")
    parser.add_argument(
        "--writer",
        metavar="ROLE",
        help="who wrote: parent, enseignant, conseiller_orientation, cpe, conseiller_insertion, "
        "animateur, educateur, autre; jeune: the young person themselves",
    )


def _request_parsers(sub: argparse._SubParsersAction) -> None:
    """Coordinators' hand on one request (admin/request.py)."""
    req = sub.add_parser(
        "request", help="one request, by hand: assign it, correct it, close it, merge a duplicate"
    )
    req_sub = req.add_subparsers(dest="action", required=True)
    assign = req_sub.add_parser(
        "assign", help="offer the request to this ambassador (introduction, news to the person)"
    )
    assign.add_argument("id", type=int)
    assign.add_argument("email")
    assign.add_argument(
        "--force", action="store_true", help="even if they are paused, absent or at capacity"
    )
    _correction_options(assign)
    fix = req_sub.add_parser(
        "set", help="correct what was understood: trade, kind, place, age, situation (in log)"
    )
    fix.add_argument("id", type=int)
    _correction_options(fix)
    close = req_sub.add_parser(
        "close", help="end the request (relay addresses close); nobody is mailed unless --notify"
    )
    close.add_argument("id", type=int)
    close.add_argument("--reason", metavar="TEXT", help="why, for the log (never mailed)")
    close.add_argument(
        "--withdrawn", action="store_true", help="the person gave up: withdrawn, not closed"
    )
    close.add_argument(
        "--notify",
        action="store_true",
        help="tell the person, and the ambassador of a live exchange",
    )
    merge = req_sub.add_parser(
        "merge",
        help="request B is a duplicate of A (same person): B joins A, is no longer counted",
    )
    merge.add_argument("id", type=int, metavar="A", help="the request kept")
    merge.add_argument("duplicate", type=int, metavar="B", help="the duplicate, merged into A")
    late = req_sub.add_parser(
        "relay-late",
        help="relay to the person a late answer kept for you (the message your mail names)",
    )
    late.add_argument("message", type=int, metavar="MESSAGE", help="the kept message's number")


def _care_parsers(sub: argparse._SubParsersAction) -> None:
    """Coordinators' care: personal data, retention, minors, newsletter."""
    person = sub.add_parser("person", help="personal data of one person (RGPD)")
    person_sub = person.add_subparsers(dest="action", required=True)
    person_sub.add_parser("export", help="everything held about them, as JSON").add_argument(
        "email"
    )
    person_sub.add_parser(
        "forget", help="erase them (person, ambassador or both), server copies included"
    ).add_argument("email")
    privacy = sub.add_parser("privacy", help="retention of personal data")
    privacy_sub = privacy.add_subparsers(dest="action", required=True)
    purge = privacy_sub.add_parser(
        "purge", help="anonymise what ended or arrived before the retention period"
    )
    purge.add_argument("--dry-run", action="store_true", help="only list what would be done")
    minors = sub.add_parser("minors", help="requests from people under 15, to review")
    minors.add_argument("--json", action="store_true")
    minors_sub = minors.add_subparsers(dest="action")  # none: the list
    for action, words in (
        ("approve", "approve a child's request held for consent: it is routed at once"),
        ("refuse", "refuse a child's request held for consent: it ends, the child told"),
    ):
        minors_sub.add_parser(action, help=words).add_argument(
            "id", type=int, metavar="REQUEST", help="the request's number"
        )
    news = sub.add_parser("newsletter", help="mail every active ambassador")
    news_sub = news.add_subparsers(dest="action", required=True)
    send = news_sub.add_parser("send", help="queue a campaign (or resume it) and deliver it")
    send.add_argument("template", help="NAME for templates/mails/newsletter_NAME.txt, or a path")
    send.add_argument(
        "--campaign",
        help="campaign name (default: the unfinished campaign of TEMPLATE, else a new "
        "TEMPLATE-YYYY-MM-DD; a finished one is not sent again within 24 hours)",
    )
    send.add_argument("--per-minute", type=int, help="pace (default [newsletter]; 0: no limit)")


def _web_parsers(sub: argparse._SubParsersAction) -> None:
    """The coordinators' console (docs/console.md) and its accounts."""
    web = sub.add_parser(
        "web", help="serve the coordinators' console ([web] bind and port; Ctrl-C stops it)"
    )
    web_sub = web.add_subparsers(dest="action")
    user = web_sub.add_parser("user", help="the console's accounts")
    user_sub = user.add_subparsers(dest="subaction", required=True)
    add = user_sub.add_parser(
        "add", help="a new account; prints a generated password unless --password-stdin"
    )
    add.add_argument("email")
    # checked by web/accounts.py (one message for every way in), not by argparse's choices
    add.add_argument("--role", metavar="coordinator|observer", required=True)
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input (12 characters or more)",
    )
    user_sub.add_parser("list", help="address, role, state, last sign-in")
    user_sub.add_parser(
        "disable", help="the account can no longer sign in; its sessions end"
    ).add_argument("email")
