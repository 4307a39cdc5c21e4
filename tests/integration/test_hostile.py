"""Hostile clients: malformed, over-long, flooding and stalling input.

Every case checks the exact reply that ends the exchange, because a crash,
a hang or a desynchronised session shows up as a wrong or missing reply.
The `quick` service has a 2 s smtpd_timeout, `session` a 3 s
smtpd_session_timeout, `strict` a hard error limit of 3 and `busy` a maxproc
of 2.  Loops are bounded in count, and the only waits
are socket reads with a generous timeout.
"""

import base64
import pathlib
import re
import socket
import ssl
import subprocess
import time
import uuid

import pytest

import harness
from harness import SmtpClient, assert_reply, connect, enhanced_code

SIZE_LIMIT = 20000
RECIPIENT_LIMIT = 10
LINE_LIMIT = 2048

EXTRA_MAIN = {
    "message_size_limit": str(SIZE_LIMIT),
    "smtpd_recipient_limit": str(RECIPIENT_LIMIT),
    "line_length_limit": str(LINE_LIMIT),
    "smtpd_error_sleep_time": "0s",
}
EXTRA_SERVICES = [
    ("quick", "-o smtpd_timeout=2s"),
    ("strict", "-o smtpd_hard_error_limit=3"),
    ("opportunistic", "-o smtpd_sasl_auth_enable=yes"),
    ("session", "-o smtpd_session_timeout=3s"),
]
ALICE_PLAIN = base64.b64encode(b"\0alice\0secret").decode()


class HostileServer(harness.MailServer):
    """The standard server plus a `busy` service whose maxproc is 2."""

    def __init__(self):
        super().__init__(extra_main=EXTRA_MAIN, extra_services=EXTRA_SERVICES)
        self.ports["busy"] = harness.free_ports(1)[0]
        self._write_config()

    def master_cf_lines(self):
        lines = super().master_cf_lines()
        if "busy" in self.ports:
            lines.append(
                f"127.0.0.1:{self.ports['busy']} inet n - n - 2 smtpd"
            )
        return lines


@pytest.fixture(scope="module")
def server():
    instance = HostileServer()
    try:
        instance.start()
        yield instance
        running = instance.process.poll() is None
        exit_code = instance.process.returncode
        instance.process.terminate()
        stopped_code = instance.process.wait(timeout=30)
        log = instance.log()
    finally:
        instance.cleanup()
    assert running, f"mailportd exited with {exit_code}; its log:\n{log}"
    # The sanitizers of a -fsanitize build write their reports here, leak
    # reports only at exit.
    for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
        assert marker not in log, f"sanitizer report in the log:\n{log}"
    assert stopped_code == 0, f"exit code {stopped_code}; its log:\n{log}"


def read_replies(client, count):
    return [client.read_reply() for _ in range(count)]


def codes(replies):
    return [code for code, _ in replies]


def authenticated(server):
    client = connect(server, "submissions")
    client.ehlo()
    assert_reply(client.auth_plain("alice", "secret"), 235, "2.7.0")
    return client


def transaction(client, recipient="alice@example.test"):
    assert_reply(client.command("MAIL FROM:<sender@example.org>"), 250)
    assert_reply(client.command(f"RCPT TO:<{recipient}>"), 250)
    assert_reply(client.command("DATA"), 354)


# Over-long lines -------------------------------------------------------------


def test_overlong_command_line(server):
    client = connect(server)
    client.ehlo()
    client.send(b"NOOP " + b"x" * (LINE_LIMIT * 4) + b"\r\n")
    assert_reply(client.read_reply(), 500, "5.5.2")
    assert_reply(client.command("NOOP"), 250)
    client.close()


def test_line_at_limit_split_before_lf(server):
    # A line of exactly line_length_limit octets whose LF arrives in a
    # later segment than its CR is within the limit.
    client = connect(server)
    client.ehlo()
    line = b"NOOP " + b"x" * (LINE_LIMIT - 5)
    client.send(line + b"\r")
    time.sleep(0.3)
    client.send(b"\n")
    assert_reply(client.read_reply(), 250, "2.0.0")
    client.close()


