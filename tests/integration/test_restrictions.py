"""Restrictions at RCPT TO and the Postfix switches beside them.

The test client connects from 127.0.0.1, which is outside mynetworks
(192.0.2.0/24) in the test configuration.
"""

import harness
from harness import SmtpClient, enhanced_code

EXTRA_MAIN = {"mua_client_restrictions": "permit_sasl_authenticated, reject"}
EXTRA_SERVICES = [
    ("client_reject", "-o smtpd_client_restrictions=reject"),
    (
        "helo_reject",
        "-o smtpd_helo_restrictions=permit_sasl_authenticated,reject",
    ),
    ("sender_reject", "-o smtpd_sender_restrictions=permit_mynetworks,reject"),
    (
        "mua",
        "-o smtpd_client_restrictions=$mua_client_restrictions"
        " -o smtpd_sasl_auth_enable=yes",
    ),
    ("unlisted", "-o smtpd_reject_unlisted_recipient=no"),
    (
        "auth_limited",
        "-o smtpd_client_auth_rate_limit=2 -o smtpd_sasl_auth_enable=yes",
    ),
    (
        "legacy_auth",
        "-o broken_sasl_auth_clients=yes -o smtpd_sasl_auth_enable=yes",
    ),
]


def rcpt_reply(server, service, authenticate=False):
    client = SmtpClient(server.ports[service])
    try:
        client.ehlo()
        if authenticate:
            client.starttls()
            client.ehlo()
            code, lines = client.auth_plain("alice", "secret")
            assert code == 235, lines
        code, lines = client.command("MAIL FROM:<carol@example.net>")
        assert code == 250, lines
        return client.command("RCPT TO:<alice@example.test>")
    finally:
        client.close()


def test_client_restriction_rejects(server):
    code, lines = rcpt_reply(server, "client_reject")
    assert code == 554, lines
    assert enhanced_code(lines) == "5.7.1"
    assert "<localhost[127.0.0.1]>: Client host rejected: Access denied" in (
        lines[0]
    )


def test_helo_restriction_rejects(server):
    code, lines = rcpt_reply(server, "helo_reject")
    assert code == 554, lines
    assert "<client.example.test>: Helo command rejected" in lines[0]


def test_sender_restriction_rejects(server):
    code, lines = rcpt_reply(server, "sender_reject")
    assert code == 554, lines
    assert "<carol@example.net>: Sender address rejected" in lines[0]
    server.wait_for_log(
        r"NOQUEUE: reject: RCPT from localhost\[127\.0\.0\.1\]:\d+: 554 5\.7\.1"
        r" <carol@example\.net>: Sender address rejected"
    )


def test_mua_restrictions_from_main_cf(server):
    code, lines = rcpt_reply(server, "mua")
    assert code == 554, lines
    assert "Client host rejected" in lines[0]
    code, lines = rcpt_reply(server, "mua", authenticate=True)
    assert code == 250, lines


def test_default_port_accepts_local_recipient(server):
    code, lines = rcpt_reply(server, "plain")
    assert code == 250, lines


def test_unlisted_recipient_accepted_then_bounced(server):
    client = SmtpClient(server.ports["unlisted"])
    try:
        client.ehlo()
        assert client.command("MAIL FROM:<alice@example.test>")[0] == 250
        code, lines = client.command("RCPT TO:<nobody@example.test>")
        assert code == 250, lines
        assert client.command("DATA")[0] == 354
        client.send(harness.simple_message("unlisted-1") + b".\r\n")
        code, lines = client.read_reply()
        assert code == 250, lines
    finally:
        client.close()
    server.wait_for_log(r"to=<nobody@example\.test>.*dsn=5\.1\.1, status=bounced")
    bounce = server.wait_for_message("alice", "nobody@example.test")
    assert b"multipart/report" in bounce


def test_unlisted_recipient_rejected_by_default(server):
    client = SmtpClient(server.ports["plain"])
    try:
        client.ehlo()
        assert client.command("MAIL FROM:<alice@example.test>")[0] == 250
        code, lines = client.command("RCPT TO:<nobody@example.test>")
        assert code == 550, lines
        assert enhanced_code(lines) == "5.1.1"
    finally:
        client.close()


def test_broken_sasl_auth_clients_adds_old_form(server):
    client = SmtpClient(server.ports["legacy_auth"])
    try:
        client.ehlo()
        client.starttls()
        keywords = client.ehlo()
        assert "AUTH PLAIN LOGIN" in keywords, keywords
        assert "AUTH=PLAIN LOGIN" in keywords, keywords
    finally:
        client.close()
    plain = SmtpClient(server.ports["submission"])
    try:
        plain.ehlo()
        plain.starttls()
        keywords = plain.ehlo()
        assert not [k for k in keywords if k.startswith("AUTH=")], keywords
    finally:
        plain.close()


def test_client_auth_rate_limit_spans_sessions(server):
    def connect():
        client = SmtpClient(server.ports["auth_limited"])
        client.ehlo()
        client.starttls()
        client.ehlo()
        return client

    for _ in range(2):
        client = connect()
        try:
            assert client.auth_plain("alice", "wrong")[0] == 535
        finally:
            client.close()
    client = connect()
    try:
        code, lines = client.auth_plain("alice", "wrong")
        assert code == 421, lines
        assert enhanced_code(lines) == "4.7.0"
        assert "too many AUTH commands from 127.0.0.1" in lines[0]
        assert client.closed_by_server()
    finally:
        client.close()
    server.wait_for_log(r"AUTH command rate limit exceeded: more than 2 in 60s")
