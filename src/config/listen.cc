#include "config/listen.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <array>
#include <charconv>

#include "config/values.h"
#include "fmt/format.h"

namespace mailport::config {
namespace {

struct KnownService {
  std::string_view name;
  uint16_t port;
};

constexpr std::array kKnownServices = {
    KnownService{"smtp", 25},
    KnownService{"submission", 587},
    KnownService{"submissions", 465},
    KnownService{"smtps", 465},
};

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view StripBrackets(std::string_view address) {
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
    return address.substr(1, address.size() - 2);
  }
  return address;
}

bool IsIpv4Literal(std::string_view address) {
  std::string text(address);
  unsigned char buffer[4];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1;
}

}  // namespace

bool IsIpv6Literal(std::string_view address) {
  std::string text(StripBrackets(address));
  unsigned char buffer[16];
  return inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

Result<uint16_t> ResolvePort(std::string_view service) {
  if (service.empty()) return PermanentError("empty service name");
  if (service.front() >= '0' && service.front() <= '9') {
    unsigned port = 0;
    auto [end, error] =
        std::from_chars(service.data(), service.data() + service.size(), port);
    if (error != std::errc() || end != service.data() + service.size() ||
        port == 0 || port > 65535) {
      return PermanentError(
          fmt::format("port \"{}\" is not a number from 1 to 65535", service));
    }
    return static_cast<uint16_t>(port);
  }

  std::string name(service);
  struct servent entry;
  struct servent* found = nullptr;
  std::array<char, 4096> buffer;
  if (getservbyname_r(name.c_str(), "tcp", &entry, buffer.data(), buffer.size(),
                      &found) == 0 &&
      found != nullptr) {
    return static_cast<uint16_t>(ntohs(static_cast<uint16_t>(found->s_port)));
  }
  std::string lower = Lower(service);
  for (const KnownService& known : kKnownServices) {
    if (known.name == lower) return known.port;
  }
  return PermanentError(fmt::format(
      "service \"{}\" is not in /etc/services; use a port number", service));
}

Result<ServiceEndpoint> ParseServiceName(std::string_view name) {
  ServiceEndpoint endpoint;
  std::string_view service = name;
  if (!name.empty() && name.front() == '[') {
    size_t close = name.find(']');
    if (close == std::string_view::npos || close + 1 >= name.size() ||
        name[close + 1] != ':') {
      return PermanentError("expected [IPv6-address]:port");
    }
    endpoint.host = std::string(name.substr(1, close - 1));
    service = name.substr(close + 2);
  } else if (size_t colon = name.rfind(':'); colon != std::string_view::npos) {
    endpoint.host = std::string(name.substr(0, colon));
    service = name.substr(colon + 1);
    if (endpoint.host.empty()) {
      return PermanentError("expected host:port with a host before \":\"");
    }
    if (endpoint.host.find(':') != std::string::npos) {
      return PermanentError("write an IPv6 address in brackets: [addr]:port");
    }
  }

  Result<uint16_t> port = ResolvePort(service);
  if (!port.ok()) return port.error();
  endpoint.service_part = std::string(service);
  endpoint.port = *port;
  return endpoint;
}

InetProtocols ParseInetProtocols(std::string_view text) {
  std::vector<std::string> items = SplitList(Lower(text));
  if (items.size() == 1 && items[0] == "all") return {true, true};
  InetProtocols protocols{false, false};
  for (const std::string& item : items) {
    if (item == "ipv4") protocols.ipv4 = true;
    if (item == "ipv6") protocols.ipv6 = true;
  }
  if (!protocols.ipv4 && !protocols.ipv6) return {true, true};
  return protocols;
}

std::vector<std::string> ListenAddresses(std::string_view inet_interfaces,
                                         InetProtocols protocols) {
  std::vector<std::string> addresses;
  std::string lower = Lower(inet_interfaces);
  std::vector<std::string> items = SplitList(lower);
  if (items.empty() || (items.size() == 1 && items[0] == "all")) {
    if (protocols.ipv4) addresses.emplace_back("0.0.0.0");
    if (protocols.ipv6) addresses.emplace_back("::");
    return addresses;
  }
  for (const std::string& item : items) {
    if (item == "loopback-only" || item == "localhost") {
      if (protocols.ipv4) addresses.emplace_back("127.0.0.1");
      if (protocols.ipv6) addresses.emplace_back("::1");
      continue;
    }
    addresses.emplace_back(StripBrackets(item));
  }
  return addresses;
}

Result<std::vector<std::string>> HostAddresses(std::string_view host,
                                               InetProtocols protocols) {
  if (Lower(host) == "localhost") {
    return ListenAddresses("localhost", protocols);
  }
  if (IsIpv4Literal(host)) {
    if (!protocols.ipv4) {
      return PermanentError("IPv4 address, but inet_protocols excludes ipv4");
    }
    return std::vector<std::string>{std::string(host)};
  }
  if (IsIpv6Literal(host)) {
    if (!protocols.ipv6) {
      return PermanentError("IPv6 address, but inet_protocols excludes ipv6");
    }
    return std::vector<std::string>{std::string(StripBrackets(host))};
  }
  return PermanentError(
      fmt::format("host \"{}\" is not an IP address or localhost", host));
}

}  // namespace mailport::config
