"""Test harness that runs a real mailportd on loopback ports.

A MailServer owns a fresh temporary directory with main.cf, master.cf, a
self-signed certificate, the passwd-file and the queue and Maildir trees.
It starts `$MAILPORTD -c DIR` in the foreground with its standard error in
DIR/mailportd.log, waits until every listener sends a 220 greeting, and
kills the daemon at teardown.  SmtpClient is a raw SMTP client for the
tests that check exact reply codes, which library clients hide.

Every wait here is a bounded poll: a slow machine makes a test slower, not
wrong, and a daemon that never gets there fails with its log attached.
"""

import base64
import os
import pathlib
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

READY_TIMEOUT = 20.0
DELIVERY_TIMEOUT = 60.0
SOCKET_TIMEOUT = 20.0

# /usr/bin/python3 is Debian's Python, where python3-* modules import.
PYTHON = "/usr/bin/python3"


def binary(name):
    """Return the path of a program that CTest passes in the environment."""
    path = os.environ.get(name)
    if not path:
        raise RuntimeError(
            f"environment variable {name} is not set; run the "
            "tests through ctest, which sets it to the built "
            "program"
        )
    return path


def free_ports(count):
    """Return `count` distinct TCP ports that are free on 127.0.0.1 now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def make_certificate(cert, key, hostname="mail.example.test"):
    """Write a self-signed EC certificate for `hostname` and 127.0.0.1."""
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "30",
            "-subj",
            f"/CN={hostname}",
            "-addext",
            f"subjectAltName=DNS:{hostname},IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )


def run_admin(config_dir, *args, input_text=None):
    """Run `$MAILPORT -c DIR ARGS...` and return the CompletedProcess."""
    return subprocess.run(
        [binary("MAILPORT"), "-c", str(config_dir), *args],
        input=input_text,
        capture_output=True,
        text=True,
        timeout=60,
    )


class MailServer:
    """A mailportd with the standard test configuration in a temporary dir.

    Services: `plain` (port 25 style, TLS may), `submission` (STARTTLS
    required, AUTH), `submissions` (implicit TLS, AUTH), plus any `extra`
    services given as (key, master.cf arguments after "smtpd").
    """

    def __init__(
        self,
        extra_main=None,
        extra_services=None,
        users=(("alice", "secret"), ("bob", "bobsecret")),
    ):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="mailport-it-"))
        # A daemon that switches to mail_owner must still reach its files.
        self.dir.chmod(0o755)
        self.extra_main = dict(extra_main or {})
        self.extra_services = list(extra_services or [])
        self.users = dict(users)
        self.process = None
        self.log_path = self.dir / "mailportd.log"
        self.cert = self.dir / "cert.pem"
        self.key = self.dir / "key.pem"
        names = ["plain", "submission", "submissions"]
        names += [name for name, _ in self.extra_services]
        self.ports = dict(zip(names, free_ports(len(names))))
        self.implicit_tls = {"submissions"}
        for name, arguments in self.extra_services:
            if "smtpd_tls_wrappermode=yes" in arguments:
                self.implicit_tls.add(name)
        self._write_config()
        make_certificate(self.cert, self.key)
        for name, password in self.users.items():
            self.add_user(name, password)

    # Configuration ---------------------------------------------------------

    def main_cf_lines(self):
        d = self.dir
        lines = [
            "myhostname = mail.example.test",
            "mydomain = example.test",
            "mydestination = $myhostname, example.test, localhost",
            "mynetworks = 192.0.2.0/24",
            f"data_directory = {d}/data",
            f"queue_directory = {d}/queue",
            f"smtpd_sasl_path = {d}/passwd",
            f"mailbox_base = {d}/mailboxes",
            f"smtpd_tls_cert_file = {d}/cert.pem",
            f"smtpd_tls_key_file = {d}/key.pem",
            "smtpd_tls_security_level = may",
            "smtpd_tls_auth_only = yes",
            "smtpd_sasl_failure_delay = 0s",
        ]
        lines += [
            f"{name} = {value}" for name, value in self.extra_main.items()
        ]
        return lines

    def master_cf_lines(self):
        p = self.ports
        lines = [
            f"127.0.0.1:{p['plain']} inet n - n - - smtpd",
            f"127.0.0.1:{p['submission']} inet n - n - - smtpd"
            " -o smtpd_submission=yes -o smtpd_tls_security_level=encrypt"
            " -o smtpd_sasl_auth_enable=yes",
            f"127.0.0.1:{p['submissions']} inet n - n - - smtpd"
            " -o smtpd_submission=yes -o smtpd_tls_wrappermode=yes"
            " -o smtpd_sasl_auth_enable=yes",
        ]
        for name, arguments in self.extra_services:
            lines.append(
                f"127.0.0.1:{p[name]} inet n - n - - smtpd {arguments}"
            )
        return lines

    def _write_config(self):
        (self.dir / "main.cf").write_text(
            "\n".join(self.main_cf_lines()) + "\n"
        )
        (self.dir / "master.cf").write_text(
            "\n".join(self.master_cf_lines()) + "\n"
        )

    def add_user(self, name, password):
        result = run_admin(
            self.dir, "user", "add", name, input_text=password + "\n"
        )
        assert result.returncode == 0, (
            f"mailport user add {name} failed with exit code "
            f"{result.returncode}:\n{result.stdout}{result.stderr}"
        )

    # Process control -------------------------------------------------------

    def start(self):
        """Start mailportd and wait until every port sends its greeting."""
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [binary("MAILPORTD"), "-c", str(self.dir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()
        self.wait_ready()

    def wait_ready(self):
        pending = dict(self.ports)
        deadline = time.monotonic() + READY_TIMEOUT
        while pending:
            if self.process.poll() is not None:
                raise AssertionError(
                    "mailportd exited with code "
                    f"{self.process.returncode} before "
                    f"it was ready; its log:\n{self.log()}"
                )
            for name, port in list(pending.items()):
                if self._greets(port, name in self.implicit_tls):
                    del pending[name]
            if not pending:
                return
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(
                    "mailportd did not greet on "
                    f"{sorted(pending.values())} within "
                    f"{READY_TIMEOUT:.0f} s; its log:\n{self.log()}"
                )
            time.sleep(0.1)

    @staticmethod
    def _greets(port, implicit_tls):
        try:
            client = SmtpClient(port, implicit_tls=implicit_tls, timeout=2.0)
        except (OSError, ssl.SSLError):
            return False
        try:
            code, _ = client.greeting
            if code != 220:
                return False
            client.send_line("QUIT")
            client.read_reply()
            return True
        except (OSError, ssl.SSLError, EOFError):
            return False
        finally:
            client.close()

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.process = None

    def cleanup(self):
        self.stop()
        if os.environ.get("MAILPORT_KEEP_TEST_DIRS"):
            return
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, pattern, timeout=DELIVERY_TIMEOUT):
        """Return the first match of regex `pattern` in the log, polling."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.log())
            if match:
                return match
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no log line matched {pattern!r} within "
                    f"{timeout:.0f} s; the log:\n{self.log()}"
                )
            time.sleep(0.1)

    # Maildir ---------------------------------------------------------------

    def maildir_new(self, user):
        return self.dir / "mailboxes" / user / "Maildir" / "new"

    def messages(self, user):
        """Return the bytes of every message in the user's Maildir new/."""
        directory = self.maildir_new(user)
        if not directory.is_dir():
            return []
        result = []
        for path in sorted(directory.iterdir()):
            try:
                result.append(path.read_bytes())
            except FileNotFoundError:
                pass  # moved away between listing and reading
        return result

    def wait_for_message(self, user, marker, timeout=DELIVERY_TIMEOUT):
        """Poll until a message containing bytes `marker` lands; return it."""
        if isinstance(marker, str):
            marker = marker.encode()
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.messages(user) if marker in m]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no message containing {marker!r} reached {user}'s "
                    f"Maildir ({self.maildir_new(user)}) within "
                    f"{timeout:.0f} s; the log:\n"
                    f"{self.log()}"
                )
            time.sleep(0.1)

    def wait_for_count(self, user, markers, timeout=DELIVERY_TIMEOUT):
        """Poll until each of `markers` is in some message; return messages."""
        markers = [m.encode() if isinstance(m, str) else m for m in markers]
        deadline = time.monotonic() + timeout
        while True:
            messages = self.messages(user)
            missing = [
                m for m in markers if not any(m in msg for msg in messages)
            ]
            if not missing:
                return messages
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(missing)} of {len(markers)} messages did not reach "
                    f"{user}'s Maildir within {timeout:.0f} s, for example "
                    f"{missing[:3]}; the log:\n{self.log()}"
                )
            time.sleep(0.2)


