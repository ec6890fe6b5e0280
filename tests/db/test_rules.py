"""The rules are read once, into the Context, and a wrong rule file stops mailflow at start-up
with the file and key named (context.load_rules, core/rules_file.py)."""

from __future__ import annotations

import ast
import dataclasses
import shutil
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from mailflow import context
from mailflow.cli.main import main
from mailflow.config import PROJECT_ROOT, load_config
from mailflow.context import Rules, load_context
from mailflow.errors import RulesError
from tests import shared_rules
from tests.inprocess import write_config

RULES = PROJECT_ROOT / "rules"
LOADERS = (
    "load_policy",
    "load_calendar",
    "load_command_rules",
    "load_confirmation_rules",
    "load_feedback_rules",
    "load_classify_rules",
    "load_understanding_rules",
    "load_referential",
    "load_matching_policy",
    "load_labels",
    "load_structure_rules",
    "load_console_rules",
    "load_charter_rules",  # given its file: rules/charter.toml (or MAILFLOW_CHARTER_RULES's)
)
# Functions that read a file; a cached one of them would be a rule loader by another name.
READERS = {"read_toml", "read_text", "open", "loads", "load", "_read_csv", "_read_json"}


def _copy_rules(tmp_path: Path) -> Path:
    rules = tmp_path / "my-rules"
    shutil.copytree(RULES, rules)
    return rules


def _config(tmp_path: Path, rules: Path) -> Path:
    return write_config(tmp_path, f'\n[paths]\nrules = "{rules}"\n')


def test_a_context_reads_each_rule_file_once(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(context, "load_rules", shared_rules.read_rules)  # no session sharing
    monkeypatch.setenv(context.CACHE_ENV, "off")  # the referential built, not read back
    calls: Counter[str] = Counter()
    for name in LOADERS:
        real = getattr(context, name)

        def counted(rules_dir: Path, _real=real, _name=name):  # noqa: ANN202
            calls[_name] += 1
            return _real(rules_dir)

        monkeypatch.setattr(context, name, counted)
    cfg = load_config(_config(tmp_path, RULES))

    ctx = load_context(cfg)

    assert calls == Counter(dict.fromkeys(LOADERS, 1))
    assert isinstance(ctx.rules, Rules)
    assert ctx.ref is ctx.rules.referential and ctx.classify is ctx.rules.classify
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.rules.followup = None  # type: ignore[misc]
    # Every field is filled by its loader: none left for a caller to read on its own.
    assert {f.name for f in dataclasses.fields(Rules)} == {
        "followup",
        "calendar",
        "commands",
        "confirmation",
        "feedback",
        "classify",
        "understanding",
        "referential",
        "labels",
        "matching",
        "structures",
        "console",
        "charter",
        "minors",
    }


def _calls(node: ast.AST) -> set[str]:
    names = set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            f = call.func
            names.add(f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", ""))
    return names


def test_no_module_reads_rules_on_its_own() -> None:
    """No cached file loader is left in mailflow/, and only context.py calls the loaders or
    looks at [paths] rules: everything else takes ctx.rules (or the rules as an argument)."""
    cached_readers, callers = [], []
    for path in sorted((PROJECT_ROOT / "mailflow").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(PROJECT_ROOT)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and any(
                "cache" in ast.unparse(d) for d in node.decorator_list
            ):
                arguments = {a.arg for a in node.args.args}
                if _calls(node) & READERS or "rules_dir" in arguments:
                    cached_readers.append(f"{where}: {node.name}")
            if where.name == "context.py":
                continue
            if isinstance(node, ast.Call) and ast.unparse(node.func).rsplit(".", 1)[-1] in (
                *LOADERS,
                "load_date_rules",
            ):
                callers.append(f"{where}:{node.lineno} {ast.unparse(node)}")
            if isinstance(node, ast.Attribute) and ast.unparse(node).endswith("paths.rules"):
                callers.append(f"{where}:{node.lineno} {ast.unparse(node)}")
    assert cached_readers == []
    assert callers == []


def test_a_deployment_reads_its_own_rules(tmp_path: Path) -> None:
    rules = _copy_rules(tmp_path)
    file = rules / "confirmation.toml"
    text = file.read_text(encoding="utf-8")
    assert "expire_after_days = 7" in text
    file.write_text(text.replace("expire_after_days = 7", "expire_after_days = 9"), "utf-8")

    ctx = load_context(load_config(_config(tmp_path, rules)))

    assert ctx.rules.confirmation.expire_after == timedelta(days=9)


def test_a_wrong_rule_file_stops_run_at_start_up(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    rules = _copy_rules(tmp_path)
    file = rules / "commands.toml"
    text = file.read_text(encoding="utf-8")
    assert "\ngreetings = [" in text
    file.write_text(text.replace("\ngreetings = [", "\ngreeting = ["), encoding="utf-8")
    config = _config(tmp_path, rules)

    assert main(["--config", str(config), "run", "--once"]) == 2

    err = capsys.readouterr().err
    assert err.strip() == f"mailflow: {file}: the key 'line.greetings' is missing"
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("name", "old", "new", "said"),
    [
        (
            "followup.toml",
            "reassign_after = 7",
            'reassign_after = "7"',
            "ambassador.reassign_after",
        ),
        ("holidays.toml", "weekend", "week_end", "unknown key 'week_end'"),
        ("feedback.toml", "[met]", "[mett]", "the key 'met' is missing"),
        ("classify.toml", "[spam_scores]", "[spam_score]", "the key 'spam_scores' is missing"),
        ("understanding.toml", "\n[message]\n", "\n[messages]\n", "the key 'message' is missing"),
        ("confirmation.toml", "expire_after_days = 7", "expire_after_days = 0", "at least 1"),
        ("commands.toml", "[dates]", "[date]", "the key 'dates' is missing"),
        ("place_names.toml", "[names]", "names = [", "not valid TOML"),
        ("matching.toml", "department = true", "departement = true", "unknown stretch"),
    ],
)
def test_each_rule_file_is_named_in_its_error(
    tmp_path: Path, name: str, old: str, new: str, said: str
) -> None:
    rules = _copy_rules(tmp_path)
    file = rules / name
    text = file.read_text(encoding="utf-8")
    assert old in text
    file.write_text(text.replace(old, new, 1), encoding="utf-8")

    with pytest.raises(RulesError) as info:
        shared_rules.read_rules(rules)

    assert str(info.value).startswith(f"{file}: ")
    assert said in str(info.value)
