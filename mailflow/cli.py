"""The `mailflow` command: parse arguments, load config once, call one function, print."""

from __future__ import annotations

import argparse
import json
import logging
import os
import select
import shutil
import signal
import sys
from pathlib import Path

from .config import PROJECT_ROOT, Config, config_path, load_config
from .errors import ConfigError, MailflowError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mailflow", description=__doc__)
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
    lst = amb_sub.add_parser("list", help="show the directory")
    lst.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    clear = amb_sub.add_parser(
        "clear-bounce", help="the address works again (checked with them): new requests may go"
    )
    clear.add_argument("email")
    log = sub.add_parser("log", help="the exchange log, one timeline per request")
    log.add_argument("--request", type=int, metavar="ID")
    log.add_argument("--json", action="store_true")
    log.add_argument(
        "--actions",
        action="store_true",
        help="events outside any request (imports, RGPD actions, newsletters, schema, ...)",
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
    dbp = sub.add_parser("db", help="the database schema: version and upgrades")
    db_sub = dbp.add_subparsers(dest="action", required=True)
    db_sub.add_parser("status", help="current and latest schema version, pending upgrades")
    db_sub.add_parser("upgrade", help="apply the pending upgrades (back the database up first)")
    return p


def _coordinator_parsers(sub: argparse._SubParsersAction, log: argparse.ArgumentParser) -> None:
    """Coordinators' review: log filters, yearly statistics, one stored message."""
    for option, metavar in (
        ("person", "EMAIL"),
        ("ambassador", "EMAIL"),
        ("trade", "TEXT"),
        ("department", "CODE"),
        ("state", "STATE"),
        ("since", "YYYY-MM-DD"),
        ("until", "YYYY-MM-DD"),
        ("outcome", "OUTCOME"),
    ):
        log.add_argument(f"--{option}", metavar=metavar)
    stats = sub.add_parser("stats", help="the programme's figures per year (Tableau 1)")
    stats.add_argument("--year", type=int, metavar="YYYY")
    shape = stats.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true")
    shape.add_argument("--csv", action="store_true", help="rows year,table,key,value")
    report = sub.add_parser("report", help="a static HTML site of one year, to open in a browser")
    report.add_argument("--year", type=int, metavar="YYYY", required=True)
    report.add_argument("--out", type=Path, metavar="DIR", required=True)
    msg = sub.add_parser("message", help="one stored message")
    show = msg.add_subparsers(dest="action", required=True).add_parser("show")
    show.add_argument("id", type=int)  # any whole number: beyond the ids, "no ... #ID"
    show.add_argument("--raw", action="store_true", help="the exact stored bytes")
    show.add_argument("--outbound", action="store_true", help="an outbound mail, by its id")


def _request_parsers(sub: argparse._SubParsersAction) -> None:
    """Coordinators' hand on one request (request_admin.py)."""
    req = sub.add_parser("request", help="one request, by hand: assign it, close it")
    req_sub = req.add_subparsers(dest="action", required=True)
    assign = req_sub.add_parser(
        "assign", help="offer the request to this ambassador (introduction, news to the person)"
    )
    assign.add_argument("id", type=int)
    assign.add_argument("email")
    assign.add_argument(
        "--force", action="store_true", help="even if they are paused, absent or at capacity"
    )
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


def _open(cfg: Config) -> None:
    from .db import open_database

    open_database(cfg.database.url, cfg.source.parent)


def cmd_init(path: Path) -> int:
    if not path.exists():
        try:
            shutil.copyfile(PROJECT_ROOT / "mailflow.example.toml", path)
        except OSError as exc:
            raise ConfigError(
                f"{path}: cannot write the configuration file: {exc.strerror or exc}"
            ) from exc
        print(f"wrote {path}: edit it, then run `mailflow run`")
    cfg = load_config(path)
    _open(cfg)
    print(f"database ready: {cfg.database.url}")
    return 0


def cmd_run(cfg: Config, once: bool) -> int:
    from .context import load_context
    from .daemon import Daemon, run_once

    _open(cfg)
    ctx = load_context(cfg)
    if once:
        print(f"run --once: {run_once(ctx)}")
        return 0
    daemon = Daemon(ctx)
    daemon.install_signals()
    daemon.run()
    return 0


def cmd_ambassadors(cfg: Config, args: argparse.Namespace) -> int:
    from .directory import SEPARATORS, clear_bounce, import_file
    from .directory_view import directory_rows, render_directory
    from .referential import load_referential

    if args.json and args.action not in (None, "list"):
        raise MailflowError(f"--json goes with the list, not with `ambassadors {args.action}`")
    _open(cfg)
    if args.action == "import":
        result = import_file(args.file, load_referential(cfg.paths.rules))
        said = (
            ""
            if result.separator == ","
            else f" (columns separated by {SEPARATORS[result.separator]})"
        )
        print(
            f"imported {args.file}{said}: {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged"
        )
        return 0
    if args.action == "clear-bounce":
        ambassador = clear_bounce(args.email)
        print(f"ambassador #{ambassador.id} ({ambassador.email}): available for new requests")
        return 0
    rows = directory_rows(cfg.schedule.zone)
    print(json.dumps(rows, ensure_ascii=False, indent=2) if args.json else render_directory(rows))
    return 0


def cmd_log(cfg: Config, args: argparse.Namespace) -> int:
    from .logview import (
        FILTER_OPTIONS,
        actions,
        log_data,
        make_filter,
        recorded_outcomes,
        render_actions,
        render_text,
    )
    from .outcomes import known_outcomes

    _open(cfg)
    options = {k: getattr(args, k) for k in FILTER_OPTIONS}
    if args.actions:
        about_requests = [k for k, v in options.items() if v and k not in ("since", "until")]
        if args.request is not None or about_requests:
            given = "--request" if args.request is not None else f"--{about_requests[0]}"
            raise MailflowError(
                f"{given} is about requests; --actions lists what happened outside any "
                "request and takes only --since, --until and --json"
            )
        f = make_filter(**options)
        rows = actions(f.since, f.until)
        if args.json:
            print(json.dumps({"actions": rows}, ensure_ascii=False, indent=2))
        else:
            print(render_actions(rows, dated=f.active), end="")
        return 0
    outcomes = known_outcomes(recorded_outcomes()) if args.outcome else ()
    data = log_data(args.request, make_filter(outcomes, **options))
    if args.request is not None and not data["requests"]:
        raise MailflowError(f"no request #{args.request}")
    print(
        json.dumps(data, ensure_ascii=False, indent=2) if args.json else render_text(data),
        end="" if not args.json else "\n",
    )
    return 0


def cmd_stats(cfg: Config, args: argparse.Namespace) -> int:
    from .stats import collect
    from .stats_render import render_csv, render_text

    _open(cfg)
    doc = collect(args.year)
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        print(render_csv(doc) if args.csv else render_text(doc), end="")
    return 0


def cmd_report(cfg: Config, args: argparse.Namespace) -> int:
    from .report import make_report

    _open(cfg)
    pages = make_report(args.year, args.out)
    print(f"report {args.year}: {pages} pages written, open {args.out / 'index.html'}")
    return 0


def cmd_message(cfg: Config, args: argparse.Namespace) -> int:
    from .messageview import message_view, raw_bytes, render_message

    _open(cfg)
    view = message_view(args.id, args.outbound)
    if args.raw:
        sys.stdout.flush()
        sys.stdout.buffer.write(raw_bytes(args.id, args.outbound))
        sys.stdout.buffer.flush()
    else:
        print(render_message(view), end="")
    return 0


def cmd_quarantine(cfg: Config, args: argparse.Namespace) -> int:
    from . import quarantine as q

    _open(cfg)
    if args.action == "list":
        print(q.render_list(q.list_quarantine()), end="")
    elif args.action == "show":
        entry, headers, raw = q.show(args.id, args.raw)
        if args.raw:
            sys.stdout.flush()
            sys.stdout.buffer.write(raw)
        else:
            print(q.render_show(entry, headers), end="")
    elif args.action == "retry":
        q.retry(args.id)
        print(f"message #{args.id} released: the next `mailflow run` processes it again")
    else:
        q.drop(args.id)
        print(f"message #{args.id} dropped (kept in the database for the log)")
    return 0


def cmd_db(cfg: Config, args: argparse.Namespace) -> int:
    from . import migrations
    from .db import connect

    db, lock_path = connect(cfg.database.url, cfg.source.parent, args.action == "status")
    try:
        if args.action == "upgrade":
            print(migrations.upgrade(db, lock_path).describe())
            return 0
        print(migrations.render_status(migrations.status(db)), end="")
        return 0
    finally:
        db.close()


def cmd_request(cfg: Config, args: argparse.Namespace) -> int:
    from . import request_admin
    from .context import load_context
    from .send import flush_outbox

    _open(cfg)
    ctx = load_context(cfg)
    if args.action == "assign":
        print(request_admin.assign(ctx, args.id, args.email, args.force))
    else:
        print(request_admin.close(ctx, args.id, args.reason, args.withdrawn, args.notify))
    flushed = flush_outbox(cfg.smtp)  # a running daemon sends them instead when it holds it
    if flushed.busy:
        print("mails queued: the running daemon sends them")
    elif flushed.sent or flushed.deferred or flushed.failed:
        print(f"mails: {flushed.sent} sent, {flushed.deferred} deferred, {flushed.failed} failed")
    return 0


def cmd_care(cfg: Config, args: argparse.Namespace) -> int:
    from . import newsletter, privacy_export

    _open(cfg)
    if args.command == "person" and args.action == "export":
        print(json.dumps(privacy_export.export(args.email), ensure_ascii=False, indent=2))
    elif args.command == "person":
        return _forget(cfg, args.email)
    elif args.command == "privacy":
        return _purge(cfg, args.dry_run)
    elif args.command == "minors":
        rows = privacy_export.minor_requests()
        text = json.dumps(rows, ensure_ascii=False, indent=2) + "\n" if args.json else None
        print(text or privacy_export.render_minors(rows), end="")
    else:
        queued, sent = newsletter.send_newsletter(
            cfg, args.template, args.campaign, args.per_minute
        )
        if queued.resumed is not None:
            print(
                f"newsletter {queued.name}: resuming the unfinished campaign of this template, "
                f"started {queued.resumed.started_at:%Y-%m-%d %H:%M} UTC"
            )
        print(
            f"newsletter {queued.name}: {queued.queued} queued now, {queued.already} earlier; "
            f"{sent.sent} sent, {sent.waiting} waiting for a retry, {sent.failed} failed"
        )
    return 0


def _forget(cfg: Config, email: str) -> int:
    """Exit 1 when the database part is done but copies remain on the server."""
    from .context import load_context
    from .forget import forget, render

    out, error = render(forget(cfg, email, lambda: load_context(cfg)), email, cfg)
    print(out, end="")
    if error:
        print(f"mailflow: {error}", file=sys.stderr)
        return 1
    return 0


def _purge(cfg: Config, dry_run: bool) -> int:
    """Exit 1 when the database part is done but copies remain on the server."""
    from .forget import server_folders
    from .retention import last_change, purge

    done = purge(cfg, dry_run)
    verb = "would be anonymised" if dry_run else "anonymised"
    for r in done.requests:
        since = "unmatched since" if r.state == "unmatched" else "closed"
        print(f"request #{r.id} [{r.state}] {since} {last_change(r):%Y-%m-%d}")
    days = cfg.privacy.retention_days
    print(f"{len(done.requests)} request(s) {verb} (retention {days} days)")
    print(f"{done.mails} mail(s) linked to no request {verb}")
    if done.server is None:
        return 0
    if done.server.error is None:
        print(f"server: {done.server.removed} message(s) removed from {server_folders(cfg)}")
        return 0
    print(
        f"mailflow: copies of erased mail remain on the server ({done.server.error}); "
        "run `mailflow privacy purge` again once the mailbox answers (the daemon also "
        "removes them at its next cycle)",
        file=sys.stderr,
    )
    return 1


def _reader_gone() -> bool:
    """True when stdout is a pipe whose reader closed it (`mailflow log | head -1`), as
    opposed to a broken connection to a mail or database server."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poller.poll(0))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code = _command(args)
        sys.stdout.flush()  # here, not at exit: a closed pipe is then handled below
        return code
    except BrokenPipeError:
        if not _reader_gone():
            raise
        # The reader has what it wanted: stop quietly, like other tools killed by SIGPIPE,
        # and send what is still buffered nowhere instead of failing again at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


def _command(args: argparse.Namespace) -> int:
    try:
        path = config_path(args.config)
        if args.command == "init":
            return cmd_init(path)
        cfg = load_config(path)
        if args.command == "run":
            return cmd_run(cfg, args.once)
        if args.command == "ambassadors":
            return cmd_ambassadors(cfg, args)
        if args.command == "quarantine":
            return cmd_quarantine(cfg, args)
        if args.command in ("person", "privacy", "minors", "newsletter"):
            return cmd_care(cfg, args)
        if args.command == "stats":
            return cmd_stats(cfg, args)
        if args.command == "report":
            return cmd_report(cfg, args)
        if args.command == "message":
            return cmd_message(cfg, args)
        if args.command == "db":
            return cmd_db(cfg, args)
        if args.command == "request":
            return cmd_request(cfg, args)
        return cmd_log(cfg, args)
    except MailflowError as exc:
        print(f"mailflow: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
