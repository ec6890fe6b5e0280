"""`bench/run --only memory`: the large-message figures of the relay section alone, measured
the same way (same stack, same daemon, same 25 MiB attachment, VmHWM after clear_refs)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import mails, stack
from bench.measure import status_kb
from bench.procs import LATENCY_TRADE, Mailflow
from bench.relay_run import RAISED_LIMITS, _big


def run(basedir: Path, say: Callable[[str], None]) -> dict[str, Any]:
    basedir.mkdir(mode=0o755, parents=True, exist_ok=True)
    people = stack.persons(2, "l")
    users = stack.write_users(basedir / "users", people, [])
    say("memory: starting the mail stack")
    mail_stack = stack.start(basedir / "stack", users)
    out: dict[str, Any] = {}
    try:
        mf = Mailflow(basedir / "mailflow", mail_stack)
        mf.write_config()
        mf.install([])
        daemon = mf.start()
        try:
            time.sleep(2)
            out["daemon_idle_kb"] = status_kb(daemon.pid, "VmRSS")
            setup = [
                (p, stack.RELAY, mails.request(p, stack.RELAY, LATENCY_TRADE, i))
                for i, p in enumerate(people)
            ]
            stack.inject(mail_stack, setup)
            mf.wait_idle(len(setup), 120)
            pairs = mf.person_tokens(LATENCY_TRADE)
            say("large message at the default size cap")
            out["default_cap"] = _big(mf, daemon, mail_stack, pairs[0], 1, relayed=False)
        finally:
            daemon.stop()
        say("large message with the cap raised in [limits]")
        mf.write_config(RAISED_LIMITS)
        daemon = mf.start()
        try:
            time.sleep(2)
            out["raised_idle_kb"] = status_kb(daemon.pid, "VmRSS")
            out["raised_cap"] = _big(mf, daemon, mail_stack, pairs[1], 2, relayed=True)
        finally:
            daemon.stop()
    finally:
        stack.stop(mail_stack)
    for key in ("default_cap", "raised_cap"):
        r = out[key]
        msg_mb = r["message_bytes"] / 1024 / 1024
        above = r["peak_mb"] - r["rss_before_mb"]
        say(
            f"{key}: {msg_mb:.1f} MiB message -> {r['outcome']}/{r['status']}; RSS before "
            f"{r['rss_before_mb']:.1f} MB, peak {r['peak_mb']:.1f} MB "
            f"({r['peak_mb'] / msg_mb:.1f}x), above before {above:.1f} MB "
            f"({above / msg_mb:.1f}x); processed {r['processed_s']:.1f} s"
        )
    return out
