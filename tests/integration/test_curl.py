"""curl as the client: smtp:// with --ssl-reqd and smtps://."""

import subprocess
import uuid

import harness


def run_curl(server, url, *options):
    subject = f"curl-{uuid.uuid4().hex}"
    message = server.dir / f"{subject}.eml"
    message.write_bytes(harness.simple_message(subject))
    command = [
        "curl",
        "--silent",
        "--show-error",
        "--max-time",
        "60",
        url,
        "--user",
        "alice:secret",
        "--mail-from",
        "alice@example.test",
        "--mail-rcpt",
        "alice@example.test",
        "--upload-file",
        str(message),
        *options,
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, (
        f"{' '.join(command)} exited with {result.returncode}:\n"
        f"{result.stdout}{result.stderr}"
    )
    return subject


def test_starttls_ssl_reqd_cacert(server):
    subject = run_curl(
        server,
        f"smtp://127.0.0.1:{server.ports['submission']}/client.example.test",
        "--ssl-reqd",
        "--cacert",
        str(server.cert),
    )
    harness.check_delivered(server.wait_for_message("alice", subject))


def test_smtps_insecure(server):
    subject = run_curl(
        server,
        f"smtps://127.0.0.1:{server.ports['submissions']}/client.example.test",
        "-k",
    )
    harness.check_delivered(server.wait_for_message("alice", subject))


def test_smtps_cacert_login(server):
    subject = run_curl(
        server,
        f"smtps://127.0.0.1:{server.ports['submissions']}/client.example.test",
        "--cacert",
        str(server.cert),
        "--login-options",
        "AUTH=LOGIN",
    )
    harness.check_delivered(server.wait_for_message("alice", subject))
