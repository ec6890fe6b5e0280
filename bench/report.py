"""The printed summary: every figure next to its target, and the ratios to the forwarder."""

from __future__ import annotations

from typing import Any

from bench.measure import mb, summary


def _ok(met: bool) -> str:
    return "met" if met else "MISSED"


def print_summary(results: dict[str, Any]) -> None:
    size = " (smoke: tiny sizes, timings meaningless)" if results.get("smoke") else ""
    size = size or (" (quick: small sizes)" if results["quick"] else "")
    print("\n=== mailflow benchmark" + size)
    if "relay" in results:
        _relay(results["relay"])
    if "routing" in results:
        _routing(results["routing"])
    if "stats" in results:
        _stats(results["stats"])
    print(f"\ntotal run time: {results['total_seconds'] / 60:.1f} min")


def _relay(r: Any) -> None:
    print("\n1. relay latency, SMTP 250 -> relayed copy seen in the recipient's INBOX")
    print("   (seen by IMAP NOOP every 10 ms; nothing subtracted)")
    lat = {}
    for name, result in r.latency.items():
        s = summary(result.seconds)
        lat[name] = s
        print(
            f"   {name:10} n={s['n']:.0f} missing={result.missing}  p50 {s['p50']:.3f} s"
            f"  p95 {s['p95']:.3f} s  p99 {s['p99']:.3f} s  max {s['max']:.3f} s"
        )
    m = lat.get("mailflow")
    if m:
        met = m["p50"] < 1 and m["p99"] < 3
        print(f"   target p50 < 1 s and p99 < 3 s: {_ok(met)}")
        f = lat.get("forwarder")
        if f:
            print(
                f"   ratio mailflow / forwarder: p50 {m['p50'] / f['p50']:.2f}x"
                f"  p99 {m['p99'] / f['p99']:.2f}x"
            )
    print("\n2./3. throughput, injection into the shared mailbox -> last copy delivered")
    t = r.throughput
    for name, result in t.items():
        print(
            f"   {name:19} {result.messages} in -> {result.delivered} delivered"
            f" in {result.seconds:6.1f} s = {result.per_second:6.1f} msg/s"
            f" (injection {result.inject_seconds:.1f} s; CPU of the process"
            f" {result.cpu_seconds / result.messages * 1000:.1f} ms/msg)"
        )
    for kind in ("requests", "replies"):
        mf, fw = t.get(f"mailflow {kind}"), t.get(f"forwarder {kind}")
        if mf and fw:
            ratio = mf.per_second / fw.per_second
            print(
                f"   HEADLINE {kind}: mailflow / bare forwarder = {ratio:.0%}"
                f"  (target >= 70%: {_ok(ratio >= 0.7)})"
            )
    if all(f"{s} {k}" in t for s in ("mailflow", "forwarder") for k in ("requests", "replies")):

        def both(s: str) -> float:
            runs = [t[f"{s} requests"], t[f"{s} replies"]]
            return sum(x.messages for x in runs) / sum(x.seconds for x in runs)

        print(
            f"   all {sum(x.messages for n, x in t.items() if n.startswith('mailflow'))}"
            f" messages: mailflow {both('mailflow'):.1f} msg/s, forwarder"
            f" {both('forwarder'):.1f} msg/s, ratio {both('mailflow') / both('forwarder'):.0%}"
        )
    mem = r.memory
    print("\n4. memory of the daemon (RSS)")
    peak = mb(mem["daemon_run_peak_kb"])
    print(
        f"   idle after start {mb(mem['daemon_idle_kb']):.1f} MB; peak over the run (VmHWM)"
        f" {peak:.1f} MB  (target < 150 MB: {_ok(peak < 150)});"
        f" forwarder peak {mb(mem['forwarder_run_peak_kb']):.1f} MB"
    )
    print(f"   inbound outcomes: {mem['outcomes']}")
    for key in ("default_cap", "raised_cap"):
        big = mem.get(key)
        if not big:
            continue
        size = big["message_bytes"] / 1e6
        print(
            f"   {key}: {size:.1f} MB message ({big['attachment_bytes'] / 2**20:.0f} MiB"
            f" attachment) -> {big['outcome']} ({big['status']}); RSS before"
            f" {big['rss_before_mb']:.1f} MB, peak {big['peak_mb']:.1f} MB"
            f" = {big['peak_mb'] * 1.048576 / size:.1f}x the message"
            f" (target < 4x: {_ok(big['peak_mb'] * 1.048576 < 4 * size)}); processed in"
            f" {big['processed_s']:.1f} s"
            + (f", delivered in {big['delivered_s']:.1f} s" if big["delivered_s"] else "")
        )


def _routing(r: dict[str, Any]) -> None:
    print(
        f"\n5. routing: {r['ambassadors']} ambassadors, {r['titles']} ROME titles,"
        f" {r['requests']} requests"
    )
    for name in ("understand", "route", "total"):
        s = r[name]
        print(f"   {name:10} p50 {s['p50'] * 1000:.3f} ms  p99 {s['p99'] * 1000:.3f} ms")
    print(f"   target routing < 2 ms per request: {_ok(r['route']['p99'] < 0.002)}")


def _stats(r: dict[str, Any]) -> None:
    print(f"\n6. stats over {r['messages']:,} recorded messages ({r['generated']})")
    for name in ("collect", "cli", "cli_year"):
        print(f"   {name:9} {r[name]:.2f} s")
    print(f"   target < 2 s: {_ok(max(r['cli'], r['collect']) < 2)}")
