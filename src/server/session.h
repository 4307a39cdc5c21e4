// One SMTP server session (RFC 5321) on an accepted TCP connection.
//
// The session runs as a C++20 coroutine on its own strand, so it needs no
// locks: every member below is touched only from that strand.  It speaks
// ESMTP with PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES, STARTTLS
// (RFC 3207) and AUTH (RFC 4954), and hands accepted messages to the queue.
// Work that blocks (password hashing, fsync) runs elsewhere: crypt(3) on the
// blocking pool, queue writes on the CommitQueue's disk thread.  The session
// sends "250 Ok: queued" only after the queue reports the message durable.
//
// Verbs are dispatched from a table that states each verb's preconditions;
// see kVerbs in session.cc.  Limits come from the service's settings:
// smtpd_timeout per read and write, smtpd_session_timeout per session,
// line_length_limit, message_size_limit, smtpd_recipient_limit, and the
// soft and hard error limits.
#pragma once

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ssl.hpp>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/passwd_file.h"
#include "config/settings.h"
#include "delivery/maildir.h"
#include "queue/queue_manager.h"
#include "queue/spool.h"
#include "server/rate_limiter.h"
#include "smtp/reply.h"
#include "tls/server_context.h"

namespace mailport::server {

// State shared by every session of one smtpd service.  Owned by the
// Server, which outlives all sessions.
struct ServiceContext {
  const config::SmtpdService* service = nullptr;
  const config::GlobalSettings* global = nullptr;
  std::shared_ptr<tls::ServerContext> tls;  // null when TLS is unavailable
  std::shared_ptr<auth::UserDatabase> users;
  delivery::MaildirTransport* local = nullptr;
  queue::CommitQueue* commit_queue = nullptr;
  queue::QueueManager* queue_manager = nullptr;
  asio::thread_pool* blocking_pool = nullptr;
  std::atomic<int> active_sessions{0};
  // smtpd_client_auth_rate_limit, shared by all sessions of the service.
  std::unique_ptr<RateLimiter> auth_rate;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(asio::ip::tcp::socket socket, ServiceContext& context);

  // Serves the connection until QUIT, an error or a timeout.  Spawn it with
  // the socket's strand as executor.
  asio::awaitable<void> Run();

 private:
  struct Transaction {
    std::string sender;
    std::vector<std::string> recipients;
    std::string body_type = "7BIT";
    // RCPT commands rejected for smtpd_recipient_limit so far.
    std::size_t overshoot = 0;
  };
  // How many times a verb was used and how many of those succeeded, for
  // the disconnect log line.
  struct VerbCount {
    int total = 0;
    int succeeded = 0;
  };
  enum class Decision { kPermit, kReject, kDefer, kNone };

  enum class VerbId {
    kHelo,
    kEhlo,
    kMail,
    kRcpt,
    kData,
    kRset,
    kNoop,
    kQuit,
    kVrfy,
    kHelp,
    kStartTls,
    kAuth,
    kNotImplemented,
  };
  struct Verb;
  static const Verb* FindVerb(const std::string& name);
  asio::awaitable<void> Handle(VerbId id, const std::string& argument);

  // I/O.  Each returns false once the connection is unusable.
  asio::awaitable<bool> ReadMore();
  // Returns the next line without its line end.  An over-long line gets
  // 500 5.5.2 and is skipped, unless `too_long` is given: then it is set
  // and an empty line is returned, for the caller to reply.
  asio::awaitable<std::optional<std::string>> ReadLine(
      bool* too_long = nullptr);
  asio::awaitable<bool> Flush();
  asio::awaitable<bool> StartTls();
  asio::awaitable<void> Watchdog();
  void ArmDeadline(std::chrono::seconds timeout);
  void LogTimeout();  // once per session
  void Close();

  // Queues `reply`; counts it as an error when it is 4xx or 5xx and slows
  // down or ends the session past the error limits.
  asio::awaitable<void> Respond(smtp::Reply reply);
  void Send(const smtp::Reply& reply);
  bool Dispatch(const std::string& line, const Verb*& verb,
                std::string& argument);

  asio::awaitable<void> OnHelo(const std::string& argument);
  asio::awaitable<void> OnEhlo(const std::string& argument);
  asio::awaitable<void> OnMail(const std::string& argument);
  asio::awaitable<void> OnRcpt(const std::string& argument);
  asio::awaitable<void> OnData(const std::string& argument);
  asio::awaitable<void> OnRset(const std::string& argument);
  asio::awaitable<void> OnNoop(const std::string& argument);
  asio::awaitable<void> OnQuit(const std::string& argument);
  asio::awaitable<void> OnVrfy(const std::string& argument);
  asio::awaitable<void> OnHelp(const std::string& argument);
  asio::awaitable<void> OnStartTls(const std::string& argument);
  asio::awaitable<void> OnAuth(const std::string& argument);
  asio::awaitable<void> OnNotImplemented(const std::string& argument);

  // RCPT policy: smtpd_relay_restrictions, then
  // smtpd_recipient_restrictions.
  Decision EvaluateRestrictions(
      const std::vector<config::Restriction>& restrictions, bool local,
      config::Restriction& decided_by) const;
  std::optional<smtp::Reply> CheckRestrictions(
      const std::string& recipient) const;
  bool IsLocalDomain(const std::string& domain) const;
  bool ClientInMynetworks() const;

  asio::awaitable<std::optional<std::string>> ReadAuthResponse();
  std::string BuildHeaders(const std::string& content,
                           std::chrono::system_clock::time_point now) const;
  std::string Protocol() const;
  void ResetSessionState();
  void LogReject(const char* stage, const smtp::Reply& reply,
                 const std::string& recipient = "") const;

  ServiceContext& context_;
  const config::SmtpdService& service_;
  const config::GlobalSettings& global_;

  asio::ip::tcp::socket socket_;
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
  asio::steady_timer deadline_;
  std::chrono::steady_clock::time_point session_deadline_;
  std::string input_;
  std::string output_;
  bool open_ = true;
  bool timed_out_ = false;
  bool timeout_logged_ = false;
  bool quit_ = false;

  std::string client_name_;
  std::string client_address_;
  unsigned short client_port_ = 0;
  std::string peer_;  // "name[address]:port" for logs

  std::string helo_name_;
  bool extended_ = false;  // EHLO rather than HELO
  std::string sasl_method_;
  std::string sasl_username_;
  std::optional<Transaction> transaction_;
  int errors_ = 0;          // counted towards the error limits
  int failed_replies_ = 0;  // every 4xx and 5xx reply, for the verb counts
  int auth_failures_ = 0;
  std::map<std::string, VerbCount> counts_;
  std::vector<std::string> verb_order_;
};

}  // namespace mailport::server
