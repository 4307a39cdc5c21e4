"""Benchmark mailportd against Postfix on loopback and print a table.

Both servers run at the same time from one temporary directory, each
delivering to a Maildir for the one recipient u@example.test: mailportd
through a passwd-file user, Postfix through its virtual(8) agent with
virtual_mailbox_maps.  The servers are measured one after the other, so
the idle one costs nothing but memory.

Measurements, each bounded in count and time:
  - throughput on the port 25 style service with smtp-source, one message
    per connection, and the time until every message is in the Maildir;
  - the same over STARTTLS, with a Python smtplib load generator (worker
    processes with one connection per message), because smtp-source has
    no TLS;
  - peak memory during the throughput run: mailportd's VmHWM against the
    largest sum of VmRSS (and of Pss) over Postfix's processes;
  - latency of one message (connect to the 250 reply after DATA) over
    sequential connections, median and p99;
  - optionally, which files each server fsyncs, from strace.

The script asserts nothing about speed; it only prints what it measured.
"""

import argparse
import concurrent.futures
import os
import pathlib
import re
import shutil
import signal
import smtplib
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

RECIPIENT = "u@example.test"
SENDER = "a@example.test"
READY_TIMEOUT = 30.0
DELIVERY_TIMEOUT = 300.0

# Postfix's own services, chroot off because the instance lives in a
# temporary directory without the files a chroot needs.
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
virtual    unix  - n n -    - virtual
anvil      unix  - - n -    1 anvil
scache     unix  - - n -    1 scache
postlog    unix-dgram n - n - 1 postlogd
"""


def log(text):
    print(f"bench: {text}", file=sys.stderr, flush=True)


def free_ports(count):
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


def greets(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            return s.recv(512).startswith(b"220")
    except OSError:
        return False


def wait_ready(ports, alive, name, log_text):
    deadline = time.monotonic() + READY_TIMEOUT
    pending = set(ports)
    while pending:
        if not alive():
            raise RuntimeError(
                f"{name} exited before it was ready:\n{log_text()}"
            )
        pending = {port for port in pending if not greets(port)}
        if pending and time.monotonic() > deadline:
            raise RuntimeError(
                f"{name} did not greet on {sorted(pending)} within "
                f"{READY_TIMEOUT:.0f} s:\n{log_text()}"
            )
        time.sleep(0.1)


def make_certificate(directory):
    cert, key = directory / "cert.pem", directory / "key.pem"
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
            "2",
            "-subj",
            "/CN=mail.example.test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def count_files(directory):
    try:
        return sum(1 for _ in os.scandir(directory))
    except FileNotFoundError:
        return 0


def children_of(pid):
    """Return the PIDs whose parent is `pid`."""
    result = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            result.append(int(entry))
    return result


def status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Mailportd:
    name = "mailportd"

    def __init__(self, root, mailportd, mailport, cert, key):
        self.dir = root / "mailport"
        self.dir.mkdir()
        self.binary = mailportd
        self.process = None
        self.log_path = self.dir / "mailportd.log"
        plain, starttls = free_ports(2)
        self.ports = {"plain": plain, "starttls": starttls}
        d = self.dir
        main_cf = [
            "myhostname = mail.example.test",
            "mydomain = example.test",
            "mydestination = example.test, localhost",
            "mynetworks = 127.0.0.0/8",
            f"data_directory = {d}/data",
            f"queue_directory = {d}/queue",
            f"smtpd_sasl_path = {d}/passwd",
            f"mailbox_base = {d}/mailboxes",
            f"smtpd_tls_cert_file = {cert}",
            f"smtpd_tls_key_file = {key}",
            "smtpd_tls_security_level = may",
        ]
        master_cf = [
            f"127.0.0.1:{plain} inet n - n - - smtpd",
            f"127.0.0.1:{starttls} inet n - n - - smtpd"
            " -o smtpd_submission=no -o smtpd_tls_security_level=encrypt",
        ]
        (d / "main.cf").write_text("\n".join(main_cf) + "\n")
        (d / "master.cf").write_text("\n".join(master_cf) + "\n")
        result = subprocess.run(
            [mailport, "-c", str(d), "user", "add", "u"],
            input="benchmark-password\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"mailport user add u failed:\n{result.stdout}{result.stderr}"
            )
        self.maildir_new = d / "mailboxes" / "u" / "Maildir" / "new"

    def start(self):
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(
                [self.binary, "-c", str(self.dir)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )
        wait_ready(
            self.ports.values(),
            lambda: self.process.poll() is None,
            self.name,
            self.log,
        )

    def log(self):
        return self.log_path.read_text(errors="replace")[-4000:]

    def pids(self):
        return [self.process.pid]

    def peak_rss_kib(self):
        return status_kib(self.process.pid, "VmHWM")

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Postfix:
    name = "Postfix"

    def __init__(self, root, cert, key):
        self.dir = root / "postfix"
        self.config = self.dir / "etc"
        self.queue = self.dir / "queue"
        data = self.dir / "data"
        vmail = self.dir / "vmail"
        for directory in (self.dir, self.config, self.queue, data, vmail):
            directory.mkdir()
        self.dir.chmod(0o755)
        shutil.chown(data, "postfix", "postfix")
        # virtual(8) delivers as this unprivileged user.
        os.chown(vmail, 65534, 65534)
        (self.config / "vmailbox").write_text(f"{RECIPIENT} u/Maildir/\n")
        self.log_path = self.dir / "maillog"
        plain, starttls = free_ports(2)
        self.ports = {"plain": plain, "starttls": starttls}
        main_cf = [
            "compatibility_level = 3.6",
            f"queue_directory = {self.queue}",
            f"data_directory = {data}",
            "mail_owner = postfix",
            "setgid_group = postdrop",
            "inet_interfaces = 127.0.0.1",
            "inet_protocols = ipv4",
            "myhostname = postfix.example.test",
            "mydomain = example.test",
            "mydestination =",
            "mynetworks = 127.0.0.0/8",
            "alias_maps =",
            "alias_database =",
            "virtual_mailbox_domains = example.test",
            f"virtual_mailbox_base = {vmail}",
            f"virtual_mailbox_maps = texthash:{self.config}/vmailbox",
            "virtual_uid_maps = static:65534",
            "virtual_gid_maps = static:65534",
            f"smtpd_tls_cert_file = {cert}",
            f"smtpd_tls_key_file = {key}",
            "smtpd_tls_security_level = may",
            f"maillog_file = {self.log_path}",
            f"maillog_file_prefixes = {self.dir}",
        ]
        master_cf = [
            f"127.0.0.1:{plain} inet n - n - - smtpd",
            f"127.0.0.1:{starttls} inet n - n - - smtpd"
            " -o smtpd_tls_security_level=encrypt",
        ]
        (self.config / "main.cf").write_text("\n".join(main_cf) + "\n")
        (self.config / "master.cf").write_text(
            "\n".join(master_cf) + "\n" + POSTFIX_SERVICES
        )
        self.maildir_new = vmail / "u" / "Maildir" / "new"
        self.master = None

    def start(self):
        result = subprocess.run(
            ["postfix", "-c", str(self.config), "start"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"postfix -c {self.config} start failed:\n"
                f"{result.stdout}{result.stderr}\n{self.log()}"
            )
        pid_file = self.queue / "pid" / "master.pid"
        deadline = time.monotonic() + READY_TIMEOUT
        while self.master is None:
            try:
                self.master = int(pid_file.read_text().split()[0])
            except (FileNotFoundError, ValueError, IndexError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no {pid_file}:\n{self.log()}")
                time.sleep(0.1)
        wait_ready(
            self.ports.values(),
            lambda: pathlib.Path(f"/proc/{self.master}").exists(),
            self.name,
            self.log,
        )

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return "(no maillog)"

    def pids(self):
        return [self.master] + children_of(self.master)

    def peak_rss_kib(self):
        return None

    def stop(self):
        if self.master is None:
            return
        subprocess.run(
            ["postfix", "-c", str(self.config), "stop"],
            capture_output=True,
            timeout=60,
        )
        deadline = time.monotonic() + 15
        while pathlib.Path(f"/proc/{self.master}").exists():
            if time.monotonic() > deadline:
                for pid in self.pids():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                break
            time.sleep(0.1)
        self.master = None


class MemorySampler:
    """Sample the summed VmRSS and Pss of a server's processes."""

    def __init__(self, server, interval=0.1):
        self.server = server
        self.interval = interval
        self.max_rss = 0
        self.max_pss = 0
        self.max_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.is_set():
            pids = self.server.pids()
            self.max_processes = max(self.max_processes, len(pids))
            self.max_rss = max(
                self.max_rss, sum(status_kib(p, "VmRSS") for p in pids)
            )
            self.max_pss = max(self.max_pss, sum(pss_kib(p) for p in pids))
            self._stop.wait(self.interval)