def client_context(cafile=None):
    """Return a TLS client context; verifies against `cafile` when given."""
    if cafile is None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=str(cafile))


class SmtpClient:
    """A line-level SMTP client that shows every reply code as sent."""

    def __init__(self, port, implicit_tls=False, timeout=SOCKET_TIMEOUT):
        self.port = port
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout
        )
        self.buffer = b""
        self.tls = False
        if implicit_tls:
            self._wrap()
        self.greeting = self.read_reply()

    def _wrap(self):
        self.sock = client_context().wrap_socket(
            self.sock, server_hostname="mail.example.test"
        )
        self.tls = True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def send_line(self, line):
        self.send(line.encode() + b"\r\n")

    def _read_line(self):
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(
                    f"connection closed; unread bytes {self.buffer!r}"
                )
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode("utf-8", errors="replace")

    def read_reply(self):
        """Return (code, [text lines]) of one possibly multi-line reply."""
        lines = []
        while True:
            line = self._read_line()
            if len(line) < 3 or not line[:3].isdigit():
                raise AssertionError(f"malformed reply line {line!r}")
            lines.append(line[4:])
            if len(line) == 3 or line[3] == " ":
                return int(line[:3]), lines
            if line[3] != "-":
                raise AssertionError(f"malformed reply line {line!r}")

    def command(self, line):
        self.send_line(line)
        return self.read_reply()

    def ehlo(self, name="client.example.test"):
        code, lines = self.command(f"EHLO {name}")
        assert code == 250, f"EHLO got {code} {lines}"
        return [line.upper() for line in lines[1:]]

    def starttls(self):
        code, lines = self.command("STARTTLS")
        assert code == 220, f"STARTTLS got {code} {lines}"
        assert (
            self.buffer == b""
        ), f"bytes after the 220 reply to STARTTLS: {self.buffer!r}"
        self._wrap()

    def auth_plain(self, user, password):
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return self.command(f"AUTH PLAIN {token}")

    def closed_by_server(self):
        """Return True when the server has closed the connection (EOF)."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buffer += chunk
        except (ConnectionResetError, ssl.SSLError):
            return True


def connect(server, service="plain"):
    """Open a session to `service` and check its 220 greeting."""
    client = SmtpClient(
        server.ports[service], implicit_tls=service in server.implicit_tls
    )
    code, lines = client.greeting
    assert code == 220, f"greeting {code} {lines}"
    return client


def assert_reply(reply, code, enhanced=None):
    """Check a (code, lines) reply against a code and enhanced code."""
    got, lines = reply
    assert got == code, f"expected {code} {enhanced or ''}, got {got} {lines}"
    if enhanced is not None:
        assert (
            enhanced_code(lines) == enhanced
        ), f"expected enhanced code {enhanced}, got {lines}"


def enhanced_code(lines):
    """Return the RFC 3463 enhanced status code that starts a reply."""
    match = re.match(r"(\d\.\d{1,3}\.\d{1,3})\b", lines[0])
    return match.group(1) if match else None


def simple_message(
    subject,
    sender="alice@example.test",
    recipient="alice@example.test",
    body="Hello.\r\n",
    headers=True,
):
    """Return a small RFC 5322 message with CRLF line ends, as bytes."""
    lines = [f"From: <{sender}>", f"To: <{recipient}>", f"Subject: {subject}"]
    if headers:
        lines.append(f"Message-ID: <{subject}@client.example.test>")
        lines.append("Date: Mon, 01 Jan 2024 00:00:00 +0000")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def header_section(message):
    """Return the header section of a delivered message as text."""
    text = message.decode("utf-8", errors="replace").replace("\r\n", "\n")
    return text.split("\n\n", 1)[0]


def header_names(message):
    names = []
    for line in header_section(message).split("\n"):
        if line and not line[0].isspace() and ":" in line:
            names.append(line.split(":", 1)[0].lower())
    return names


def check_delivered(message, recipient="alice@example.test"):
    """Assert the trace headers that local delivery must prepend."""
    names = header_names(message)
    headers = header_section(message)
    assert names[:1] == [
        "return-path"
    ], f"first header is not Return-Path: {headers}"
    assert "delivered-to" in names, f"no Delivered-To header: {headers}"
    assert "received" in names, f"no Received header: {headers}"
    assert re.search(
        rf"(?im)^Delivered-To: *{re.escape(recipient)}\s*$", headers
    ), f"Delivered-To is not {recipient}: {headers}"
