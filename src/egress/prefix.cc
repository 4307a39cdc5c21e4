#include "egress/prefix.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <charconv>
#include <cstring>

namespace mailport::egress {
namespace {

bool BitsEqual(const Prefix& a, const Prefix& b, int length) {
  int full_bytes = length / 8;
  if (std::memcmp(a.bytes.data(), b.bytes.data(), full_bytes) != 0) {
    return false;
  }
  int rest = length % 8;
  if (rest == 0) return true;
  std::uint8_t mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a.bytes[full_bytes] & mask) == (b.bytes[full_bytes] & mask);
}

bool HasHostBits(const Prefix& prefix) {
  for (int bit = prefix.length; bit < prefix.MaxLength(); ++bit) {
    if (prefix.bytes[bit / 8] & (0x80 >> (bit % 8))) return true;
  }
  return false;
}

void ClearHostBits(Prefix& prefix) {
  for (int bit = prefix.length; bit < prefix.MaxLength(); ++bit) {
    prefix.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80 >> (bit % 8)));
  }
}

}  // namespace

bool Prefix::Contains(const Prefix& other) const {
  if (family != other.family || other.length < length) return false;
  return BitsEqual(*this, other, length);
}

bool Prefix::Overlaps(const Prefix& other) const {
  return Contains(other) || other.Contains(*this);
}

std::string Prefix::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == Family::kIpv4 ? AF_INET : AF_INET6, bytes.data(), text,
            sizeof text);
  if (IsHost()) return text;
  return fmt::format("{}/{}", text, length);
}

Result<Prefix> ParsePrefix(std::string_view text, bool allow_host_bits) {
  std::string_view address = text;
  std::string_view length_text;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    address = text.substr(0, slash);
    length_text = text.substr(slash + 1);
    if (length_text.empty()) {
      return PermanentError(
          fmt::format("invalid prefix \"{}\": missing length after '/'", text));
    }
  }

  Prefix prefix;
  std::string address_string(address);
  if (inet_pton(AF_INET, address_string.c_str(), prefix.bytes.data()) == 1) {
    prefix.family = Family::kIpv4;
  } else if (inet_pton(AF_INET6, address_string.c_str(), prefix.bytes.data()) ==
             1) {
    prefix.family = Family::kIpv6;
  } else {
    return PermanentError(fmt::format(
        "invalid address \"{}\": expected an IPv4 or IPv6 address", address));
  }

  prefix.length = prefix.MaxLength();
  if (!length_text.empty()) {
    int length = -1;
    auto [end, error] = std::from_chars(
        length_text.data(), length_text.data() + length_text.size(), length);
    if (error != std::errc() ||
        end != length_text.data() + length_text.size() || length < 0 ||
        length > prefix.MaxLength()) {
      return PermanentError(
          fmt::format("invalid prefix \"{}\": length must be 0 to {}", text,
                      prefix.MaxLength()));
    }
    prefix.length = length;
  }

  if (HasHostBits(prefix)) {
    if (!allow_host_bits) {
      Prefix network = prefix;
      ClearHostBits(network);
      return PermanentError(
          fmt::format("invalid prefix \"{}\": host bits are set (did you mean "
                      "{}?)",
                      text, network.ToString()));
    }
    ClearHostBits(prefix);
  }
  return prefix;
}

Result<std::vector<Prefix>> ParsePrefixList(std::string_view text) {
  std::vector<Prefix> prefixes;
  std::size_t position = 0;
  while (position < text.size()) {
    std::size_t end = text.find_first_of(", \t\n", position);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(position, end - position);
    position = end + 1;
    if (item.empty()) continue;
    auto prefix = ParsePrefix(item);
    if (!prefix) return prefix.error();
    prefixes.push_back(*prefix);
  }
  return prefixes;
}

bool CoveredBy(const Prefix& prefix, const std::vector<Prefix>& ranges) {
  for (const Prefix& range : ranges) {
    if (range.Contains(prefix)) return true;
  }
  return false;
}

}  // namespace mailport::egress
