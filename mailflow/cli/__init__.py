"""The `mailflow` command: its parser, the table of commands that
dispatch reads (commands.py), and one module per group of commands.

May import: everything. Imports inside functions are allowed here only, to keep start-up fast.
"""
