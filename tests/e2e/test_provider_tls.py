"""The configuration of a real provider: IMAP over TLS, SMTP submission with STARTTLS + AUTH.

The test stack offers both, with a certificate from its own CA (trusted here through
SSL_CERT_FILE, as a private CA would be in a deployment); deploy/mailflow.toml is the
documented example of such a configuration.
"""

from __future__ import annotations

from email.utils import parseaddr

from mailflow.config import PROJECT_ROOT, load_config
from tests.deployment import RELAY, Deployment, query, set_config

ASK = "Bonjour, j'ai 15 ans et je voudrais rencontrer une boulangère près de Caen."


def _use_tls(dep: Deployment, smtp_password: str = "secret") -> None:
    stack = dep.stack
    set_config(dep, "mailbox", "port", str(stack.imaps_port))
    set_config(dep, "mailbox", "ssl", "true")
    set_config(dep, "smtp", "port", str(stack.submission_port))
    set_config(dep, "smtp", "starttls", "true")
    set_config(dep, "smtp", "username", f'"{RELAY}"')
    set_config(dep, "smtp", "password", f'"{smtp_password}"')


def test_a_request_is_relayed_over_imaps_and_authenticated_starttls_submission(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    _use_tls(dep)
    mail.send_text("person1@users.test", RELAY, "Rencontre", ASK)
    mail.wait_for(RELAY)

    out = dep.cli("run", "--once", env={"SSL_CERT_FILE": str(mail.ca_file)}).stdout

    assert "sent 2" in out, out
    intro = mail.wait_for("amb1@pros.test")[0]
    ack = mail.wait_for("person1@users.test")[0]
    assert parseaddr(str(intro["From"]))[1].startswith("relay+")
    assert parseaddr(str(ack["From"]))[1].startswith("relay+")
    assert "person1@users.test" not in intro.as_string()
    assert mail.imap_count(RELAY) == 0  # processed, then moved away over IMAPS


def test_an_untrusted_certificate_stops_the_run_with_one_line_and_keeps_the_mail(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    _use_tls(dep)
    mail.send_text("person1@users.test", RELAY, "Rencontre", ASK)
    mail.wait_for(RELAY)

    result = dep.cli("run", "--once", check=False)  # the stack's CA is not trusted

    assert result.returncode == 2, result
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("mailflow:")]
    assert len(errors) == 1 and "CERTIFICATE_VERIFY_FAILED" in errors[0], result.stderr
    assert mail.imap_count(RELAY) == 1  # nothing read, nothing lost


def test_a_refused_login_keeps_the_outbox_for_later(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    _use_tls(dep, smtp_password="wrong")
    mail.send_text("person1@users.test", RELAY, "Rencontre", ASK)
    mail.wait_for(RELAY)

    cert = {"SSL_CERT_FILE": str(mail.ca_file)}
    dep.cli("run", "--once", env={**cert, "MAILFLOW_NOW": "2026-03-02T09:00:00"})

    statuses = [s for (s,) in query(dep, "SELECT status FROM outbound_mail")]
    assert statuses == ["queued", "queued"], statuses  # held, not failed, not lost
    assert mail.imap_count("amb1@pros.test") == 0

    _use_tls(dep)  # the coordinator fixes the password; the outbox waits out its backoff
    dep.cli("run", "--once", env={**cert, "MAILFLOW_NOW": "2026-03-02T09:05:00"})  # 5 min on
    assert len(mail.wait_for("amb1@pros.test")) == 1
    assert [s for (s,) in query(dep, "SELECT status FROM outbound_mail")] == ["sent", "sent"]


def test_the_documented_provider_configuration_loads() -> None:
    cfg = load_config(PROJECT_ROOT / "deploy" / "mailflow.toml")
    assert (cfg.mailbox.port, cfg.mailbox.ssl) == (993, True)
    assert (cfg.smtp.port, cfg.smtp.starttls, cfg.smtp.ssl) == (587, True, False)
    assert cfg.smtp.username and cfg.smtp.password
