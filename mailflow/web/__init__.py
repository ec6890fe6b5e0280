"""The coordinators' console, `mailflow web` (docs/console.md): a small server-rendered
site in French, its own process beside the daemon, on the same database.

Lives here: the Starlette application and its routes (app.py), signing in and the session
cookie (auth.py, sessions.py), the accounts and the access journal (accounts.py), what each
page reads (todo.py, pages.py) and the actions (actions.py). Its HTML templates are in
templates/web/, its limits in rules/console.toml.

May import: everything below it, as cli/ does (services, admin, review, store, transport's
sender...). Nothing but cli/ imports it, and it decides nothing the CLI would decide
differently: every action calls the function its CLI twin calls.
"""
