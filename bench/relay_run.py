"""The live part of the bench: both systems on one mail stack, phase by phase, interleaved
(forwarder, then mailflow, for each figure) so that drift on a shared machine hits both."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import mails, stack
from bench.measure import mb, reset_peak, status_kb
from bench.procs import LATENCY_TRADE, THROUGHPUT_TRADE, Mailflow, Service, start_forwarder
from bench.relay_bench import Latency, Throughput, latency, throughput
from bench.watch import ArrivalWatcher
from tests.mailstack import MailStack

LATENCY_PEOPLE = 50  # conversations the latency replies are spread over (hourly cap: 20)
PROS = 20
BIG_ATTACHMENT = 25 * 1024 * 1024
RAISED_LIMITS = {"max_message_bytes": 64 * 1024 * 1024, "max_attachment_bytes": 48 * 1024 * 1024}


@dataclass(frozen=True)
class Sizes:
    latency: int = 500
    interval: float = 0.2
    requests: int = 2500
    replies: int = 2500
    attachment: int = BIG_ATTACHMENT  # the large message's attachment (smaller for --smoke)


@dataclass
class RelayResults:
    latency: dict[str, Latency] = field(default_factory=dict)
    throughput: dict[str, Throughput] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)


def run(basedir: Path, sizes: Sizes, say: Callable[[str], None]) -> RelayResults:
    lat_people = stack.persons(LATENCY_PEOPLE, "l")
    people = stack.persons(sizes.requests, "p")
    pros = stack.ambassadors(PROS)
    users = stack.write_users(basedir / "users", [*lat_people, *people], pros)
    say(f"starting the mail stack ({len(lat_people) + len(people) + len(pros) + 6} mailboxes)")
    mail_stack = stack.start(basedir / "stack", users)
    try:
        return _run(basedir, mail_stack, sizes, lat_people, people, pros, say)
    finally:
        stack.stop(mail_stack)


def _run(
    basedir: Path,
    mail_stack: MailStack,
    sizes: Sizes,
    lat_people: list[str],
    people: list[str],
    pros: list[str],
    say: Callable[[str], None],
) -> RelayResults:
    out = RelayResults()
    mf = Mailflow(basedir / "mailflow", mail_stack)
    mf.write_config()
    mf.install(pros)
    daemon, forwarder = mf.start(), start_forwarder(mail_stack, basedir)
    try:
        time.sleep(2)  # both connected and idle
        out.memory["daemon_idle_kb"] = status_kb(daemon.pid, "VmRSS")
        say(f"mailflow: {LATENCY_PEOPLE} conversations for the latency replies")
        setup = [
            (p, stack.RELAY, mails.request(p, stack.RELAY, LATENCY_TRADE, i))
            for i, p in enumerate(lat_people)
        ]
        stack.inject(mail_stack, setup)
        mf.wait_idle(len(setup), 120)
        pairs = mf.person_tokens(LATENCY_TRADE)
        assert len(pairs) == LATENCY_PEOPLE, f"{len(pairs)} latency conversations opened"

        say(f"latency: {sizes.latency} replies, one every {sizes.interval}s, per system")
        fwd_pairs = [(p, stack.FORWARDER) for p in lat_people]
        out.latency["forwarder"] = latency(
            mail_stack, fwd_pairs, stack.SINK, sizes.latency, sizes.interval, first=100_000
        )
        out.latency["mailflow"] = latency(
            mail_stack, pairs, stack.LATENCY_AMBASSADOR, sizes.latency, sizes.interval
        )
        mf.wait_idle(len(setup) + sizes.latency, 120)

        say(f"throughput: {sizes.requests} new requests, then {sizes.replies} replies, per system")
        requests = [
            (p, stack.FORWARDER, mails.request(p, stack.FORWARDER, THROUGHPUT_TRADE, i))
            for i, p in enumerate(people)
        ]
        out.throughput["forwarder requests"] = throughput(
            mail_stack, requests, [stack.SINK], len(requests), forwarder.pid
        )
        requests = [
            (p, stack.RELAY, mails.request(p, stack.RELAY, THROUGHPUT_TRADE, i))
            for i, p in enumerate(people)
        ]
        out.throughput["mailflow requests"] = throughput(
            mail_stack,
            requests,
            [*pros, *people],
            2 * len(requests),  # intro + ack each
            daemon.pid,
        )
        conversations = mf.person_tokens(THROUGHPUT_TRADE)[: sizes.replies]
        replies = [
            (p, stack.FORWARDER, mails.reply(p, stack.FORWARDER, 200_000 + i))
            for i, (p, _) in enumerate(conversations)
        ]
        out.throughput["forwarder replies"] = throughput(
            mail_stack, replies, [stack.SINK], len(replies), forwarder.pid
        )
        replies = [
            (p, to, mails.reply(p, to, 300_000 + i)) for i, (p, to) in enumerate(conversations)
        ]
        out.throughput["mailflow replies"] = throughput(
            mail_stack, replies, pros, len(replies), daemon.pid
        )
        out.memory["daemon_run_peak_kb"] = status_kb(daemon.pid, "VmHWM")
        out.memory["forwarder_run_peak_kb"] = status_kb(forwarder.pid, "VmHWM")
        out.memory["outcomes"] = dict(
            mf.query("SELECT outcome, COUNT(*) FROM inbound_message GROUP BY outcome")
        )
        say("large message at the default size cap")
        out.memory["default_cap"] = _big(
            mf, daemon, mail_stack, pairs[0], 1, False, sizes.attachment
        )
    finally:
        forwarder.stop()
        daemon.stop()
    say("large message with the cap raised in [limits]")
    mf.write_config(RAISED_LIMITS)
    daemon = mf.start()
    try:
        time.sleep(2)
        out.memory["raised_cap"] = _big(mf, daemon, mail_stack, pairs[1], 2, True, sizes.attachment)
        out.memory["raised_cap"]["limits"] = RAISED_LIMITS
    finally:
        daemon.stop()
    return out


def _big(
    mf: Mailflow,
    daemon: Service,
    mail_stack: MailStack,
    pair: tuple[str, str],
    n: int,
    relayed: bool,
    attachment: int = BIG_ATTACHMENT,
) -> dict[str, Any]:
    """Send one reply with a 25 MB attachment; peak RSS of the daemon while it handles it."""
    sender, to = pair
    raw = mails.with_attachment(sender, to, 900_000 + n, attachment)
    before = status_kb(daemon.pid, "VmRSS")
    reset_peak(daemon.pid)
    done = mf.scalar("SELECT COUNT(*) FROM inbound_message WHERE status != 'stored'")
    with ArrivalWatcher(mail_stack, stack.LATENCY_AMBASSADOR, interval=0.05) as watcher:
        start = time.monotonic()
        stack.inject(mail_stack, [(sender, to, raw)], connections=1)
        mf.wait_idle(done + 1, 300)
        processed = time.monotonic() - start
        if relayed:
            watcher.wait_for({900_000 + n}, 120)
        arrived = watcher.arrivals.get(900_000 + n)
    row = mf.query("SELECT outcome, status, size FROM inbound_message ORDER BY id DESC LIMIT 1")[0]
    return {
        "message_bytes": len(raw),
        "attachment_bytes": attachment,
        "outcome": row[0],
        "status": row[1],
        "rss_before_mb": mb(before),
        "peak_mb": mb(status_kb(daemon.pid, "VmHWM")),
        "processed_s": processed,
        "delivered_s": (arrived - start) if arrived else None,
    }
