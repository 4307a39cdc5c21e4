"""msmtp as the client: STARTTLS on submission, implicit TLS on submissions."""

import subprocess
import uuid

import harness


def run_msmtp(server, service, auth, starttls, trust):
    subject = f"msmtp-{uuid.uuid4().hex}"
    if trust:
        tls_check = (
            f"tls_trust_file {server.cert}\n"
            "tls_host_override mail.example.test\n"
        )
    else:
        tls_check = "tls_certcheck off\n"
    config = server.dir / f"msmtprc-{subject}"
    config.write_text(
        "defaults\n"
        "tls on\n"
        f"tls_starttls {'on' if starttls else 'off'}\n"
        f"{tls_check}"
        "account test\n"
        "host 127.0.0.1\n"
        f"port {server.ports[service]}\n"
        "domain client.example.test\n"
        f"auth {auth}\n"
        "user alice\n"
        "password secret\n"
        "from alice@example.test\n"
        "account default : test\n"
    )
    config.chmod(0o600)
    message = harness.simple_message(subject)
    command = ["msmtp", "-C", str(config), "--debug", "alice@example.test"]
    result = subprocess.run(
        command, input=message, capture_output=True, timeout=120
    )
    assert result.returncode == 0, (
        f"{' '.join(command)} exited with {result.returncode}:\n"
        f"{result.stdout.decode(errors='replace')}"
        f"{result.stderr.decode(errors='replace')}"
    )
    return subject


def test_starttls_auth_plain_verified(server):
    subject = run_msmtp(
        server, "submission", "plain", starttls=True, trust=True
    )
    harness.check_delivered(server.wait_for_message("alice", subject))


def test_starttls_auth_login_no_certcheck(server):
    subject = run_msmtp(
        server, "submission", "login", starttls=True, trust=False
    )
    harness.check_delivered(server.wait_for_message("alice", subject))


def test_implicit_tls_auth_plain(server):
    subject = run_msmtp(
        server, "submissions", "plain", starttls=False, trust=True
    )
    harness.check_delivered(server.wait_for_message("alice", subject))
