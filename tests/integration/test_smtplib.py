"""Python's smtplib as the client, and headers added for submission."""

import smtplib
import uuid

import harness


def verified_context(server):
    return harness.client_context(cafile=server.cert)


def test_starttls_login_submission(server):
    subject = f"smtplib-{uuid.uuid4().hex}"
    with smtplib.SMTP(
        "127.0.0.1",
        server.ports["submission"],
        local_hostname="client.example.test",
        timeout=30,
    ) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        client.starttls(context=verified_context(server))
        client.ehlo()
        assert "PLAIN" in client.esmtp_features["auth"].upper().split()
        assert "LOGIN" in client.esmtp_features["auth"].upper().split()
        client.login("alice", "secret")
        refused = client.sendmail(
            "alice@example.test",
            ["alice@example.test"],
            harness.simple_message(subject),
        )
        assert refused == {}
    harness.check_delivered(server.wait_for_message("alice", subject))


def test_smtp_ssl_submissions(server):
    subject = f"smtplib-ssl-{uuid.uuid4().hex}"
    with smtplib.SMTP_SSL(
        "127.0.0.1",
        server.ports["submissions"],
        local_hostname="client.example.test",
        context=verified_context(server),
        timeout=30,
    ) as client:
        client.login("alice", "secret")
        client.sendmail(
            "alice@example.test",
            ["alice@example.test"],
            harness.simple_message(subject),
        )
    harness.check_delivered(server.wait_for_message("alice", subject))


def test_eight_bit_utf8_body(server):
    subject = f"smtplib-8bit-{uuid.uuid4().hex}"
    body = "Grüße aus Köln, 東京からこんにちは, ☃\r\n"
    message = (
        "From: <alice@example.test>\r\n"
        "To: <bob@example.test>\r\n"
        f"Subject: {subject}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n" + body
    ).encode("utf-8")
    with smtplib.SMTP(
        "127.0.0.1",
        server.ports["submission"],
        local_hostname="client.example.test",
        timeout=30,
    ) as client:
        client.starttls(context=verified_context(server))
        client.ehlo()
        assert client.has_extn("8bitmime")
        client.login("alice", "secret")
        client.sendmail(
            "alice@example.test",
            ["bob@example.test"],
            message,
            mail_options=["BODY=8BITMIME"],
        )
    delivered = server.wait_for_message("bob", subject)
    # Maildir files may store lines with LF alone, as maildir(5) prefers.
    assert body.replace("\r\n", "\n").encode("utf-8") in delivered.replace(
        b"\r\n", b"\n"
    )


def test_submission_adds_message_id_and_date(server):
    subject = f"smtplib-bare-{uuid.uuid4().hex}"
    message = (
        f"From: <alice@example.test>\r\nTo: <alice@example.test>\r\n"
        f"Subject: {subject}\r\n\r\nNo Message-ID, no Date.\r\n"
    )
    with smtplib.SMTP_SSL(
        "127.0.0.1",
        server.ports["submissions"],
        local_hostname="client.example.test",
        context=verified_context(server),
        timeout=30,
    ) as client:
        client.login("alice", "secret")
        client.sendmail(
            "alice@example.test", ["alice@example.test"], message.encode()
        )
    delivered = server.wait_for_message("alice", subject)
    names = harness.header_names(delivered)
    assert names.count("message-id") == 1, harness.header_section(delivered)
    assert names.count("date") == 1, harness.header_section(delivered)
    harness.check_delivered(delivered)


def test_submission_keeps_client_message_id(server):
    subject = f"smtplib-keep-{uuid.uuid4().hex}"
    with smtplib.SMTP_SSL(
        "127.0.0.1",
        server.ports["submissions"],
        local_hostname="client.example.test",
        context=verified_context(server),
        timeout=30,
    ) as client:
        client.login("alice", "secret")
        client.sendmail(
            "alice@example.test",
            ["alice@example.test"],
            harness.simple_message(subject),
        )
    delivered = server.wait_for_message("alice", subject)
    names = harness.header_names(delivered)
    assert names.count("message-id") == 1, harness.header_section(delivered)
    assert f"<{subject}@client.example.test>".encode() in delivered
