"""Exact SMTP replies over raw sockets: extensions, order, TLS and AUTH.

The `opportunistic` service has TLS level may and SASL enabled, so
smtpd_tls_auth_only decides whether AUTH is offered.
"""

import base64
import re
import uuid

import pytest

import harness
from harness import assert_reply, connect, enhanced_code

EXTRA_MAIN = {
    "message_size_limit": "200000",
    "smtpd_recipient_limit": "5",
    "smtpd_tls_loglevel": "1",
}
EXTRA_SERVICES = [("opportunistic", "-o smtpd_sasl_auth_enable=yes")]

ALICE_PLAIN = base64.b64encode(b"\0alice\0secret").decode()


def authenticated(server, service="submission"):
    client = connect(server, service)
    if not client.tls:
        client.ehlo()
        client.starttls()
    client.ehlo()
    assert_reply(client.auth_plain("alice", "secret"), 235, "2.7.0")
    return client


def keywords(extensions):
    return {line.split()[0] for line in extensions if line}


# EHLO ---------------------------------------------------------------------


def test_ehlo_plain_port_before_tls(server):
    client = connect(server, "plain")
    extensions = client.ehlo()
    names = keywords(extensions)
    for name in (
        "PIPELINING",
        "SIZE",
        "8BITMIME",
        "ENHANCEDSTATUSCODES",
        "STARTTLS",
    ):
        assert name in names, f"{name} missing from EHLO: {extensions}"
    assert "AUTH" not in names, f"AUTH offered without SASL: {extensions}"
    size = [line for line in extensions if line.startswith("SIZE")][0]
    assert size.split() == ["SIZE", "200000"], extensions
    client.close()


def test_ehlo_plain_port_after_tls(server):
    client = connect(server, "plain")
    client.ehlo()
    client.starttls()
    names = keywords(client.ehlo())
    assert "STARTTLS" not in names
    assert "AUTH" not in names
    assert "PIPELINING" in names
    client.close()


def test_ehlo_submission_auth_only_after_tls(server):
    client = connect(server, "submission")
    before = keywords(client.ehlo())
    assert "STARTTLS" in before
    assert "AUTH" not in before, "AUTH offered before TLS under auth_only"
    client.starttls()
    after = client.ehlo()
    assert "STARTTLS" not in keywords(after)
    auth = [line.split() for line in after if line.startswith("AUTH")]
    assert auth, f"no AUTH after TLS: {after}"
    assert "PLAIN" in auth[0], after
    assert "LOGIN" in auth[0], after
    client.close()


def test_ehlo_opportunistic_auth_only_after_tls(server):
    client = connect(server, "opportunistic")
    assert "AUTH" not in keywords(client.ehlo())
    client.starttls()
    assert "AUTH" in keywords(client.ehlo())
    client.close()


def test_ehlo_submissions_offers_auth(server):
    client = connect(server, "submissions")
    names = keywords(client.ehlo())
    assert "AUTH" in names
    assert "STARTTLS" not in names
    client.close()


def test_helo_accepted(server):
    client = connect(server, "plain")
    assert_reply(client.command("HELO client.example.test"), 250)
    client.close()


# Command order ------------------------------------------------------------


def test_mail_before_ehlo(server):
    client = connect(server, "plain")
    assert_reply(client.command("MAIL FROM:<a@example.test>"), 503, "5.5.1")
    client.close()


def test_rcpt_before_mail(server):
    client = connect(server, "plain")
    client.ehlo()
    assert_reply(client.command("RCPT TO:<alice@example.test>"), 503, "5.5.1")
    client.close()


def test_data_before_rcpt(server):
    client = connect(server, "plain")
    client.ehlo()
    assert_reply(client.command("MAIL FROM:<a@example.org>"), 250)
    # RFC 5321 section 3.3 allows 503 (out of sequence) or 554 (no valid
    # recipients) here.
    code, lines = client.command("DATA")
    assert code in (503, 554), f"DATA without RCPT got {code} {lines}"
    assert enhanced_code(lines) == "5.5.1", lines
    client.close()


def test_encrypt_level_mail_before_tls(server):
    client = connect(server, "submission")
    client.ehlo()
    assert_reply(
        client.command("MAIL FROM:<alice@example.test>"), 530, "5.7.0"
    )
    client.close()


def test_encrypt_level_auth_before_tls(server):
    client = connect(server, "submission")
    client.ehlo()
    assert_reply(client.command(f"AUTH PLAIN {ALICE_PLAIN}"), 530, "5.7.0")
    client.close()


def test_auth_only_rejects_auth_before_tls(server):
    client = connect(server, "opportunistic")
    client.ehlo()
    code, lines = client.command(f"AUTH PLAIN {ALICE_PLAIN}")
    assert (code, enhanced_code(lines)) in {
        (503, "5.5.1"),
        (530, "5.7.0"),
    }, f"AUTH before STARTTLS got {code} {lines}"
    client.close()


def test_submission_mail_before_auth(server):
    client = connect(server, "submission")
    client.ehlo()
    client.starttls()
    client.ehlo()
    assert_reply(
        client.command("MAIL FROM:<alice@example.test>"), 530, "5.7.0"
    )
    client.close()


