"""The `mailflow` command: parse arguments, load config once, call one function, print."""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path

from .config import PROJECT_ROOT, Config, config_path, load_config
from .errors import MailflowError


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
    amb = sub.add_parser("ambassadors", help="the ambassador directory")
    amb_sub = amb.add_subparsers(dest="action", required=True)
    imp = amb_sub.add_parser("import", help="import or update ambassadors from a UTF-8 CSV")
    imp.add_argument("file", type=Path)
    lst = amb_sub.add_parser("list", help="show the directory")
    lst.add_argument("--json", action="store_true")
    clear = amb_sub.add_parser(
        "clear-bounce", help="the address works again (checked with them): new requests may go"
    )
    clear.add_argument("email")
    log = sub.add_parser("log", help="the exchange log, one timeline per request")
    log.add_argument("--request", type=int, metavar="ID")
    log.add_argument("--json", action="store_true")
    _coordinator_parsers(sub, log)
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
    show.add_argument("id", type=int)
    show.add_argument("--raw", action="store_true", help="the exact stored bytes")
    show.add_argument("--outbound", action="store_true", help="an outbound mail, by its id")


def _care_parsers(sub: argparse._SubParsersAction) -> None:
    """Coordinators' care: personal data, retention, minors, newsletter."""
    person = sub.add_parser("person", help="personal data of one person (RGPD)")
    person_sub = person.add_subparsers(dest="action", required=True)
    person_sub.add_parser("export", help="everything held about them, as JSON").add_argument(
        "email"
    )
    person_sub.add_parser("forget", help="erase them; anonymous counts stay").add_argument("email")
    privacy = sub.add_parser("privacy", help="retention of personal data")
    privacy_sub = privacy.add_subparsers(dest="action", required=True)
    purge = privacy_sub.add_parser("purge", help="anonymise requests closed beyond retention")
    purge.add_argument("--dry-run", action="store_true", help="only list what would be done")
    minors = sub.add_parser("minors", help="requests from people under 15, to review")
    minors.add_argument("--json", action="store_true")
    news = sub.add_parser("newsletter", help="mail every active ambassador")
    news_sub = news.add_subparsers(dest="action", required=True)
    send = news_sub.add_parser("send", help="queue a campaign (or resume it) and deliver it")
    send.add_argument("template", help="NAME for templates/mails/newsletter_NAME.txt, or a path")
    send.add_argument("--campaign", help="campaign name (default: TEMPLATE-YYYY-MM-DD)")
    send.add_argument("--per-minute", type=int, help="pace (default [newsletter]; 0: no limit)")


def _open(cfg: Config) -> None:
    from .db import open_database

    open_database(cfg.database.url, cfg.source.parent)


def cmd_init(path: Path) -> int:
    if not path.exists():
        shutil.copyfile(PROJECT_ROOT / "mailflow.example.toml", path)
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
    from .directory import clear_bounce, import_file
    from .directory_view import directory_rows, render_directory
    from .referential import load_referential

    _open(cfg)
    if args.action == "import":
        result = import_file(args.file, load_referential(cfg.paths.rules))
        print(
            f"imported {args.file}: {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged"
        )
        return 0
    if args.action == "clear-bounce":
        ambassador = clear_bounce(args.email)
        print(f"ambassador #{ambassador.id} ({ambassador.email}): available for new requests")
        return 0
    rows = directory_rows()
    print(json.dumps(rows, ensure_ascii=False, indent=2) if args.json else render_directory(rows))
    return 0


def cmd_log(cfg: Config, args: argparse.Namespace) -> int:
    from .logview import FILTER_OPTIONS, log_data, make_filter, render_text

    _open(cfg)
    data = log_data(args.request, make_filter(**{k: getattr(args, k) for k in FILTER_OPTIONS}))
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


def cmd_care(cfg: Config, args: argparse.Namespace) -> int:
    from . import newsletter, privacy, privacy_export

    _open(cfg)
    if args.command == "person" and args.action == "export":
        print(json.dumps(privacy_export.export(args.email), ensure_ascii=False, indent=2))
    elif args.command == "person":
        done = privacy.forget(args.email)
        print(
            f"person #{done['person']} forgotten: {done['requests']} request(s) anonymised, "
            f"{done['mails']} stored mail(s) emptied"
        )
    elif args.command == "privacy":
        due = privacy.purge(cfg, args.dry_run)
        verb = "would be anonymised" if args.dry_run else "anonymised"
        for r in due:
            print(f"request #{r.id} [{r.state}] closed {(r.closed_at or r.updated_at):%Y-%m-%d}")
        print(f"{len(due)} request(s) {verb} (retention {cfg.privacy.retention_days} days)")
    elif args.command == "minors":
        rows = privacy_export.minor_requests()
        text = json.dumps(rows, ensure_ascii=False, indent=2) + "\n" if args.json else None
        print(text or privacy_export.render_minors(rows), end="")
    else:
        queued, sent = newsletter.send_newsletter(
            cfg, args.template, args.campaign, args.per_minute
        )
        print(
            f"newsletter {queued.name}: {queued.queued} queued now, {queued.already} earlier; "
            f"{sent.sent} sent, {sent.waiting} waiting for a retry, {sent.failed} failed"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    path = config_path(args.config)
    try:
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
        return cmd_log(cfg, args)
    except MailflowError as exc:
        print(f"mailflow: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
