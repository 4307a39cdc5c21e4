"""Postfix as a real peer: a Postfix instance relays mail to mailportd.

Each test runs its own Postfix instance from a temporary directory, with
its own config_directory, queue_directory and data_directory, listening
on 127.0.0.1 only, and started with `postfix -c DIR start`.  Mail is
injected with Postfix's `sendmail -C DIR`, which hands it to pickup,
cleanup and qmgr.  Postfix's SMTP client then relays it to mailportd
through `relayhost = [127.0.0.1]:PORT`: in plain text to the port 25
style service, or with STARTTLS and AUTH PLAIN to the submission
service.  The instance is stopped, and killed if it does not stop, even
when a test fails.

The other direction (mailportd delivering to Postfix) is not tested,
because mailportd has no outbound SMTP delivery yet.
"""

import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest

import harness

POSTFIX = "/usr/sbin/postfix"
SENDMAIL = "/usr/sbin/sendmail"
POSTQUEUE = "/usr/sbin/postqueue"
POSTFIX_TIMEOUT = 60.0

# Services of Postfix's own architecture, one master.cf line each, with
# chroot off because the instance's queue is a temporary directory that
# has none of the files a chroot needs.
POSTFIX_SERVICES = """\
pickup     unix  n - n 60   1 pickup
cleanup    unix  n - n -    0 cleanup
qmgr       unix  n - n 300  1 qmgr
tlsmgr     unix  - - n 1000? 1 tlsmgr
rewrite    unix  - - n -    - trivial-rewrite
bounce     unix  - - n -    0 bounce
defer      unix  - - n -    0 bounce
trace      unix  - - n -    0 bounce
verify     unix  - - n -    1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -    - proxymap
proxywrite unix  - - n -    1 proxymap
smtp       unix  - - n -    - smtp
relay      unix  - - n -    - smtp
showq      unix  n - n -    - showq
error      unix  - - n -    - error
retry      unix  - - n -    - error
discard    unix  - - n -    - discard
local      unix  - n n -    - local
anvil      unix  - - n -    1 anvil
scache     unix  - - n -    1 scache
postlog    unix-dgram n - n - 1 postlogd
"""


def require_postfix():
    """Fail, naming the fix, when Postfix is not installed."""
    missing = [
        path
        for path in (POSTFIX, SENDMAIL, POSTQUEUE)
        if not os.access(path, os.X_OK)
    ]
    if missing:
        pytest.fail(
            f"Postfix is not installed ({', '.join(missing)} not found); "
            "install the postfix package, for example with "
            "scripts/install-deps.sh, which reads scripts/packages/bench.txt"
        )
    if os.geteuid() != 0:
        pytest.fail(
            "the Postfix tests must run as root, because `postfix start` "
            "and `sendmail -C` with a non-default config directory require it"
        )