def test_line_over_limit_by_one(server):
    client = connect(server)
    client.ehlo()
    client.send(b"NOOP " + b"x" * (LINE_LIMIT - 4) + b"\r\n")
    assert_reply(client.read_reply(), 500, "5.5.2")
    assert_reply(client.command("NOOP"), 250)
    client.close()


def test_overlong_auth_response_ends_auth(server):
    client = connect(server, "submissions")
    client.ehlo()
    assert_reply(client.command("AUTH LOGIN"), 334)
    client.send(b"A" * (LINE_LIMIT * 3) + b"\r\n")
    assert_reply(client.read_reply(), 500, "5.5.6")
    # The next line is a command again, not a SASL response.
    assert_reply(client.command("NOOP"), 250, "2.0.0")
    client.close()


def test_overlong_data_line_is_content(server):
    subject = f"longline-{uuid.uuid4().hex}"
    client = authenticated(server)
    transaction(client)
    body = "y" * 5000 + "\r\n"
    client.send(harness.simple_message(subject, body=body) + b".\r\n")
    assert_reply(client.read_reply(), 250, "2.0.0")
    client.close()
    message = server.wait_for_message("alice", subject)
    assert b"y" * 5000 in message


# Odd bytes -----------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [b"NO\0OP", b"\0", b"NOOP\xff", b"\xc3\xa9HLO x", b"\x16\x03\x01\x00"],
)
def test_odd_bytes_in_verb(server, line):
    client = connect(server)
    client.send(line + b"\r\n")
    code, lines = client.read_reply()
    assert code in (500, 250), f"{line!r} got {code} {lines}"
    if line.startswith(b"NOOP"):
        assert code == 500, f"{line!r} got {code} {lines}"
    assert_reply(client.command("NOOP"), 250)
    client.close()


@pytest.mark.parametrize(
    "argument",
    [
        "FROM:<a\0b@example.org>",
        "FROM:<\xe9t\xe9@example.org>",
        "FROM:<user@exa\0mple.org>",
        "FROM:<user@example.org\r>",
    ],
)
def test_odd_bytes_in_mail(server, argument):
    client = connect(server)
    client.ehlo()
    client.send(b"MAIL " + argument.encode("latin-1") + b"\r\n")
    assert_reply(client.read_reply(), 501, "5.1.7")
    assert_reply(client.command("NOOP"), 250)
    client.close()


def test_ehlo_with_control_bytes(server):
    client = connect(server)
    client.send(b"EHLO a\0b\x1b[31m\xff\r\n")
    code, lines = client.read_reply()
    assert code in (250, 501), f"EHLO got {code} {lines}"
    client.close()


def test_command_in_single_bytes(server):
    client = connect(server)
    for byte in b"EHLO client.example.test\r\n":
        client.send(bytes([byte]))
    code, lines = client.read_reply()
    assert code == 250, f"EHLO in 1-byte writes got {code} {lines}"
    for byte in b"MAIL FROM:<a@example.org>\r\n":
        client.send(bytes([byte]))
    assert_reply(client.read_reply(), 250, "2.1.0")
    client.close()


# Pipelining floods ------------------------------------------------------------


def test_pipelined_noop_burst(server):
    client = connect(server)
    client.ehlo()
    count = 5000
    client.send(b"NOOP\r\n" * count + b"QUIT\r\n")
    replies = read_replies(client, count + 1)
    assert codes(replies).count(250) == count
    assert replies[-1][0] == 221
    assert client.closed_by_server()


def test_pipelined_error_burst_closes(server):
    client = connect(server)
    client.ehlo()
    client.send(b"BOGUS\r\n" * 3000)
    replies = []
    while True:
        try:
            replies.append(client.read_reply())
        except (EOFError, ConnectionResetError):
            break
    assert codes(replies) == [500] * 20 + [421], codes(replies)[:30]
    assert enhanced_code(replies[-1][1]) == "4.7.0"


