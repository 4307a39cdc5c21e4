"""TLS session resumption seen by a real client, openssl s_client.

With session tickets (the default) a TLS 1.3 client resumes from its
ticket. With tls_ssl_options = NO_TICKET the server-side session cache in
smtpd_tls_session_cache_database resumes TLS 1.2 session ids, and because
the cache is on disk it still does after the daemon restarts.
"""

import subprocess

import harness

EXTRA_SERVICES = [
    (
        "cache_only",
        "-o tls_ssl_options=NO_TICKET"
        " -o smtpd_tls_session_cache_database=lmdb:${data_directory}/scache",
    ),
]


def s_client(server, service, session_file, *options, reuse=False):
    """Runs one STARTTLS session; returns s_client's output."""
    command = [
        "openssl",
        "s_client",
        "-connect",
        f"127.0.0.1:{server.ports[service]}",
        "-starttls",
        "smtp",
        "-ign_eof",
        "-CAfile",
        str(server.cert),
        *options,
    ]
    command += ["-sess_in" if reuse else "-sess_out", str(session_file)]
    result = subprocess.run(
        command,
        input="EHLO client.example.test\r\nQUIT\r\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert "221" in output, output
    return output


def test_ticket_resumes_tls13(server, tmp_path):
    session = tmp_path / "session.pem"
    first = s_client(server, "plain", session, "-tls1_3")
    assert "New, TLSv1.3" in first, first
    second = s_client(server, "plain", session, "-tls1_3", reuse=True)
    assert "Reused, TLSv1.3" in second, second


def test_cache_resumes_tls12_without_tickets(server, tmp_path):
    session = tmp_path / "session.pem"
    first = s_client(server, "cache_only", session, "-tls1_2")
    assert "New, TLSv1.2" in first, first
    second = s_client(server, "cache_only", session, "-tls1_2", reuse=True)
    assert "Reused, TLSv1.2" in second, second


def test_cache_survives_restart(server, tmp_path):
    session = tmp_path / "session.pem"
    first = s_client(server, "cache_only", session, "-tls1_2")
    assert "New, TLSv1.2" in first, first
    server.stop()
    server.start()
    again = s_client(server, "cache_only", session, "-tls1_2", reuse=True)
    assert "Reused, TLSv1.2" in again, again
