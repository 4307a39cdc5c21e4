#include "config/ip_network.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace mailport::config {
namespace {

// Parses a textual address into 16 bytes; IPv4 fills the first four.
// Returns false when `text` is neither form.
bool ParseAddress(std::string_view text, bool& v6,
                  std::array<uint8_t, 16>& bytes) {
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  std::string address(text);
  bytes.fill(0);
  if (inet_pton(AF_INET, address.c_str(), bytes.data()) == 1) {
    v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, address.c_str(), bytes.data()) == 1) {
    v6 = true;
    return true;
  }
  return false;
}

bool IsV4Mapped(const std::array<uint8_t, 16>& bytes) {
  for (int i = 0; i < 10; ++i) {
    if (bytes[i] != 0) return false;
  }
  return bytes[10] == 0xff && bytes[11] == 0xff;
}

bool PrefixMatches(const std::array<uint8_t, 16>& a,
                   const std::array<uint8_t, 16>& b, int length) {
  int full = length / 8;
  if (std::memcmp(a.data(), b.data(), full) != 0) return false;
  int rest = length % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

}  // namespace

std::optional<IpNetwork> IpNetwork::Parse(std::string_view text) {
  std::string_view address = text;
  std::string_view length_text;
  size_t slash = text.rfind('/');
  if (slash != std::string_view::npos) {
    address = text.substr(0, slash);
    length_text = text.substr(slash + 1);
    if (length_text.empty()) return std::nullopt;
  }

  IpNetwork network;
  if (!ParseAddress(address, network.v6_, network.bytes_)) return std::nullopt;
  int max_length = network.v6_ ? 128 : 32;
  network.prefix_length_ = max_length;
  if (!length_text.empty()) {
    int length = -1;
    auto [end, error] = std::from_chars(
        length_text.data(), length_text.data() + length_text.size(), length);
    if (error != std::errc() ||
        end != length_text.data() + length_text.size() || length < 0 ||
        length > max_length) {
      return std::nullopt;
    }
    network.prefix_length_ = length;
  }

  // Host bits beyond the prefix usually mean a typo ("10.0.0.1/8"), which
  // Postfix also rejects.
  std::array<uint8_t, 16> masked = network.bytes_;
  for (int bit = network.prefix_length_; bit < max_length; ++bit) {
    masked[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
  }
  if (masked != network.bytes_) return std::nullopt;
  return network;
}

bool IpNetwork::Contains(std::string_view address) const {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};
  if (!ParseAddress(address, v6, bytes)) return false;
  if (v6 && IsV4Mapped(bytes) && !v6_) {
    std::array<uint8_t, 16> v4{};
    std::memcpy(v4.data(), bytes.data() + 12, 4);
    bytes = v4;
    v6 = false;
  }
  if (v6 != v6_) return false;
  return PrefixMatches(bytes, bytes_, prefix_length_);
}

std::string IpNetwork::ToString() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6_ ? AF_INET6 : AF_INET, bytes_.data(), buffer, sizeof(buffer));
  std::string length = std::to_string(prefix_length_);
  if (v6_) return "[" + std::string(buffer) + "]/" + length;
  return std::string(buffer) + "/" + length;
}

}  // namespace mailport::config