def test_rcpt_flood_over_limit_delivers(server):
    # A pipelining client may send more recipients than the limit; RFC
    # 5321 section 4.5.3.1.10 has it send the rest in a later transaction,
    # so the session must stay open for the accepted ones.
    subject = f"rcptflood-{uuid.uuid4().hex}"
    client = connect(server)
    client.ehlo()
    count = 60
    burst = b"MAIL FROM:<sender@example.org>\r\n"
    burst += b"RCPT TO:<alice@example.test>\r\n" * count
    burst += b"DATA\r\n"
    client.send(burst)
    replies = read_replies(client, count + 2)
    assert replies[0][0] == 250
    rcpt = codes(replies[1 : count + 1])
    assert rcpt == [250] * RECIPIENT_LIMIT + [452] * (count - RECIPIENT_LIMIT)
    assert enhanced_code(replies[count][1]) == "4.5.3"
    assert replies[-1][0] == 354, replies[-1]
    client.send(harness.simple_message(subject) + b".\r\n")
    assert_reply(client.read_reply(), 250, "2.0.0")
    client.close()
    server.wait_for_message("alice", subject)


# Addresses -------------------------------------------------------------------


LOCAL64 = "l" * 64
DOMAIN_LABEL = "d" * 63


def domain_of_length(length):
    # Labels of 63 octets joined by dots, ending in ".test".
    labels = []
    remaining = length - len(".test")
    while remaining > 0:
        size = min(63, remaining)
        if remaining - size == 1:
            size -= 2
        labels.append("d" * size)
        remaining -= size + 1
    domain = ".".join(labels) + ".test"
    assert len(domain) == length, (len(domain), length)
    return domain


@pytest.mark.parametrize(
    "argument, code, enhanced",
    [
        ("FROM:<>", 250, "2.1.0"),
        ('FROM:<"quoted local"@example.org>', 250, "2.1.0"),
        ('FROM:<"a\\"b"@example.org>', 250, "2.1.0"),
        ('FROM:<"unterminated@example.org>', 501, "5.1.7"),
        ("FROM:<@relay.example,@other.example:user@example.org>", 250, "2.1.0"),
        ("FROM:<@relay.example>", 501, "5.1.7"),
        ("FROM:<user@[192.0.2.1]>", 250, "2.1.0"),
        ("FROM:<user@[IPv6:2001:db8::1]>", 250, "2.1.0"),
        ("FROM:<user@[]>", 501, "5.1.7"),
        ("FROM:<user@[192.0.2.1>", 501, "5.1.7"),
        ("FROM:<user@example.org", 501, "5.1.7"),
        ("FROM:user@example.org", 250, "2.1.0"),
        ("FROM:<<user@example.org>>", 501, "5.1.7"),
        ("FROM:<user@@example.org>", 501, "5.1.7"),
        ("FROM:<user.@example.org>", 501, "5.1.7"),
        ("FROM:<user@-example.org>", 501, "5.1.7"),
        ("FROM:<user@example..org>", 501, "5.1.7"),
        ("FROM:<user>", 501, "5.1.7"),
        ("FROM:", 501, "5.1.7"),
        ("FROM:<" + LOCAL64 + "@example.org>", 250, "2.1.0"),
        ("FROM:<" + LOCAL64 + "l@example.org>", 501, "5.1.7"),
        ("FROM:<a@" + DOMAIN_LABEL + ".org>", 250, "2.1.0"),
        ("FROM:<a@" + DOMAIN_LABEL + "d.org>", 501, "5.1.7"),
        ("FROM:<ab@" + domain_of_length(251) + ">", 250, "2.1.0"),
        ("FROM:<abc@" + domain_of_length(251) + ">", 501, "5.1.7"),
        ("FROM:<a@" + domain_of_length(256) + ">", 501, "5.1.7"),
        ("TO:<user@example.org>", 501, "5.1.7"),
    ],
)
def test_mail_address_edges(server, argument, code, enhanced):
    client = connect(server)
    client.ehlo()
    assert_reply(client.command("MAIL " + argument), code, enhanced)
    assert_reply(client.command("RSET"), 250)
    client.close()


