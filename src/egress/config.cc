#include "egress/config.h"

#include <fmt/format.h>

#include <charconv>
#include <map>

#include "util/fs.h"

namespace mailport::egress {
namespace {

std::string_view Trim(std::string_view text) {
  auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  auto end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

Result<long> ParseInteger(std::string_view text) {
  long value = 0;
  auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return PermanentError(fmt::format("\"{}\" is not an integer", text));
  }
  return value;
}

Result<bool> ParseBoolean(std::string_view text) {
  if (text == "yes" || text == "true" || text == "on") return true;
  if (text == "no" || text == "false" || text == "off") return false;
  return PermanentError(fmt::format("\"{}\" is not yes or no", text));
}

// Applies one key to `config`; returns an error message without location.
Status ApplyKey(Config& config, std::string_view key, std::string_view value) {
  if (key == "instance_networks") {
    auto prefixes = ParsePrefixList(value);
    if (!prefixes) return prefixes.error();
    if (prefixes->empty()) return PermanentError("no prefix given");
    config.instance_networks = std::move(*prefixes);
  } else if (key == "instance_interfaces") {
    config.instance_interfaces.clear();
    std::size_t position = 0;
    while (position < value.size()) {
      std::size_t end = value.find_first_of(", \t", position);
      if (end == std::string_view::npos) end = value.size();
      std::string_view name = value.substr(position, end - position);
      position = end + 1;
      if (name.empty()) continue;
      if (name.size() > 15 ||
          name.find_first_of("\"\\{}; ") != std::string_view::npos) {
        return PermanentError(
            fmt::format("invalid interface name \"{}\"", name));
      }
      config.instance_interfaces.emplace_back(name);
    }
  } else if (key == "blocked_action") {
    if (value == "drop") {
      config.blocked_action = BlockedAction::kDrop;
    } else if (value == "reject") {
      config.blocked_action = BlockedAction::kReject;
    } else {
      return PermanentError(fmt::format("\"{}\" is not drop or reject", value));
    }
  } else if (key == "nft_hook") {
    if (value == "forward") {
      config.hook = Hook::kForward;
    } else if (value == "prerouting") {
      config.hook = Hook::kPrerouting;
    } else {
      return PermanentError(
          fmt::format("\"{}\" is not forward or prerouting", value));
    }
  } else if (key == "nft_priority") {
    auto number = ParseInteger(value);
    if (!number) return number.error();
    // conntrack runs at -200; the gate must see packets after it.
    if (*number <= -200 || *number > 1000) {
      return PermanentError("must be greater than -200 and at most 1000");
    }
    config.hook_priority = static_cast<int>(*number);
  } else if (key == "nft_table") {
    if (value.empty() || value.size() > 64 ||
        value.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
            std::string_view::npos) {
      return PermanentError("must be letters, digits and '_' only");
    }
    config.table_name = value;
  } else if (key == "database") {
    config.database = std::string(value);
  } else if (key == "api_listen") {
    if (value.empty()) return PermanentError("empty value");
    config.api_listen = value;
  } else if (key == "api_token_file") {
    config.api_token_file = std::string(value);
  } else if (key == "expiry_check_interval") {
    auto number = ParseInteger(value);
    if (!number) return number.error();
    if (*number < 1 || *number > 3600) {
      return PermanentError("must be 1 to 3600 seconds");
    }
    config.expiry_check_interval = std::chrono::seconds(*number);
  } else if (key == "conntrack_flush") {
    auto flag = ParseBoolean(value);
    if (!flag) return flag.error();
    config.conntrack_flush = *flag;
  } else if (key == "log_file") {
    config.log_file = value;
  } else if (key == "log_level") {
    if (value != "trace" && value != "debug" && value != "info" &&
        value != "warn" && value != "error") {
      return PermanentError("must be trace, debug, info, warn or error");
    }
    config.log_level = value;
  } else {
    return PermanentError("unknown parameter");
  }
  return Status::Ok();
}

}  // namespace

std::vector<Prefix> Config::InstanceNetworks(Family family) const {
  std::vector<Prefix> result;
  for (const Prefix& prefix : instance_networks) {
    if (prefix.family == family) result.push_back(prefix);
  }
  return result;
}

Result<Config> ParseConfig(std::string_view text,
                           const std::string& file_name) {
  // Join continuation lines first so that each entry is one key and value.
  struct Entry {
    int line;
    std::string text;
  };
  std::vector<Entry> entries;
  int line_number = 0;
  std::size_t position = 0;
  while (position <= text.size()) {
    std::size_t end = text.find('\n', position);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(position, end - position);
    position = end + 1;
    ++line_number;
    if (Trim(line).empty() || Trim(line).front() == '#') continue;
    if (line.front() == ' ' || line.front() == '\t') {
      if (entries.empty()) {
        return PermanentError(fmt::format(
            "{}:{}: continuation line without a parameter before it", file_name,
            line_number));
      }
      entries.back().text += ' ';
      entries.back().text += Trim(line);
      continue;
    }
    entries.push_back({line_number, std::string(Trim(line))});
  }

  Config config;
  std::map<std::string, int, std::less<>> seen;
  for (const Entry& entry : entries) {
    auto equals = entry.text.find('=');
    if (equals == std::string::npos) {
      return PermanentError(fmt::format("{}:{}: expected \"key = value\"",
                                        file_name, entry.line));
    }
    std::string key(Trim(std::string_view(entry.text).substr(0, equals)));
    std::string_view value =
        Trim(std::string_view(entry.text).substr(equals + 1));
    if (auto previous = seen.find(key); previous != seen.end()) {
      return PermanentError(
          fmt::format("{}:{}: parameter {} is already set on line {}",
                      file_name, entry.line, key, previous->second));
    }
    seen.emplace(key, entry.line);
    if (Status status = ApplyKey(config, key, value); !status) {
      return PermanentError(fmt::format("{}:{}: {}: {}", file_name, entry.line,
                                        key, status.error().message));
    }
  }
  if (config.instance_networks.empty()) {
    return PermanentError(fmt::format(
        "{}: instance_networks is missing: name the instance address ranges",
        file_name));
  }
  return config;
}

Result<Config> LoadConfig(const std::filesystem::path& path) {
  auto text = fs::ReadFile(path);
  if (!text) return text.error();
  return ParseConfig(*text, path.string());
}

Result<std::vector<OperatorToken>> LoadTokens(
    const std::filesystem::path& path) {
  auto text = fs::ReadFile(path);
  if (!text) return text.error();
  std::vector<OperatorToken> tokens;
  std::string_view rest = *text;
  int line_number = 0;
  while (!rest.empty()) {
    std::size_t end = rest.find('\n');
    std::string_view line = Trim(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view()
                                         : rest.substr(end + 1);
    ++line_number;
    if (line.empty() || line.front() == '#') continue;
    auto space = line.find_first_of(" \t");
    if (space == std::string_view::npos) {
      return PermanentError(fmt::format("{}:{}: expected \"NAME TOKEN\"",
                                        path.string(), line_number));
    }
    std::string token(Trim(line.substr(space)));
    if (token.size() < 16) {
      return PermanentError(
          fmt::format("{}:{}: token is shorter than 16 characters",
                      path.string(), line_number));
    }
    tokens.push_back({std::string(line.substr(0, space)), token});
  }
  return tokens;
}

}  // namespace mailport::egress
