"""swaks as the client: STARTTLS, AUTH PLAIN/LOGIN, implicit TLS, port 25."""

import re
import subprocess
import uuid

import harness


def run_swaks(
    server,
    service,
    *options,
    sender="alice@example.test",
    recipient="alice@example.test",
):
    subject = f"swaks-{uuid.uuid4().hex}"
    command = [
        "swaks",
        "--server",
        f"127.0.0.1:{server.ports[service]}",
        "--from",
        sender,
        "--to",
        recipient,
        "--helo",
        "client.example.test",
        "--header",
        f"Subject: {subject}",
        "--body",
        "Sent by swaks.",
        "--timeout",
        "30",
        *options,
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, (
        f"{' '.join(command)} exited with {result.returncode}:\n"
        f"{result.stdout}{result.stderr}"
    )
    return subject, result.stdout


def test_starttls_auth_plain_submission(server):
    subject, transcript = run_swaks(
        server,
        "submission",
        "--tls",
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice",
        "--auth-password",
        "secret",
    )
    # swaks marks the lines it exchanged inside TLS with "~>" and "<~".
    assert re.search(r"(?m)^<~ +250", transcript), transcript
    message = server.wait_for_message("alice", subject)
    harness.check_delivered(message)


def test_starttls_auth_login_submission(server):
    subject, _ = run_swaks(
        server,
        "submission",
        "--tls",
        "--auth",
        "LOGIN",
        "--auth-user",
        "alice",
        "--auth-password",
        "secret",
    )
    message = server.wait_for_message("alice", subject)
    harness.check_delivered(message)


def test_implicit_tls_submissions(server):
    subject, _ = run_swaks(
        server,
        "submissions",
        "--tlsc",
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice",
        "--auth-password",
        "secret",
    )
    message = server.wait_for_message("alice", subject)
    harness.check_delivered(message)


def test_plain_smtp_local_recipient(server):
    subject, _ = run_swaks(
        server,
        "plain",
        sender="someone@example.org",
        recipient="bob@example.test",
    )
    message = server.wait_for_message("bob", subject)
    harness.check_delivered(message, recipient="bob@example.test")
    assert b"Return-Path: <someone@example.org>" in message
