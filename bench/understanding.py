"""`python -m bench.understanding`: how well mailflow understands what people write (issue 13).

Reads the corpus (tests/understanding/corpus.jsonl: one request a line, with the values a
careful coordinator would write) and the directory it was written with
(tests/understanding/ambassadors.csv, and ambassadors_codes.csv: the ROME code a coordinator
gives each title), runs `understand()` on every request, routes each with `route.choose`
over the directory as `ambassadors import` reads it, and prints:

- per field (kind, trade, département, commune, age, situation): expected, found, right,
  precision (right / found) and recall (right / expected);
- the help mail sent to a clear request, routing (to an acceptable ambassador, to the wrong
  trade, to nobody), directory titles that get no ROME code or the wrong one;
- the confusion of kinds and of situations, the time per request (p50, p99), and every miss.

    bench/understanding                  the figures and every miss
    bench/understanding --check          exit 1 when a figure is below the recorded one
    bench/understanding --update         record today's figures (after a gain)
    bench/understanding --quiet          the figures without the misses

The recorded figures (tests/understanding/figures.json) are checked by the test suite
(tests/unit/test_understanding_eval.py): a drop fails the build, a gain is recorded with
--update. Times are printed, never checked.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from mailflow.admin.directory import AmbassadorRow, read_rows
from mailflow.context import Rules, load_rules
from mailflow.core.route import Candidate, Want, choose
from mailflow.core.textnorm import fold, words
from mailflow.core.values import ParsedRequest
from mailflow.understand.mail import understand
from mailflow.understand.referential import Referential

REPO = Path(__file__).resolve().parent.parent
FOLDER = REPO / "tests" / "understanding"
# The day the corpus's ages are counted on (README: "ages at 2026-12-07"): a birth date
# ("née en 2011") gives the age on that day, as the daemon gives it on the day a mail is read.
CORPUS_DAY = date(2026, 12, 7)
FIELDS = ("kind", "trade", "department", "commune", "age", "situation")
# Figures where higher is better; each is checked against its recorded value.
CHECKED = (
    *(f"{f}_recall" for f in FIELDS),
    *(f"{f}_precision" for f in FIELDS),
    "routed_acceptable",
)
# Who wrote (issue 14): the corpus's `writer` ("self", or one of WRITER_ROLES) against
# ParsedRequest.writer_role (None for "self"); precision and recall over the adults' roles.
WRITER = ("writer_precision", "writer_recall")
CHECKED = (*CHECKED, *WRITER)
# Figures where lower is better.
CHECKED_LOW = ("help_on_clear", "routed_wrong_trade")


@dataclass
class Tally:
    expected: int = 0
    found: int = 0
    right: int = 0

    def precision(self) -> float:
        return self.right / self.found if self.found else 1.0

    def recall(self) -> float:
        return self.right / self.expected if self.expected else 1.0


@dataclass
class Result:
    cases: int = 0
    fields: dict[str, Tally] = field(default_factory=lambda: {f: Tally() for f in FIELDS})
    writer: Tally = field(default_factory=Tally)  # the adults' roles (corpus `writer`)
    writers: Counter[tuple[str, str]] = field(default_factory=Counter)
    clear: int = 0
    help_on_clear: int = 0
    routable: int = 0  # clear requests with an acceptable ambassador in the directory
    routed_acceptable: int = 0
    routed_wrong: int = 0
    routed_none: int = 0
    kinds: Counter[tuple[str, str]] = field(default_factory=Counter)
    situations: Counter[tuple[str, str]] = field(default_factory=Counter)
    times_ms: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    shapes: dict[str, Counter[str]] = field(default_factory=dict)  # tag -> right/missed
    directory: list[str] = field(default_factory=list)  # titles placed wrongly or not at all

    def figures(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, t in self.fields.items():
            out[f"{name}_recall"] = round(t.recall(), 4)
            out[f"{name}_precision"] = round(t.precision(), 4)
        out["writer_recall"] = round(self.writer.recall(), 4)
        out["writer_precision"] = round(self.writer.precision(), 4)
        out["help_on_clear"] = round(self.help_on_clear / self.clear, 4) if self.clear else 0.0
        out["routed_acceptable"] = (
            round(self.routed_acceptable / self.routable, 4) if self.routable else 1.0
        )
        out["routed_wrong_trade"] = (
            round(self.routed_wrong / self.routable, 4) if self.routable else 0.0
        )
        return out


def load_corpus(path: Path) -> list[dict[str, Any]]:
    cases = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                cases.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path}:{n}: not JSON: {exc}") from exc
    return cases


def load_directory(folder: Path, rules: Rules) -> tuple[list[AmbassadorRow], dict[str, str]]:
    """The directory as `ambassadors import` reads it, and the code a coordinator gives
    each ambassador (email -> code_rome)."""
    rows = read_rows((folder / "ambassadors.csv").read_text(encoding="utf-8"), rules.referential)
    truth = {}
    codes = folder / "ambassadors_codes.csv"
    for line in codes.read_text(encoding="utf-8").splitlines()[1:]:
        if line.strip():
            email, code = line.split(",")[:2]
            truth[email.strip().lower()] = code.strip()
    return rows, truth


def candidates_of(rows: list[AmbassadorRow]) -> list[Candidate]:
    return [
        Candidate(
            id=n,
            kind=row.kind,
            code_rome=row.code_rome,
            title_words=words(row.title),
            department=row.department,
            region=row.region,
            insee=row.insee,
            capacity=max(row.capacity, 1),
            open_conversations=0,
            last_contacted_at=None,
        )
        for n, row in enumerate(rows)
    ]


def want_of(parsed: ParsedRequest, ref: Referential | None = None) -> Want:
    """What routing compares, as services/intake.py builds it (close codes included)."""
    place = parsed.place
    code = parsed.trade.code_rome if parsed.trade else None
    return Want(
        kind=parsed.kind,
        code_rome=parsed.trade.code_rome if parsed.trade else None,
        title_words=parsed.trade_text,
        department=place.department if place else None,
        region=place.region if place else None,
        insee=place.insee if place else None,
        close_codes=ref.close_codes(code) if ref is not None else frozenset(),
        near_codes=ref.near_codes(code) if ref is not None else frozenset(),
    )


def _got(parsed: ParsedRequest) -> dict[str, Any]:
    place = parsed.place
    return {
        "kind": parsed.kind,
        "trade": parsed.trade.code_rome if parsed.trade else None,
        "department": place.department if place else None,
        "commune": place.commune if place else None,
        "age": parsed.age,
        "situation": parsed.situation,
    }


def _same(name: str, want: Any, got: Any) -> bool:
    if name == "trade":
        return got in want
    if name == "commune":
        return fold(str(want)) == fold(str(got))
    return want == got


def evaluate(cases: list[dict[str, Any]], rules: Rules, folder: Path = FOLDER) -> Result:
    rows, truth = load_directory(folder, rules)
    candidates = candidates_of(rows)
    result = Result(cases=len(cases))
    for row in rows:
        true = truth.get(row.email)
        if true and row.code_rome != true:
            got = row.code_rome or "no code"
            result.directory.append(f"line {row.line}: {row.title!r} -> {got}, expected {true}")
    ref, understanding = rules.referential, rules.understanding
    for case in cases:
        start = time.perf_counter()
        parsed = understand(case.get("subject", ""), case["body"], ref, understanding, CORPUS_DAY)
        result.times_ms.append((time.perf_counter() - start) * 1000)
        got = _got(parsed)
        wanted = {
            "kind": case.get("kind"),
            "trade": case.get("trades") or None,
            "department": case.get("department"),
            "commune": case.get("commune"),
            "age": case.get("age"),
            "situation": case.get("situation"),
        }
        missed: list[str] = []
        for name in FIELDS:
            t = result.fields[name]
            want, have = wanted[name], got[name]
            t.expected += want is not None
            t.found += have is not None
            ok = want is not None and have is not None and _same(name, want, have)
            t.right += ok
            if (want is not None or have is not None) and not ok:
                missed.append(f"{name}: wanted {want!r}, got {have!r}")
        missed += _writer(result, case.get("writer"), parsed.writer_role)
        if case.get("kind"):
            result.kinds[case["kind"], got["kind"] or "-"] += 1
        if case.get("situation"):
            result.situations[case["situation"], got["situation"] or "-"] += 1
        if case.get("clear"):
            result.clear += 1
            if not parsed.understood:
                result.help_on_clear += 1
                missed.append("help mail sent to a clear request")
        trades = set(case.get("trades") or ())
        if case.get("clear") and trades:
            acceptable = [c for c in candidates if truth.get(rows[c.id].email) in trades]
            if acceptable:
                result.routable += 1
                choice = choose(want_of(parsed, ref), candidates)
                if choice is None:
                    result.routed_none += 1
                    missed.append("routed to nobody, though an acceptable ambassador exists")
                elif truth.get(rows[choice.candidate.id].email) in trades:
                    result.routed_acceptable += 1
                else:
                    result.routed_wrong += 1
                    who = rows[choice.candidate.id]
                    missed.append(f"routed to the wrong trade: {who.title!r} ({choice.why})")
        for tag in case.get("shapes", ()):
            result.shapes.setdefault(tag, Counter())["missed" if missed else "right"] += 1
        if missed:
            first = " ".join(case["body"].split())[:110]
            result.misses.append(f"{case['id']}: {'; '.join(missed)}\n      « {first} »")
    return result


def _writer(result: Result, said: str | None, found: str | None) -> list[str]:
    """Count who wrote: `said` is the corpus's ("self": the person themselves)."""
    want = None if said in (None, "self") else said
    t = result.writer
    t.expected += want is not None
    t.found += found is not None
    t.right += want is not None and want == found
    if said is not None:
        result.writers[said, found or "self"] += 1
    if want != found:
        return [f"writer: wanted {want or 'self'!r}, got {found or 'self'!r}"]
    return []


