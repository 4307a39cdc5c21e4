"""SMTP smuggling: only CRLF.CRLF ends DATA.

Each case sends one message whose body hides a second transaction behind
a line end other than CRLF, then QUIT.  A server that takes the fake end
as the end of DATA also replies to the hidden MAIL, RCPT and DATA, so more
than the two expected replies arrive (one for the message, 221 for QUIT).
"""

import re
import uuid

import pytest

import harness
from harness import SmtpClient, enhanced_code

FAKE_ENDS = {
    "lf-dot-lf": b"\n.\n",
    "cr-dot-cr": b"\r.\r",
    "lf-dot-crlf": b"\n.\r\n",
    "crlf-dot-lf": b"\r\n.\n",
    "cr-dot-crlf": b"\r.\r\n",
}


def smuggle(server, service, fake_end):
    marker = f"smuggle-{uuid.uuid4().hex}"
    hidden = f"hidden-{uuid.uuid4().hex}"
    client = SmtpClient(
        server.ports[service], implicit_tls=service in server.implicit_tls
    )
    client.ehlo()
    if service == "submission":
        client.starttls()
        client.ehlo()
    if service != "plain":
        code, lines = client.auth_plain("alice", "secret")
        assert code == 235, f"AUTH got {code} {lines}"
    sender = (
        "someone@example.org" if service == "plain" else ("alice@example.test")
    )
    for line, code in (
        (f"MAIL FROM:<{sender}>", 250),
        ("RCPT TO:<alice@example.test>", 250),
        ("DATA", 354),
    ):
        got, lines = client.command(line)
        assert got == code, f"{line} got {got} {lines}"

    # A server that honours only CRLF.CRLF reads one message that ends at
    # the ".\r\n" after "smuggled", and then QUIT.
    payload = (
        harness.simple_message(marker, body="first part\r\n")
        + b"end of visible part"
        + fake_end
        + b"MAIL FROM:<evil@example.com>\r\n"
        b"RCPT TO:<bob@example.test>\r\n"
        b"DATA\r\n"
        b"Subject: " + hidden.encode() + b"\r\n\r\nsmuggled\r\n"
        b".\r\n"
        b"QUIT\r\n"
    )
    client.send(payload)

    # Read until the server closes, or until the read times out when a
    # vulnerable server is still inside a smuggled DATA.
    replies = []
    while True:
        try:
            replies.append(client.read_reply())
        except (EOFError, ConnectionResetError, TimeoutError):
            break
    client.close()
    return marker, hidden, replies


@pytest.mark.parametrize("service", ["plain", "submission"])
@pytest.mark.parametrize("fake_end", list(FAKE_ENDS), ids=list(FAKE_ENDS))
def test_fake_end_of_data(server, service, fake_end):
    marker, hidden, replies = smuggle(server, service, FAKE_ENDS[fake_end])

    codes = [code for code, _ in replies]
    assert (
        len(replies) == 2
    ), f"expected one reply to the message and 221 to QUIT, got {replies}"
    assert codes[1] == 221, replies
    code, lines = replies[0]
    if code == 250:
        message = server.wait_for_message("alice", marker)
        # The hidden commands are message content, normalised or not.
        assert b"evil@example.com" in message
        assert hidden.encode() in message
    else:
        assert code in (550, 554), f"message got {code} {lines}"
        assert (enhanced_code(lines) or "").startswith(
            "5.6."
        ), f"bare CR or LF rejection without a 5.6.x code: {lines}"

    # bob would be the recipient of a smuggled message: send him a marker
    # afterwards and check it is the only thing he got.
    sentinel = f"sentinel-{uuid.uuid4().hex}"
    client = SmtpClient(server.ports["plain"])
    client.ehlo()
    for line in (
        "MAIL FROM:<someone@example.org>",
        "RCPT TO:<bob@example.test>",
        "DATA",
    ):
        client.command(line)
    client.send(
        harness.simple_message(sentinel, recipient="bob@example.test")
        + b".\r\n"
    )
    assert client.read_reply()[0] == 250
    client.close()
    server.wait_for_message("bob", sentinel)
    smuggled = [m for m in server.messages("bob") if hidden.encode() in m]
    assert smuggled == [], f"bob got a smuggled message: {smuggled}"
    assert not re.search(r"from=<evil@example\.com>", server.log())


def test_dot_stuffing_removed(server):
    marker = f"dots-{uuid.uuid4().hex}"
    client = SmtpClient(server.ports["plain"])
    client.ehlo()
    for line in (
        "MAIL FROM:<someone@example.org>",
        "RCPT TO:<alice@example.test>",
        "DATA",
    ):
        client.command(line)
    # RFC 5321 section 4.5.2: the receiver deletes the first of the line's
    # characters when it is a period, so ". " arrives as " ".
    body = "..leading dot\r\n...\r\n. \r\nlast\r\n"
    client.send(harness.simple_message(marker, body=body) + b".\r\n")
    assert client.read_reply()[0] == 250
    client.close()
    message = server.wait_for_message("alice", marker).replace(b"\r\n", b"\n")
    assert b"\n.leading dot\n..\n \nlast\n" in message, message
