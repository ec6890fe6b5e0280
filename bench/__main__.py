"""`python -m bench [--quick | --smoke] [--only relay,routing,stats]`: every figure of issue 6,
printed as it comes and summed up at the end (also written to .work/bench/results.json).

`--smoke` runs every section at tiny sizes (well under a minute): the test suite runs it
(tests/e2e/test_bench_smoke.py) so that a benchmark that can no longer produce its figures
fails the build, as the capacity the CSV import refused once did unnoticed. Its timings
mean nothing and are never checked."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from bench import relay_run
from bench.report import print_summary

REPO = Path(__file__).resolve().parent.parent
SECTIONS = ("relay", "routing", "stats")  # and "memory": the large message alone


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, to try the bench")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes: that every figure comes, not what"
    )
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument(
        "--stats-db",
        type=Path,
        help="keep the generated stats database at this path and reuse it when it exists "
        "(its generation takes about a minute)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=REPO / ".work" / "bench" / "results.json",
        help="where the figures are written as JSON (default .work/bench/results.json)",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupted)  # so that the stacks and daemons get stopped
    only = set(args.only.split(","))
    # Under /tmp: the mail daemons' users must be able to enter every parent directory.
    basedir = Path(f"/tmp/mailflow-bench-{os.getpid()}")
    shutil.rmtree(basedir, ignore_errors=True)
    basedir.mkdir(mode=0o755)
    results: dict[str, Any] = {"quick": args.quick or args.smoke, "smoke": args.smoke}
    started = time.monotonic()
    try:
        if "relay" in only:
            sizes = relay_run.Sizes(50, 0.2, 200, 200) if args.quick else relay_run.Sizes()
            if args.smoke:
                sizes = relay_run.Sizes(5, 0.2, 10, 10, attachment=1024 * 1024)
            results["relay"] = relay_run.run(basedir, sizes, say)
        if "memory" in only:
            from bench import memory

            results["memory"] = memory.run(basedir / "memory", say)
        if "routing" in only:
            from bench import routing

            say("routing: 200 ambassadors (smoke)" if args.smoke else "routing: 10,000 ambassadors")
            if args.smoke:
                results["routing"] = routing.run(basedir / "routing", 5, ambassadors=200)
            else:
                results["routing"] = routing.run(basedir / "routing", 50 if args.quick else 1000)
        if "stats" in only:
            from bench import statsdb

            say("stats: generating the database")
            target = 20_000 if args.quick else 1_000_000
            target = 500 if args.smoke else target
            results["stats"] = statsdb.run(basedir / "stats", target, say, args.stats_db)
    finally:
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(basedir, ignore_errors=True)
    results["total_seconds"] = time.monotonic() - started
    out = args.results.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, default=_plain, indent=2), encoding="utf-8")
    print_summary(results)
    print(f"\n(results in {out})")
    return 0


def _interrupted(*_: object) -> None:
    raise SystemExit("bench: interrupted")


def _plain(value: object) -> object:
    if hasattr(value, "__dataclass_fields__"):
        data = dict(vars(value))
        for name in ("missing", "per_second"):
            if hasattr(value, name):
                data[name] = getattr(value, name)
        return data
    return str(value)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