@pytest.mark.parametrize(
    "argument, code, enhanced",
    [
        # The test passwd-file has no postmaster, which docs/known-issues.md
        # explains, so these parse and then fail the user lookup.
        ("TO:<postmaster>", 550, "5.1.1"),
        ("TO:<Postmaster@example.test>", 550, "5.1.1"),
        ("TO:<>", 501, "5.1.3"),
        ("TO:<alice@EXAMPLE.TEST>", 250, "2.1.5"),
        ("TO:<alice@example.test.>", 501, "5.1.3"),
        ("TO:<alice@[127.0.0.1]>", 554, "5.7.1"),
        ("TO:<@relay.example:alice@example.test>", 250, "2.1.5"),
        ('TO:<"alice"@example.test>', 250, "2.1.5"),
        ("TO:<alice@example.test> NOTIFY=NEVER", 555, "5.5.4"),
        ("TO:alice@example.test", 250, "2.1.5"),
        ("TO:<alice@example.test", 501, "5.1.3"),
        ('TO:<"../../etc/passwd"@example.test>', 550, "5.1.1"),
        ("TO:", 501, "5.1.3"),
        ("TO:<alice@example.test> SIZE=1 SIZE=1", 501, "5.5.4"),
    ],
)
def test_rcpt_address_edges(server, argument, code, enhanced):
    client = connect(server)
    client.ehlo()
    assert_reply(client.command("MAIL FROM:<sender@example.org>"), 250)
    assert_reply(client.command("RCPT " + argument), code, enhanced)
    client.close()


# ESMTP parameters ------------------------------------------------------------


@pytest.mark.parametrize(
    "parameters, code, enhanced",
    [
        ("SIZE=99999999999999999999", 552, "5.3.4"),
        ("SIZE=18446744073709551616", 552, "5.3.4"),
        (f"SIZE={SIZE_LIMIT}", 250, "2.1.0"),
        (f"SIZE={SIZE_LIMIT + 1}", 552, "5.3.4"),
        ("SIZE=", 501, "5.5.4"),
        ("SIZE", 501, "5.5.4"),
        ("SIZE=-1", 501, "5.5.4"),
        ("SIZE=+1", 501, "5.5.4"),
        ("SIZE=1x", 501, "5.5.4"),
        ("BODY=", 501, "5.5.4"),
        ("BODY=BINARYMIME", 501, "5.5.4"),
        ("BODY=8bitmime", 250, "2.1.0"),
        ("SIZE=1 SIZE=2", 501, "5.5.4"),
        ("BODY=7BIT BODY=8BITMIME", 501, "5.5.4"),
        ("X-UNKNOWN=1", 555, "5.5.4"),
        ("=1", 501, "5.5.4"),
        ("SIZE=1\tBODY=7BIT", 501, "5.5.4"),
        ("AUTH=<>", 250, "2.1.0"),
        ("AUTH=\x01", 501, "5.5.4"),
    ],
)
def test_mail_parameters(server, parameters, code, enhanced):
    client = connect(server)
    client.ehlo()
    client.send(
        b"MAIL FROM:<sender@example.org> "
        + parameters.encode("latin-1")
        + b"\r\n"
    )
    assert_reply(client.read_reply(), code, enhanced)
    assert_reply(client.command("NOOP"), 250)
    client.close()


# DATA --------------------------------------------------------------------------


def message_of_size(subject, size):
    """Return message content (with CRLF line ends) of exactly `size` bytes."""
    content = harness.simple_message(subject, body="")
    remaining = size - len(content)
    assert remaining >= 2
    while remaining > 0:
        length = min(remaining, 1000)
        if remaining - length == 1:
            length -= 1
        content += b"z" * (length - 2) + b"\r\n"
        remaining -= length
    assert len(content) == size, (len(content), size)
    return content


def test_data_exactly_at_limit(server):
    subject = f"atlimit-{uuid.uuid4().hex}"
    client = authenticated(server)
    transaction(client)
    client.send(message_of_size(subject, SIZE_LIMIT) + b".\r\n")
    assert_reply(client.read_reply(), 250, "2.0.0")
    client.close()
    server.wait_for_message("alice", subject)


def test_data_one_over_limit(server):
    subject = f"overlimit-{uuid.uuid4().hex}"
    client = authenticated(server)
    transaction(client)
    client.send(message_of_size(subject, SIZE_LIMIT + 1) + b".\r\n")
    assert_reply(client.read_reply(), 552, "5.3.4")
    assert_reply(client.command("NOOP"), 250)
    client.close()


