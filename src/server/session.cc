#include "server/session.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "auth/sasl.h"
#include "server/store.h"
#include "smtp/command.h"
#include "smtp/data_reader.h"
#include "smtp/message.h"
#include "util/base64.h"
#include "util/log.h"

namespace mailport::server {

using asio::awaitable;
using asio::use_awaitable;
using smtp::MakeReply;
using smtp::Reply;

namespace {

// NOTE: g++ 12 miscompiles `if (!co_await Call())` in these coroutines
// (the frame is resumed in an invalid state and the process dies with
// SIGILL), so every awaited result goes through a named local first.
constexpr auto kAsTuple = asio::experimental::as_tuple(asio::use_awaitable);
// Loop detection: a message that passed this many MTAs is rejected
// (Postfix's hopcount_limit has the same default).
constexpr int kHopCountLimit = 50;
// A peer that stops reading is given this long to take a final reply.
constexpr std::chrono::seconds kFinalWriteTimeout{10};
// RCPT commands past smtpd_recipient_limit get 452 without counting as
// errors, up to this many per transaction (Postfix's default
// smtpd_recipient_overshoot_limit).  A pipelining client sends all its
// recipients before it reads the first 452, and RFC 5321 section
// 4.5.3.1.10 has it send the rejected ones in a later transaction.  If the
// 452s counted, the hard error limit would end the session before DATA.
constexpr std::size_t kRecipientOvershootLimit = 1000;

// Returns the client's host name the way Postfix's smtpd finds it: the PTR
// name of `address`, kept only when one of that name's own addresses is
// `address` again, so that a PTR record alone cannot name a client.
// Returns "unknown" otherwise.  Blocks on the resolver; runs on the
// blocking pool.
awaitable<std::string> LookUpPeerName(std::string address) {
  addrinfo numeric_hints{};
  numeric_hints.ai_flags = AI_NUMERICHOST;
  addrinfo* numeric = nullptr;
  if (::getaddrinfo(address.c_str(), nullptr, &numeric_hints, &numeric) != 0) {
    co_return "unknown";
  }
  char name[NI_MAXHOST];
  int found = ::getnameinfo(numeric->ai_addr, numeric->ai_addrlen, name,
                            sizeof name, nullptr, 0, NI_NAMEREQD);
  ::freeaddrinfo(numeric);
  if (found != 0) co_return "unknown";

  addrinfo forward_hints{};
  forward_hints.ai_socktype = SOCK_STREAM;
  addrinfo* forward = nullptr;
  if (::getaddrinfo(name, nullptr, &forward_hints, &forward) != 0) {
    log::Warn("hostname {} does not resolve to address {}", log::Sanitize(name),
              address);
    co_return "unknown";
  }
  bool confirmed = false;
  for (addrinfo* entry = forward; entry != nullptr; entry = entry->ai_next) {
    char text[NI_MAXHOST];
    if (::getnameinfo(entry->ai_addr, entry->ai_addrlen, text, sizeof text,
                      nullptr, 0, NI_NUMERICHOST) == 0 &&
        address == text) {
      confirmed = true;
    }
  }
  ::freeaddrinfo(forward);
  if (!confirmed) {
    log::Warn("hostname {} does not resolve to address {}", log::Sanitize(name),
              address);
    co_return "unknown";
  }
  // Names go into log lines and the Received header, so keep only the
  // characters a host name can have.
  std::string checked = log::Sanitize(name, 255);
  for (char c : checked) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' &&
        c != '_') {
      co_return "unknown";
    }
  }
  co_return checked;
}

std::string StripIpv4Mapped(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6())
        .to_string();
  }
  return address.to_string();
}

// Checks a password on the blocking pool.  A plain function rather than a
// capturing lambda: with g++ 12, AddressSanitizer reports a bad free of
// the captures of a lambda coroutine passed to co_spawn.
awaitable<bool> VerifyPassword(std::shared_ptr<auth::UserDatabase> users,
                               std::string user, std::string password) {
  co_return users->Verify(user, password);
}

}  // namespace

// Verb table.  The preconditions are checked in this order before the
// handler runs, so that every verb gets the same reply for the same
// missing step.
struct Session::Verb {
  std::string_view name;
  VerbId id;
  bool needs_helo;                // 503 5.5.1 without HELO/EHLO
  bool needs_tls_if_encrypt;      // 530 5.7.0 before STARTTLS at level encrypt
  bool needs_auth_if_submission;  // 530 5.7.0 before AUTH (RFC 6409 4.3)
  bool needs_mail;                // 503 5.5.1 without MAIL
};

const Session::Verb* Session::FindVerb(const std::string& name) {
  static const std::array<Verb, 15> kVerbs = {{
      {"HELO", VerbId::kHelo, false, false, false, false},
      {"EHLO", VerbId::kEhlo, false, false, false, false},
      {"MAIL", VerbId::kMail, true, true, true, false},
      {"RCPT", VerbId::kRcpt, true, true, true, true},
      {"DATA", VerbId::kData, true, true, true, true},
      {"RSET", VerbId::kRset, false, false, false, false},
      {"NOOP", VerbId::kNoop, false, false, false, false},
      {"QUIT", VerbId::kQuit, false, false, false, false},
      {"VRFY", VerbId::kVrfy, false, false, false, false},
      {"HELP", VerbId::kHelp, false, false, false, false},
      {"STARTTLS", VerbId::kStartTls, false, false, false, false},
      {"AUTH", VerbId::kAuth, true, false, false, false},
      {"EXPN", VerbId::kNotImplemented, false, false, false, false},
      {"BDAT", VerbId::kNotImplemented, false, false, false, false},
      {"ETRN", VerbId::kNotImplemented, false, false, false, false},
  }};
  for (const Verb& verb : kVerbs) {
    if (verb.name == name) return &verb;
  }
  return nullptr;
}