def test_submissions_mail_before_auth(server):
    client = connect(server, "submissions")
    client.ehlo()
    assert_reply(
        client.command("MAIL FROM:<alice@example.test>"), 530, "5.7.0"
    )
    client.close()


def test_simple_commands(server):
    client = connect(server, "plain")
    client.ehlo()
    assert_reply(client.command("NOOP"), 250)
    assert_reply(client.command("RSET"), 250)
    assert_reply(client.command("VRFY alice"), 252)
    assert_reply(client.command("HELP"), 214)
    assert_reply(client.command("QUIT"), 221)
    assert client.closed_by_server()


def test_unknown_command(server):
    client = connect(server, "plain")
    client.ehlo()
    code, lines = client.command("FROBNICATE now")
    assert code in (500, 502), f"unknown command got {code} {lines}"
    client.close()


# AUTH ---------------------------------------------------------------------


def test_auth_login_after_starttls(server):
    client = connect(server, "submission")
    client.ehlo()
    client.starttls()
    client.ehlo()
    assert_reply(client.command("AUTH LOGIN"), 334)
    assert_reply(client.command(base64.b64encode(b"alice").decode()), 334)
    assert_reply(
        client.command(base64.b64encode(b"secret").decode()), 235, "2.7.0"
    )
    client.close()


def test_wrong_password(server):
    client = connect(server, "submissions")
    client.ehlo()
    assert_reply(client.auth_plain("alice", "wrong"), 535, "5.7.8")
    assert_reply(client.auth_plain("alice", "secret"), 235, "2.7.0")
    client.close()


def test_unknown_user(server):
    client = connect(server, "submissions")
    client.ehlo()
    assert_reply(client.auth_plain("mallory", "secret"), 535, "5.7.8")
    client.close()


def test_auth_failure_limit_closes(server):
    client = connect(server, "submissions")
    client.ehlo()
    assert_reply(client.auth_plain("alice", "wrong1"), 535, "5.7.8")
    assert_reply(client.auth_plain("alice", "wrong2"), 535, "5.7.8")
    code, lines = client.auth_plain("alice", "wrong3")
    if code == 535:
        # The 421 may follow the third 535 at once or be the reply to the
        # next command, and the session ends with it in both cases.
        try:
            code, lines = client.command("NOOP")
        except (EOFError, OSError) as error:
            raise AssertionError(
                f"server closed after 3 failures without 421: {error}"
            )
    assert (code, enhanced_code(lines)) == (
        421,
        "4.7.0",
    ), f"after 3 failed AUTH: {code} {lines}"
    assert client.closed_by_server()


def test_auth_cancelled(server):
    client = connect(server, "submissions")
    client.ehlo()
    assert_reply(client.command("AUTH LOGIN"), 334)
    code, lines = client.command("*")
    assert code == 501, f"cancelled AUTH got {code} {lines}"
    assert_reply(client.auth_plain("alice", "secret"), 235)
    client.close()


def test_second_auth_rejected(server):
    client = authenticated(server, "submissions")
    code, lines = client.auth_plain("alice", "secret")
    assert code == 503, f"second AUTH got {code} {lines}"
    client.close()


# Relay and recipients ------------------------------------------------------


def test_unauthenticated_relay_denied(server):
    client = connect(server, "plain")
    client.ehlo()
    assert_reply(client.command("MAIL FROM:<someone@example.org>"), 250)
    assert_reply(client.command("RCPT TO:<someone@example.com>"), 554, "5.7.1")
    client.close()


def test_unknown_local_user(server):
    client = connect(server, "plain")
    client.ehlo()
    assert_reply(client.command("MAIL FROM:<someone@example.org>"), 250)
    assert_reply(client.command("RCPT TO:<nobody@example.test>"), 550, "5.1.1")
    client.close()


def test_local_recipient_without_auth(server):
    client = connect(server, "plain")
    client.ehlo()
    assert_reply(client.command("MAIL FROM:<someone@example.org>"), 250)
    assert_reply(client.command("RCPT TO:<alice@example.test>"), 250)
    assert_reply(client.command("RCPT TO:<bob@mail.example.test>"), 250)
    assert_reply(client.command("RCPT TO:<ALICE@Example.Test>"), 250)
    client.close()


def test_recipient_limit(server):
    client = connect(server, "plain")
    client.ehlo()
    assert_reply(client.command("MAIL FROM:<someone@example.org>"), 250)
    for _ in range(5):
        assert_reply(client.command("RCPT TO:<alice@example.test>"), 250)
    assert_reply(client.command("RCPT TO:<bob@example.test>"), 452, "4.5.3")
    client.close()


# Message size ---------------------------------------------------------------


def test_size_parameter_over_limit(server):
    client = authenticated(server)
    assert_reply(
        client.command("MAIL FROM:<alice@example.test> SIZE=300000"),
        552,
        "5.3.4",
    )
    client.close()


