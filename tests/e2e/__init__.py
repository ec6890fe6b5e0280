"""End-to-end tests: the real mail stack (Postfix + Dovecot on loopback, started by
tests/conftest.py), or mailflow's own processes.
"""