def _pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


def report(result: Result, quiet: bool = False) -> str:
    lines = [f"understanding: {result.cases} requests (tests/understanding/corpus.jsonl)", ""]
    lines.append(
        f"  {'field':<11} {'expected':>8} {'found':>6} {'right':>6} {'recall':>7} {'precision':>9}"
    )
    for name, t in result.fields.items():
        lines.append(
            f"  {name:<11} {t.expected:>8} {t.found:>6} {t.right:>6} {_pct(t.recall()):>7} "
            f"{_pct(t.precision()):>9}"
        )
    w = result.writer
    lines.append(
        f"  {'writer':<11} {w.expected:>8} {w.found:>6} {w.right:>6} {_pct(w.recall()):>7} "
        f"{_pct(w.precision()):>9}   (an adult's role; 'self' not counted)"
    )
    f = result.figures()
    lines += [
        "",
        f"  help mail sent to a clear request: {result.help_on_clear} of {result.clear} "
        f"({_pct(f['help_on_clear']).strip()})",
        f"  routing, over the {result.routable} clear requests an ambassador of the directory "
        "could take:",
        f"    to an acceptable ambassador  {result.routed_acceptable:>4} "
        f"({_pct(f['routed_acceptable']).strip()})",
        f"    to the wrong trade           {result.routed_wrong:>4} "
        f"({_pct(f['routed_wrong_trade']).strip()})",
        f"    to nobody                    {result.routed_none:>4}",
    ]
    times = sorted(result.times_ms)
    if times:
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        lines.append(
            f"  time per request: p50 {statistics.median(times):.1f} ms, p99 {p99:.1f} ms, "
            f"max {times[-1]:.1f} ms"
        )
    confusions = (("kind", result.kinds), ("situation", result.situations))
    for title, confusion in (*confusions, ("writer", result.writers)):
        lines += ["", f"  confusion of {title} (expected -> found: count)"]
        for (want, got), n in sorted(confusion.items(), key=lambda kv: (kv[0][0], -kv[1])):
            mark = "" if want == got else "   <- miss"
            lines.append(f"    {want:<17} -> {got:<17} {n:>4}{mark}")
    lines += ["", "  by shape (requests right / with a miss)"]
    for tag, c in sorted(result.shapes.items()):
        lines.append(f"    {tag:<18} {c['right']:>4} / {c['missed']:<4}")
    if result.directory:
        lines += ["", f"  directory titles placed wrongly or not at all: {len(result.directory)}"]
        lines += [f"    {d}" for d in result.directory]
    if not quiet:
        lines += ["", f"  misses: {len(result.misses)} requests"]
        lines += [f"    {m}" for m in result.misses]
    return "\n".join(lines)


