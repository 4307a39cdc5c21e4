#include "config/parameters.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <climits>
#include <string>
#include <vector>

namespace mailport::config {
namespace {

using T = ParameterType;
using S = ParameterScope;

constexpr int64_t kDay = 24 * 3600;

// Sorted by name at first use, so this list can follow the order of
// docs/parameters.md.
const std::array kParameters = {
    // Host and domain identity.
    ParameterInfo{.name = "config_directory",
                  .type = T::kDirectory,
                  .scope = S::kGlobal,
                  .default_value = "/etc/mailport",
                  .meaning = "directory of main.cf and master.cf; set by -c"},
    ParameterInfo{.name = "myhostname",
                  .type = T::kDomain,
                  .meaning = "fully qualified name of this host"},
    ParameterInfo{.name = "mydomain",
                  .type = T::kDomain,
                  .meaning = "domain of this host"},
    ParameterInfo{.name = "myorigin",
                  .type = T::kDomainOrFile,
                  .scope = S::kGlobal,
                  .default_value = "$myhostname",
                  .meaning = "domain appended to unqualified sender addresses"},
    ParameterInfo{
        .name = "mydestination",
        .type = T::kDomainList,
        .default_value = "$myhostname, localhost.$mydomain, localhost",
        .meaning = "domains delivered locally"},
    ParameterInfo{.name = "mynetworks",
                  .type = T::kNetworkList,
                  .default_value = "127.0.0.0/8 [::1]/128",
                  .meaning = "trusted client networks for permit_mynetworks"},
    ParameterInfo{.name = "inet_interfaces",
                  .type = T::kInterfaces,
                  .scope = S::kGlobal,
                  .default_value = "all",
                  .meaning = "addresses of services that name no host"},
    ParameterInfo{.name = "inet_protocols",
                  .type = T::kInetProtocols,
                  .scope = S::kGlobal,
                  .default_value = "all",
                  .meaning = "address families to listen on"},
    ParameterInfo{.name = "mail_name",
                  .type = T::kString,
                  .default_value = "mailport",
                  .meaning = "product name in $smtpd_banner"},
    ParameterInfo{.name = "syslog_name",
                  .type = T::kString,
                  .default_value = "mailport",
                  .meaning = "log tag of a service"},

    // Files and directories.
    ParameterInfo{.name = "data_directory",
                  .type = T::kDirectory,
                  .scope = S::kGlobal,
                  .default_value = "/var/lib/mailport",
                  .meaning = "writable state: certificates, caches"},
    ParameterInfo{.name = "queue_directory",
                  .type = T::kDirectory,
                  .scope = S::kGlobal,
                  .default_value = "/var/spool/mailport",
                  .meaning = "mail queue"},
    ParameterInfo{.name = "home_mailbox",
                  .type = T::kMailbox,
                  .scope = S::kGlobal,
                  .default_value = "Maildir/",
                  .meaning = "Maildir path relative to a user's home"},
    ParameterInfo{.name = "mailbox_base",
                  .type = T::kDirectory,
                  .scope = S::kGlobal,
                  .default_value = "${data_directory}/mailboxes",
                  .meaning = "home of users without a home in the passwd-file",
                  .extension = true},
    ParameterInfo{.name = "mail_owner",
                  .type = T::kUser,
                  .scope = S::kGlobal,
                  .meaning = "user to run as after binding; empty = no change"},
    ParameterInfo{.name = "maillog_file",
                  .type = T::kFile,
                  .scope = S::kGlobal,
                  .meaning = "log file; empty = standard error"},

    // Limits and timing of the SMTP server.
    ParameterInfo{.name = "message_size_limit",
                  .type = T::kSize,
                  .default_value = "10240000",
                  .meaning = "maximum message size in bytes; 0 = no limit"},
    ParameterInfo{.name = "smtpd_peername_lookup",
                  .type = T::kBool,
                  .default_value = "yes",
                  .meaning = "look up and confirm the client's host name"},
    ParameterInfo{.name = "smtpd_banner",
                  .type = T::kString,
                  .default_value = "$myhostname ESMTP $mail_name",
                  .meaning = "text of the 220 greeting"},
    ParameterInfo{.name = "smtpd_recipient_limit",
                  .type = T::kInteger,
                  .default_value = "1000",
                  .meaning = "maximum recipients per message",
                  .min = 1},
    ParameterInfo{.name = "smtpd_timeout",
                  .type = T::kTime,
                  .default_value = "300s",
                  .meaning = "time allowed for each client read or write",
                  .min = 1},
    ParameterInfo{.name = "smtpd_session_timeout",
                  .type = T::kTime,
                  .default_value = "3600s",
                  .meaning = "time allowed for a whole session",
                  .extension = true,
                  .min = 1},
    ParameterInfo{.name = "smtpd_hard_error_limit",
                  .type = T::kInteger,
                  .default_value = "20",
                  .meaning = "errors after which the session is closed",
                  .min = 1,
                  .max = INT_MAX},
    ParameterInfo{.name = "smtpd_soft_error_limit",
                  .type = T::kInteger,
                  .default_value = "10",
                  .meaning = "errors after which each reply is delayed",
                  .min = 0,
                  .max = INT_MAX},
    ParameterInfo{.name = "smtpd_error_sleep_time",
                  .type = T::kTime,
                  .default_value = "1s",
                  .meaning = "delay of replies beyond the soft error limit",
                  .max = 3600},
    ParameterInfo{.name = "line_length_limit",
                  .type = T::kInteger,
                  .default_value = "2048",
                  .meaning = "longest command or text line in bytes",
                  .min = 1000,
                  .max = INT_MAX},
    ParameterInfo{.name = "default_process_limit",
                  .type = T::kInteger,
                  .scope = S::kGlobal,
                  .default_value = "100",
                  .meaning = "sessions per service when maxproc is \"-\"",
                  .min = 0,
                  .max = INT_MAX},
    ParameterInfo{.name = "smtpd_submission",
                  .type = T::kEnum,
                  .default_value = "auto",
                  .meaning = "whether a service is a submission service",
                  .extension = true,
                  .choices = "auto|yes|no"},

    // Relay control.
    ParameterInfo{.name = "smtpd_relay_restrictions",
                  .type = T::kRestrictions,
                  .default_value =
                      "permit_mynetworks, permit_sasl_authenticated, "
                      "reject_unauth_destination",
                  .meaning = "relay checks at RCPT TO"},
    ParameterInfo{
        .name = "smtpd_recipient_restrictions",
        .type = T::kRestrictions,
        .meaning = "recipient checks at RCPT TO, after the relay ones"},
    ParameterInfo{.name = "smtpd_client_auth_rate_limit",
                  .type = T::kInteger,
                  .default_value = "0",
                  .meaning = "AUTH commands per client address and "
                             "anvil_rate_time_unit; 0 = no limit",
                  .min = 0,
                  .max = INT_MAX},
    ParameterInfo{.name = "anvil_rate_time_unit",
                  .type = T::kTime,
                  .default_value = "60s",
                  .meaning = "time window of the client rate limits",
                  .min = 1,
                  .max = 86400},
    ParameterInfo{.name = "smtpd_reject_unlisted_recipient",
                  .type = T::kBool,
                  .default_value = "yes",
                  .meaning = "reject unknown local recipients at RCPT TO"},
    ParameterInfo{.name = "broken_sasl_auth_clients",
                  .type = T::kBool,
                  .default_value = "no",
                  .meaning = "also advertise AUTH in the old AUTH= form"},
    ParameterInfo{.name = "smtpd_client_restrictions",
                  .type = T::kRestrictions,
                  .meaning = "client checks, applied at RCPT TO"},
    ParameterInfo{.name = "smtpd_helo_restrictions",
                  .type = T::kRestrictions,
                  .meaning = "HELO/EHLO checks, applied at RCPT TO"},
    ParameterInfo{.name = "smtpd_sender_restrictions",
                  .type = T::kRestrictions,
                  .meaning = "MAIL FROM checks, applied at RCPT TO"},

    // TLS.
    ParameterInfo{.name = "smtpd_tls_security_level",
                  .type = T::kEnum,
                  .default_value = "",
                  .meaning = "none, may (STARTTLS offered) or encrypt "
                             "(required); empty = from smtpd_use_tls and "
                             "smtpd_enforce_tls",
                  .empty_ok = true,
                  .choices = "none|may|encrypt"},
    ParameterInfo{.name = "smtpd_use_tls",
                  .type = T::kBool,
                  .default_value = "no",
                  .meaning = "legacy: yes = security level may"},
    ParameterInfo{.name = "smtpd_enforce_tls",
                  .type = T::kBool,
                  .default_value = "no",
                  .meaning = "legacy: yes = security level encrypt"},
    ParameterInfo{.name = "smtpd_tls_wrappermode",
                  .type = T::kBool,
                  .default_value = "no",
                  .meaning = "TLS from the first byte (port 465)"},
    ParameterInfo{.name = "smtpd_tls_auth_only",
                  .type = T::kBool,
                  .default_value = "no",
                  .meaning = "offer AUTH only after TLS"},
    ParameterInfo{.name = "smtpd_tls_cert_file",
                  .type = T::kFile,
                  .meaning = "PEM certificate; empty or missing = self-signed"},
    ParameterInfo{.name = "smtpd_tls_key_file",
                  .type = T::kFile,
                  .default_value = "$smtpd_tls_cert_file",
                  .meaning = "PEM private key"},
    ParameterInfo{.name = "smtpd_tls_chain_files",
                  .type = T::kFileList,
                  .meaning = "PEM files of key, certificate and chain"},
    ParameterInfo{.name = "smtpd_tls_loglevel",
                  .type = T::kInteger,
                  .default_value = "0",
                  .meaning = "TLS logging: 0 none, 1 summary, 2-4 more detail",
                  .min = 0,
                  .max = 4},
    ParameterInfo{.name = "smtpd_tls_session_cache_database",
                  .type = T::kSessionCache,
                  .meaning = "server session cache, btree:PATH or lmdb:PATH"},
    ParameterInfo{.name = "smtpd_tls_session_cache_timeout",
                  .type = T::kTime,
                  .default_value = "3600s",
                  .meaning = "lifetime of cached sessions and tickets",
                  .min = 0,
                  .max = 100 * kDay},
    ParameterInfo{.name = "smtpd_tls_protocols",
                  .type = T::kTlsProtocols,
                  .default_value = ">=TLSv1.2",
                  .meaning = "protocols at security level may"},
    ParameterInfo{.name = "smtpd_tls_mandatory_protocols",
                  .type = T::kTlsProtocols,
                  .default_value = ">=TLSv1.2",
                  .meaning = "protocols at level encrypt and in wrapper mode"},
    ParameterInfo{.name = "smtpd_tls_ciphers",
                  .type = T::kCipherGrade,
                  .default_value = "medium",
                  .meaning = "cipher grade at security level may"},
    ParameterInfo{.name = "smtpd_tls_mandatory_ciphers",
                  .type = T::kCipherGrade,
                  .default_value = "medium",
                  .meaning = "cipher grade at level encrypt and in wrapper "
                             "mode"},
    ParameterInfo{.name = "smtpd_tls_exclude_ciphers",
                  .type = T::kCipherList,
                  .meaning = "ciphers removed at every level"},
    ParameterInfo{.name = "smtpd_tls_mandatory_exclude_ciphers",
                  .type = T::kCipherList,
                  .meaning = "ciphers removed at level encrypt and in wrapper "
                             "mode"},
    ParameterInfo{.name = "tls_high_cipherlist",
                  .type = T::kString,
                  .default_value = "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES",
                  .meaning = "OpenSSL cipher list of grade high"},
    ParameterInfo{.name = "tls_medium_cipherlist",
                  .type = T::kString,
                  .default_value = "HIGH:MEDIUM:!aNULL:!eNULL:!MD5:!RC4:!3DES",
                  .meaning = "OpenSSL cipher list of grade medium"},
    ParameterInfo{.name = "tls_ssl_options",
                  .type = T::kTlsSslOptions,
                  .meaning = "NO_TICKET disables session tickets"},

    // SASL.
    ParameterInfo{.name = "smtpd_sasl_auth_enable",
                  .type = T::kBool,
                  .default_value = "no",
                  .meaning = "offer AUTH"},
    ParameterInfo{.name = "smtpd_sasl_type",
                  .type = T::kSaslType,
                  .default_value = "passwd-file",
                  .meaning = "SASL backend; only the built-in passwd-file"},
    ParameterInfo{.name = "smtpd_sasl_path",
                  .type = T::kFile,
                  .default_value = "${config_directory}/passwd",
                  .meaning = "passwd-file of SASL users"},
    ParameterInfo{.name = "smtpd_sasl_failure_delay",
                  .type = T::kTime,
                  .default_value = "1s",
                  .meaning = "delay of the reply to a failed AUTH",
                  .extension = true,
                  .max = 3600},
    ParameterInfo{.name = "smtpd_sasl_failure_limit",
                  .type = T::kInteger,
                  .default_value = "3",
                  .meaning = "failed AUTH attempts before the session is "
                             "closed",
                  .extension = true,
                  .min = 1,
                  .max = INT_MAX},

    // Queue.
    ParameterInfo{.name = "queue_run_delay",
                  .type = T::kTime,
                  .scope = S::kGlobal,
                  .default_value = "300s",
                  .meaning = "interval between scans of the deferred queue",
                  .min = 1},
    ParameterInfo{.name = "maximal_queue_lifetime",
                  .type = T::kTime,
                  .scope = S::kGlobal,
                  .default_value = "5d",
                  .meaning = "age at which undeliverable mail is bounced",
                  .min = 0,
                  .max = 100 * kDay,
                  .time_unit = 'd'},
    ParameterInfo{.name = "minimal_backoff_time",
                  .type = T::kTime,
                  .scope = S::kGlobal,
                  .default_value = "300s",
                  .meaning = "shortest retry interval of deferred mail",
                  .min = 1},
    ParameterInfo{.name = "maximal_backoff_time",
                  .type = T::kTime,
                  .scope = S::kGlobal,
                  .default_value = "4000s",
                  .meaning = "longest retry interval of deferred mail",
                  .min = 1},
};

}  // namespace

std::span<const ParameterInfo> AllParameters() { return kParameters; }

const ParameterInfo* FindParameter(std::string_view name) {
  static const auto* const sorted = [] {
    auto* list = new std::vector<const ParameterInfo*>;
    for (const ParameterInfo& info : kParameters) list->push_back(&info);
    std::sort(list->begin(), list->end(),
              [](const ParameterInfo* a, const ParameterInfo* b) {
                return a->name < b->name;
              });
    return list;
  }();
  auto it =
      std::lower_bound(sorted->begin(), sorted->end(), name,
                       [](const ParameterInfo* info, std::string_view key) {
                         return info->name < key;
                       });
  if (it == sorted->end() || (*it)->name != name) return nullptr;
  return *it;
}

namespace {

bool IsHostName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  if (name.front() == '.' || name.back() == '.' || name.front() == '-') {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok) return false;
  }
  return name.find("..") == std::string_view::npos;
}

}  // namespace

std::string DefaultHostname() {
  static const std::string hostname = [] {
    char buffer[256] = {};
    if (gethostname(buffer, sizeof(buffer) - 1) != 0) {
      return std::string("localhost.localdomain");
    }
    std::string name(buffer);
    if (!IsHostName(name)) return std::string("localhost.localdomain");
    if (name.find('.') == std::string::npos) name += ".localdomain";
    return name;
  }();
  return hostname;
}

std::string SuggestParameter(std::string_view name) {
  // Levenshtein distance with one row, enough for names of ~40 letters.
  auto distance = [](std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= b.size(); ++j) {
        std::size_t above = row[j];
        std::size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitution});
        diagonal = above;
      }
    }
    return row[b.size()];
  };

  constexpr std::size_t kMaxEdits = 2;
  std::string best;
  std::size_t best_distance = kMaxEdits + 1;
  for (const ParameterInfo& info : AllParameters()) {
    std::size_t edits = distance(name, info.name);
    if (edits < best_distance) {
      best_distance = edits;
      best = std::string(info.name);
    }
  }
  return best;
}

}  // namespace mailport::config
