"""Run the SMTP dialog scripts in tests/dialogs/ against a real mailportd.

Each `*.dialog` file is one test: a single connection to one service of
the standard test configuration, driven line by line.  Syntax:

    # comment                 ignored, as are blank lines
    service: NAME             first line that is not blank or a comment;
                              NAME is plain, submission or submissions
    C: text                   send `text` followed by CRLF
    S: 250                    read the next reply, which must have code 250
    S: 250 2.1.0              ... and enhanced status code 2.1.0
    S: 250 2.1.0 Ok           ... and a last line whose text after the
                              enhanced code starts with "Ok"
                              (a multi-line reply is read whole)
    HAS: WORD                 some line of the last reply starts with WORD
    LACKS: WORD               no line of the last reply starts with WORD
                              (both compare without case, for EHLO keywords)
    TLS                       run the TLS handshake; when it directly
                              follows `C: STARTTLS`, first read that reply,
                              which must be 220
    AUTH-PLAIN user password  send AUTH PLAIN with the base64 initial
                              response computed here
    DATA-BODY subject         send a small message with that Subject and
                              the terminating CRLF.CRLF
    CLOSED                    the server closes the connection and sends
                              nothing more
    EXPECT-DELIVERY user subject
                              wait until a message with that Subject is in
                              the user's Maildir, with trace headers

A failure names the file, the line number, what the line expected and the
whole reply that arrived.
"""

import base64
import pathlib
import re
import socket
import ssl

import pytest

import harness

DIALOG_DIR = pathlib.Path(__file__).resolve().parent.parent / "dialogs"
DIALOGS = sorted(DIALOG_DIR.glob("*.dialog"))
SERVICES = ("plain", "submission", "submissions")
EXPECTATION = re.compile(
    r"(\d{3})(?: (\d\.\d{1,3}\.\d{1,3})(?= |$))?(?: (.*))?"
)


class DialogError(AssertionError):
    pass


class Step:
    """One directive of a dialog script and the line it came from."""

    def __init__(self, number, keyword, argument):
        self.number = number
        self.keyword = keyword
        self.argument = argument


def parse(path):
    """Parse a dialog file into (service, [Step]), or raise DialogError."""
    service = None
    steps = []
    lines = path.read_text().splitlines()
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path.name}:{number}"
        if service is None:
            match = re.fullmatch(r"service:\s*(\S+)", line)
            if not match or match.group(1) not in SERVICES:
                raise DialogError(
                    f"{where}: expected `service: plain|submission|"
                    f"submissions` as the first directive, got {line!r}"
                )
            service = match.group(1)
            continue
        if line.startswith("C: "):
            steps.append(Step(number, "C", line[3:]))
        elif line.startswith(("S: ", "HAS: ", "LACKS: ")):
            keyword, argument = line.split(": ", 1)
            steps.append(Step(number, keyword, argument.strip()))
        elif line in ("TLS", "CLOSED"):
            steps.append(Step(number, line, ""))
        else:
            keyword, _, argument = line.partition(" ")
            if keyword not in ("AUTH-PLAIN", "DATA-BODY", "EXPECT-DELIVERY"):
                raise DialogError(f"{where}: unknown directive {line!r}")
            steps.append(Step(number, keyword, argument.strip()))
    if service is None:
        raise DialogError(f"{path.name}: no `service:` line")
    return service, steps


def parse_expectation(text):
    """Split `250 2.1.0 Ok` into (250, "2.1.0", "Ok"), None where absent."""
    match = EXPECTATION.fullmatch(text)
    if not match:
        raise ValueError(f"expected `S: CODE [X.Y.Z] [TEXT]`, got {text!r}")
    return int(match.group(1)), match.group(2), match.group(3)


class Connection:
    """A raw SMTP connection that keeps each reply's lines as received."""

    def __init__(self, port, implicit_tls):
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=harness.SOCKET_TIMEOUT
        )
        self.buffer = b""
        if implicit_tls:
            self.start_tls()

    def start_tls(self):
        if self.buffer:
            raise DialogError(
                f"bytes arrived before the TLS handshake: {self.buffer!r}"
            )
        self.sock = harness.client_context().wrap_socket(
            self.sock, server_hostname="mail.example.test"
        )

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def read_line(self):
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
        """Return the lines of one reply, continuation lines included."""
        lines = []
        while True:
            line = self.read_line()
            lines.append(line)
            if not re.match(r"\d{3}([ -]|$)", line):
                return lines  # check_reply reports the malformed line
            if len(line) == 3 or line[3] == " ":
                return lines

    def read_until_closed(self):
        """Return the bytes that arrive before the server closes."""
        received = self.buffer
        self.buffer = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return received
                received += chunk
        except (ConnectionResetError, ssl.SSLError):
            return received