// Calls the handler that the verb table names.
awaitable<void> Session::Handle(VerbId id, const std::string& argument) {
  switch (id) {
    case VerbId::kHelo:
      co_await OnHelo(argument);
      break;
    case VerbId::kEhlo:
      co_await OnEhlo(argument);
      break;
    case VerbId::kMail:
      co_await OnMail(argument);
      break;
    case VerbId::kRcpt:
      co_await OnRcpt(argument);
      break;
    case VerbId::kData:
      co_await OnData(argument);
      break;
    case VerbId::kRset:
      co_await OnRset(argument);
      break;
    case VerbId::kNoop:
      co_await OnNoop(argument);
      break;
    case VerbId::kQuit:
      co_await OnQuit(argument);
      break;
    case VerbId::kVrfy:
      co_await OnVrfy(argument);
      break;
    case VerbId::kHelp:
      co_await OnHelp(argument);
      break;
    case VerbId::kStartTls:
      co_await OnStartTls(argument);
      break;
    case VerbId::kAuth:
      co_await OnAuth(argument);
      break;
    case VerbId::kNotImplemented:
      co_await OnNotImplemented(argument);
      break;
  }
}

Session::Session(asio::ip::tcp::socket socket, ServiceContext& context)
    : context_(context),
      service_(*context.service),
      global_(*context.global),
      socket_(std::move(socket)),
      deadline_(socket_.get_executor()) {
  std::error_code error;
  auto endpoint = socket_.remote_endpoint(error);
  if (!error) {
    client_address_ = StripIpv4Mapped(endpoint.address());
    // Loopback is "localhost" without a lookup; other clients are named by
    // LookUpPeerName() when the session starts.
    client_name_ = endpoint.address().is_loopback() ? "localhost" : "unknown";
    client_port_ = endpoint.port();
  } else {
    client_address_ = "unknown";
    client_name_ = "unknown";
  }
  peer_ = client_name_ + "[" + client_address_ +
          "]:" + std::to_string(client_port_);
}

// ---------------------------------------------------------------------
// I/O

void Session::ArmDeadline(std::chrono::seconds timeout) {
  auto now = std::chrono::steady_clock::now();
  auto expiry = now + timeout;
  if (expiry > session_deadline_) expiry = session_deadline_;
  deadline_.expires_at(expiry);
}

awaitable<void> Session::Watchdog() {
  auto self = shared_from_this();
  while (open_) {
    co_await deadline_.async_wait(kAsTuple);
    if (open_ && deadline_.expiry() <= std::chrono::steady_clock::now()) {
      // Cancelling aborts the pending read or write; the session then
      // sends 421 and closes.  A second expiry while that final reply is
      // stuck closes the socket outright.
      if (timed_out_) {
        Close();
      } else {
        timed_out_ = true;
        std::error_code ignored;
        socket_.cancel(ignored);
        deadline_.expires_after(kFinalWriteTimeout);
      }
    }
  }
}

void Session::Close() {
  if (!open_) return;
  open_ = false;
  std::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  deadline_.cancel();
}

awaitable<bool> Session::ReadMore() {
  if (!open_ || timed_out_) co_return false;
  std::array<char, 16384> buffer;
  ArmDeadline(service_.timeout);
  std::error_code error;
  std::size_t count = 0;
  if (tls_) {
    std::tie(error, count) =
        co_await tls_->async_read_some(asio::buffer(buffer), kAsTuple);
  } else {
    std::tie(error, count) =
        co_await socket_.async_read_some(asio::buffer(buffer), kAsTuple);
  }
  input_.append(buffer.data(), count);
  if (error) {
    if (!timed_out_ && error != asio::error::eof &&
        error != asio::ssl::error::stream_truncated) {
      log::Info("read error from {}: {}", peer_, error.message());
    }
    if (!timed_out_) {
      if (!quit_)
        log::Info("lost connection after {} from {}",
                  verb_order_.empty() ? "CONNECT" : verb_order_.back(), peer_);
      Close();
    }
    co_return count > 0;
  }
  co_return true;
}

awaitable<bool> Session::Flush() {
  if (output_.empty()) co_return open_;
  if (!open_) co_return false;
  ArmDeadline(service_.timeout);
  std::error_code error;
  if (tls_) {
    std::tie(error, std::ignore) =
        co_await asio::async_write(*tls_, asio::buffer(output_), kAsTuple);
  } else {
    std::tie(error, std::ignore) =
        co_await asio::async_write(socket_, asio::buffer(output_), kAsTuple);
  }
  output_.clear();
  if (error) {
    if (timed_out_) {
      // A client that stops reading ends here, with no 421 sent.
      LogTimeout();
    } else {
      log::Info("write error to {}: {}", peer_, error.message());
    }
    Close();
    co_return false;
  }
  co_return true;
}