class PostfixRelay:
    """A Postfix instance whose only route is relayhost = [127.0.0.1]:PORT."""

    def __init__(self, relay_port, extra_main=None):
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="mailport-pf-"))
        # Postfix's daemons run as the postfix user and must traverse it.
        self.root.chmod(0o755)
        self.config = self.root / "etc"
        self.queue = self.root / "queue"
        self.data = self.root / "data"
        self.log_path = self.root / "maillog"
        for directory in (self.config, self.queue, self.data):
            directory.mkdir()
        shutil.chown(self.data, "postfix", "postfix")
        self.relay_port = relay_port
        self.extra_main = dict(extra_main or {})
        self.started = False
        self._write_config()

    def _write_config(self):
        lines = [
            "compatibility_level = 3.6",
            f"queue_directory = {self.queue}",
            f"data_directory = {self.data}",
            "mail_owner = postfix",
            "setgid_group = postdrop",
            "inet_interfaces = 127.0.0.1",
            "inet_protocols = ipv4",
            "myhostname = relay.example.test",
            "mydomain = example.test",
            "myorigin = relay.example.test",
            "mydestination =",
            "mynetworks = 127.0.0.0/8",
            "alias_maps =",
            "alias_database =",
            f"relayhost = [127.0.0.1]:{self.relay_port}",
            f"maillog_file = {self.log_path}",
            f"maillog_file_prefixes = {self.root}",
            # A relay that mailportd defers must be retried soon enough
            # for the test to see it, and a test that fails must not
            # leave the message waiting for hours.
            "minimal_backoff_time = 1s",
            "maximal_backoff_time = 2s",
            "queue_run_delay = 1s",
        ]
        lines += [
            f"{name} = {value}" for name, value in self.extra_main.items()
        ]
        (self.config / "main.cf").write_text("\n".join(lines) + "\n")
        # No inet service: this instance only sends.
        (self.config / "master.cf").write_text(POSTFIX_SERVICES)

    def run(self, *command, input_bytes=None):
        return subprocess.run(
            list(command),
            input=input_bytes,
            capture_output=True,
            timeout=POSTFIX_TIMEOUT,
        )

    def start(self):
        result = self.run(POSTFIX, "-c", str(self.config), "start")
        self.started = True
        assert result.returncode == 0, (
            f"postfix -c {self.config} start exited with "
            f"{result.returncode}:\n{result.stdout.decode()}"
            f"{result.stderr.decode()}\nmaillog:\n{self.log()}"
        )

    def master_pid(self):
        try:
            return int(
                (self.queue / "pid" / "master.pid").read_text().split()[0]
            )
        except (FileNotFoundError, ValueError, IndexError):
            return None

    def stop(self):
        if not self.started:
            return
        self.started = False
        pid = self.master_pid()
        self.run(POSTFIX, "-c", str(self.config), "stop")
        if pid is None:
            return
        # `postfix stop` returns before master has exited; kill it when
        # it is still there after the wait.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not pathlib.Path(f"/proc/{pid}").exists():
                return
            time.sleep(0.1)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def cleanup(self):
        self.stop()
        if os.environ.get("MAILPORT_KEEP_TEST_DIRS"):
            return
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no maillog file)"

    def sendmail(self, sender, recipient, message):
        result = self.run(
            SENDMAIL,
            "-C",
            str(self.config),
            "-f",
            sender,
            "--",
            recipient,
            input_bytes=message,
        )
        assert result.returncode == 0, (
            f"sendmail -C {self.config} exited with {result.returncode}:\n"
            f"{result.stdout.decode()}{result.stderr.decode()}\n"
            f"maillog:\n{self.log()}"
        )

    def queue_listing(self):
        result = self.run(POSTQUEUE, "-c", str(self.config), "-p")
        assert result.returncode == 0, (
            f"postqueue -c {self.config} -p exited with {result.returncode}:"
            f"\n{result.stdout.decode()}{result.stderr.decode()}"
        )
        return result.stdout.decode(errors="replace")

    def wait_for_log(self, pattern):
        deadline = time.monotonic() + POSTFIX_TIMEOUT
        while True:
            match = re.search(pattern, self.log())
            if match:
                return match
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no Postfix log line matched {pattern!r} within "
                    f"{POSTFIX_TIMEOUT:.0f} s; maillog:\n{self.log()}"
                )
            time.sleep(0.2)

    def wait_for_empty_queue(self):
        deadline = time.monotonic() + POSTFIX_TIMEOUT
        while True:
            listing = self.queue_listing()
            if "Mail queue is empty" in listing:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"Postfix's queue is not empty after "
                    f"{POSTFIX_TIMEOUT:.0f} s:\n{listing}\n"
                    f"maillog:\n{self.log()}"
                )
            time.sleep(0.2)


@pytest.fixture
def postfix_relay(server):
    """Return a factory of started PostfixRelay instances, cleaned up after."""
    require_postfix()
    instances = []

    def start(service, extra_main=None):
        relay = PostfixRelay(server.ports[service], extra_main)
        instances.append(relay)
        relay.start()
        return relay

    try:
        yield start
    finally:
        for relay in instances:
            relay.cleanup()


