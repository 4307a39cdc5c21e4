// egressd configuration: a main.cf-like file of `key = value` lines.
//
// Blank lines and lines starting with '#' are ignored; a line starting with
// whitespace continues the previous value, as in Postfix's main.cf.  Every
// key is listed in docs/egress.md.  Unknown keys, duplicate keys and invalid
// values are errors naming the file and line, because a gateway that starts
// with a policy other than the one written is worse than one that does not
// start.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "egress/prefix.h"
#include "util/result.h"

namespace mailport::egress {

enum class BlockedAction { kDrop, kReject };
enum class Hook { kForward, kPrerouting };

struct Config {
  std::vector<Prefix> instance_networks;
  // Interfaces that face the instances; empty means all forwarded traffic.
  std::vector<std::string> instance_interfaces;
  BlockedAction blocked_action = BlockedAction::kDrop;
  Hook hook = Hook::kForward;
  int hook_priority = -10;
  std::string table_name = "mailport_egress";
  std::filesystem::path database = "/var/lib/mailport/egress.db";
  // "unix:/path" or "ADDRESS:PORT" ("[v6]:PORT" for IPv6).
  std::string api_listen = "unix:/run/mailport/egressd.sock";
  std::filesystem::path api_token_file = "/etc/mailport/egress-tokens";
  std::chrono::seconds expiry_check_interval{30};
  bool conntrack_flush = true;
  std::string log_file;
  std::string log_level = "info";

  std::vector<Prefix> InstanceNetworks(Family family) const;
};

Result<Config> ParseConfig(std::string_view text,
                           const std::string& file_name = "<config>");
Result<Config> LoadConfig(const std::filesystem::path& path);

// Operator tokens, one "NAME TOKEN" pair per line; '#' starts a comment.
struct OperatorToken {
  std::string name;
  std::string token;
};
Result<std::vector<OperatorToken>> LoadTokens(
    const std::filesystem::path& path);

}  // namespace mailport::egress