void Session::LogTimeout() {
  if (timeout_logged_) return;
  timeout_logged_ = true;
  log::Info("timeout after {} from {}",
            verb_order_.empty() ? "CONNECT" : verb_order_.back(), peer_);
}

awaitable<std::optional<std::string>> Session::ReadLine(bool* too_long) {
  bool discarding = false;  // inside an over-long line
  for (;;) {
    // A reply that reached the hard error limit closed the session; the
    // commands still buffered behind it are not run.
    if (!open_) co_return std::nullopt;
    std::size_t newline = input_.find('\n');
    if (newline != std::string::npos) {
      std::string line = input_.substr(0, newline);
      input_.erase(0, newline + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (discarding || line.size() > service_.line_length_limit) {
        discarding = false;
        if (too_long != nullptr) {
          *too_long = true;
          co_return std::string();
        }
        co_await Respond(MakeReply(500, "5.5.2", "Error: line too long"));
        continue;
      }
      co_return line;
    }
    // A line at the limit may be buffered with its CR while the LF is
    // still in flight.
    std::size_t pending = input_.size();
    if (pending > 0 && input_.back() == '\r') --pending;
    if (pending > service_.line_length_limit) {
      discarding = true;
      input_.clear();
    }
    // Replies wait in output_ while the client has more pipelined
    // commands in flight (RFC 2920 section 3.1); they are sent when the
    // input runs dry.
    bool flushed = co_await Flush();
    if (!flushed) co_return std::nullopt;
    bool received = co_await ReadMore();
    if (!received) co_return std::nullopt;
  }
}

void Session::Send(const Reply& reply) {
  if (reply.temporary_failure() || reply.permanent_failure()) {
    ++failed_replies_;
  }
  output_ += reply.Format();
}

awaitable<void> Session::Respond(Reply reply) {
  if (reply.temporary_failure() || reply.permanent_failure()) {
    ++errors_;
    if (errors_ >= service_.hard_error_limit) {
      Send(reply);
      Send(MakeReply(421, "4.7.0",
                     service_.myhostname + " Error: too many errors"));
      log::Info("too many errors after {} from {}",
                verb_order_.empty() ? "CONNECT" : verb_order_.back(), peer_);
      co_await Flush();
      Close();
      co_return;
    }
    if (errors_ > service_.soft_error_limit &&
        service_.error_sleep_time.count() > 0) {
      // Slow down clients that keep failing, as Postfix does after
      // smtpd_soft_error_limit.
      co_await Flush();
      asio::steady_timer pause(socket_.get_executor(),
                               service_.error_sleep_time);
      co_await pause.async_wait(kAsTuple);
    }
  }
  Send(reply);
}

// ---------------------------------------------------------------------
// Session loop

awaitable<void> Session::Run() {
  auto self = shared_from_this();
  session_deadline_ =
      std::chrono::steady_clock::now() + service_.session_timeout;
  ArmDeadline(service_.timeout);
  asio::co_spawn(socket_.get_executor(), Watchdog(), asio::detached);
  if (service_.peername_lookup && client_name_ == "unknown" &&
      client_address_ != "unknown") {
    client_name_ =
        co_await asio::co_spawn(*context_.blocking_pool,
                                LookUpPeerName(client_address_), use_awaitable);
    peer_ = client_name_ + "[" + client_address_ +
            "]:" + std::to_string(client_port_);
  }
  log::Info("connect from {}", peer_);

  if (service_.tls.wrapper_mode) {
    bool secured = co_await StartTls();
    if (!secured) {
      Close();
      co_return;
    }
  }
  Send(MakeReply(220, "", service_.banner));

  while (open_) {
    std::optional<std::string> line = co_await ReadLine();
    if (!line) break;
    const Verb* verb = nullptr;
    std::string argument;
    if (!Dispatch(*line, verb, argument)) {
      co_await Respond(
          MakeReply(500, "5.5.2", "Error: command not recognized"));
      continue;
    }
    std::string name(verb->name);
    if (!counts_.contains(name)) verb_order_.push_back(name);
    ++counts_[name].total;
    int failures_before = failed_replies_;

    if (verb->needs_helo && helo_name_.empty()) {
      co_await Respond(MakeReply(503, "5.5.1", "Error: send HELO/EHLO first"));
    } else if (verb->needs_tls_if_encrypt && !tls_ &&
               service_.tls.security_level ==
                   config::TlsSecurityLevel::kEncrypt) {
      co_await Respond(
          MakeReply(530, "5.7.0", "Must issue a STARTTLS command first"));
    } else if (verb->needs_auth_if_submission && service_.submission &&
               sasl_username_.empty()) {
      co_await Respond(MakeReply(530, "5.7.0", "Authentication required"));
    } else if (verb->needs_mail && !transaction_) {
      co_await Respond(MakeReply(503, "5.5.1", "Error: need MAIL command"));
    } else {
      co_await Handle(verb->id, argument);
    }
    if (failed_replies_ == failures_before) ++counts_[name].succeeded;
    if (quit_) break;
  }

  if (timed_out_ && open_) {
    output_.clear();
    Send(MakeReply(421, "4.4.2",
                   service_.myhostname + " Error: timeout exceeded"));
    LogTimeout();
    timed_out_ = false;  // let the final write through
    co_await Flush();
  } else {
    co_await Flush();
  }
  if (tls_ && open_) {
    ArmDeadline(std::chrono::seconds(2));
    co_await tls_->async_shutdown(kAsTuple);
  }
  Close();

  std::string summary;
  int commands = 0;
  for (const std::string& name : verb_order_) {
    const VerbCount& count = counts_[name];
    commands += count.total;
    summary += " " + smtp::ToLower(name) + "=";
    if (count.succeeded == count.total) {
      summary += std::to_string(count.total);
    } else {
      summary +=
          std::to_string(count.succeeded) + "/" + std::to_string(count.total);
    }
  }
  log::Info("disconnect from {}{} commands={}", peer_, summary, commands);
}

bool Session::Dispatch(const std::string& line, const Verb*& verb,
                       std::string& argument) {
  smtp::CommandLine command = smtp::ParseCommandLine(line);
  // "MAIL FROM:" and "RCPT TO:" are matched on the verb alone.
  verb = FindVerb(command.verb);
  argument = std::move(command.argument);
  return verb != nullptr;
}

void Session::ResetSessionState() {
  helo_name_.clear();
  extended_ = false;
  sasl_method_.clear();
  sasl_username_.clear();
  transaction_.reset();
}

void Session::LogReject(const char* stage, const Reply& reply,
                        const std::string& recipient) const {
  std::string line = "NOQUEUE: reject: " + std::string(stage) + " from " +
                     peer_ + ": " + reply.Summary() + ";";
  if (transaction_) {
    line += " from=<" + log::Sanitize(transaction_->sender) + ">";
  }
  if (!recipient.empty()) line += " to=<" + log::Sanitize(recipient) + ">";
  line += " proto=" + std::string(extended_ ? "ESMTP" : "SMTP");
  line += " helo=<" + log::Sanitize(helo_name_) + ">";
  log::Info("{}", line);
}

std::string Session::Protocol() const {
  std::string protocol = extended_ ? "ESMTP" : "SMTP";
  if (tls_) protocol += "S";
  if (!sasl_username_.empty()) protocol += "A";
  return protocol;
}

// ---------------------------------------------------------------------
// STARTTLS (RFC 3207)

awaitable<bool> Session::StartTls() {
  tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(
      socket_, context_.tls->native());
  ArmDeadline(service_.timeout);
  auto [error] =
      co_await tls_->async_handshake(asio::ssl::stream_base::server, kAsTuple);
  if (error) {
    log::Info("SSL_accept error from {}: {}", peer_,
              timed_out_ ? std::string("timed out") : error.message());
    tls_.reset();
    Close();
    co_return false;
  }
  context_.tls->LogHandshake(tls_->native_handle(), peer_);
  co_return true;
}

awaitable<void> Session::OnStartTls(const std::string& argument) {
  if (!context_.tls ||
      service_.tls.security_level == config::TlsSecurityLevel::kNone) {
    co_await Respond(MakeReply(502, "5.5.1", "Error: command not implemented"));
    co_return;
  }
  if (tls_) {
    co_await Respond(MakeReply(503, "5.5.1", "Error: TLS already active"));
    co_return;
  }
  if (!argument.empty()) {
    co_await Respond(MakeReply(501, "5.5.4", "Syntax: STARTTLS"));
    co_return;
  }
  Send(MakeReply(220, "2.0.0", "Ready to start TLS"));
  bool flushed = co_await Flush();
  if (!flushed) co_return;

  // RFC 3207 section 4: bytes the client sent after STARTTLS and before
  // the handshake are plaintext an attacker may have injected; drop them.
  if (!input_.empty()) {
    log::Warn("{}: discarded {} bytes of plaintext pipelined after STARTTLS",
              peer_, input_.size());
    input_.clear();
  }
  bool secured = co_await StartTls();
  if (!secured) co_return;

  // RFC 3207 section 4.2: forget everything learned before TLS; the client
  // must send EHLO again.
  ResetSessionState();
}

// ---------------------------------------------------------------------
// HELO, EHLO and the simple verbs

awaitable<void> Session::OnHelo(const std::string& argument) {
  if (argument.empty()) {
    co_await Respond(MakeReply(501, "5.5.4", "Syntax: HELO hostname"));
    co_return;
  }
  helo_name_ = argument;
  extended_ = false;
  transaction_.reset();
  Send(MakeReply(250, "", service_.myhostname));
}

awaitable<void> Session::OnEhlo(const std::string& argument) {
  if (argument.empty()) {
    co_await Respond(MakeReply(501, "5.5.4", "Syntax: EHLO hostname"));
    co_return;
  }
  helo_name_ = argument;
  extended_ = true;
  transaction_.reset();

  Reply reply;
  reply.code = 250;
  reply.lines.push_back(service_.myhostname);
  reply.lines.push_back("PIPELINING");
  reply.lines.push_back("SIZE " + std::to_string(service_.message_size_limit));
  if (context_.tls && !tls_ &&
      service_.tls.security_level != config::TlsSecurityLevel::kNone) {
    reply.lines.push_back("STARTTLS");
  }
  bool auth_allowed = service_.sasl_auth_enable && sasl_username_.empty() &&
                      (tls_ || (!service_.tls.auth_only &&
                                service_.tls.security_level !=
                                    config::TlsSecurityLevel::kEncrypt));
  if (auth_allowed) {
    std::string mechanisms;
    for (const std::string& name : auth::SupportedMechanisms()) {
      mechanisms += " " + name;
    }
    reply.lines.push_back("AUTH" + mechanisms);
    if (service_.broken_sasl_auth_clients) {
      reply.lines.push_back("AUTH=" + mechanisms.substr(1));
    }
  }
  reply.lines.push_back("ENHANCEDSTATUSCODES");
  reply.lines.push_back("8BITMIME");
  Send(reply);
}

awaitable<void> Session::OnRset(const std::string& argument) {
  if (!argument.empty()) {
    co_await Respond(MakeReply(501, "5.5.4", "Syntax: RSET"));
    co_return;
  }
  transaction_.reset();
  Send(MakeReply(250, "2.0.0", "Ok"));
}

awaitable<void> Session::OnNoop(const std::string&) {
  Send(MakeReply(250, "2.0.0", "Ok"));
  co_return;
}

awaitable<void> Session::OnQuit(const std::string&) {
  Send(MakeReply(221, "2.0.0", "Bye"));
  quit_ = true;
  co_return;
}

awaitable<void> Session::OnVrfy(const std::string& argument) {
  if (argument.empty()) {
    co_await Respond(MakeReply(501, "5.5.4", "Syntax: VRFY address"));
    co_return;
  }
  // RFC 5321 section 3.5.3: 252 without confirming whether users exist.
  Send(MakeReply(252, "2.0.0",
                 "Cannot VRFY user, but will accept message and attempt "
                 "delivery"));
}

awaitable<void> Session::OnHelp(const std::string&) {
  Send(MakeReply(214, "2.0.0",
                 "Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY "
                 "HELP STARTTLS AUTH"));
  co_return;
}

awaitable<void> Session::OnNotImplemented(const std::string&) {
  co_await Respond(MakeReply(502, "5.5.1", "Error: command not implemented"));
}

// ---------------------------------------------------------------------
// AUTH (RFC 4954)

awaitable<std::optional<std::string>> Session::ReadAuthResponse() {
  bool too_long = false;
  std::optional<std::string> line = co_await ReadLine(&too_long);
  if (line && too_long) {
    // RFC 4954 section 6 names this reply; the exchange is over, so the
    // next line is a command again.
    co_await Respond(MakeReply(500, "5.5.6",
                               "Error: authentication exchange line is too "
                               "long"));
    co_return std::nullopt;
  }
  co_return line;
}

awaitable<void> Session::OnAuth(const std::string& argument) {
  if (!service_.sasl_auth_enable || !context_.users) {
    co_await Respond(
        MakeReply(503, "5.5.1", "Error: authentication not enabled"));
    co_return;
  }
  // Counted before any other check, as Postfix counts every AUTH command,
  // so that a password-guessing client cannot dodge the limit by opening
  // new connections.
  if (context_.auth_rate && !context_.auth_rate->Allow(client_address_)) {
    log::Warn(
        "{}: AUTH command rate limit exceeded: more than {} in {}s "
        "for service {}",
        peer_, service_.client_auth_rate_limit, service_.rate_time_unit.count(),
        service_.name);
    Send(MakeReply(421, "4.7.0",
                   service_.myhostname +
                       " Error: too many AUTH commands from " +
                       client_address_ + "; try again later"));
    ++errors_;
    co_await Flush();
    Close();
    co_return;
  }
  if (!tls_ &&
      (service_.tls.auth_only ||
       service_.tls.security_level == config::TlsSecurityLevel::kEncrypt)) {
    co_await Respond(
        MakeReply(530, "5.7.0", "Must issue a STARTTLS command first"));
    co_return;
  }
  if (!sasl_username_.empty()) {
    co_await Respond(MakeReply(503, "5.5.1", "Error: already authenticated"));
    co_return;
  }
  if (transaction_) {
    co_await Respond(
        MakeReply(503, "5.5.1", "Error: MAIL transaction in progress"));
    co_return;
  }
  if (argument.empty()) {
    co_await Respond(MakeReply(501, "5.5.4", "Syntax: AUTH mechanism"));
    co_return;
  }

  std::string mechanism_name = argument.substr(0, argument.find(' '));
  std::optional<std::string_view> initial;
  std::string initial_decoded;
  if (mechanism_name.size() < argument.size()) {
    std::string encoded = argument.substr(mechanism_name.size() + 1);
    if (encoded == "=") {
      initial = std::string_view();
    } else {
      auto decoded = Base64Decode(encoded);
      if (!decoded) {
        co_await Respond(
            MakeReply(501, "5.5.2", "Error: invalid base64 in response"));
        co_return;
      }
      initial_decoded = std::move(*decoded);
      initial = initial_decoded;
    }
  }
  std::unique_ptr<auth::SaslMechanism> mechanism =
      auth::CreateMechanism(mechanism_name);
  if (!mechanism) {
    co_await Respond(
        MakeReply(504, "5.5.4", "Error: unsupported authentication mechanism"));
    co_return;
  }
  std::string method = smtp::ToLower(mechanism_name);
  for (char& c : method) c = static_cast<char>(std::toupper(c));

  auth::SaslStep step = mechanism->Start(initial);
  while (step.kind == auth::SaslStep::Kind::kChallenge) {
    Send(MakeReply(334, "", Base64Encode(step.challenge)));
    std::optional<std::string> response = co_await ReadAuthResponse();
    if (!response) co_return;
    if (*response == "*") {
      co_await Respond(MakeReply(501, "5.7.0", "Authentication aborted"));
      co_return;
    }
    auto decoded = Base64Decode(*response);
    if (!decoded) {
      co_await Respond(
          MakeReply(501, "5.5.2", "Error: invalid base64 in response"));
      co_return;
    }
    step = mechanism->Next(*decoded);
  }
  if (step.kind == auth::SaslStep::Kind::kMalformed) {
    co_await Respond(MakeReply(501, "5.5.2", "Error: " + step.error));
    co_return;
  }

  // crypt(3) with yescrypt or bcrypt takes tens of milliseconds of CPU:
  // run it on the blocking pool so other sessions keep going.
  bool verified = co_await asio::co_spawn(
      *context_.blocking_pool,
      VerifyPassword(context_.users, step.authcid, step.password),
      use_awaitable);
  if (verified) {
    sasl_method_ = method;
    sasl_username_ = step.authcid;
    log::Info("{}: sasl_method={}, sasl_username={}", peer_, method,
              log::Sanitize(sasl_username_));
    Send(MakeReply(235, "2.7.0", "Authentication successful"));
    co_return;
  }

  ++auth_failures_;
  log::Warn("{}: SASL {} authentication failed, sasl_username={}", peer_,
            method, log::Sanitize(step.authcid));
  // The delay makes password guessing slow, whatever the error limits.
  if (service_.sasl_failure_delay.count() > 0) {
    bool flushed = co_await Flush();
    if (!flushed) co_return;
    asio::steady_timer pause(socket_.get_executor(),
                             service_.sasl_failure_delay);
    co_await pause.async_wait(kAsTuple);
  }
  if (auth_failures_ >= service_.sasl_failure_limit) {
    Send(MakeReply(535, "5.7.8", "Error: authentication failed"));
    Send(MakeReply(421, "4.7.0",
                   service_.myhostname +
                       " Error: too many failed authentication attempts"));
    log::Info("too many failed AUTH from {}", peer_);
    ++errors_;
    co_await Flush();
    Close();
    co_return;
  }
  co_await Respond(MakeReply(535, "5.7.8", "Error: authentication failed"));
}

// ---------------------------------------------------------------------
// MAIL, RCPT

awaitable<void> Session::OnMail(const std::string& argument) {
  if (transaction_) {
    co_await Respond(MakeReply(503, "5.5.1", "Error: nested MAIL command"));
    co_return;
  }
  smtp::PathResult parsed = smtp::ParseMailFrom(argument);
  if (!parsed.path) {
    Reply reply = parsed.bad_parameter
                      ? MakeReply(501, "5.5.4", "Error: " + parsed.error)
                      : MakeReply(501, "5.1.7",
                                  "Bad sender address syntax: " + parsed.error);
    LogReject("MAIL", reply);
    co_await Respond(reply);
    co_return;
  }
  Transaction transaction;
  transaction.sender = parsed.path->address;
  for (const auto& [key, value] : parsed.path->parameters) {
    if (key == "SIZE") {
      std::optional<std::uint64_t> declared = smtp::ParseSizeValue(value);
      if (!declared) {
        co_await Respond(MakeReply(501, "5.5.4", "Bad SIZE parameter"));
        co_return;
      }
      if (service_.message_size_limit != 0 &&
          *declared > service_.message_size_limit) {
        Reply reply =
            MakeReply(552, "5.3.4", "Message size exceeds fixed limit");
        LogReject("MAIL", reply);
        co_await Respond(reply);
        co_return;
      }
    } else if (key == "BODY") {
      std::string body = smtp::ToLower(value);
      if (body != "7bit" && body != "8bitmime") {
        co_await Respond(MakeReply(501, "5.5.4", "Bad BODY parameter"));
        co_return;
      }
      transaction.body_type = body == "7bit" ? "7BIT" : "8BITMIME";
    } else if (key == "AUTH") {
      // RFC 4954 section 5: accepted; mailport does not trust it.
    } else {
      co_await Respond(MakeReply(
          555, "5.5.4", "Unsupported option: " + log::Sanitize(key, 40)));
      co_return;
    }
  }
  transaction_ = std::move(transaction);
  Send(MakeReply(250, "2.1.0", "Ok"));
}

bool Session::IsLocalDomain(const std::string& domain) const {
  return std::find(service_.mydestination.begin(), service_.mydestination.end(),
                   domain) != service_.mydestination.end();
}

bool Session::ClientInMynetworks() const {
  for (const config::IpNetwork& network : service_.mynetworks) {
    if (network.Contains(client_address_)) return true;
  }
  return false;
}

Session::Decision Session::EvaluateRestrictions(
    const std::vector<config::Restriction>& restrictions, bool local,
    config::Restriction& decided_by) const {
  for (config::Restriction restriction : restrictions) {
    decided_by = restriction;
    switch (restriction) {
      case config::Restriction::kPermitMynetworks:
        if (ClientInMynetworks()) return Decision::kPermit;
        break;
      case config::Restriction::kPermitSaslAuthenticated:
        if (!sasl_username_.empty()) return Decision::kPermit;
        break;
      case config::Restriction::kRejectUnauthDestination:
        if (!local) return Decision::kReject;
        break;
      case config::Restriction::kDeferUnauthDestination:
        if (!local) return Decision::kDefer;
        break;
      case config::Restriction::kPermitAuthDestination:
        if (local) return Decision::kPermit;
        break;
      case config::Restriction::kPermit:
        return Decision::kPermit;
      case config::Restriction::kReject:
        return Decision::kReject;
    }
  }
  return Decision::kNone;
}

// Runs the restriction lists in Postfix's order.  A permit ends only its
// own list, a list that reaches its end decides nothing, and the first
// reject or defer in any list rejects the recipient.
std::optional<Reply> Session::CheckRestrictions(
    const std::string& recipient) const {
  struct Stage {
    const std::vector<config::Restriction>& restrictions;
    const char* what;     // "Client host rejected"
    std::string subject;  // what the reply names
  };
  std::string sender =
      transaction_ ? log::Sanitize(transaction_->sender) : std::string();
  std::string domain = smtp::DomainOf(recipient);
  bool local = domain.empty() || IsLocalDomain(domain);
  const Stage stages[] = {
      {service_.client_restrictions, "Client host rejected",
       client_name_ + "[" + client_address_ + "]"},
      {service_.helo_restrictions, "Helo command rejected",
       log::Sanitize(helo_name_, 100)},
      {service_.sender_restrictions, "Sender address rejected", sender},
      {service_.relay_restrictions, "Recipient address rejected",
       log::Sanitize(recipient)},
      {service_.recipient_restrictions, "Recipient address rejected",
       log::Sanitize(recipient)},
  };
  for (const Stage& stage : stages) {
    config::Restriction decided_by = config::Restriction::kPermit;
    Decision decision =
        EvaluateRestrictions(stage.restrictions, local, decided_by);
    if (decision != Decision::kReject && decision != Decision::kDefer) {
      continue;
    }
    bool relay = decided_by == config::Restriction::kRejectUnauthDestination ||
                 decided_by == config::Restriction::kDeferUnauthDestination;
    std::string text =
        relay ? "<" + log::Sanitize(recipient) + ">: Relay access denied"
              : "<" + stage.subject + ">: " + stage.what + ": Access denied";
    return decision == Decision::kReject ? MakeReply(554, "5.7.1", text)
                                         : MakeReply(450, "4.7.1", text);
  }
  return std::nullopt;
}

awaitable<void> Session::OnRcpt(const std::string& argument) {
  smtp::PathResult parsed = smtp::ParseRcptTo(argument);
  if (!parsed.path) {
    Reply reply =
        parsed.bad_parameter
            ? MakeReply(501, "5.5.4", "Error: " + parsed.error)
            : MakeReply(501, "5.1.3",
                        "Bad recipient address syntax: " + parsed.error);
    LogReject("RCPT", reply);
    co_await Respond(reply);
    co_return;
  }
  if (!parsed.path->parameters.empty()) {
    co_await Respond(MakeReply(
        555, "5.5.4",
        "Unsupported option: " +
            log::Sanitize(parsed.path->parameters.begin()->first, 40)));
    co_return;
  }
  const std::string& recipient = parsed.path->address;
  if (service_.recipient_limit != 0 &&
      transaction_->recipients.size() >= service_.recipient_limit) {
    Reply reply = MakeReply(452, "4.5.3", "Error: too many recipients");
    LogReject("RCPT", reply, recipient);
    if (transaction_->overshoot < kRecipientOvershootLimit) {
      ++transaction_->overshoot;
      Send(reply);
    } else {
      co_await Respond(reply);
    }
    co_return;
  }

  std::optional<Reply> rejected = CheckRestrictions(recipient);
  if (rejected) {
    LogReject("RCPT", *rejected, recipient);
    co_await Respond(*rejected);
    co_return;
  }

  std::string domain = smtp::DomainOf(recipient);
  if (domain.empty() || IsLocalDomain(domain)) {
    std::string address = recipient;
    if (domain.empty()) {
      // A bare "postmaster" is the postmaster of this host
      // (RFC 5321 section 4.5.1).
      address += "@" + service_.myhostname;
    }
    Result<std::filesystem::path> mailbox = context_.local->MailboxFor(address);
    bool unlisted_accepted = !mailbox.ok() && !mailbox.error().temporary &&
                             !service_.reject_unlisted_recipient;
    if (!mailbox.ok() && !unlisted_accepted) {
      Reply reply =
          mailbox.error().temporary
              ? MakeReply(451, "4.3.0",
                          "<" + log::Sanitize(recipient) +
                              ">: Temporary lookup failure")
              : MakeReply(550, "5.1.1",
                          "<" + log::Sanitize(recipient) +
                              ">: Recipient address rejected: User unknown "
                              "in local recipient table");
      LogReject("RCPT", reply, recipient);
      co_await Respond(reply);
      co_return;
    }
    transaction_->recipients.push_back(address);
  } else {
    transaction_->recipients.push_back(recipient);
  }
  Send(MakeReply(250, "2.1.5", "Ok"));
}

// ---------------------------------------------------------------------
// DATA

std::string Session::BuildHeaders(
    const std::string& content,
    std::chrono::system_clock::time_point now) const {
  std::string headers = "Received: from " + log::Sanitize(helo_name_, 100) +
                        " (" + client_name_ + " [" + client_address_ +
                        "])\r\n\tby " + service_.myhostname +
                        " (mailport) with " + Protocol();
  if (tls_) {
    SSL* ssl = tls_->native_handle();
    headers +=
        "\r\n\t(using " + std::string(SSL_get_version(ssl)) + " with cipher " +
        std::string(SSL_CIPHER_get_name(SSL_get_current_cipher(ssl))) + ")";
  }
  if (transaction_->recipients.size() == 1) {
    headers += "\r\n\tfor <" + log::Sanitize(transaction_->recipients[0]) + ">";
  }
  headers += "; " + smtp::FormatRfc5322Date(now) + "\r\n";

  // RFC 6409 section 8 lets a submission server add the fields that a
  // client left out.
  if (service_.submission) {
    if (!smtp::FindHeader(content, "Message-ID")) {
      headers += "Message-ID: " + smtp::GenerateMessageId(service_.myhostname) +
                 "\r\n";
    }
    if (!smtp::FindHeader(content, "Date")) {
      headers += "Date: " + smtp::FormatRfc5322Date(now) + "\r\n";
    }
  }
  return headers;
}

awaitable<void> Session::OnData(const std::string& argument) {
  if (!argument.empty()) {
    co_await Respond(MakeReply(501, "5.5.4", "Syntax: DATA"));
    co_return;
  }
  if (transaction_->recipients.empty()) {
    co_await Respond(MakeReply(554, "5.5.1", "Error: no valid recipients"));
    co_return;
  }
  Send(MakeReply(354, "", "End data with <CR><LF>.<CR><LF>"));
  bool flushed = co_await Flush();
  if (!flushed) co_return;

  smtp::DataReader reader(service_.message_size_limit);
  for (;;) {
    std::size_t consumed = reader.Consume(input_);
    input_.erase(0, consumed);
    if (reader.done()) break;
    bool received = co_await ReadMore();
    if (!received) co_return;
  }
  auto now = std::chrono::system_clock::now();

  if (reader.too_large()) {
    Reply reply = MakeReply(552, "5.3.4", "Error: message file too big");
    LogReject("END-OF-MESSAGE", reply);
    transaction_.reset();
    co_await Respond(reply);
    co_return;
  }
  std::string& content = reader.content();
  int hops = 0;
  for (std::size_t position = 0; position < content.size();) {
    std::size_t end = content.find("\r\n", position);
    if (end == position || end == std::string::npos) break;
    if (end - position >= 9 && smtp::ToLower(std::string_view(content).substr(
                                   position, 9)) == "received:") {
      ++hops;
    }
    position = end + 2;
  }
  if (hops >= kHopCountLimit) {
    Reply reply = MakeReply(554, "5.4.6", "Error: too many hops");
    LogReject("END-OF-MESSAGE", reply);
    transaction_.reset();
    co_await Respond(reply);
    co_return;
  }
  if (reader.bare_line_breaks() > 0) {
    log::Info("{}: normalised {} bare CR or LF characters in message data",
              peer_, reader.bare_line_breaks());
  }

  queue::Envelope envelope;
  envelope.sender = transaction_->sender;
  envelope.recipients = transaction_->recipients;
  envelope.client_name = client_name_;
  envelope.client_address = client_address_;
  envelope.helo_name = helo_name_;
  envelope.sasl_username = sasl_username_;
  envelope.protocol = Protocol();
  envelope.body_type = transaction_->body_type;
  envelope.arrival_time = now;
  std::string message = BuildHeaders(content, now);
  message += content;
  std::string message_id =
      smtp::FindHeader(message, "Message-ID").value_or(std::string());

  StoreOutcome stored = co_await AsyncStore(
      *context_.commit_queue, std::move(envelope), std::move(message));
  if (!stored.ok) {
    Reply reply = MakeReply(451, "4.3.0", "Error: queue file write error");
    log::Error("{}: queue file write error: {}", peer_, stored.error_message);
    transaction_.reset();
    co_await Respond(reply);
    co_return;
  }
  const std::string& id = stored.queue_id;
  log::Info("{}: client={}{}{}", id, peer_,
            sasl_method_.empty() ? "" : ", sasl_method=" + sasl_method_,
            sasl_username_.empty()
                ? ""
                : ", sasl_username=" + log::Sanitize(sasl_username_));
  if (!message_id.empty()) {
    log::Info("{}: message-id={}", id, log::Sanitize(message_id));
  }
  transaction_.reset();
  Send(MakeReply(250, "2.0.0", "Ok: queued as " + id));
  context_.queue_manager->Notify(id);
}

}  // namespace mailport::server