def relay_and_check(server, relay, protocol):
    """Send one message through `relay`; return mailportd's Received header."""
    subject = f"postfix-{uuid.uuid4().hex}"
    message = (
        "From: <bob@relay.example.test>\r\n"
        "To: <alice@example.test>\r\n"
        f"Subject: {subject}\r\n"
        "\r\n"
        "Relayed by Postfix.\r\n"
    ).encode()
    relay.sendmail("bob@relay.example.test", "alice@example.test", message)

    relay.wait_for_log(
        r"to=<alice@example\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:"
        rf"{relay.relay_port},.*status=sent"
    )
    relay.wait_for_empty_queue()

    delivered = server.wait_for_message("alice", subject)
    harness.check_delivered(delivered)
    headers = harness.header_section(delivered)
    assert re.search(
        r"(?im)^Return-Path: *<bob@relay\.example\.test>\s*$", headers
    ), f"Return-Path is not Postfix's envelope sender: {headers}"

    received = re.findall(r"(?m)^Received:.*(?:\n[ \t].*)*", headers)
    assert (
        len(received) >= 2
    ), f"expected mailportd's and Postfix's Received headers: {headers}"
    # mailportd prepends its header above the one Postfix's pickup added.
    mailport_hop = received[0]
    assert re.search(
        r"from relay\.example\.test \([^)]*\[127\.0\.0\.1\]\)", mailport_hop
    ), f"mailportd's Received header does not name the Postfix hop: {mailport_hop}"
    assert "by mail.example.test (mailport)" in mailport_hop, mailport_hop
    assert re.search(
        rf"with {protocol}\b", mailport_hop
    ), f"mailportd's Received header does not say {protocol}: {mailport_hop}"
    assert (
        "(Postfix" in received[1]
    ), f"the second Received header is not Postfix's: {received[1]}"
    return mailport_hop


def test_relay_to_port_25_service(server, postfix_relay):
    relay = postfix_relay("plain")
    relay_and_check(server, relay, "ESMTP")


def test_relay_to_submission_with_auth(server, postfix_relay):
    relay = postfix_relay(
        "submission",
        {
            "smtp_tls_security_level": "encrypt",
            "smtp_sasl_auth_enable": "yes",
            "smtp_sasl_password_maps": "inline:{ "
            "{ [127.0.0.1]:%d = alice:secret } }" % server.ports["submission"],
            "smtp_sasl_security_options": "noanonymous",
            "smtp_sasl_tls_security_options": "noanonymous",
            "smtp_tls_loglevel": "1",
        },
    )
    hop = relay_and_check(server, relay, "ESMTPSA")
    assert "(using TLS" in hop, f"no TLS in mailportd's Received header: {hop}"
    relay.wait_for_log(r"Untrusted TLS connection established to 127\.0\.0\.1")
    server.wait_for_log(r"sasl_method=PLAIN, sasl_username=alice\b")


def test_relay_with_wrong_password_stays_queued(server, postfix_relay):
    relay = postfix_relay(
        "submission",
        {
            "smtp_tls_security_level": "encrypt",
            "smtp_sasl_auth_enable": "yes",
            "smtp_sasl_password_maps": "inline:{ "
            "{ [127.0.0.1]:%d = alice:wrong } }" % server.ports["submission"],
            "smtp_sasl_security_options": "noanonymous",
        },
    )
    subject = f"postfix-denied-{uuid.uuid4().hex}"
    message = (
        f"From: <bob@relay.example.test>\r\nSubject: {subject}\r\n\r\nNo.\r\n"
    ).encode()
    relay.sendmail("bob@relay.example.test", "alice@example.test", message)
    # Postfix logs the server's rejection of AUTH and keeps the message.
    relay.wait_for_log(r"SASL authentication failed; server 127\.0\.0\.1")
    relay.wait_for_log(r"to=<alice@example\.test>.*status=deferred")
    listing = relay.queue_listing()
    assert (
        "alice@example.test" in listing
    ), f"the message is not in Postfix's queue: {listing}"
    assert not [m for m in server.messages("alice") if subject.encode() in m]
