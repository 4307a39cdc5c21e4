"""Config diagnostics from `mailport check` and from mailportd start-up.

Each case appends one bad line to an otherwise valid configuration.  Both
programs must report an error naming the file, the line, the parameter
and the value, and mailportd must exit non-zero instead of serving.
"""

import pathlib
import re
import subprocess

import pytest

import harness

MAIN_CASES = {
    "tls-level": (
        "smtpd_tls_security_level = sometimes",
        ["smtpd_tls_security_level", "sometimes"],
    ),
    "boolean": (
        "smtpd_tls_auth_only = maybe",
        ["smtpd_tls_auth_only", "maybe"],
    ),
    "size": ("message_size_limit = lots", ["message_size_limit", "lots"]),
    "negative-size": ("message_size_limit = -5", ["message_size_limit", "-5"]),
    "restriction": (
        "smtpd_relay_restrictions = permit_mynetworks, "
        "reject_everything_else",
        ["smtpd_relay_restrictions", "reject_everything_else"],
    ),
    # cdb tables are read-only, so they cannot hold a session cache.
    "cache-type": (
        "smtpd_tls_session_cache_database = "
        "cdb:${data_directory}/smtpd_scache",
        ["smtpd_tls_session_cache_database", "cdb"],
    ),
    "time": (
        "smtpd_sasl_failure_delay = soon",
        ["smtpd_sasl_failure_delay", "soon"],
    ),
    "network": ("mynetworks = 192.0.2.0/33", ["mynetworks", "192.0.2.0/33"]),
}

MASTER_CASES = {
    "too-few-columns": (
        "127.0.0.1:{port} inet n - n -",
        ["expected 8 columns"],
    ),
    "unknown-service": (
        "nosuchservice inet n - n - - smtpd",
        ['invalid service name "nosuchservice"'],
    ),
    "bad-port": (
        "127.0.0.1:99999 inet n - n - - smtpd",
        ['invalid service name "127.0.0.1:99999"', 'port "99999"'],
    ),
}

PASTED_MAIN = """\
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_tls_key_file = /etc/ssl/private/mailserver.key
smtpd_tls_cert_file = /etc/ssl/certs/mailserver.pem
smtpd_tls_loglevel = 1
smtpd_tls_session_cache_database = btree:${data_directory}/smtpd_scache
"""
PASTED_MASTER = (
    "submission inet n       -       y       -       -       smtpd\n"
)


@pytest.fixture
def config():
    instance = harness.MailServer(users=())
    try:
        yield instance
    finally:
        instance.cleanup()


def append_line(server, file_name, line):
    path = server.dir / file_name
    lines = path.read_text().splitlines()
    lines.append(line)
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def diagnostic_pattern(file_name, line, severity):
    return re.compile(
        rf"(^|/|\s){re.escape(file_name)}:{line}: {severity}: ", re.MULTILINE
    )


def run_check(server):
    return harness.run_admin(server.dir, "check")


def run_daemon_expecting_exit(server):
    """Start mailportd on a config it must reject; return (code, stderr)."""
    try:
        result = subprocess.run(
            [harness.binary("MAILPORTD"), "-c", str(server.dir)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=harness.READY_TIMEOUT,
        )
    except subprocess.TimeoutExpired as expired:
        raise AssertionError(
            "mailportd kept running on an invalid config; its output:\n"
            f"{expired.stderr}"
        )
    return result.returncode, result.stdout + result.stderr


def assert_error_reported(output, file_name, line, words):
    pattern = diagnostic_pattern(file_name, line, "error")
    lines = [l for l in output.splitlines() if pattern.search(l)]
    assert lines, f"no '{file_name}:{line}: error:' diagnostic in:\n{output}"
    for word in words:
        assert any(
            word in l for l in lines
        ), f"the diagnostic does not name {word!r}: {lines}"


def test_valid_config_checks_clean(config):
    result = run_check(config)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "error:" not in output


@pytest.mark.parametrize("case", list(MAIN_CASES))
def test_invalid_main_cf(config, case):
    text, words = MAIN_CASES[case]
    # src/config words every invalid value this way.
    parameter = text.split("=", 1)[0].strip()
    words = [f'invalid {parameter} value "', *words]
    line = append_line(config, "main.cf", text)
    result = run_check(config)
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"check accepted {text!r}:\n{output}"
    assert_error_reported(output, "main.cf", line, words)
    code, daemon_output = run_daemon_expecting_exit(config)
    assert code != 0, f"mailportd exited 0 on {text!r}"
    assert_error_reported(daemon_output, "main.cf", line, words)


@pytest.mark.parametrize("case", list(MASTER_CASES))
def test_invalid_master_cf(config, case):
    text, words = MASTER_CASES[case]
    text = text.format(port=harness.free_ports(1)[0])
    line = append_line(config, "master.cf", text)
    result = run_check(config)
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"check accepted {text!r}:\n{output}"
    assert_error_reported(output, "master.cf", line, words)
    code, daemon_output = run_daemon_expecting_exit(config)
    assert code != 0, f"mailportd exited 0 on {text!r}"
    assert_error_reported(daemon_output, "master.cf", line, words)


def test_unknown_parameter_is_warning(config):
    line = append_line(config, "main.cf", "frobnicate_level = 3")
    result = run_check(config)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    pattern = diagnostic_pattern("main.cf", line, "warning")
    warnings = [l for l in output.splitlines() if pattern.search(l)]
    assert warnings, f"no 'main.cf:{line}: warning:' in:\n{output}"
    assert "frobnicate_level" in warnings[0]
    # The daemon starts despite the warning.
    config.start()
    assert "frobnicate_level" in config.log()


def test_pasted_submission_lines_load(tmp_path):
    (tmp_path / "main.cf").write_text(PASTED_MAIN)
    (tmp_path / "master.cf").write_text(PASTED_MASTER)
    result = harness.run_admin(tmp_path, "check")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "error:" not in output, output
    warnings = [
        l
        for l in output.splitlines()
        if diagnostic_pattern("master.cf", 1, "warning").search(l)
    ]
    assert warnings, f"no warning for master.cf line 1 in:\n{output}"
    assert any(
        "accepts mail without TLS" in l for l in warnings
    ), f"no warning that submission accepts mail without TLS: {warnings}"


def test_missing_master_cf_is_error(config):
    (config.dir / "master.cf").unlink()
    result = run_check(config)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "master.cf" in result.stdout + result.stderr
