"""Coordinators' review from the command line: `mailflow log`, `stats`, `report` and
`message show`; they read the database and change nothing.
"""

from __future__ import annotations

import argparse
import json
import sys

from mailflow.config import Config
from mailflow.errors import MailflowError


def check_log(args: argparse.Namespace) -> None:
    """--kind and --actions go together, and --actions takes no filter about requests."""
    from mailflow.review.log_filters import FILTER_OPTIONS

    if args.kind and not args.actions:
        raise MailflowError("--kind chooses among the actions: use it with --actions")
    if args.actions:
        options = {k: getattr(args, k) for k in FILTER_OPTIONS}
        about_requests = [k for k, v in options.items() if v and k not in ("since", "until")]
        if args.request is not None or about_requests:
            given = "--request" if args.request is not None else f"--{about_requests[0]}"
            raise MailflowError(
                f"{given} is about requests; --actions lists what happened outside any "
                "request and takes only --since, --until, --kind and --json"
            )


def cmd_log(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.core.outcomes import known_outcomes
    from mailflow.review.log_actions import action_kinds, actions, render_actions
    from mailflow.review.log_filters import FILTER_OPTIONS, make_filter, recorded_outcomes
    from mailflow.review.log_render import render_text
    from mailflow.review.log_timeline import log_data

    zone = cfg.schedule.zone  # people read its days and times; --json stays UTC
    options = {k: getattr(args, k) for k in FILTER_OPTIONS}
    if args.actions:
        f = make_filter(**options)
        kinds = action_kinds(args.kind)
        rows = actions(f.since, f.until, kinds, zone)
        if args.json:
            print(json.dumps({"actions": rows}, ensure_ascii=False, indent=2))
        else:
            print(render_actions(rows, dated=f.active, kinds=kinds, zone=zone), end="")
        return 0
    outcomes = known_outcomes(recorded_outcomes()) if args.outcome else ()
    data = log_data(args.request, make_filter(outcomes, **options), zone)
    if args.request is not None and not data["requests"]:
        raise MailflowError(f"no request #{args.request}")
    print(
        json.dumps(data, ensure_ascii=False, indent=2) if args.json else render_text(data, zone),
        end="" if not args.json else "\n",
    )
    return 0


def cmd_stats(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.context import load_labels_of
    from mailflow.review.stats import collect
    from mailflow.review.stats_render import render_csv, render_excel, render_text

    doc = collect(args.year, cfg.schedule.zone)
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    elif args.csv:
        print(render_csv(doc), end="")
    elif args.excel:  # bytes: UTF-8 with its BOM whatever the terminal's encoding
        sys.stdout.flush()
        sys.stdout.buffer.write(render_excel(doc, load_labels_of(cfg)).encode("utf-8"))
        sys.stdout.buffer.flush()
    else:
        print(render_text(doc, load_labels_of(cfg), structure_words_of(cfg)), end="")
    return 0


def structure_words_of(cfg: Config):  # noqa: ANN201 - review.stats_structures.StructureWords
    """The partner structures' French names, for the text of `stats` and the report."""
    from mailflow.context import load_structures_of
    from mailflow.review.stats_structures import structure_words

    return structure_words(load_structures_of(cfg))


def cmd_report(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.context import load_labels_of
    from mailflow.review.report import make_report

    pages = make_report(
        args.year, args.out, cfg.schedule.zone, load_labels_of(cfg), structure_words_of(cfg)
    )
    print(f"report {args.year}: {pages} pages written, open {args.out / 'index.html'}")
    return 0


def cmd_message(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.review.messageview import message_view, raw_bytes, render_message

    view = message_view(args.id, args.outbound)
    if args.raw:
        sys.stdout.flush()
        sys.stdout.buffer.write(raw_bytes(args.id, args.outbound))
        sys.stdout.buffer.flush()
    else:
        print(render_message(view, cfg.schedule.zone), end="")
    return 0