def compare(now: dict[str, float], recorded: dict[str, float]) -> tuple[list[str], list[str]]:
    """(drops, gains) against the recorded figures."""
    drops, gains = [], []
    for key in CHECKED + CHECKED_LOW:
        if key not in recorded:
            continue
        worse = now[key] < recorded[key] if key in CHECKED else now[key] > recorded[key]
        better = now[key] > recorded[key] if key in CHECKED else now[key] < recorded[key]
        if worse:
            drops.append(f"{key}: {recorded[key]} recorded, now {now[key]}")
        elif better:
            gains.append(f"{key}: {recorded[key]} -> {now[key]}")
    return drops, gains


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/understanding", description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=FOLDER / "corpus.jsonl")
    parser.add_argument("--rules", type=Path, default=REPO / "rules")
    parser.add_argument("--check", action="store_true", help="exit 1 on a drop")
    parser.add_argument("--update", action="store_true", help="record today's figures")
    parser.add_argument("--quiet", action="store_true", help="no list of misses")
    args = parser.parse_args(argv)
    rules = load_rules(args.rules)
    result = evaluate(load_corpus(args.corpus), rules, args.corpus.parent)
    print(report(result, quiet=args.quiet))
    figures_path = args.corpus.parent / "figures.json"
    now = result.figures()
    if args.update:
        figures_path.write_text(json.dumps(now, indent=2, sort_keys=True) + "\n")
        print(f"\nrecorded in {figures_path}")
        return 0
    if figures_path.exists():
        drops, gains = compare(now, json.loads(figures_path.read_text()))
        for line in gains:
            print(f"  gain: {line} (record it: bench/understanding --update)")
        for line in drops:
            print(f"  DROP: {line}")
        if args.check and drops:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
