// IPv4 and IPv6 addresses and prefixes (CIDR notation, RFC 4632 and
// RFC 4291 section 2.3) as the egress gate stores and compares them.
//
// A Prefix is always canonical: the host bits past the length are zero.
// ParsePrefix rejects "203.0.113.7/24" unless the caller allows host bits,
// because an operator who types them usually meant a different range.  A
// bare address is a full-length prefix (/32 or /128).  IPv4-mapped IPv6
// addresses are kept as IPv6.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace mailport::egress {

enum class Family { kIpv4, kIpv6 };

struct Prefix {
  Family family = Family::kIpv4;
  // Network byte order; an IPv4 prefix uses the first 4 bytes only.
  std::array<std::uint8_t, 16> bytes{};
  int length = 0;

  int MaxLength() const { return family == Family::kIpv4 ? 32 : 128; }
  bool IsHost() const { return length == MaxLength(); }

  // Returns true when every address of `other` is inside this prefix.
  bool Contains(const Prefix& other) const;
  bool Overlaps(const Prefix& other) const;

  // Returns the address alone for a host prefix, else "network/length".
  std::string ToString() const;

  bool operator==(const Prefix& other) const = default;
};

// Parses "ADDRESS" or "ADDRESS/LENGTH".  With `allow_host_bits`, host bits
// are cleared instead of rejected.
Result<Prefix> ParsePrefix(std::string_view text, bool allow_host_bits = false);

// Parses a list separated by commas and/or whitespace.
Result<std::vector<Prefix>> ParsePrefixList(std::string_view text);

// Returns true when `prefix` lies entirely inside one of `ranges`.
bool CoveredBy(const Prefix& prefix, const std::vector<Prefix>& ranges);

}  // namespace mailport::egress