def test_data_empty(server):
    client = authenticated(server)
    transaction(client)
    client.send(b".\r\n")
    code, lines = client.read_reply()
    assert code == 250, f"empty DATA got {code} {lines}"
    client.close()


def test_data_headers_only(server):
    subject = f"headersonly-{uuid.uuid4().hex}"
    client = authenticated(server)
    transaction(client)
    client.send(f"Subject: {subject}\r\n.\r\n".encode())
    assert_reply(client.read_reply(), 250, "2.0.0")
    client.close()
    server.wait_for_message("alice", subject)


def test_data_without_final_crlf(server):
    # "text.\r\n" ends no message: only CRLF "." CRLF does, so the server
    # keeps reading and the real terminator that follows ends it.
    subject = f"nocrlf-{uuid.uuid4().hex}"
    client = authenticated(server)
    transaction(client)
    client.send(harness.simple_message(subject, body="last line") + b".\r\n")
    client.send(b"\r\n.\r\n")
    assert_reply(client.read_reply(), 250, "2.0.0")
    client.close()
    message = server.wait_for_message("alice", subject)
    # Local delivery stores LF line ends.
    assert b"last line.\n" in message


def test_data_dot_stuffing(server):
    subject = f"dots-{uuid.uuid4().hex}"
    client = authenticated(server)
    transaction(client)
    body = b"..\r\n...two\r\n.single\r\n"
    client.send(harness.simple_message(subject, body="") + body + b".\r\n")
    assert_reply(client.read_reply(), 250, "2.0.0")
    client.close()
    message = server.wait_for_message("alice", subject)
    assert b"\n.\n..two\nsingle\n" in message


@pytest.mark.parametrize(
    "fake_end",
    [b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n", b"\r\n.\r", b"\r\n\x00.\r\n"],
)
def test_data_smuggling_stays_in_message(server, fake_end):
    subject = f"smuggle-{uuid.uuid4().hex}"
    smuggled = f"smuggled-{uuid.uuid4().hex}"
    client = authenticated(server)
    transaction(client)
    inner = (
        b"MAIL FROM:<sender@example.org>\r\nRCPT TO:<bob@example.test>\r\n"
        b"DATA\r\nSubject: " + smuggled.encode() + b"\r\n\r\nx\r\n"
    )
    client.send(
        harness.simple_message(subject) + fake_end + inner + b".\r\n"
    )
    assert_reply(client.read_reply(), 250, "2.0.0")
    assert_reply(client.command("NOOP"), 250)
    client.close()
    message = server.wait_for_message("alice", subject)
    assert smuggled.encode() in message
    assert not [m for m in server.messages("bob") if smuggled.encode() in m]


# AUTH ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, code, enhanced",
    [
        ("AUTH PLAIN !!!!", 501, "5.5.2"),
        ("AUTH PLAIN AGFsaWNl", 501, "5.5.2"),
        ("AUTH PLAIN =", 501, "5.5.2"),
        ("AUTH PLAIN " + "A" * 1500, 501, "5.5.2"),
        ("AUTH", 501, "5.5.4"),
        ("AUTH CRAM-MD5", 504, "5.5.4"),
        ("AUTH plain " + ALICE_PLAIN, 235, "2.7.0"),
    ],
)
def test_auth_initial_response(server, line, code, enhanced):
    client = connect(server, "submissions")
    client.ehlo()
    assert_reply(client.command(line), code, enhanced)
    client.close()


def test_auth_plain_empty_challenge_flow(server):
    client = connect(server, "submissions")
    client.ehlo()
    assert_reply(client.command("AUTH PLAIN"), 334)
    assert_reply(client.command(ALICE_PLAIN), 235, "2.7.0")
    client.close()


def test_auth_login_flow_with_bad_base64(server):
    client = connect(server, "submissions")
    client.ehlo()
    assert_reply(client.command("AUTH LOGIN"), 334)
    assert_reply(client.command("not base64!"), 501, "5.5.2")
    assert_reply(client.command("NOOP"), 250)
    client.close()


def test_auth_login_flow_succeeds(server):
    client = connect(server, "submissions")
    client.ehlo()
    user = base64.b64encode(b"alice").decode()
    password = base64.b64encode(b"secret").decode()
    assert_reply(client.command("AUTH LOGIN " + user), 334)
    assert_reply(client.command(password), 235, "2.7.0")
    assert_reply(client.command("AUTH LOGIN"), 503, "5.5.1")
    client.close()


