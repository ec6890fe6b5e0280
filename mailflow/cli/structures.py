"""`mailflow structures`: import the partner structures from a CSV, list the ones in use."""

from __future__ import annotations

import argparse
import json

from mailflow.config import Config


def cmd_import(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.admin.structures import SEPARATORS, import_file
    from mailflow.context import load_structures_of

    load_structures_of(cfg)  # a wrong rules file stops here, named
    result = import_file(args.file)
    said = (
        "" if result.separator == "," else f", columns separated by {SEPARATORS[result.separator]}"
    )
    print(
        f"imported {args.file} ({result.encoding}{said}): {result.count} structure(s), "
        f"replacing the {result.replaced} imported before; this list replaces "
        "rules/structures.toml's"
    )
    return 0


def cmd_list(cfg: Config, args: argparse.Namespace) -> int:
    from mailflow.admin.structures import listing
    from mailflow.context import load_structures_of
    from mailflow.services.structures import imported

    rules = load_structures_of(cfg)
    shown = listing(rules, imported())
    if args.json:
        print(json.dumps(shown, ensure_ascii=False, indent=2))
        return 0
    print(f"partner structures from {shown['source']}: {len(shown['structures'])}")
    if shown["example"]:
        print("(example data: replace it with `mailflow structures import FILE.csv`)")
    for s in shown["structures"]:
        matched = " ".join(s["domains"] + s["addresses"]) or "-"
        told = "adviser told" if s["notify"] else "not told"
        print(f"  {s['key']:<24} {rules.label(s['kind'])}: {s['name']} [{matched}] ({told})")
        if s["aliases"]:
            print(f"  {'':<24} also written: {' | '.join(s['aliases'])}")
    return 0
