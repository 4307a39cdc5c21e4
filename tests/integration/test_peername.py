"""Client host names: PTR lookup confirmed by the name's own address.

mailportd runs in a network namespace of its own at 192.0.2.1, and the
clients connect from a second namespace at 192.0.2.20 and 192.0.2.21.
`ip netns exec` mounts /etc/netns/NAME/hosts and resolv.conf over the
server's /etc, so its resolver finds names in that hosts file only and
sends any DNS query to 127.0.0.1 inside its own namespace, where nothing
listens.
"""

import os
import pathlib
import shutil
import subprocess
import time

import pytest

import harness

SERVER_ADDRESS = "192.0.2.1"
NAMED_CLIENT = "192.0.2.20"
UNNAMED_CLIENT = "192.0.2.21"


def run(*command):
    subprocess.run(command, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def namespaces():
    assert os.geteuid() == 0, "network namespaces need root"
    prefix = f"mppn{os.getpid()}"
    server_ns, client_ns = f"{prefix}s", f"{prefix}c"
    etc = pathlib.Path("/etc/netns") / server_ns
    try:
        run("ip", "netns", "add", server_ns)
        run("ip", "netns", "add", client_ns)
        run("ip", "link", "add", f"{prefix}a", "netns", server_ns, "type",
            "veth", "peer", "name", f"{prefix}b", "netns", client_ns)
        for namespace, device in ((server_ns, f"{prefix}a"),
                                  (client_ns, f"{prefix}b")):
            run("ip", "-n", namespace, "link", "set", "lo", "up")
            run("ip", "-n", namespace, "link", "set", device, "up")
        run("ip", "-n", server_ns, "addr", "add", f"{SERVER_ADDRESS}/24",
            "dev", f"{prefix}a")
        for address in (NAMED_CLIENT, UNNAMED_CLIENT):
            run("ip", "-n", client_ns, "addr", "add", f"{address}/24",
                "dev", f"{prefix}b")
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "hosts").write_text(
            "127.0.0.1 localhost\n"
            f"{SERVER_ADDRESS} mail.example.test\n"
            f"{NAMED_CLIENT} client.example.test\n"
        )
        (etc / "resolv.conf").write_text("nameserver 127.0.0.1\n")
        yield server_ns, client_ns
    finally:
        for namespace in (client_ns, server_ns):
            subprocess.run(["ip", "netns", "del", namespace],
                           capture_output=True, timeout=30)
        shutil.rmtree(etc, ignore_errors=True)


@pytest.fixture(scope="module")
def server(namespaces):
    server_ns, _ = namespaces
    instance = harness.MailServer(extra_main={"mynetworks": "192.0.2.0/24"})
    try:
        port = instance.ports["plain"]
        (instance.dir / "master.cf").write_text(
            f"{SERVER_ADDRESS}:{port} inet n - n - - smtpd\n"
        )
        log = open(instance.log_path, "ab")
        instance.process = subprocess.Popen(
            ["ip", "netns", "exec", server_ns, harness.binary("MAILPORTD"),
             "-c", str(instance.dir)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        )
        instance.wait_for_log(r"daemon started")
        yield instance
    finally:
        instance.cleanup()


def send_from(namespaces, server, source, subject):
    """Sends one message from `source` in the client namespace."""
    _, client_ns = namespaces
    script = (
        "import smtplib, sys\n"
        "client = smtplib.SMTP(sys.argv[1], int(sys.argv[2]),"
        " source_address=(sys.argv[3], 0), timeout=20)\n"
        "client.sendmail('alice@example.test', ['alice@example.test'],"
        " sys.stdin.buffer.read())\n"
        "client.quit()\n"
    )
    subprocess.run(
        ["ip", "netns", "exec", client_ns, "/usr/bin/python3", "-c", script,
         SERVER_ADDRESS, str(server.ports["plain"]), source],
        input=harness.simple_message(subject), check=True,
        capture_output=True, timeout=60,
    )


def test_confirmed_name_is_used(namespaces, server):
    send_from(namespaces, server, NAMED_CLIENT, "peername-named")
    server.wait_for_log(r"connect from client\.example\.test\[192\.0\.2\.20\]")
    message = server.wait_for_message("alice", "peername-named")
    assert b"(client.example.test [192.0.2.20])" in message


def test_client_without_name_is_unknown(namespaces, server):
    send_from(namespaces, server, UNNAMED_CLIENT, "peername-unnamed")
    server.wait_for_log(r"connect from unknown\[192\.0\.2\.21\]")
    message = server.wait_for_message("alice", "peername-unnamed")
    assert b"(unknown [192.0.2.21])" in message
