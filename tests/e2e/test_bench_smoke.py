"""The benchmark can still produce every figure (bench/run --smoke: tiny sizes, its own real
mail stack, a bare forwarder beside mailflow). A benchmark that cannot run is a broken
build: `bench/run` once stopped before its first figure for weeks (a capacity the CSV import
had come to refuse) and nobody noticed. Timings are never checked here; only that each
section ran to its end and counted what it sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_produces_every_figure(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILFLOW_")}
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--results", str(results)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,  # a bound against a hang, not a speed check: it takes well under a minute
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for heading in ("1. relay latency", "2./3. throughput", "4. memory", "5. routing", "6. stats"):
        assert heading in run.stdout, run.stdout[-3000:]
    figures = json.loads(results.read_text(encoding="utf-8"))
    assert figures["smoke"] is True
    latency = figures["relay"]["latency"]
    for side in ("forwarder", "mailflow"):
        assert latency[side]["sent"] == 5 and latency[side]["missing"] == 0, latency[side]
        assert len(latency[side]["seconds"]) == 5
    throughput = figures["relay"]["throughput"]
    # a new request gives two mails (the intro and the acknowledgement), a reply one copy
    assert throughput["mailflow requests"]["delivered"] == 2 * 10, throughput
    assert throughput["mailflow replies"]["delivered"] == 10, throughput
    assert throughput["forwarder requests"]["delivered"] == 10, throughput
    memory = figures["relay"]["memory"]
    assert memory["daemon_run_peak_kb"] > 0
    assert {memory["default_cap"]["outcome"], memory["raised_cap"]["outcome"]} <= {
        "relayed",
        "too-large",
    }, memory
    routing = figures["routing"]
    assert (routing["ambassadors"], routing["requests"]) == (200, 5)
    assert routing["total"]["n"] == 5, routing["total"]
    stats = figures["stats"]
    assert stats["counts"]["inbound_messages"] > 0, stats
    assert stats["requests_counted"] == stats["counts"]["requests"], stats  # every one counted
