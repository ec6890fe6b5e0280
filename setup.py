"""The build step that puts in the wheel what mailflow reads at run time.

The repository keeps `rules/`, `templates/`, `examples/` and `mailflow.example.toml` at its
top level, where people edit them and deployments point `[paths]` at them. A wheel has no
top level: this step copies them into the built package as `mailflow/data/`, where
`mailflow.config.DATA_ROOT` finds them once installed. Everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
DATA = ("rules", "templates", "examples", "mailflow.example.toml")


class BuildWithData(build_py):
    """`build_py`, then the run-time data copied under mailflow/data/ (not for `pip install -e`,
    which reads the repository's own folders)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "mailflow" / "data"
        shutil.rmtree(target, ignore_errors=True)  # no file left from an older build
        for name in DATA:
            source, copy = ROOT / name, target / name
            if source.is_dir():
                shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, copy)


setup(cmdclass={"build_py": BuildWithData})
