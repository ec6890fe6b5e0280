"""`mailflow web`: the coordinators' console (mailflow/web/, docs/console.md), and its
accounts (`web user add/list/disable`)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from mailflow.errors import MailflowError

if TYPE_CHECKING:
    from mailflow.config import Config
    from mailflow.context import Context

MISSING_EXTRA = (
    "the console needs the `web` extra: pip install 'mailflow[web]' (scripts/bootstrap installs it)"
)


def _needs_extra() -> None:
    """One line instead of a traceback when the `web` extra is not installed."""
    for name in ("starlette", "uvicorn", "python_multipart", "itsdangerous", "argon2"):
        try:
            __import__(name)
        except ImportError as exc:
            raise MailflowError(f"{MISSING_EXTRA} ({name} is missing)") from exc


def cmd_serve(ctx: Context, args: argparse.Namespace) -> int:
    _needs_extra()
    import uvicorn

    from mailflow.web.app import make_app

    web = ctx.cfg.web
    app = make_app(ctx)
    print(f"mailflow web: the console is at {web.url}/ (Ctrl-C stops it)", flush=True)
    # proxy_headers: behind a reverse proxy on this machine, the client's address (for the
    # sign-in limits) is the one it forwards (X-Forwarded-For from 127.0.0.1 only).
    uvicorn.run(app, host=web.bind, port=web.port, log_level="warning", proxy_headers=True)
    return 0


def cmd_user_add(cfg: Config, args: argparse.Namespace) -> int:
    _needs_extra()
    from mailflow.web.accounts import add_account
    from mailflow.web.auth import new_password

    password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else new_password()
    account = add_account(args.email, args.role, password)
    print(f"account {account.email} added ({account.role})")
    if not args.password_stdin:
        print(f"password: {password}")
        print("hand it over privately; it is shown only this once")
    return 0


def cmd_user_list(cfg: Config, args: argparse.Namespace) -> int:
    _needs_extra()
    from mailflow.clock import wall
    from mailflow.web.accounts import accounts

    rows = accounts()
    if not rows:
        print("no console account yet: mailflow web user add EMAIL --role coordinator")
        return 0
    for a in rows:
        state = "active" if a.active else "disabled"
        last = wall(a.last_signin_at, cfg.schedule.zone) or "never"
        print(f"{a.email}  {a.role}  {state}  last sign-in: {last}")
    return 0


def cmd_user_disable(cfg: Config, args: argparse.Namespace) -> int:
    _needs_extra()
    from mailflow.web.accounts import disable_account

    account = disable_account(args.email)
    print(f"account {account.email} disabled")
    return 0
