// The table of every main.cf parameter that mailport supports.
//
// The table is the single source of names, types, defaults and validation
// rules: Parameters::Get() falls back to the defaults here, Resolve()
// validates each value by its type, and docs/parameters.md lists the same
// entries (config_test checks that every name appears there).  Parameters
// not in the table draw an "unknown parameter" warning, as Postfix warns of
// unused parameters.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace mailport::config {

enum class ParameterType {
  kString,         // free text
  kDomain,         // one domain name
  kDomainOrFile,   // a domain name, or /file whose first line is one
  kDomainList,     // domain names separated by commas or white space
  kNetworkList,    // IpNetwork prefixes, as mynetworks lists them
  kInterfaces,     // inet_interfaces: all, loopback-only, localhost, addresses
  kInetProtocols,  // all, ipv4, ipv6 or "ipv4, ipv6"
  kDirectory,      // absolute path, not empty
  kFile,           // absolute path, or empty for "none"
  kFileList,       // absolute paths separated by commas or white space
  kBool,           // yes or no
  kInteger,        // decimal, within [min, max]
  kSize,           // plain number of bytes
  kTime,           // number with an optional unit s, m, h, d or w
  kEnum,           // one of `choices`
  kRestrictions,   // smtpd_*_restrictions list
  kSessionCache,   // btree:PATH, lmdb:PATH or empty
  kMailbox,        // home_mailbox: a Maildir path ending in '/'
  kSaslType,       // passwd-file only
  kTlsProtocols,   // Postfix protocol syntax: ">=TLSv1.2", "!SSLv3, !TLSv1"
  kCipherGrade,    // high or medium
  kCipherList,     // OpenSSL cipher names separated by commas, colons, spaces
  kTlsSslOptions,  // tls_ssl_options names
  kUser,           // empty, or a user known to the system
};

// Parameters of kService scope may differ per master.cf line through `-o`
// overrides; kGlobal ones apply to the whole server and are read from
// main.cf only.
enum class ParameterScope { kGlobal, kService };

struct ParameterInfo {
  std::string_view name;
  ParameterType type = ParameterType::kString;
  ParameterScope scope = ParameterScope::kService;
  // Raw default, expanded like a main.cf value.  myhostname and mydomain
  // have none here because Parameters::Get() computes theirs.
  std::string_view default_value = {};
  std::string_view meaning = {};
  bool extension = false;         // mailport's own, not a Postfix parameter
  bool empty_ok = false;          // kEnum, kTime, kInteger: "" is accepted
  std::string_view choices = {};  // kEnum: "none|may|encrypt"
  int64_t min = 0;                // kInteger, kTime (seconds)
  int64_t max = INT64_MAX;        // kInteger, kTime (seconds)
  char time_unit = 's';           // kTime: unit of a bare number
};

std::span<const ParameterInfo> AllParameters();

// Returns nullptr for names not in the table.
const ParameterInfo* FindParameter(std::string_view name);

// Returns the supported parameter closest to the unknown `name` when it is
// at most two edits away (a typo), or "" when none is that close.
std::string SuggestParameter(std::string_view name);

// Returns the host's name from gethostname(), with ".localdomain" appended
// when it has no dot, as Postfix does.  Returns "localhost.localdomain" when
// gethostname() fails or its result is not a valid host name.  No DNS
// lookup is made.
std::string DefaultHostname();

}  // namespace mailport::config