def test_auth_cancel_with_star(server):
    client = connect(server, "submissions")
    client.ehlo()
    assert_reply(client.command("AUTH LOGIN"), 334)
    assert_reply(client.command(base64.b64encode(b"alice").decode()), 334)
    assert_reply(client.command("*"), 501, "5.7.0")
    assert_reply(client.auth_plain("alice", "secret"), 235)
    client.close()


def test_auth_during_transaction(server):
    client = connect(server, "opportunistic")
    client.ehlo()
    client.starttls()
    client.ehlo()
    assert_reply(client.command("MAIL FROM:<a@example.org>"), 250)
    assert_reply(client.auth_plain("alice", "secret"), 503, "5.5.1")
    client.close()


def test_auth_data_not_logged(server):
    secret = f"pw{uuid.uuid4().hex}"
    client = connect(server, "submissions")
    client.ehlo()
    token = base64.b64encode(f"\0alice\0{secret}".encode()).decode()
    assert_reply(client.command("AUTH PLAIN " + token), 535, "5.7.8")
    assert_reply(client.command("AUTH LOGIN"), 334)
    encoded = base64.b64encode(secret.encode()).decode()
    assert_reply(client.command(encoded + "@@"), 501, "5.5.2")
    client.close()
    time.sleep(0.2)
    log = server.log()
    assert secret not in log
    assert token not in log
    assert encoded not in log


# STARTTLS and TLS ---------------------------------------------------------------


def test_starttls_pipelined_garbage(server):
    client = connect(server)
    client.ehlo()
    client.send(b"STARTTLS\r\n\x00\xff garbage\r\nMAIL FROM:<x@example.org>\r\n")
    code, lines = client.read_reply()
    assert code == 220, f"STARTTLS got {code} {lines}"
    assert client.buffer == b"", f"reply to pipelined bytes: {client.buffer!r}"
    client._wrap()
    # The pipelined MAIL was discarded, and EHLO is needed again.
    assert_reply(client.command("MAIL FROM:<x@example.org>"), 503, "5.5.1")
    client.ehlo()
    assert_reply(client.command("MAIL FROM:<x@example.org>"), 250)
    client.close()


def test_starttls_then_plaintext(server):
    client = connect(server)
    client.ehlo()
    assert_reply(client.command("STARTTLS"), 220, "2.0.0")
    client.send(b"EHLO not-a-client-hello\r\n")
    assert client.closed_by_server()
    assert_reply(connect(server).command("NOOP"), 250)


def test_tls_truncated_client_hello(server):
    for cut in (1, 5, 40):
        context = harness.client_context()
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_hostname="x")
        with pytest.raises(ssl.SSLWantReadError):
            tls.do_handshake()
        hello = outgoing.read()
        raw = socket.create_connection(
            ("127.0.0.1", server.ports["submissions"]), timeout=20
        )
        raw.sendall(hello[:cut])
        if cut == 40:
            # Closing at once, mid-record, is the other way to vanish.
            raw.close()
            continue
        raw.shutdown(socket.SHUT_WR)
        assert raw.recv(100) == b""
        raw.close()
    client = connect(server, "submissions")
    assert_reply(client.command("NOOP"), 250)
    client.close()


def test_garbage_on_implicit_tls_port(server):
    raw = socket.create_connection(
        ("127.0.0.1", server.ports["submissions"]), timeout=20
    )
    raw.sendall(b"EHLO plaintext\r\n" + bytes(range(256)))
    data = b""
    while True:
        chunk = raw.recv(4096)
        if not chunk:
            break
        data += chunk
    assert b"250" not in data
    raw.close()


# Connections, timeouts and limits --------------------------------------------------


