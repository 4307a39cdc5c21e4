"""A full queue file system gets 451 4.3.0, and the server goes on.

The queue directory is a 2 MiB tmpfs mounted by the test, so a 3 MB
message cannot be written. The client must get a temporary error (it
keeps the message and retries), not a 250 for mail that is not on disk.
"""

import os
import subprocess

import pytest

import harness

QUEUE_SIZE = "2m"


@pytest.fixture(scope="module")
def server():
    assert os.geteuid() == 0, "mounting a tmpfs needs root"
    instance = harness.MailServer(extra_main={"message_size_limit": "10240000"})
    queue = instance.dir / "queue"
    queue.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={QUEUE_SIZE}", "tmpfs",
         str(queue)],
        check=True, capture_output=True, timeout=30,
    )
    try:
        instance.start()
        yield instance
    finally:
        instance.stop()
        subprocess.run(["umount", str(queue)], capture_output=True, timeout=30)
        instance.cleanup()


def send(server, subject, body):
    client = harness.SmtpClient(server.ports["plain"])
    try:
        client.ehlo()
        assert client.command("MAIL FROM:<bob@example.test>")[0] == 250
        assert client.command("RCPT TO:<alice@example.test>")[0] == 250
        assert client.command("DATA")[0] == 354
        client.send(harness.simple_message(subject, body=body) + b".\r\n")
        reply = client.read_reply()
        assert client.command("NOOP")[0] == 250, "session did not go on"
        return reply
    finally:
        client.close()


def test_full_queue_gets_451_then_recovers(server):
    line = "x" * 998 + "\r\n"
    code, lines = send(server, "too-big-for-disk", line * 3000)
    assert code == 451, lines
    assert harness.enhanced_code(lines) == "4.3.0"
    server.wait_for_log(r"queue file write error")

    code, lines = send(server, "fits-on-disk", "Hello.\r\n")
    assert code == 250, lines
    server.wait_for_message("alice", "fits-on-disk")
    assert not [m for m in server.messages("alice")
                if b"too-big-for-disk" in m]
