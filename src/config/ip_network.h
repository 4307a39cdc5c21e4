// IPv4 and IPv6 prefixes as mynetworks lists them ("127.0.0.0/8",
// "[::1]/128", "192.0.2.1").
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mailport::config {

class IpNetwork {
 public:
  // Parses "ADDR", "ADDR/LEN", "[V6ADDR]/LEN" or "V6ADDR/LEN".  Returns
  // nullopt when the address or length is invalid or host bits are set
  // beyond the prefix length.
  static std::optional<IpNetwork> Parse(std::string_view text);

  // True when `address` (textual IPv4 or IPv6; an IPv4-mapped IPv6 address
  // counts as IPv4) lies inside this prefix.
  bool Contains(std::string_view address) const;

  std::string ToString() const;

 private:
  bool v6_ = false;
  std::array<uint8_t, 16> bytes_{};
  int prefix_length_ = 0;
};

}  // namespace mailport::config
