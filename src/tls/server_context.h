// Server-side TLS for smtpd services.
//
// A ServerContext wraps one OpenSSL SSL_CTX built from a service's
// TlsServerSettings:
//   - protocol range from smtpd_tls_protocols / mandatory_protocols, TLS 1.2
//     and 1.3 by default, never SSLv3;
//   - certificate, key and chain files; when the configured certificate or
//     key is missing (or none is configured), a self-signed certificate is
//     generated once in data_directory and reused on later starts;
//   - resumption by session tickets whose keys rotate (see ticket_keys.h),
//     unless tickets are off, and by a server-side session cache stored in
//     LMDB at smtpd_tls_session_cache_database (see session_cache.h);
//   - the handshake log line at smtpd_tls_loglevel.
// Contexts are immutable after Create() and safe to share across threads:
// the ticket keys and the session cache lock internally.  Sessions must
// keep the shared_ptr alive until their SSL objects are freed, because the
// OpenSSL callbacks reach the ticket keys and the cache through the context.
// Shut a connection down (SSL_shutdown, asio's async_shutdown) before its
// SSL object is freed: OpenSSL removes the session of a connection freed
// without sending close_notify from the session cache.
//
// Errors from Create() are permanent and name the parameter and file; the
// self-signed fallback is logged as a warning with its SHA-256 fingerprint.
#pragma once

#include <asio/ssl.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "config/settings.h"
#include "tls/clock.h"
#include "util/result.h"

namespace mailport::tls {

class SessionCache;
class TicketKeys;

// Returns a one-line reason for a failed handshake or TLS read, with a hint
// where the cause is usually on one side (protocol or cipher mismatch, the
// client rejecting our certificate, plain text on a TLS port).
std::string DescribeError(const std::error_code& error);

class ServerContext {
 public:
  // `hostname` becomes the subject of a generated certificate.
  static Result<std::shared_ptr<ServerContext>> Create(
      const config::TlsServerSettings& settings,
      const std::filesystem::path& data_directory, const std::string& hostname);

  // Create() with the clock of ticket rotation and cache expiry replaced.
  static Result<std::shared_ptr<ServerContext>> CreateForTesting(
      const config::TlsServerSettings& settings,
      const std::filesystem::path& data_directory, const std::string& hostname,
      Clock clock);

  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  asio::ssl::context& native() { return context_; }

  // SHA-256 fingerprint of the leaf certificate, "AB:CD:..." as
  // `openssl x509 -fingerprint -sha256` prints it.
  const std::string& fingerprint() const { return fingerprint_; }
  const std::filesystem::path& cert_file() const { return cert_file_; }
  // True when the context uses the self-signed certificate in
  // data_directory, whether generated now or on an earlier start.
  bool self_signed_generated() const { return self_signed_generated_; }

  // Logs the outcome of a completed handshake on `ssl` at the configured
  // smtpd_tls_loglevel: 0 nothing; 1 one line with protocol, cipher and
  // peer; 2 and up also the resumption state and the client certificate.
  // `session` names the connection in the log, e.g. "client[127.0.0.1]:4000".
  void LogHandshake(SSL* ssl, const std::string& session) const;

  // The server-side session cache, or nullptr when none is configured.
  SessionCache* session_cache() const;
  // The ticket keys, or nullptr when session tickets are off.
  TicketKeys* ticket_keys() const;

 private:
  ServerContext();

  Status Configure(const config::TlsServerSettings& settings,
                   const std::filesystem::path& data_directory,
                   const std::string& hostname, Clock clock);

  struct Impl;
  asio::ssl::context context_;
  std::unique_ptr<Impl> impl_;
  std::string fingerprint_;
  std::filesystem::path cert_file_;
  bool self_signed_generated_ = false;
  int loglevel_ = 0;
};

}  // namespace mailport::tls
