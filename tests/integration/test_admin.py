"""`mailport user` and `mailport tls selfsigned` against a running daemon."""

import stat
import subprocess

import harness
from harness import SmtpClient


def auth_code(server, user, password):
    client = SmtpClient(server.ports["submissions"], implicit_tls=True)
    try:
        client.ehlo()
        return client.auth_plain(user, password)[0]
    finally:
        client.close()


def test_user_lifecycle(server):
    result = harness.run_admin(
        server.dir, "user", "add", "carol", input_text="first-pass\n"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert auth_code(server, "carol", "first-pass") == 235

    result = harness.run_admin(
        server.dir, "user", "add", "carol", input_text="other\n"
    )
    assert result.returncode != 0, "adding an existing user succeeded"

    result = harness.run_admin(
        server.dir, "user", "passwd", "carol", input_text="second-pass\n"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The daemon rereads the passwd-file without a restart.
    assert auth_code(server, "carol", "second-pass") == 235
    assert auth_code(server, "carol", "first-pass") == 535

    result = harness.run_admin(server.dir, "user", "delete", "carol")
    assert result.returncode == 0, result.stdout + result.stderr
    assert auth_code(server, "carol", "second-pass") == 535


def test_passwd_file_holds_no_plaintext(server):
    text = (server.dir / "passwd").read_text()
    assert "secret" not in text
    assert "alice:" in text


def test_tls_selfsigned(tmp_path):
    cert = tmp_path / "cert.pem"
    key = tmp_path / "key.pem"
    result = subprocess.run(
        [
            harness.binary("MAILPORT"),
            "tls",
            "selfsigned",
            "--hostname",
            "mx.example.test",
            "--cert",
            str(cert),
            "--key",
            str(key),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    text = subprocess.run(
        [
            "openssl",
            "x509",
            "-in",
            str(cert),
            "-noout",
            "-subject",
            "-ext",
            "subjectAltName",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "CN = mx.example.test" in text, text
    assert "DNS:mx.example.test" in text, text
    pair = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-pubkey"],
        capture_output=True,
        check=True,
    ).stdout
    from_key = subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-pubout"],
        capture_output=True,
        check=True,
    ).stdout
    assert pair == from_key, "certificate and key do not match"


def test_check_reports_passwd_file_problems(server):
    passwd = server.dir / "passwd"
    original = passwd.read_text()
    try:
        passwd.write_text(original + "mallory:$1$salt$weakmd5hash\n")
        result = harness.run_admin(server.dir, "check")
        assert result.returncode == 0, result.stdout + result.stderr
        assert 'warning: user "mallory" has a weak MD5-crypt hash' in (
            result.stdout
        )
        # The second warning: the test users include no postmaster.
        assert 'warning: no user "postmaster"' in result.stdout
        assert "mailport: 0 errors, 2 warnings" in result.stdout

        passwd.write_text(original + "line without a separator\n")
        result = harness.run_admin(server.dir, "check")
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"{passwd}:" in result.stdout
        assert ": error: invalid line" in result.stdout
    finally:
        passwd.write_text(original)


def test_tls_selfsigned_keeps_existing_files(tmp_path):
    cert = tmp_path / "cert.pem"
    key = tmp_path / "key.pem"
    command = [
        harness.binary("MAILPORT"),
        "tls",
        "selfsigned",
        "--hostname",
        "mx.example.test",
        "--cert",
        str(cert),
        "--key",
        str(key),
    ]
    first = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stdout + first.stderr
    original = cert.read_bytes()

    second = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert second.returncode != 0, "an existing certificate was replaced"
    assert "already exists" in second.stderr
    assert "--force" in second.stderr
    assert cert.read_bytes() == original

    forced = subprocess.run(
        command + ["--force"], capture_output=True, text=True, timeout=60
    )
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert cert.read_bytes() != original


def test_queue_list_without_queue(tmp_path):
    result = subprocess.run(
        [
            harness.binary("MAILPORT"),
            "--data-directory",
            str(tmp_path / "missing"),
            "queue",
            "list",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "no queue at" in result.stderr
    assert not (tmp_path / "missing").exists()