def test_many_idle_connections(server):
    # 200 idle connections against the default maxproc of 100: the first
    # 100 are greeted, the rest get 421 4.3.2, and nothing else breaks.
    clients = []
    try:
        for _ in range(200):
            sock = socket.create_connection(
                ("127.0.0.1", server.ports["plain"]), timeout=20
            )
            clients.append(sock)
        greetings = [sock.recv(100)[:9] for sock in clients]
        greeted = greetings.count(b"220 mail.")
        busy = greetings.count(b"421 4.3.2")
        # Sessions of earlier tests may still hold a few of the slots.
        assert greeted + busy == len(clients), greetings
        assert 90 <= greeted <= 100, greetings
    finally:
        for sock in clients:
            sock.close()
    wait_until_greeted(server, "plain")
    # About 100 rejections inside a minute make one warning, not 100.
    warnings = [
        line
        for line in server.log().splitlines()
        if f":{server.ports['plain']}): maxproc limit" in line
    ]
    assert len(warnings) == 1, warnings


def wait_until_greeted(server, service):
    """Poll until `service` greets with 220 again after sessions ended."""
    deadline = time.monotonic() + 20
    while True:
        client = SmtpClient(server.ports[service])
        code = client.greeting[0]
        if code == 220:
            assert_reply(client.command("NOOP"), 250)
            client.close()
            return
        client.close()
        assert time.monotonic() < deadline, f"still {client.greeting}"
        time.sleep(0.1)


def test_idle_timeout_sends_421(server):
    client = connect(server, "quick")
    client.ehlo()
    code, lines = client.read_reply()
    assert (code, enhanced_code(lines)) == (421, "4.4.2"), (code, lines)
    assert client.closed_by_server()


def test_timeout_during_data(server):
    client = connect(server, "quick")
    client.ehlo()
    assert_reply(client.command("MAIL FROM:<a@example.org>"), 250)
    assert_reply(client.command("RCPT TO:<alice@example.test>"), 250)
    assert_reply(client.command("DATA"), 354)
    client.send(b"Subject: partial\r\n")
    code, lines = client.read_reply()
    assert (code, enhanced_code(lines)) == (421, "4.4.2"), (code, lines)
    assert client.closed_by_server()


@pytest.mark.parametrize("use_tls", [False, True])
def test_session_timeout_sends_421(server, use_tls):
    # A client that keeps the session busy still meets the session limit.
    client = connect(server, "session")
    client.ehlo()
    if use_tls:
        client.starttls()
        client.ehlo()
    for _ in range(200):
        code, lines = client.command("NOOP")
        if code != 250:
            break
        time.sleep(0.1)
    assert (code, enhanced_code(lines)) == (421, "4.4.2"), (code, lines)
    assert client.closed_by_server()


def test_client_that_never_reads(server):
    # The client sends commands until the server's replies fill every
    # buffer and its writes block; the write timeout must then end the
    # session rather than let it hang.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", server.ports["quick"]))
    peer = re.escape(f"localhost[127.0.0.1]:{sock.getsockname()[1]}")
    burst = b"HELP\r\n" * 20000
    try:
        for _ in range(200):
            sock.sendall(burst)
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    try:
        server.wait_for_log(rf"timeout after HELP from {peer}\n")
        server.wait_for_log(rf"disconnect from {peer} help=\d+ commands=")
    finally:
        sock.close()
    client = connect(server, "quick")
    assert_reply(client.command("NOOP"), 250)
    client.close()


def test_hard_error_limit(server):
    client = connect(server, "strict")
    assert_reply(client.command("BOGUS"), 500, "5.5.2")
    assert_reply(client.command("MAIL FROM:<a@example.org>"), 503, "5.5.1")
    assert_reply(client.command("BOGUS"), 500, "5.5.2")
    code, lines = client.read_reply()
    assert (code, enhanced_code(lines)) == (421, "4.7.0"), (code, lines)
    assert client.closed_by_server()


def test_hard_error_limit_with_long_lines(server):
    client = connect(server, "strict")
    client.send((b"x" * (LINE_LIMIT + 10) + b"\r\n") * 3 + b"NOOP\r\n" * 50)
    replies = []
    while True:
        try:
            replies.append(client.read_reply())
        except (EOFError, ConnectionResetError):
            break
    assert codes(replies) == [500, 500, 500, 421], codes(replies)


