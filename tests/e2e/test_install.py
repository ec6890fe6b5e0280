"""The installable package: a wheel built from this checkout, installed into a fresh virtualenv,
runs `mailflow init` in an empty folder and imports the example directory (issue 11).

The wheel must carry what the code reads at run time (rules/, templates/, the example
configuration) and every subpackage; a checkout would hide a missing one, so everything here
runs from the fresh virtualenv in folders outside the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

from mailflow.config import PROJECT_ROOT


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stderr}"
    return done


def copy_checkout(target: Path) -> None:
    """The tracked files as they are in the work tree (committed or not), without build/ or
    egg-info leftovers that would slip stale modules into the wheel."""
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in names)):
        source = PROJECT_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def test_wheel_installs_and_inits_in_an_empty_folder(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILFLOW_", "PYTHON"))}
    source, wheels, empty = tmp_path / "source", tmp_path / "wheels", tmp_path / "empty"
    for folder in (source, wheels, empty):
        folder.mkdir()
    copy_checkout(source)
    # With build isolation, as `pip install .` does: the build backend pyproject.toml asks
    # for comes from the package index (a local one here), not from the development venv.
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q"]
    run([*build, "-w", str(wheels), str(source)], tmp_path, env)
    (wheel,) = wheels.glob("mailflow-*.whl")
    contents = set(zipfile.ZipFile(wheel).namelist())
    for packaged in (
        "mailflow/inbound/pipeline.py",
        "mailflow/core/__init__.py",
        "mailflow/data/mailflow.example.toml",
        "mailflow/data/rules/followup.toml",
        "mailflow/data/templates/mails/ack.txt",
        "mailflow/data/templates/report/index.html",
    ):
        assert packaged in contents, f"{packaged} is not in {wheel.name}"

    fresh = tmp_path / "venv"
    venv.create(fresh, with_pip=True)
    python, command = fresh / "bin" / "python", fresh / "bin" / "mailflow"
    run([str(python), "-m", "pip", "install", "-q", str(wheel)], tmp_path, env)

    init = run([str(command), "init"], empty, env)
    assert "wrote mailflow.toml" in init.stdout, init.stdout
    assert (empty / "mailflow.toml").is_file()
    probe = (
        "from pathlib import Path\nfrom mailflow.config import load_config\n"
        "cfg = load_config(Path('mailflow.toml'))\n"
        "print(cfg.paths.rules)\n"
        "print(cfg.paths.templates)\n"
    )
    rules, templates = run([str(python), "-c", probe], empty, env).stdout.split()
    site = fresh.resolve()
    assert Path(rules).is_relative_to(site) and (Path(rules) / "followup.toml").is_file(), rules
    assert Path(templates).is_relative_to(site) and (Path(templates) / "ack.txt").is_file()

    csv = PROJECT_ROOT / "examples" / "ambassadors.csv"
    args = [str(command), "--config", "mailflow.toml", "ambassadors", "import", str(csv)]
    imported = run(args, empty, env)
    rows = len(csv.read_text(encoding="utf-8").strip().splitlines()) - 1  # less the header
    assert f": {rows} created, 0 updated, 0 unchanged" in imported.stdout, imported.stdout
    assert (empty / "db" / "mailflow.sqlite3").is_file()  # the example's database, beside it
    # `mailflow init` writes SQLite, whatever backend this run tests: that is the default a new
    # installation gets, not a test using SQLite behind a PostgreSQL run's back (conftest's
    # check for stray SQLite files), so the file goes once it has been seen.
    shutil.rmtree(empty / "db")