def wait_for_maildir(server, expected, started):
    """Return seconds from `started` until `expected` files are in new/."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while True:
        count = count_files(server.maildir_new)
        if count >= expected:
            return time.monotonic() - started
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{server.name}: only {count} of {expected} messages reached "
                f"{server.maildir_new} within {DELIVERY_TIMEOUT:.0f} s:\n"
                f"{server.log()}"
            )
        time.sleep(0.02)


def throughput_plain(server, sessions, messages, size):
    before = count_files(server.maildir_new)
    command = [
        "smtp-source",
        "-s",
        str(sessions),
        "-m",
        str(messages),
        "-l",
        str(size),
        "-f",
        SENDER,
        "-t",
        RECIPIENT,
        f"127.0.0.1:{server.ports['plain']}",
    ]
    with MemorySampler(server) as memory:
        started = time.monotonic()
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=DELIVERY_TIMEOUT
        )
        accepted = time.monotonic() - started
        if result.returncode != 0 or result.stderr.strip():
            raise RuntimeError(
                f"{' '.join(command)} exited with {result.returncode}:\n"
                f"{result.stdout}{result.stderr}\n{server.log()}"
            )
        end_to_end = wait_for_maildir(server, before + messages, started)
    return {
        "accepted_per_s": messages / accepted,
        "accept_s": accepted,
        "end_to_end_s": end_to_end,
        "delivered_per_s": messages / end_to_end,
        "max_rss_kib": memory.max_rss,
        "max_pss_kib": memory.max_pss,
        "processes": memory.max_processes,
        "command": " ".join(command[:-1] + ["127.0.0.1:PORT"]),
    }


def message_bytes(size, index):
    body_line = "x" * 72 + "\r\n"
    body = body_line * max(1, size // len(body_line))
    return (
        f"From: <{SENDER}>\r\nTo: <{RECIPIENT}>\r\n"
        f"Subject: bench {index}\r\n\r\n{body}"
    ).encode()


def send_starttls_batch(port, indexes, size):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    for index in indexes:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            client.ehlo("client.example.test")
            client.starttls(context=context)
            client.ehlo("client.example.test")
            client.sendmail(SENDER, [RECIPIENT], message_bytes(size, index))
    return len(indexes)


def throughput_starttls(server, workers, messages, size):
    before = count_files(server.maildir_new)
    batches = [list(range(i, messages, workers)) for i in range(workers)]
    started = time.monotonic()
    with concurrent.futures.ProcessPoolExecutor(workers) as pool:
        sent = sum(
            pool.map(
                send_starttls_batch,
                [server.ports["starttls"]] * workers,
                batches,
                [size] * workers,
            )
        )
    accepted = time.monotonic() - started
    end_to_end = wait_for_maildir(server, before + sent, started)
    return {
        "accepted_per_s": sent / accepted,
        "end_to_end_s": end_to_end,
        "delivered_per_s": sent / end_to_end,
    }


def latency(server, count, size):
    before = count_files(server.maildir_new)
    samples = []
    message = message_bytes(size, 0)
    for _ in range(count):
        started = time.perf_counter()
        client = smtplib.SMTP("127.0.0.1", server.ports["plain"], timeout=60)
        client.ehlo("client.example.test")
        client.mail(SENDER)
        client.rcpt(RECIPIENT)
        code, reply = client.data(message)
        samples.append(time.perf_counter() - started)
        if code != 250:
            raise RuntimeError(f"{server.name}: DATA got {code} {reply}")
        client.quit()
    # Let delivery finish, untimed, so that it does not run into the next
    # measurement.
    wait_for_maildir(server, before + count, time.monotonic())
    samples.sort()
    return {
        "median_ms": statistics.median(samples) * 1000,
        "p99_ms": samples[min(len(samples) - 1, int(len(samples) * 0.99))]
        * 1000,
    }


def fsync_trace(server, messages, out_path):
    """Count fsync and fdatasync calls by the file they were made on."""
    attach = []
    for pid in server.pids():
        attach += ["-p", str(pid)]
    tracer = subprocess.Popen(
        [
            "strace",
            "-f",
            "-y",
            "-qq",
            "-e",
            "trace=fsync,fdatasync",
            "-o",
            str(out_path),
            *attach,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(1.0)  # strace attaches asynchronously
    try:
        before = count_files(server.maildir_new)
        subprocess.run(
            [
                "smtp-source",
                "-s",
                "1",
                "-m",
                str(messages),
                "-l",
                "4096",
                "-f",
                SENDER,
                "-t",
                RECIPIENT,
                f"127.0.0.1:{server.ports['plain']}",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        wait_for_maildir(server, before + messages, time.monotonic())
        time.sleep(0.5)
    finally:
        tracer.send_signal(signal.SIGINT)
        try:
            tracer.wait(timeout=10)
        except subprocess.TimeoutExpired:
            tracer.kill()
            tracer.wait()
    counts = {}
    pattern = re.compile(r"\b(fsync|fdatasync)\(\d+<([^>]*)>")
    for line in out_path.read_text(errors="replace").splitlines():
        match = pattern.search(line)
        if not match:
            continue
        call, path = match.groups()
        kind = classify_path(server, pathlib.Path(path))
        counts[(call, kind)] = counts.get((call, kind), 0) + 1
    return counts


def classify_path(server, path):
    text = str(path)
    if "/Maildir" in text or "/vmail" in text:
        place = "Maildir"
    elif "/queue" in text:
        place = "queue"
    else:
        place = "other"
    try:
        is_directory = path.is_dir()
    except OSError:
        is_directory = False
    if is_directory:
        return f"{place} directory {path.name}"
    return f"{place} file in {path.parent.name}/"


def ratio(a, b):
    if not a or not b:
        return "n/a"
    return f"{a / b:.2f}"


def format_value(value):
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return str(value)
    return f"{value:.1f}"


def print_table(rows):
    header = ("metric", "mailportd", "Postfix", "mailportd/Postfix")
    table = [header] + [
        (name, format_value(m), format_value(p), ratio(m, p))
        for name, m, p in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for index, row in enumerate(table):
        print(
            "| "
            + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row))
            + " |"
        )
        if index == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mailportd", required=True)
    parser.add_argument("--mailport", required=True)
    parser.add_argument(
        "--sessions",
        type=int,
        default=20,
        help="parallel smtp-source sessions",
    )
    parser.add_argument(
        "--messages",
        type=int,
        default=2000,
        help="messages in the port 25 throughput run",
    )
    parser.add_argument(
        "--size", type=int, default=4096, help="message size in bytes"
    )
    parser.add_argument(
        "--tls-workers",
        type=int,
        default=4,
        help="parallel STARTTLS client processes",
    )
    parser.add_argument(
        "--tls-messages",
        type=int,
        default=400,
        help="messages in the STARTTLS throughput run",
    )
    parser.add_argument(
        "--latency-messages",
        type=int,
        default=500,
        help="sequential messages for the latency figures",
    )
    parser.add_argument(
        "--fsync-messages",
        type=int,
        default=0,
        help="messages sent under strace to count fsync "
        "calls; 0 skips the trace",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory"
    )
    args = parser.parse_args()
    # Turn SIGTERM into SystemExit so that the servers are stopped below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    root = pathlib.Path(tempfile.mkdtemp(prefix="mailport-bench-"))
    root.chmod(0o755)
    servers = []
    results = {}
    try:
        cert, key = make_certificate(root)
        mailport = Mailportd(root, args.mailportd, args.mailport, cert, key)
        postfix = Postfix(root, cert, key)
        servers = [mailport, postfix]
        for server in servers:
            server.start()
            log(f"{server.name} is ready on {server.ports}")
        for server in servers:
            result = {}
            log(f"{server.name}: port 25 throughput, {args.messages} messages")
            result["plain"] = throughput_plain(
                server, args.sessions, args.messages, args.size
            )
            log(
                f"{server.name}: STARTTLS throughput, {args.tls_messages} "
                "messages"
            )
            result["tls"] = throughput_starttls(
                server, args.tls_workers, args.tls_messages, args.size
            )
            log(f"{server.name}: latency, {args.latency_messages} messages")
            result["latency"] = latency(
                server, args.latency_messages, args.size
            )
            result["hwm"] = server.peak_rss_kib()
            if args.fsync_messages:
                log(
                    f"{server.name}: fsync trace, {args.fsync_messages} "
                    "messages"
                )
                result["fsync"] = fsync_trace(
                    server,
                    args.fsync_messages,
                    root / f"strace-{server.name}.txt",
                )
            results[server.name] = result
    finally:
        for server in servers:
            server.stop()
        if args.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    m, p = results["mailportd"], results["Postfix"]
    print(f"port 25: {m['plain']['command']}")
    print(
        f"STARTTLS: {args.tls_messages} messages of {args.size} bytes "
        f"from {args.tls_workers} smtplib processes, one connection each"
    )
    print(
        f"latency: {args.latency_messages} sequential connections, "
        "connect to the 250 reply after DATA"
    )
    print()
    rows = [
        (
            "port 25 accepted msg/s",
            m["plain"]["accepted_per_s"],
            p["plain"]["accepted_per_s"],
        ),
        (
            "port 25 in Maildir msg/s",
            m["plain"]["delivered_per_s"],
            p["plain"]["delivered_per_s"],
        ),
        (
            "port 25 all in Maildir s",
            m["plain"]["end_to_end_s"],
            p["plain"]["end_to_end_s"],
        ),
        (
            "STARTTLS accepted msg/s",
            m["tls"]["accepted_per_s"],
            p["tls"]["accepted_per_s"],
        ),
        (
            "STARTTLS in Maildir msg/s",
            m["tls"]["delivered_per_s"],
            p["tls"]["delivered_per_s"],
        ),
        (
            "peak RSS MiB (mailportd VmHWM, Postfix sum VmRSS)",
            m["hwm"] / 1024,
            p["plain"]["max_rss_kib"] / 1024,
        ),
        (
            "peak sum VmRSS MiB during port 25 load",
            m["plain"]["max_rss_kib"] / 1024,
            p["plain"]["max_rss_kib"] / 1024,
        ),
        (
            "peak sum Pss MiB during port 25 load",
            m["plain"]["max_pss_kib"] / 1024,
            p["plain"]["max_pss_kib"] / 1024,
        ),
        (
            "processes during port 25 load (max)",
            m["plain"]["processes"],
            p["plain"]["processes"],
        ),
        (
            "latency median ms",
            m["latency"]["median_ms"],
            p["latency"]["median_ms"],
        ),
        ("latency p99 ms", m["latency"]["p99_ms"], p["latency"]["p99_ms"]),
    ]
    print_table(rows)
    for name in ("mailportd", "Postfix"):
        fsync = results[name].get("fsync")
        if fsync is None:
            continue
        print()
        print(f"{name}: fsync calls for {args.fsync_messages} messages")
        for (call, kind), count in sorted(fsync.items()):
            print(f"  {call:9} {count:6}  {kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
