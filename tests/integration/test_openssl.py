"""`openssl s_client -starttls smtp` driven line by line."""

import base64
import os
import select
import subprocess
import time
import uuid

import harness


class SClient:
    """openssl s_client as a child, fed one command at a time."""

    def __init__(self, arguments):
        # -nocommands stops s_client from taking lines that start with
        # R or Q (RCPT, QUIT) as its own renegotiate and quit commands.
        self.process = subprocess.Popen(
            ["openssl", "s_client", "-quiet", "-nocommands", *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.buffer = b""
        self.transcript = []

    def send(self, line):
        self.transcript.append(f"C: {line}")
        self.process.stdin.write(line.encode() + b"\r\n")
        self.process.stdin.flush()

    def read_reply(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        lines = []
        while True:
            while b"\n" not in self.buffer:
                left = deadline - time.monotonic()
                ready, _, _ = select.select(
                    [self.process.stdout], [], [], max(left, 0)
                )
                if not ready:
                    raise AssertionError(
                        f"no reply within {timeout:.0f} s; dialog so far:\n"
                        + "\n".join(self.transcript)
                    )
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    raise AssertionError(
                        "s_client closed; stderr:\n"
                        + self.process.stderr.read().decode(errors="replace")
                        + "\ndialog so far:\n"
                        + "\n".join(self.transcript)
                    )
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\n", 1)
            text = line.rstrip(b"\r").decode(errors="replace")
            self.transcript.append(f"S: {text}")
            lines.append(text)
            if len(text) >= 4 and text[3] == " ":
                return int(text[:3]), lines

    def expect(self, line, code):
        self.send(line)
        got, lines = self.read_reply()
        assert (
            got == code
        ), f"{line!r} got {got}, expected {code}; dialog:\n" + "\n".join(
            self.transcript
        )
        return lines

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (
            self.process.stdin,
            self.process.stdout,
            self.process.stderr,
        ):
            stream.close()


def send_dialog(client, subject, recipient="alice@example.test"):
    ehlo = client.expect("EHLO client.example.test", 250)
    assert not any("STARTTLS" in line.upper() for line in ehlo), ehlo
    token = base64.b64encode(b"\0alice\0secret").decode()
    client.expect(f"AUTH PLAIN {token}", 235)
    client.expect("MAIL FROM:<alice@example.test>", 250)
    client.expect(f"RCPT TO:<{recipient}>", 250)
    client.expect("DATA", 354)
    for line in harness.simple_message(subject).decode().split("\r\n")[:-1]:
        client.send(line)
    client.send("Quoted line that starts with Q and")
    client.send("Really long line that starts with R.")
    client.expect(".", 250)
    client.expect("QUIT", 221)


def test_starttls_verified_dialog(server):
    subject = f"s_client-{uuid.uuid4().hex}"
    client = SClient(
        [
            "-starttls",
            "smtp",
            "-name",
            "client.example.test",
            "-connect",
            f"127.0.0.1:{server.ports['submission']}",
            "-CAfile",
            str(server.cert),
            "-verify_return_error",
            "-verify_hostname",
            "mail.example.test",
        ]
    )
    try:
        send_dialog(client, subject)
    finally:
        client.close()
    message = server.wait_for_message("alice", subject)
    harness.check_delivered(message)
    assert b"Really long line that starts with R." in message


def test_implicit_tls_dialog(server):
    subject = f"s_client-tls-{uuid.uuid4().hex}"
    client = SClient(
        [
            "-connect",
            f"127.0.0.1:{server.ports['submissions']}",
            "-CAfile",
            str(server.cert),
            "-verify_return_error",
            "-verify_hostname",
            "mail.example.test",
        ]
    )
    try:
        code, lines = client.read_reply()
        assert code == 220, lines
        send_dialog(client, subject)
    finally:
        client.close()
    harness.check_delivered(server.wait_for_message("alice", subject))


def test_tls13_and_tls12_both_negotiate(server):
    for version in ("-tls1_3", "-tls1_2"):
        client = SClient(
            [
                version,
                "-starttls",
                "smtp",
                "-name",
                "client.example.test",
                "-connect",
                f"127.0.0.1:{server.ports['plain']}",
            ]
        )
        try:
            client.expect("EHLO client.example.test", 250)
            client.expect("QUIT", 221)
        finally:
            client.close()
