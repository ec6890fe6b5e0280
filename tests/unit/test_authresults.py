"""Reading the receiving server's Authentication-Results (RFC 8601): real header shapes."""

from __future__ import annotations

from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest

from mailflow.core.authresults import (
    AUTHENTICATED,
    FAILED,
    UNKNOWN,
    aligned,
    parse_header,
    trusted,
    verdict,
)

EML = Path(__file__).parents[1] / "eml" / "authresults"


def headers_of(name: str) -> list[tuple[str, str]]:
    raw = (EML / name).read_bytes()
    return list(BytesHeaderParser(policy=policy.default).parsebytes(raw).raw_items())


@pytest.mark.parametrize(
    ("fixture", "ids", "status", "reason"),
    [
        ("gmail_pass.eml", ["mx.google.com"], AUTHENTICATED, "dkim=pass header.i=@gmail.com"),
        ("gmail_dmarc_fail.eml", ["mx.google.com"], FAILED, "dmarc=fail header.from=gmail.com"),
        # Exchange Online writes no authserv-id: nothing to trust it by
        ("exchange_online.eml", ["protection.outlook.com"], UNKNOWN, "no Authentication"),
        ("fastmail_pass.eml", ["*.messagingengine.com"], AUTHENTICATED, "header.d=pros.example"),
        ("fastmail_pass.eml", ["mx6.messagingengine.com"], AUTHENTICATED, "mx6.messagingengine"),
        ("fastmail_pass.eml", ["mx1.messagingengine.com"], UNKNOWN, "mx1.messagingengine.com"),
        ("rspamd_dmarc_fail.eml", ["mx.example.org"], FAILED, "dmarc=fail"),
        ("postfix_opendkim_opendmarc.eml", ["mx.example.org"], AUTHENTICATED, "dmarc=pass"),
        ("forged_below_trusted.eml", ["mx.example.org"], FAILED, "no pass aligned"),
        ("foreign_id_only.eml", ["mx.example.org"], UNKNOWN, "from mx.example.org"),
        ("spf_subdomain_aligned.eml", ["MX.Example.ORG"], AUTHENTICATED, "spf=pass"),
        ("esp_not_aligned.eml", ["mx.example.org"], FAILED, "dkim=pass header.d=sendgrid"),
    ],
)
def test_verdicts_on_real_header_shapes(
    fixture: str, ids: list[str], status: str, reason: str
) -> None:
    found = verdict(headers_of(fixture), ids)
    assert (found.status, found.authenticated) == (status, status == AUTHENTICATED), found
    assert reason in found.reason, found


def test_gmail_header_parsed_whole() -> None:
    [value] = [v for k, v in headers_of("gmail_pass.eml") if k == "Authentication-Results"]
    parsed = parse_header(value)
    assert parsed.authserv_id == "mx.google.com"
    assert [(r.method, r.result) for r in parsed.results] == [
        ("dkim", "pass"),
        ("spf", "pass"),
        ("dmarc", "pass"),
    ]
    assert parsed.results[1].get("smtp.mailfrom") == "lea.martin@gmail.com"
    assert parsed.results[2].get("header.from") == "gmail.com"


def test_exchange_online_header_without_authserv_id_is_read_but_never_trusted() -> None:
    [value] = [v for k, v in headers_of("exchange_online.eml") if k == "Authentication-Results"]
    parsed = parse_header(value)
    assert parsed.authserv_id == ""
    assert [(r.method, r.result) for r in parsed.results][:3] == [
        ("spf", "pass"),
        ("dkim", "pass"),
        ("dmarc", "pass"),
    ]
    assert parsed.results[2].get("action") == "none"
    assert not trusted(parsed.authserv_id, ["", "*"])


def test_comments_with_semicolons_quotes_and_nesting_do_not_split_results() -> None:
    parsed = parse_header(
        'mx.example.org (a comment; with "quotes" and (nested; parens));\n'
        '\tdkim=fail ("headers rsa verify failed") header.d=a.example header.b="x;y=z";\n'
        "\tspf = pass (ok \\) still comment; here) smtp.mailfrom=b@a.example"
    )
    assert parsed.authserv_id == "mx.example.org"
    assert [(r.method, r.result) for r in parsed.results] == [("dkim", "fail"), ("spf", "pass")]
    assert parsed.results[0].get("header.b") == "x;y=z"
    assert parsed.results[1].get("smtp.mailfrom") == "b@a.example"


def test_quoted_authserv_id_version_reason_and_method_version() -> None:
    parsed = parse_header('"mx.example.org" 1; dkim/1=PASS reason="good sig" Header.D=A.example')
    assert parsed.authserv_id == "mx.example.org"
    [result] = parsed.results
    assert (result.method, result.result, result.get("header.d")) == ("dkim", "pass", "A.example")
    assert result.get("reason") == ""  # a reason is no property


def test_no_result_and_garbage_give_no_results() -> None:
    assert parse_header("mx.example.org; none").results == ()
    assert parse_header("mx.example.org").results == ()
    assert parse_header("").authserv_id == ""
    assert parse_header("mx.example.org; ===; ; dkim=").results == ()
    assert parse_header("mx.example.org; (unclosed comment dkim=pass").results == ()


def _mail(*auth: str, sender: str = "Marie <amb@pros.example>") -> list[tuple[str, str]]:
    return [("Authentication-Results", a) for a in auth] + [("From", sender)]


def test_the_topmost_trusted_header_wins_over_anything_below() -> None:
    ids = ["mx.example.org"]
    real = "mx.example.org; dkim=none; spf=softfail smtp.mailfrom=x@attacker.example"
    forged = "mx.example.org; dkim=pass header.d=pros.example"
    assert verdict(_mail(real, forged), ids).status == FAILED
    assert verdict(_mail(forged, real), ids).status == AUTHENTICATED  # order is the evidence
    other = "mx.evil.example; dmarc=pass header.from=pros.example"
    assert verdict(_mail(other, real), ids).status == FAILED  # foreign ids are skipped


def test_dmarc_fail_wins_and_dmarc_pass_must_be_for_the_from_domain() -> None:
    ids = ["mx.example.org"]
    both = "mx.example.org; dkim=pass header.d=pros.example; dmarc=fail header.from=pros.example"
    assert verdict(_mail(both), ids).status == FAILED
    other = "mx.example.org; dmarc=pass header.from=attacker.example"
    assert verdict(_mail(other), ids).status == FAILED
    assert verdict(_mail("mx.example.org; dmarc=pass"), ids).status == AUTHENTICATED


def test_from_must_be_one_address() -> None:
    ids = ["mx.example.org"]
    ok = "mx.example.org; dmarc=pass header.from=pros.example"
    two = _mail(ok, sender="a@pros.example, b@attacker.example")
    assert verdict(two, ids).status == FAILED
    assert "exactly one From" in verdict(two, ids).reason
    assert verdict([*_mail(ok), ("From", "b@attacker.example")], ids).status == FAILED


@pytest.mark.parametrize(
    ("domain", "from_domain", "expected"),
    [
        ("pros.example", "pros.example", True),
        ("PROS.example.", "pros.example", True),
        ("mail.pros.example", "pros.example", True),
        ("pros.example", "lyon.pros.example", True),
        ("otherpros.example", "pros.example", False),
        ("a.pros.example", "b.pros.example", False),  # siblings: no public suffix list here
        ("", "pros.example", False),
    ],
)
def test_relaxed_alignment(domain: str, from_domain: str, expected: bool) -> None:
    assert aligned(domain, from_domain) is expected
