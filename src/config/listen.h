// Mapping of master.cf service names and inet_interfaces to listen
// addresses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace mailport::config {

struct ServiceEndpoint {
  std::string host;          // empty when the name has no host part
  std::string service_part;  // "submission" of "127.0.0.1:submission"
  uint16_t port = 0;
};

// Returns the port of a service name or number: /etc/services first, then
// a built-in table of smtp (25), submission (587), submissions and smtps
// (465) for hosts whose /etc/services lacks them.
Result<uint16_t> ResolvePort(std::string_view service);

// Splits "name", "port", "host:name", "host:port" and "[v6addr]:port".
Result<ServiceEndpoint> ParseServiceName(std::string_view name);

struct InetProtocols {
  bool ipv4 = true;
  bool ipv6 = true;
};

// Parses a value that CheckValue() accepted for inet_protocols.
InetProtocols ParseInetProtocols(std::string_view text);

// Returns the listen addresses for a service without a host part.
// inet_interfaces `all` gives "0.0.0.0" and "::", and `loopback-only` and
// `localhost` give "127.0.0.1" and "::1", each filtered by `protocols`.  A
// list of addresses is returned as written, without brackets.
std::vector<std::string> ListenAddresses(std::string_view inet_interfaces,
                                         InetProtocols protocols);

// Returns the addresses for the host part of a service name: an IP
// literal (brackets removed) or "localhost".  Fails for other host names,
// because resolving them at start-up would make binding depend on DNS.
Result<std::vector<std::string>> HostAddresses(std::string_view host,
                                               InetProtocols protocols);

bool IsIpv6Literal(std::string_view address);

}  // namespace mailport::config
