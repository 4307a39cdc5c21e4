// Parsers for parameter values, shared by Resolve() and the tests.
//
// Each parser takes an already expanded value.  On failure the Error
// message is the part of the diagnostic after the colon, saying what is
// accepted ("expected yes or no"), so that the caller can prefix it with
// `invalid NAME value "VALUE": `.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "config/ip_network.h"
#include "config/parameters.h"
#include "config/settings.h"
#include "util/result.h"

namespace mailport::config {

// Splits on commas and white space, as Postfix list parameters do.
std::vector<std::string> SplitList(std::string_view text);

Result<bool> ParseBool(std::string_view text);
Result<int64_t> ParseInteger(std::string_view text, int64_t min, int64_t max);
Result<uint64_t> ParseSize(std::string_view text);
// Returns seconds.  A bare number is in `default_unit` (s, m, h, d or w).
Result<int64_t> ParseTime(std::string_view text, char default_unit, int64_t min,
                          int64_t max);
Result<std::vector<Restriction>> ParseRestrictions(std::string_view text);
Result<std::vector<IpNetwork>> ParseNetworks(std::string_view text);

struct TlsVersionRange {
  TlsVersion min = TlsVersion::kTls1_2;
  TlsVersion max = TlsVersion::kTls1_3;
};
// Accepts ">=TLSv1.2", "<=TLSv1.3", "!SSLv2, !SSLv3, !TLSv1", "TLSv1.2
// TLSv1.3" and empty (every version).  SSLv2 and SSLv3 may be named but
// are never enabled.  The remaining set must be a contiguous range because
// OpenSSL takes only a minimum and a maximum version.
Result<TlsVersionRange> ParseTlsProtocols(std::string_view text);

// Returns the path of "btree:PATH" or "lmdb:PATH"; empty for "".
Result<std::filesystem::path> ParseSessionCache(std::string_view text);

// Returns whether NO_TICKET is among the options.
Result<bool> ParseTlsSslOptions(std::string_view text);

// Returns the domain of a kDomainOrFile value: the value itself, or for
// "/path" the first non-empty line of that file, as Postfix reads
// myorigin = /etc/mailname.
Result<std::string> ReadDomainOrFile(std::string_view value);

// Checks `value` against the rules of `info.type`.
Status CheckValue(const ParameterInfo& info, std::string_view value);

}  // namespace mailport::config