def test_maxproc_limit(server):
    first = connect(server, "busy")
    second = connect(server, "busy")
    third = socket.create_connection(
        ("127.0.0.1", server.ports["busy"]), timeout=20
    )
    data = b""
    while True:
        chunk = third.recv(4096)
        if not chunk:
            break
        data += chunk
    third.close()
    assert data.startswith(b"421 4.3.2 "), data
    first.command("QUIT")
    first.close()
    second.command("QUIT")
    second.close()
    # A slot is free again once a session has ended.
    wait_until_greeted(server, "busy")


# Garbage configuration -----------------------------------------------------------

# (file, text appended to it, regex the diagnostics must contain)
GARBAGE_CONFIGS = [
    (
        "main.cf",
        bytes(range(1, 256)) * 8 + b"\n",
        r"main\.cf:7: error: expected \"name = value\"",
    ),
    (
        "main.cf",
        b"myorigin = " + b"a" * 1000000 + b"\n",
        r"main\.cf:7: error: invalid myorigin value",
    ),
    (
        "main.cf",
        b"mydomain = ${myhostname\n",
        r"main\.cf:7: error: invalid mydomain value .* has no closing",
    ),
    (
        "main.cf",
        b"a = $b\nb = $a\nsmtpd_banner = $a\n",
        r"main\.cf:9: error: invalid smtpd_banner value .* nested deeper",
    ),
    (
        "main.cf",
        b"".join(b"p%d = $p%d\n" % (i, i + 1) for i in range(5000))
        + b"smtpd_banner = $p0\n",
        r"main\.cf:5007: error: invalid smtpd_banner value .* nested deeper",
    ),
    (
        "master.cf",
        b"127.0.0.1:1 inet n - n - - smtpd -o\n",
        r"master\.cf:2: error: \"-o\" at the end of the line",
    ),
    (
        "master.cf",
        b"127.0.0.1:1 inet n - n - - smtpd -o { smtpd_timeout = 2s\n",
        r"master\.cf:2: error: \"\{\" without a closing \"\}\"",
    ),
    (
        "master.cf",
        b"127.0.0.1:1 inet n - n - 99999999999999999999 smtpd\n",
        r"master\.cf:2: error: invalid maxproc column",
    ),
    (
        "master.cf",
        bytes(range(1, 256)) * 8 + b"\n",
        r"master\.cf:\d+: error: ",
    ),
]


def garbage_config(directory, file_name, garbage):
    """Write a valid six-line main.cf and one-line master.cf, then garbage."""
    main_cf = (
        "myhostname = mail.example.test\n"
        "mydestination = example.test\n"
        f"data_directory = {directory}/data\n"
        f"queue_directory = {directory}/queue\n"
        f"mailbox_base = {directory}/mailboxes\n"
        f"smtpd_sasl_path = {directory}/passwd\n"
    )
    port = harness.free_ports(1)[0]
    master_cf = f"127.0.0.1:{port} inet n - n - - smtpd\n"
    (directory / "main.cf").write_text(main_cf)
    (directory / "master.cf").write_text(master_cf)
    path = directory / file_name
    path.write_bytes(path.read_bytes() + garbage)


@pytest.mark.parametrize(
    "file_name, garbage, expected",
    GARBAGE_CONFIGS,
    ids=[
        "main-binary",
        "main-huge-line",
        "main-unterminated",
        "main-recursion",
        "main-deep-chain",
        "master-o-without-value",
        "master-unclosed-brace",
        "master-maxproc-overflow",
        "master-binary",
    ],
)
def test_garbage_config(tmp_path, file_name, garbage, expected):
    garbage_config(tmp_path, file_name, garbage)
    for program in (
        [harness.binary("MAILPORT"), "-c", str(tmp_path), "check"],
        [harness.binary("MAILPORTD"), "-c", str(tmp_path)],
    ):
        result = subprocess.run(program, capture_output=True, timeout=60)
        output = (result.stdout + result.stderr).decode("utf-8", "replace")
        name = pathlib.Path(program[0]).name
        assert result.returncode == 1, f"{name}: {result.returncode}\n{output}"
        assert re.search(expected, output), f"{name}:\n{output[:3000]}"
        assert "Sanitizer" not in output, output
        assert "runtime error:" not in output, output
        # Diagnostics quote the garbage with control bytes escaped.
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", output), output
