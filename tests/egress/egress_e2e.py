#!/usr/bin/python3
"""End-to-end tests of egressd in three network namespaces.

    instance (203.0.113.10-.12, 2001:db8::10-12)
        | veth
    gateway: egressd, forwarding, the nftables table
        | veth
    internet (198.51.100.25/.26, 2001:db8:1::25/26): listeners on 25, 587, 465

Usage: egress_e2e.py BUILD_DIR SCENARIO.  Every scenario builds its own
namespaces (prefix mpeg-, then the PID) and removes them on exit, also on
failure.  Only documentation address ranges are used.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SELF = os.path.abspath(__file__)
PYTHON = "/usr/bin/python3"
TOKEN = "operator-token-0123456789abcdef"
SERVER_V4 = "198.51.100.25"
SERVER_V4_OTHER = "198.51.100.26"
SERVER_V6 = "2001:db8:1::25"
SERVER_V6_OTHER = "2001:db8:1::26"
CLIENT_V4 = "203.0.113.10"
CLIENT_V4_OTHER = "203.0.113.11"
CLIENT_V6 = "2001:db8::10"
CLIENT_V6_OTHER = "2001:db8::11"
# Bounds for waiting on an asynchronous effect; a check that does not hold
# within them fails.  They are upper limits, not expected durations.
CONNECT_TIMEOUT = 3.0
POLL_LIMIT = 40.0


# ----- helpers that run inside a namespace ---------------------------------

def helper_serve():
    """Listens on 25, 587 and 465 (IPv4 and IPv6) with an SMTP-like banner."""
    def handle(connection):
        try:
            serve_connection(connection)
        except OSError:
            pass  # the gate resets blocked connections on this side too

    def serve_connection(connection):
        with connection:
            connection.sendall(b"220 example.test ESMTP test listener\r\n")
            data = b""
            while True:
                chunk = connection.recv(4096)
                if not chunk:
                    return
                data += chunk
                while b"\r\n" in data:
                    line, data = data.split(b"\r\n", 1)
                    if line.upper().startswith(b"QUIT"):
                        connection.sendall(b"221 bye\r\n")
                        return
                    connection.sendall(b"250 ok\r\n")

    def accept_loop(server):
        while True:
            connection, _ = server.accept()
            threading.Thread(target=handle, args=(connection,),
                             daemon=True).start()

    servers = []
    for port in (25, 587, 465):
        server = socket.create_server(("::", port), family=socket.AF_INET6,
                                      dualstack_ipv6=True, backlog=64)
        servers.append(server)
        threading.Thread(target=accept_loop, args=(server,),
                         daemon=True).start()
    print("ready", flush=True)
    signal.sigwait([signal.SIGTERM, signal.SIGINT])


def open_client(source, destination, port):
    family = socket.AF_INET6 if ":" in destination else socket.AF_INET
    client = socket.socket(family, socket.SOCK_STREAM)
    client.settimeout(CONNECT_TIMEOUT)
    client.bind((source, 0))
    client.connect((destination, port))
    banner = client.recv(1024)
    if not banner.startswith(b"220"):
        raise ConnectionError("no banner")
    return client


def classify(error):
    if isinstance(error, (ConnectionResetError, ConnectionRefusedError,
                          BrokenPipeError)):
        return "reset"
    if isinstance(error, socket.timeout):
        return "timeout"
    return "error:" + type(error).__name__


def helper_probe(source, destination, port):
    """Prints open, reset or timeout for one connection attempt."""
    try:
        client = open_client(source, destination, int(port))
        client.sendall(b"QUIT\r\n")
        client.recv(1024)
        client.close()
        print("open")
    except OSError as error:
        print(classify(error))


def helper_hold(source, destination, port):
    """Opens a connection, then sends NOOP for every line read on stdin and
    prints ok, reset, closed or timeout."""
    try:
        client = open_client(source, destination, int(port))
    except OSError as error:
        print(classify(error), flush=True)
        return
    print("connected", flush=True)
    for _ in sys.stdin:
        try:
            client.sendall(b"NOOP\r\n")
            reply = client.recv(1024)
            print("ok" if reply.startswith(b"250") else "closed", flush=True)
        except OSError as error:
            print(classify(error), flush=True)
            return


# ----- the test harness ----------------------------------------------------

class Failure(Exception):
    pass


def run(*command, check=True, input_text=None):
    result = subprocess.run(command, capture_output=True, text=True,
                            input=input_text)
    if check and result.returncode != 0:
        raise Failure("command failed: %s\n%s%s" % (" ".join(command),
                                                     result.stdout,
                                                     result.stderr))
    return result


class Lab:
    def __init__(self, build_dir, blocked_action="reject"):
        self.build_dir = build_dir
        tag = "mpeg-%d" % os.getpid()
        self.instance = tag + "-i"
        self.gateway = tag + "-g"
        self.internet = tag + "-n"
        self.directory = tempfile.mkdtemp(prefix="mpeg-")
        self.socket = os.path.join(self.directory, "api.sock")
        self.egressd = None
        self.server = None
        self.blocked_action = blocked_action
        self.checks = 0

    # Topology.
    def build(self):
        for name in (self.instance, self.gateway, self.internet):
            run("ip", "netns", "add", name)
            self.ns(name, "ip", "link", "set", "lo", "up")
        run("ip", "link", "add", "mpeg-i", "netns", self.instance, "type",
            "veth", "peer", "name", "mpeg-gi", "netns", self.gateway)
        run("ip", "link", "add", "mpeg-gn", "netns", self.gateway, "type",
            "veth", "peer", "name", "mpeg-n", "netns", self.internet)
        addresses = {
            (self.instance, "mpeg-i"): ["203.0.113.10/24", "203.0.113.11/24",
                                        "203.0.113.12/24", "2001:db8::10/64",
                                        "2001:db8::11/64", "2001:db8::12/64"],
            (self.gateway, "mpeg-gi"): ["203.0.113.1/24", "2001:db8::1/64"],
            (self.gateway, "mpeg-gn"): ["198.51.100.1/24", "2001:db8:1::1/64"],
            (self.internet, "mpeg-n"): ["198.51.100.25/24", "198.51.100.26/24",
                                        "2001:db8:1::25/64",
                                        "2001:db8:1::26/64"],
        }
        for (namespace, device), prefixes in addresses.items():
            for prefix in prefixes:
                extra = ["nodad"] if ":" in prefix else []
                self.ns(namespace, "ip", "addr", "add", prefix, "dev", device,
                        *extra)
            self.ns(namespace, "ip", "link", "set", device, "up")
        self.ns(self.instance, "ip", "route", "add", "default", "via",
                "203.0.113.1")
        self.ns(self.instance, "ip", "-6", "route", "add", "default", "via",
                "2001:db8::1")
        self.ns(self.internet, "ip", "route", "add", "203.0.113.0/24", "via",
                "198.51.100.1")
        self.ns(self.internet, "ip", "-6", "route", "add", "2001:db8::/64",
                "via", "2001:db8:1::1")
        self.ns(self.gateway, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.ns(self.gateway, "sysctl", "-qw",
                "net.ipv6.conf.all.forwarding=1")
        self.server = subprocess.Popen(
            ["ip", "netns", "exec", self.internet, PYTHON, SELF, "serve"],
            stdout=subprocess.PIPE, text=True)
        if self.server.stdout.readline().strip() != "ready":
            raise Failure("the listeners did not start")

        with open(os.path.join(self.directory, "tokens"), "w") as tokens:
            tokens.write("alice %s\n" % TOKEN)
        self.write_config()

    def write_config(self, api_listen=None):
        with open(self.config_path(), "w") as config:
            config.write(
                "# egressd end-to-end test configuration\n"
                "instance_networks = 203.0.113.0/24,\n"
                "    2001:db8::/64\n"
                "instance_interfaces = mpeg-gi\n"
                "blocked_action = %s\n"
                "nft_table = mpeg_egress\n"
                "database = %s/egress.db\n"
                "api_listen = %s\n"
                "api_token_file = %s/tokens\n"
                "expiry_check_interval = 2\n"
                "log_file = %s/egressd.log\n"
                "log_level = debug\n"
                % (self.blocked_action, self.directory,
                   api_listen or "unix:" + self.socket, self.directory,
                   self.directory))

    def config_path(self):
        return os.path.join(self.directory, "egressd.conf")

    def ns(self, namespace, *command, check=True):
        return run("ip", "netns", "exec", namespace, *command, check=check)

    def cleanup(self):
        for process in (self.egressd, self.server):
            if process and process.poll() is None:
                process.kill()
                process.wait()
        for name in (self.instance, self.gateway, self.internet):
            run("ip", "netns", "del", name, check=False)
        if os.environ.get("MPEG_KEEP_LOGS"):
            print("logs kept in", self.directory)
        else:
            shutil.rmtree(self.directory, ignore_errors=True)

    # egressd.
    def start_egressd(self, environment=None):
        env = dict(os.environ)
        env.update(environment or {})
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        self.egressd = subprocess.Popen(
            ["ip", "netns", "exec", self.gateway,
             os.path.join(self.build_dir, "apps/egressd/egressd"), "-c",
             self.config_path()], env=env)
        deadline = time.monotonic() + POLL_LIMIT
        while not os.path.exists(self.socket) or self.ctl_result(
                "list").returncode != 0:
            if self.egressd.poll() is not None:
                raise Failure("egressd exited with %d at start-up; log:\n%s"
                              % (self.egressd.returncode, self.log()))
            if time.monotonic() > deadline:
                raise Failure("egressd did not open its API")
            time.sleep(0.1)

    def stop_egressd(self, sig=signal.SIGTERM):
        self.egressd.send_signal(sig)
        self.egressd.wait()

    def log(self):
        try:
            with open(os.path.join(self.directory, "egressd.log")) as log:
                return log.read()[-4000:]
        except OSError:
            return "(no log)"

    def ctl_result(self, *arguments):
        return run(os.path.join(self.build_dir, "apps/egressctl/egressctl"),
                   "-c", self.config_path(), *arguments, check=False)

    def ctl(self, *arguments):
        result = self.ctl_result(*arguments)
        if result.returncode != 0:
            raise Failure("egressctl %s failed: %s" % (" ".join(arguments),
                                                       result.stderr))
        return result.stdout

    def ctl_json(self, *arguments):
        return json.loads(self.ctl("--json", *arguments))

    def request(self, address, *extra):
        return self.ctl_json("request", address, "--reason",
                             "transactional mail", "--domain",
                             "example.test", "--volume", "100", *extra)["id"]

    # Traffic.
    def probe(self, source, destination, port):
        return self.ns(self.instance, PYTHON, SELF, "probe", source,
                       destination, str(port)).stdout.strip()

    def expect(self, source, destination, port, expected):
        self.checks += 1
        got = self.probe(source, destination, port)
        if got != expected:
            raise Failure("%s -> [%s]:%d: expected %s, got %s" %
                          (source, destination, port, expected, got))

    def hold(self, source, destination, port):
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.instance, PYTHON, SELF, "hold",
             source, destination, str(port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = process.stdout.readline().strip()
        if line != "connected":
            process.kill()
            raise Failure("could not open a held connection: %s" % line)
        return process

    def poke(self, held):
        held.stdin.write("x\n")
        held.stdin.flush()
        return held.stdout.readline().strip()

    def port25_flows(self, client, *extra):
        family = "ipv6" if ":" in client else "ipv4"
        result = self.ns(self.gateway, "conntrack", "-L", "-f", family, "-p",
                         "tcp", "--dport", "25", "-s", client, *extra,
                         check=False)
        return len([line for line in result.stdout.splitlines() if line])

    def nft_table(self):
        return self.ns(self.gateway, "nft", "list", "table", "inet",
                       "mpeg_egress", check=False)

    def wait_for(self, description, predicate):
        deadline = time.monotonic() + POLL_LIMIT
        while not predicate():
            if time.monotonic() > deadline:
                raise Failure("timed out waiting for " + description)
            time.sleep(0.2)


def expect_equal(description, got, expected):
    if got != expected:
        raise Failure("%s: expected %r, got %r" % (description, expected, got))


def expect_in(description, needle, haystack):
    if needle not in haystack:
        raise Failure("%s: %r not in %r" % (description, needle, haystack))


# ----- scenarios -------------------------------------------------------------

def scenario_default_block(lab):
    lab.start_egressd()
    for client, server in ((CLIENT_V4, SERVER_V4), (CLIENT_V6, SERVER_V6)):
        lab.expect(client, server, 25, "reset")
        lab.expect(client, server, 587, "open")
        lab.expect(client, server, 465, "open")
    # Inbound mail to an instance is not the gate's business.
    inbound = subprocess.Popen(
        ["ip", "netns", "exec", lab.instance, PYTHON, SELF, "serve"],
        stdout=subprocess.PIPE, text=True)
    try:
        if inbound.stdout.readline().strip() != "ready":
            raise Failure("the instance listeners did not start")
        for server, client in ((SERVER_V4, CLIENT_V4), (SERVER_V6, CLIENT_V6)):
            lab.checks += 1
            got = lab.ns(lab.internet, PYTHON, SELF, "probe", server, client,
                         "25").stdout.strip()
            expect_equal("inbound port 25 to %s" % client, got, "open")
    finally:
        inbound.kill()
        inbound.wait()
    status = lab.ctl_json("status", CLIENT_V4)
    expect_equal("status of an instance", status["status"], "blocked")
    diagnosis = lab.ctl_json("diagnose", CLIENT_V6)
    expect_in("diagnose decision", "block", diagnosis["decision"])
    expect_in("diagnose rule", "reject with tcp reset", diagnosis["rule"])
    expect_equal("diagnose counter", diagnosis["counter"]["name"],
                 "blocked_v6")
    if diagnosis["counter"]["packets"] < 1:
        raise Failure("blocked_v6 counter did not count the attempt")
    counters = {item["address"]: item["blocked"]
                for item in lab.ctl_json("counters")}
    for client in (CLIENT_V4, CLIENT_V6):
        if counters.get(client, 0) < 1:
            raise Failure("no blocked attempt counted for %s: %r" %
                          (client, counters))
    expect_in("text counters", CLIENT_V4, lab.ctl("counters"))

    # Drop instead of reject: the client sees a timeout.
    lab.stop_egressd()
    lab.blocked_action = "drop"
    lab.write_config()
    lab.start_egressd()
    lab.expect(CLIENT_V4, SERVER_V4, 25, "timeout")
    lab.expect(CLIENT_V6, SERVER_V6, 25, "timeout")
    lab.expect(CLIENT_V4, SERVER_V4, 587, "open")


def scenario_approve_revoke(lab):
    lab.start_egressd()
    for client, other, server in ((CLIENT_V4, CLIENT_V4_OTHER, SERVER_V4),
                                  (CLIENT_V6, CLIENT_V6_OTHER, SERVER_V6)):
        request_id = lab.request(client)
        lab.expect(client, server, 25, "reset")
        approved = lab.ctl_json("approve", str(request_id), "--comment",
                                "reviewed")
        expect_equal("state after approve", approved["state"], "approved")
        lab.expect(client, server, 25, "open")
        lab.expect(other, server, 25, "reset")
        expect_equal("status", lab.ctl_json("status", client)["status"],
                     "allowed")
        expect_in("diagnose", "exception",
                  lab.ctl_json("diagnose", client)["rule"])

        held = lab.hold(client, server, 25)
        expect_equal("held connection before revoke", lab.poke(held), "ok")
        expect_equal("established conntrack entries before revoke",
                     lab.port25_flows(client, "--state", "ESTABLISHED"), 1)
        lab.ctl("revoke", str(request_id), "--comment", "spam reports")
        expect_equal("conntrack entries after revoke",
                     lab.port25_flows(client), 0)
        expect_equal("held connection after revoke", lab.poke(held), "reset")
        held.wait()
        lab.expect(client, server, 25, "reset")
        expect_equal("status after revoke",
                     lab.ctl_json("status", client)["status"], "blocked")

    # An exception toward listed destinations only.
    request_id = lab.request(CLIENT_V4_OTHER, "--destination",
                             SERVER_V4 + "/32")
    lab.ctl("approve", str(request_id))
    lab.expect(CLIENT_V4_OTHER, SERVER_V4, 25, "open")
    lab.expect(CLIENT_V4_OTHER, SERVER_V4_OTHER, 25, "reset")
    request_id = lab.request("2001:db8::/120", "--destination",
                             "2001:db8:1::26")
    lab.ctl("approve", str(request_id))
    lab.expect(CLIENT_V6_OTHER, SERVER_V6_OTHER, 25, "open")
    lab.expect(CLIENT_V6_OTHER, SERVER_V6, 25, "reset")

    history = lab.ctl_json("show", "1")["history"]
    expect_equal("audit events", [entry["event"] for entry in history],
                 ["request", "approve", "revoke"])
    expect_equal("decider", history[1]["actor"], "alice")


def scenario_expiry(lab):
    lab.start_egressd()
    ids = {}
    for client in (CLIENT_V4, CLIENT_V6):
        ids[client] = lab.request(client)
        lab.ctl("approve", str(ids[client]), "--until", "+4s")
    held = lab.hold(CLIENT_V4, SERVER_V4, 25)
    held_v6 = lab.hold(CLIENT_V6, SERVER_V6, 25)
    expect_equal("held v4 before expiry", lab.poke(held), "ok")
    expect_equal("held v6 before expiry", lab.poke(held_v6), "ok")
    for client in (CLIENT_V4, CLIENT_V6):
        lab.wait_for("request %d to expire" % ids[client],
                     lambda: lab.ctl_json("show", str(ids[client]))["state"]
                     == "expired")
    expect_equal("held v4 after expiry", lab.poke(held), "reset")
    expect_equal("held v6 after expiry", lab.poke(held_v6), "reset")
    lab.expect(CLIENT_V4, SERVER_V4, 25, "reset")
    lab.expect(CLIENT_V6, SERVER_V6, 25, "reset")
    expired = lab.ctl_json("list", "--state", "expired")
    expect_equal("expired list", sorted(item["id"] for item in expired),
                 sorted(ids.values()))


def scenario_restart(lab):
    lab.start_egressd()
    allowed = lab.request(CLIENT_V4)
    denied = lab.request(CLIENT_V4_OTHER)
    allowed_v6 = lab.request(CLIENT_V6)
    revoked_v6 = lab.request(CLIENT_V6_OTHER)
    lab.ctl("approve", str(allowed))
    lab.ctl("deny", str(denied), "--comment", "no use case")
    lab.ctl("approve", str(allowed_v6), "--until", "+1d")
    lab.ctl("approve", str(revoked_v6))
    lab.ctl("revoke", str(revoked_v6))
    pending = lab.request("203.0.113.12")

    lab.stop_egressd()
    # Stopped: the table stays, so the block and the exceptions hold.
    expect_in("table after stop", "port 25 blocked", lab.nft_table().stdout)
    lab.expect(CLIENT_V4_OTHER, SERVER_V4, 25, "reset")
    # Someone flushes the ruleset: the restart must rebuild everything.
    lab.ns(lab.gateway, "nft", "delete", "table", "inet", "mpeg_egress")
    lab.start_egressd()
    lab.expect(CLIENT_V4, SERVER_V4, 25, "open")
    lab.expect(CLIENT_V6, SERVER_V6, 25, "open")
    lab.expect(CLIENT_V4_OTHER, SERVER_V4, 25, "reset")
    lab.expect(CLIENT_V6_OTHER, SERVER_V6, 25, "reset")
    lab.expect("203.0.113.12", SERVER_V4, 25, "reset")
    states = {item["id"]: item["state"] for item in lab.ctl_json("list")}
    expect_equal("states after restart", states,
                 {allowed: "approved", denied: "denied",
                  allowed_v6: "approved", revoked_v6: "revoked",
                  pending: "pending"})


def scenario_crash(lab):
    # A crash between the store commit and the rule update leaves the old
    # rules (the block stays); the next start applies the stored decision.
    request_id = lab.request_before_start = None
    lab.start_egressd(
        {"MAILPORT_EGRESS_TEST_CRASH_AFTER_STORE": "1"})
    request_id = lab.request(CLIENT_V4)
    result = lab.ctl_result("approve", str(request_id))
    if result.returncode == 0:
        raise Failure("egressd did not crash at the injected fault")
    lab.egressd.wait()
    expect_in("table after crash", "port 25 blocked", lab.nft_table().stdout)
    lab.expect(CLIENT_V4, SERVER_V4, 25, "reset")
    lab.expect(CLIENT_V4_OTHER, SERVER_V4, 25, "reset")
    lab.start_egressd()
    lab.expect(CLIENT_V4, SERVER_V4, 25, "open")
    lab.expect(CLIENT_V4_OTHER, SERVER_V4, 25, "reset")

    # SIGKILL at arbitrary points of a stream of changes: after every kill
    # the table is complete and a non-excepted address is blocked.
    for round_number in range(6):
        stop = threading.Event()

        def churn():
            while not stop.is_set():
                new_id = lab.ctl_result("--json", "request", CLIENT_V6,
                                        "--reason", "churn")
                if new_id.returncode != 0:
                    return
                number = json.loads(new_id.stdout)["id"]
                if lab.ctl_result("approve", str(number)).returncode != 0:
                    return
                if lab.ctl_result("revoke", str(number)).returncode != 0:
                    return

        worker = threading.Thread(target=churn)
        worker.start()
        time.sleep(0.15 + 0.1 * round_number)
        lab.stop_egressd(signal.SIGKILL)
        stop.set()
        worker.join()
        table = lab.nft_table()
        expect_equal("table exists after kill %d" % round_number,
                     table.returncode, 0)
        for rule in ("port 25 blocked", "jump smtp_out", "set allow_v6"):
            expect_in("table after kill %d" % round_number, rule, table.stdout)
        lab.expect(CLIENT_V6_OTHER, SERVER_V6, 25, "reset")
        lab.start_egressd()
        lab.expect(CLIENT_V4, SERVER_V4, 25, "open")
    approved_v6 = [item for item in lab.ctl_json("list", "--state", "approved")
                   if item["address"] == CLIENT_V6]
    expected = "open" if approved_v6 else "reset"
    lab.expect(CLIENT_V6, SERVER_V6, 25, expected)


def scenario_validation(lab):
    lab.start_egressd()
    before_list = lab.ctl("--json", "list")
    before_audit = lab.ctl("--json", "audit")
    table_before = lab.nft_table().stdout
    cases = [
        (["request", "203.0.113.300", "--reason", "x"], "invalid address"),
        (["request", "203.0.113.0/33", "--reason", "x"], "length must be"),
        (["request", "203.0.113.7/24", "--reason", "x"], "host bits"),
        (["request", "203.0.112.0/23", "--reason", "x"],
         "not inside the instance networks"),
        (["request", "198.51.100.25", "--reason", "x"],
         "not inside the instance networks"),
        (["request", "2001:db8::/48", "--reason", "x"],
         "not inside the instance networks"),
        (["request", CLIENT_V4, "--reason", ""], "reason is missing"),
        (["request", CLIENT_V4, "--reason", "x", "--domain", "bad domain"],
         "invalid sending domain"),
        (["request", CLIENT_V4, "--reason", "x", "--volume", "-5"],
         "invalid daily volume"),
        (["request", CLIENT_V4, "--reason", "x", "--destination",
          SERVER_V6], "same address family"),
        (["approve", "999"], "not found"),
        (["list", "--state", "bogus"], "invalid state"),
    ]
    for arguments, message in cases:
        result = lab.ctl_result(*arguments)
        if result.returncode == 0:
            raise Failure("egressctl %s was accepted" % " ".join(arguments))
        expect_in("error of %s" % " ".join(arguments), message, result.stderr)
    expect_equal("list unchanged", lab.ctl("--json", "list"), before_list)
    expect_equal("audit unchanged", lab.ctl("--json", "audit"), before_audit)

    request_id = str(lab.request(CLIENT_V4))
    audit_after_request = lab.ctl("--json", "audit")
    for arguments, message in [
            (["approve", request_id, "--until", "2001-01-01"], "in the past"),
            (["approve", request_id, "--until", "tomorrow"], "invalid expiry"),
            (["revoke", request_id], "only approved requests"),
    ]:
        result = lab.ctl_result(*arguments)
        if result.returncode == 0:
            raise Failure("egressctl %s was accepted" % " ".join(arguments))
        expect_in("error of %s" % " ".join(arguments), message, result.stderr)
    expect_equal("state still pending",
                 lab.ctl_json("show", request_id)["state"], "pending")
    lab.ctl("deny", request_id)
    for action in ("approve", "deny"):
        result = lab.ctl_result(action, request_id)
        expect_in("decision on a denied request", "only pending requests",
                  result.stderr)
    expect_equal("state still denied",
                 lab.ctl_json("show", request_id)["state"], "denied")
    expect_equal("audit grew by the deny only",
                 len(json.loads(lab.ctl("--json", "audit"))),
                 len(json.loads(audit_after_request)) + 1)
    expect_in("table unchanged", "elements = { 203.0.113.0/24 }",
              lab.nft_table().stdout)
    expect_equal("allow set unchanged",
                 "203.0.113.10" in lab.nft_table().stdout,
                 "203.0.113.10" in table_before)

    # The API without a token: the tenant may file, not decide or list.
    result = run(os.path.join(lab.build_dir, "apps/egressctl/egressctl"),
                 "--api", "unix:" + lab.socket, "--token-file", "/nonexistent",
                 "list", check=False)
    expect_equal("list without token exit status", result.returncode, 4)
    lab.expect(CLIENT_V4, SERVER_V4, 25, "reset")


def scenario_web(lab):
    port = 8025
    lab.write_config(api_listen="127.0.0.1:%d" % port)
    lab.socket = os.path.join(lab.directory, "no-socket")
    open(lab.socket, "w").close()
    env = dict(os.environ)
    lab.egressd = subprocess.Popen(
        ["ip", "netns", "exec", lab.gateway,
         os.path.join(lab.build_dir, "apps/egressd/egressd"), "-c",
         lab.config_path()], env=env)
    result = lab.ns(lab.gateway, PYTHON, SELF, "browse",
                    "http://127.0.0.1:%d/" % port, lab.directory, check=False)
    sys.stdout.write(result.stdout)
    if result.returncode != 0:
        raise Failure("browser test failed:\n%s%s\nlog:\n%s" %
                      (result.stdout, result.stderr, lab.log()))
    # The approval made in the page is in force.
    lab.expect(CLIENT_V4, SERVER_V4, 25, "open")
    lab.expect(CLIENT_V4_OTHER, SERVER_V4, 25, "reset")


def helper_browse(url, directory):
    """Drives the unblocking center in headless Chromium: a tenant files a
    request, an operator approves it, and the page shows the tenant the new state."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # Wait for egressd to listen.
    deadline = time.monotonic() + POLL_LIMIT
    while True:
        try:
            socket.create_connection(("127.0.0.1", int(url.split(":")[2]
                                                       .strip("/"))),
                                     timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-quic", "--no-first-run",
                 "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--user-data-dir=" + os.path.join(directory, "chromium")):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                              options=options)
    wait = WebDriverWait(driver, POLL_LIMIT)
    try:
        driver.get(url)
        text = lambda element_id: driver.find_element(By.ID, element_id).text

        # A bad address is rejected with the server's message.
        driver.find_element(By.ID, "address").send_keys("203.0.113.999")
        driver.find_element(By.ID, "reason").send_keys("newsletter")
        driver.find_element(By.ID, "submit").click()
        wait.until(lambda _: text("submit-result"))
        expect_in("page rejects a bad address", "invalid address",
                  text("submit-result"))

        address = driver.find_element(By.ID, "address")
        address.clear()
        address.send_keys(CLIENT_V4)
        driver.find_element(By.ID, "domain").send_keys("example.test")
        driver.find_element(By.ID, "requester").send_keys("tenant-42")
        driver.find_element(By.ID, "submit").click()
        wait.until(lambda _: "filed" in text("submit-result"))
        expect_in("filed request", "state pending", text("submit-result"))

        driver.find_element(By.ID, "check").click()
        wait.until(lambda _: text("check-result"))
        expect_in("tenant sees pending", "is pending", text("check-result"))

        driver.find_element(By.ID, "token").send_keys(TOKEN)
        driver.find_element(By.ID, "comment").send_keys("looks legitimate")
        driver.find_element(By.ID, "load").click()
        wait.until(lambda _: driver.find_elements(By.ID, "approve-1"))
        expect_in("operator sees the request", "example.test",
                  text("request-1"))
        driver.find_element(By.ID, "approve-1").click()
        wait.until(lambda _: driver.find_elements(By.ID, "revoke-1"))
        expect_in("operator result", "approve done", text("operator-result"))

        driver.find_element(By.ID, "check").click()
        wait.until(lambda _: "approved" in text("check-result"))
        expect_in("tenant sees the comment", "looks legitimate",
                  text("check-result"))
        driver.save_screenshot(os.path.join(directory, "center.png"))
        print("browser checks passed")
    finally:
        driver.quit()