def test_message_over_size_limit(server):
    subject = f"oversize-{uuid.uuid4().hex}"
    client = authenticated(server)
    assert_reply(client.command("MAIL FROM:<alice@example.test>"), 250)
    assert_reply(client.command("RCPT TO:<alice@example.test>"), 250)
    assert_reply(client.command("DATA"), 354)
    line = b"x" * 998 + b"\r\n"
    client.send(
        harness.simple_message(subject, body="") + line * 250 + b".\r\n"
    )
    assert_reply(client.read_reply(), 552, "5.3.4")
    # The session goes on after the rejected message.
    assert_reply(client.command("NOOP"), 250)
    small = f"small-{uuid.uuid4().hex}"
    assert_reply(client.command("MAIL FROM:<alice@example.test>"), 250)
    assert_reply(client.command("RCPT TO:<alice@example.test>"), 250)
    assert_reply(client.command("DATA"), 354)
    client.send(harness.simple_message(small) + b".\r\n")
    assert_reply(client.read_reply(), 250)
    client.close()
    server.wait_for_message("alice", small)
    assert not [m for m in server.messages("alice") if subject.encode() in m]


# STARTTLS -------------------------------------------------------------------


@pytest.mark.parametrize("service", ["plain", "submission"])
def test_starttls_discards_pipelined_commands(server, service):
    client = connect(server, service)
    client.ehlo()
    # RFC 3207 section 4.2: commands sent before the handshake must not
    # survive it.  An injected EHLO, if kept, would make the MAIL below
    # succeed, or its own 250 would arrive first.
    client.send(
        b"STARTTLS\r\nEHLO injected.example\r\n"
        b"MAIL FROM:<evil@example.com>\r\n"
    )
    code, lines = client.read_reply()
    assert code == 220, f"STARTTLS got {code} {lines}"
    assert (
        client.buffer == b""
    ), f"plaintext after the 220 to STARTTLS: {client.buffer!r}"
    client._wrap()
    assert_reply(
        client.command("MAIL FROM:<alice@example.test>"), 503, "5.5.1"
    )
    assert_reply(client.command("NOOP"), 250)
    client.ehlo()
    assert_reply(client.command("NOOP"), 250)
    client.close()
    assert "evil@example.com" not in server.log()


def test_second_starttls_rejected(server):
    client = connect(server, "opportunistic")
    client.ehlo()
    client.starttls()
    client.ehlo()
    assert_reply(client.auth_plain("alice", "secret"), 235)
    code, lines = client.command("STARTTLS")
    assert 500 <= code < 600, f"second STARTTLS got {code} {lines}"
    # The session survives the rejected command.
    assert_reply(client.command("NOOP"), 250)
    client.close()


def test_starttls_with_argument_rejected(server):
    client = connect(server, "plain")
    client.ehlo()
    code, lines = client.command("STARTTLS now")
    assert code == 501, f"STARTTLS with argument got {code} {lines}"
    client.close()


def test_starttls_before_ehlo(server):
    # RFC 3207 does not require EHLO before STARTTLS; whatever the server
    # does, it must not lose the session state machine.
    client = connect(server, "plain")
    code, lines = client.command("STARTTLS")
    if code == 220:
        client._wrap()
    else:
        assert code == 503, f"STARTTLS before EHLO got {code} {lines}"
    client.ehlo()
    client.close()


# Log ------------------------------------------------------------------------


def test_log_lines_of_a_submission(server):
    subject = f"logged-{uuid.uuid4().hex}"
    client = authenticated(server)
    port = client.sock.getsockname()[1]
    assert_reply(client.command("MAIL FROM:<alice@example.test>"), 250)
    assert_reply(client.command("RCPT TO:<bob@example.test>"), 250)
    assert_reply(client.command("DATA"), 354)
    client.send(
        harness.simple_message(subject, recipient="bob@example.test")
        + b".\r\n"
    )
    assert_reply(client.read_reply(), 250)
    assert_reply(client.command("QUIT"), 221)
    client.close()
    server.wait_for_message("bob", subject)
    server.wait_for_log(rf"connect from \S+\[127\.0\.0\.1\]:{port}\b")
    server.wait_for_log(r"TLS connection established")
    server.wait_for_log(r"sasl_username=alice\b")
    server.wait_for_log(r"from=<alice@example\.test>")
    server.wait_for_log(r"to=<bob@example\.test>.*status=sent")
    server.wait_for_log(rf"disconnect from \S+\[127\.0\.0\.1\]:{port}\b")


def test_log_contains_no_secrets(server):
    client = authenticated(server)
    client.close()
    client = connect(server, "submissions")
    client.ehlo()
    client.command("AUTH LOGIN")
    client.command(base64.b64encode(b"alice").decode())
    client.command(base64.b64encode(b"hunter2-wrong").decode())
    client.close()
    server.wait_for_log(r"sasl_username=alice\b")
    log = server.log()
    for secret in (
        "secret",
        "hunter2",
        ALICE_PLAIN,
        base64.b64encode(b"secret").decode(),
        base64.b64encode(b"hunter2-wrong").decode(),
        base64.b64encode(b"alice").decode(),
    ):
        assert secret not in log, f"{secret!r} appears in the log"
    assert not re.search(r"AUTH (PLAIN|LOGIN) \S", log)
