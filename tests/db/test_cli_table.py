"""The command table (mailflow/cli/commands.py) and the parser (mailflow/cli/parser.py) agree:
every command the parser accepts is dispatched through the table, every command of the
table is parsed and listed in the help of its parent, with a help line of its own."""

from __future__ import annotations

import argparse

import pytest

from mailflow.cli import main as cli_main
from mailflow.cli.commands import COMMANDS, Command, Needs, command_path
from mailflow.cli.parser import build_parser


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return found[0] if found else None


def _parsed_paths(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every command path the parser accepts, with the parser of its last word."""
    sub = _subparsers(parser)
    if sub is None:
        return {path: parser}
    paths = {} if sub.required else {path: parser}  # `ambassadors` alone is a command too
    for name, child in sub.choices.items():
        paths |= _parsed_paths(child, (*path, name))
    return paths


PARSER = build_parser(cli_main.__doc__)
PARSED = _parsed_paths(PARSER)


def _parser_of(path: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = PARSER
    for word in path:
        parser = _subparsers(parser).choices[word]  # type: ignore[union-attr]
    return parser


def test_the_parser_and_the_table_name_the_same_commands() -> None:
    assert set(PARSED) - set(COMMANDS) == set(), "parsed but not dispatched"
    assert set(COMMANDS) - set(PARSED) == set(), "in the table but not parsed"
    # 25 at issue 11; request relay-late (issue 12); structures, structures list, structures
    # import, ambassadors honorability, minors approve/refuse (issue 14); web, web user
    # add/list/disable (issue 15)
    assert len(COMMANDS) == 36


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_command_has_a_handler_and_a_help_line(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    command = COMMANDS[path]
    assert isinstance(command.needs, Needs)
    assert callable(command.run) and command.run.__module__.startswith("mailflow.cli.")
    if path == ("ambassadors",):
        parent, word = (), "ambassadors"
    else:
        parent, word = path[:-1], path[-1]
    with pytest.raises(SystemExit) as exit_:
        cli_main.main([*parent, "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    helped = {
        a.dest: a.help
        for a in _subparsers(_parser_of(parent))._choices_actions  # type: ignore[union-attr]
    }
    assert helped.get(word), f"`mailflow {' '.join(parent)} --help` gives {word} no help line"
    assert word in out and helped[word].split()[0] in out


def _argv(path: tuple[str, ...]) -> list[str]:
    """The shortest command line of `path`: every required argument given as 1."""
    argv = list(path)
    for action in PARSED[path]._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        if not action.option_strings:
            argv.append("1")
        elif action.required:
            argv += [action.option_strings[0], "1"]
    return argv


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_dispatch_runs_the_handler_of_the_table(
    path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, ...]] = []

    def handler(_path: object, args: argparse.Namespace) -> int:
        seen.append(command_path(args))
        return 7

    monkeypatch.setitem(COMMANDS, path, Command(Needs.PATH, handler))
    assert cli_main.main(["--config", "unused.toml", *_argv(path)]) == 7
    assert seen == [path]


def test_the_help_opens_with_what_mailflow_is(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli_main.main(["--help"])
    out = capsys.readouterr().out
    description = out.split("\n\n")[1]
    assert description.startswith("mailflow introduces people"), description
    assert "mailflow COMMAND --help" in out