def check_reply(lines, code, enhanced, prefix):
    """Return what is wrong with a reply, or None when it matches."""
    last = lines[-1]
    if not re.match(r"\d{3}([ ]|$)", last):
        return "a malformed reply"
    if int(last[:3]) != code:
        return f"code {code}"
    text = last[4:]
    if enhanced is not None:
        first, _, text = text.partition(" ")
        if first != enhanced:
            return f"enhanced status code {enhanced}"
    if prefix is not None and not text.startswith(prefix):
        return f"text starting with {prefix!r}"
    return None


def format_reply(lines):
    return "\n".join(f"    {line}" for line in lines) or "    (nothing)"


def run_dialog(server, path):
    service, steps = parse(path)
    connection = Connection(
        server.ports[service], service in server.implicit_tls
    )
    last_reply = []
    unread_starttls = False
    try:
        for step in steps:
            where = f"{path.name}:{step.number}"
            try:
                last_reply, unread_starttls = run_step(
                    server, connection, step, last_reply, unread_starttls
                )
            except DialogError as error:
                raise DialogError(f"{where}: {error}") from None
            except (OSError, EOFError, ValueError) as error:
                raise DialogError(
                    f"{where}: `{step.keyword} {step.argument}` failed: "
                    f"{error!r}"
                ) from None
    finally:
        connection.close()


def run_step(server, connection, step, last_reply, unread_starttls):
    """Run one directive and return the last reply and the STARTTLS flag."""
    keyword, argument = step.keyword, step.argument
    if keyword == "C":
        connection.send(argument.encode() + b"\r\n")
        return last_reply, argument.upper() == "STARTTLS"
    if keyword == "S":
        code, enhanced, prefix = parse_expectation(argument)
        lines = connection.read_reply()
        wrong = check_reply(lines, code, enhanced, prefix)
        if wrong:
            raise DialogError(
                f"expected `S: {argument}`, which needs {wrong}; "
                f"the reply was:\n{format_reply(lines)}"
            )
        return lines, False
    if keyword in ("HAS", "LACKS"):
        word = argument.upper()
        found = any(line[4:].upper().startswith(word) for line in last_reply)
        if found != (keyword == "HAS"):
            verb = "contain" if keyword == "HAS" else "not contain"
            raise DialogError(
                f"expected the last reply to {verb} a line starting with "
                f"{argument!r}; the reply was:\n{format_reply(last_reply)}"
            )
        return last_reply, unread_starttls
    if keyword == "TLS":
        if unread_starttls:
            lines = connection.read_reply()
            if check_reply(lines, 220, None, None):
                raise DialogError(
                    "expected 220 to STARTTLS before the handshake; the "
                    f"reply was:\n{format_reply(lines)}"
                )
        connection.start_tls()
        return last_reply, False
    if keyword == "AUTH-PLAIN":
        user, password = argument.split(None, 1)
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        connection.send(f"AUTH PLAIN {token}\r\n".encode())
        return last_reply, False
    if keyword == "DATA-BODY":
        connection.send(harness.simple_message(argument) + b".\r\n")
        return last_reply, False
    if keyword == "CLOSED":
        received = connection.read_until_closed()
        if received:
            raise DialogError(
                "expected the server to close the connection, but it sent "
                f"{received!r} first"
            )
        return [], False
    if keyword == "EXPECT-DELIVERY":
        user, subject = argument.split(None, 1)
        # Maildir files use LF line ends, so the header is matched without
        # its CR and then checked whole, because a longer Subject also
        # contains this one.
        message = server.wait_for_message(user, f"Subject: {subject}")
        header = f"Subject: {subject}".encode()
        if not re.search(rb"(?m)^" + re.escape(header) + rb"\r?$", message):
            raise DialogError(
                f"the message in {user}'s Maildir has a different Subject "
                f"than {subject!r}:\n{harness.header_section(message)}"
            )
        harness.check_delivered(message, recipient=f"{user}@example.test")
        return last_reply, unread_starttls
    raise DialogError(f"unknown directive {keyword!r}")


@pytest.mark.parametrize("path", DIALOGS, ids=[path.name for path in DIALOGS])
def test_dialog(server, path):
    run_dialog(server, path)


def test_dialogs_found():
    assert DIALOGS, f"no *.dialog files in {DIALOG_DIR}"


def test_wrong_code_names_line_and_reply(server, tmp_path):
    script = tmp_path / "wrong.dialog"
    script.write_text("service: plain\n# greeting\nS: 220\nC: NOOP\nS: 554\n")
    with pytest.raises(DialogError) as failure:
        run_dialog(server, script)
    message = str(failure.value)
    assert message.startswith("wrong.dialog:5: "), message
    assert "code 554" in message, message
    assert "250 2.0.0 Ok" in message, message
