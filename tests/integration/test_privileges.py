"""mailportd started as root switches to mail_owner and still delivers."""

import os
import pathlib
import pwd

import harness

EXTRA_MAIN = {"mail_owner": "nobody"}


def process_uid(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return [int(value) for value in line.split()[1:]]
    raise AssertionError(f"no Uid line in /proc/{pid}/status")


def test_runs_as_mail_owner_and_delivers(server):
    nobody = pwd.getpwnam("nobody").pw_uid
    assert os.geteuid() == 0, "this test must run as root"
    assert process_uid(server.process.pid) == [nobody] * 4
    server.wait_for_log(r"running as mail_owner nobody")

    client = harness.SmtpClient(server.ports["submissions"], implicit_tls=True)
    try:
        client.ehlo()
        code, _ = client.auth_plain("alice", "secret")
        assert code == 235
        assert client.command("MAIL FROM:<alice@example.test>")[0] == 250
        assert client.command("RCPT TO:<bob@example.test>")[0] == 250
        assert client.command("DATA")[0] == 354
        client.send(
            harness.simple_message("privileges-1", recipient="bob@example.test")
            + b".\r\n"
        )
        code, lines = client.read_reply()
        assert code == 250, lines
    finally:
        client.close()

    server.wait_for_message("bob", "privileges-1")
    delivered = list(server.maildir_new("bob").iterdir())
    assert delivered, "no file in bob's Maildir"
    assert delivered[0].stat().st_uid == nobody
    passwd = server.dir / "passwd"
    assert passwd.stat().st_gid == pwd.getpwnam("nobody").pw_gid
    assert passwd.stat().st_mode & 0o004 == 0, "passwd-file is world-readable"
