// Typed, validated settings that the mail server runs on.
//
// config::Resolve() turns the parameters of main.cf and the services of
// master.cf into these structs.  Every value here is expanded ($name and
// ${name}), checked and converted; nothing downstream parses configuration
// text again.  One SmtpdService exists per master.cf line whose command is
// smtpd, with that line's `-o name=value` overrides already applied.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "config/ip_network.h"

namespace mailport::config {

enum class TlsSecurityLevel { kNone, kMay, kEncrypt };

// TLS protocol versions, ordered so that a range is [min, max].
enum class TlsVersion { kTls1_0, kTls1_1, kTls1_2, kTls1_3 };

// One entry of smtpd_relay_restrictions or smtpd_recipient_restrictions.
enum class Restriction {
  kPermitMynetworks,
  kPermitSaslAuthenticated,
  kRejectUnauthDestination,
  kPermitAuthDestination,
  kPermit,
  kReject,
  kDeferUnauthDestination,
};

struct TlsServerSettings {
  TlsSecurityLevel security_level = TlsSecurityLevel::kNone;
  bool wrapper_mode = false;  // smtpd_tls_wrappermode: TLS from the first byte
  bool auth_only = false;     // smtpd_tls_auth_only
  // Empty, or naming missing files, means "use the generated self-signed
  // certificate in data_directory" (see tls::ServerContext).
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
  std::vector<std::filesystem::path> chain_files;
  int loglevel = 0;  // smtpd_tls_loglevel, 0..4 as in Postfix
  // smtpd_tls_session_cache_database without its "btree:" or "lmdb:"
  // prefix; empty disables the server-side cache.
  std::filesystem::path session_cache_path;
  std::chrono::seconds session_cache_timeout{3600};
  bool session_tickets = true;  // false with tls_ssl_options = NO_TICKET
  // Allowed protocols from smtpd_tls_protocols for opportunistic TLS and
  // smtpd_tls_mandatory_protocols for encrypt level; the effective range is
  // the one for the service's security level.
  TlsVersion min_version = TlsVersion::kTls1_2;
  TlsVersion max_version = TlsVersion::kTls1_3;
  std::string ciphers;  // OpenSSL cipher list for TLS <= 1.2; empty = default
};

struct SmtpdService {
  std::string name;  // master.cf service column as written
  std::string file;  // where the service line is, for messages
  int line = 0;
  // Listen address: "127.0.0.1", "::1", "0.0.0.0", "::".  Resolve() lists
  // "0.0.0.0" and "::" as separate services for inet_interfaces = all, so
  // "::" is meant to be bound with IPV6_V6ONLY.
  std::string host;
  uint16_t port = 0;
  std::string syslog_name;  // "postfix/submission" with -o syslog_name=...
  // Submission services (587, 465, or named submission/submissions/smtps)
  // require AUTH before MAIL, as RFC 6409 section 4.3 expects.
  bool submission = false;
  // maxproc column: concurrent sessions, 0 = no limit; "-" gives
  // default_process_limit.
  int max_processes = 100;

  // This service's view of the global parameters, with its -o overrides
  // applied: the EHLO name, and the inputs of permit_mynetworks and
  // reject_unauth_destination.
  std::string myhostname;
  std::vector<IpNetwork> mynetworks;
  std::vector<std::string> mydestination;  // lower case, no trailing dot

  TlsServerSettings tls;
  bool sasl_auth_enable = false;
  // broken_sasl_auth_clients: EHLO also lists "AUTH=PLAIN LOGIN", the form
  // that Outlook Express 4 and Microsoft Exchange 5.0 look for.
  bool broken_sasl_auth_clients = false;
  // smtpd_client_auth_rate_limit AUTH commands per client address in each
  // anvil_rate_time_unit, counted over all sessions of the service.
  int client_auth_rate_limit = 0;  // 0 = no limit
  std::chrono::seconds rate_time_unit{60};
  // smtpd_reject_unlisted_recipient: 550 5.1.1 at RCPT for local
  // recipients that are not users; with "no" they bounce after DATA.
  bool reject_unlisted_recipient = true;
  std::filesystem::path sasl_password_file;  // passwd-file of users

  std::string banner;  // smtpd_banner, expanded, without the "220 "
  // Evaluated at RCPT TO in this order, as Postfix does with its default
  // smtpd_delay_reject = yes: client, helo, sender, relay, recipient.
  std::vector<Restriction> client_restrictions;
  std::vector<Restriction> helo_restrictions;
  std::vector<Restriction> sender_restrictions;
  std::vector<Restriction> relay_restrictions;
  std::vector<Restriction> recipient_restrictions;

  std::size_t message_size_limit = 10240000;  // bytes, 0 = unlimited
  std::size_t recipient_limit = 1000;         // smtpd_recipient_limit
  std::size_t line_length_limit = 2048;       // maximum length of a command line
  int soft_error_limit = 10;          // errors before each reply is delayed
  int hard_error_limit = 20;          // errors before the session is closed
  std::chrono::seconds timeout{300};  // smtpd_timeout, per read
  std::chrono::seconds session_timeout{3600};  // whole session
  std::chrono::milliseconds error_sleep_time{1000};
  // A failed AUTH gets its 535 reply after sasl_failure_delay.  After
  // sasl_failure_limit failures in one session the server closes it.
  std::chrono::milliseconds sasl_failure_delay{1000};
  int sasl_failure_limit = 3;
  // smtpd_peername_lookup: find the client's name by a PTR lookup that the
  // name's own addresses confirm; loopback clients are always "localhost".
  bool peername_lookup = true;
};

struct GlobalSettings {
  std::filesystem::path config_directory;
  std::string myhostname;
  std::string mydomain;
  std::string myorigin;
  std::vector<std::string> mydestination;  // lower case, no trailing dot
  std::vector<IpNetwork> mynetworks;
  std::filesystem::path data_directory;
  std::filesystem::path queue_directory;
  std::string home_mailbox = "Maildir/";
  // Base directory for users that have no home field in the passwd-file:
  // their mail goes to mailbox_base/USER/home_mailbox.
  std::filesystem::path mailbox_base;
  std::string mail_owner;    // user to switch to after binding; empty = stay
  std::string maillog_file;  // empty = standard error
  std::chrono::seconds queue_run_delay{300};
  std::chrono::seconds maximal_queue_lifetime{5 * 24 * 3600};
  std::chrono::seconds minimal_backoff_time{300};
  std::chrono::seconds maximal_backoff_time{4000};
  std::string bounce_sender = "MAILER-DAEMON";
};

struct Settings {
  GlobalSettings global;
  std::vector<SmtpdService> services;
};

}  // namespace mailport::config