SCENARIOS = {
    "default_block": scenario_default_block,
    "approve_revoke": scenario_approve_revoke,
    "expiry": scenario_expiry,
    "restart": scenario_restart,
    "crash": scenario_crash,
    "validation": scenario_validation,
    "web": scenario_web,
}


def main():
    helpers = {"serve": helper_serve, "probe": helper_probe,
               "hold": helper_hold, "browse": helper_browse}
    if len(sys.argv) >= 2 and sys.argv[1] in helpers:
        helpers[sys.argv[1]](*sys.argv[2:])
        return 0
    if len(sys.argv) != 3 or sys.argv[2] not in SCENARIOS:
        print("usage: egress_e2e.py BUILD_DIR {%s}" % ",".join(SCENARIOS),
              file=sys.stderr)
        return 2
    lab = Lab(sys.argv[1])
    # Make SIGTERM from CTest's timeout run the cleanup too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        lab.build()
        SCENARIOS[sys.argv[2]](lab)
        print("%s: %d traffic checks passed" % (sys.argv[2], lab.checks))
        return 0
    except Failure as failure:
        print("FAIL %s: %s" % (sys.argv[2], failure), file=sys.stderr)
        print("egressd log tail:\n" + lab.log(), file=sys.stderr)
        return 1
    finally:
        lab.cleanup()


if __name__ == "__main__":
    sys.exit(main())
