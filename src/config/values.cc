#include "config/values.h"

#include <arpa/inet.h>
#include <pwd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>

#include "fmt/format.h"

namespace mailport::config {
namespace {

bool IsListSeparator(char c) {
  return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// "a, b or c" from "a|b|c".
std::string ChoiceList(std::string_view choices) {
  std::vector<std::string> names;
  size_t start = 0;
  while (start <= choices.size()) {
    size_t bar = choices.find('|', start);
    if (bar == std::string_view::npos) bar = choices.size();
    names.emplace_back(choices.substr(start, bar - start));
    start = bar + 1;
  }
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += (i + 1 == names.size()) ? " or " : ", ";
    out += names[i];
  }
  return out;
}

bool IsDomainName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  if (name.back() == '.') name.remove_suffix(1);
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    std::string_view label = name.substr(start, dot - start);
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9') || c == '-';
      if (!ok) return false;
    }
    start = dot + 1;
  }
  return true;
}

bool IsIpAddress(std::string_view text) {
  std::string address(text);
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  unsigned char buffer[16];
  return inet_pton(AF_INET, address.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, address.c_str(), buffer) == 1;
}

Error Expected(std::string message) {
  return PermanentError(std::move(message));
}

struct RestrictionName {
  std::string_view name;
  Restriction restriction;
};

constexpr std::array kRestrictionNames = {
    RestrictionName{"permit_mynetworks", Restriction::kPermitMynetworks},
    RestrictionName{"permit_sasl_authenticated",
                    Restriction::kPermitSaslAuthenticated},
    RestrictionName{"reject_unauth_destination",
                    Restriction::kRejectUnauthDestination},
    RestrictionName{"defer_unauth_destination",
                    Restriction::kDeferUnauthDestination},
    RestrictionName{"permit_auth_destination",
                    Restriction::kPermitAuthDestination},
    RestrictionName{"permit", Restriction::kPermit},
    RestrictionName{"reject", Restriction::kReject},
};

struct ProtocolName {
  std::string_view name;
  int index;  // 0 SSLv2, 1 SSLv3, 2 TLSv1, ... 5 TLSv1.3
};

constexpr std::array kProtocolNames = {
    ProtocolName{"sslv2", 0},   ProtocolName{"sslv3", 1},
    ProtocolName{"tlsv1", 2},   ProtocolName{"tlsv1.1", 3},
    ProtocolName{"tlsv1.2", 4}, ProtocolName{"tlsv1.3", 5},
};

constexpr std::string_view kProtocolChoices =
    "SSLv2, SSLv3, TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3";

int ProtocolIndex(std::string_view name) {
  std::string lower = Lower(name);
  for (const ProtocolName& entry : kProtocolNames) {
    if (entry.name == lower) return entry.index;
  }
  return -1;
}

}  // namespace

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> items;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && IsListSeparator(text[i])) ++i;
    size_t start = i;
    while (i < text.size() && !IsListSeparator(text[i])) ++i;
    if (i > start) items.emplace_back(text.substr(start, i - start));
  }
  return items;
}

Result<bool> ParseBool(std::string_view text) {
  std::string lower = Lower(text);
  if (lower == "yes") return true;
  if (lower == "no") return false;
  return Expected("expected yes or no");
}

Result<int64_t> ParseInteger(std::string_view text, int64_t min, int64_t max) {
  std::string range =
      max >= INT_MAX ? fmt::format("a whole number of at least {}", min)
                     : fmt::format("a whole number from {} to {}", min, max);
  int64_t value = 0;
  auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() ||
      end != text.data() + text.size()) {
    return Expected("expected " + range);
  }
  if (value < min || value > max) return Expected("expected " + range);
  return value;
}

Result<uint64_t> ParseSize(std::string_view text) {
  uint64_t value = 0;
  auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() ||
      end != text.data() + text.size()) {
    return Expected("expected a number of bytes such as 10240000");
  }
  return value;
}

Result<int64_t> ParseTime(std::string_view text, char default_unit, int64_t min,
                          int64_t max) {
  std::string syntax = fmt::format(
      "expected a time such as 300s, 5m, 1h, 2d or 1w (a bare number is in "
      "unit {})",
      default_unit);
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  if (digits == 0 || text.size() > digits + 1) return Expected(syntax);
  char unit = digits < text.size() ? text[digits] : default_unit;
  int64_t scale = 0;
  switch (unit) {
    case 's':
      scale = 1;
      break;
    case 'm':
      scale = 60;
      break;
    case 'h':
      scale = 3600;
      break;
    case 'd':
      scale = 24 * 3600;
      break;
    case 'w':
      scale = 7 * 24 * 3600;
      break;
    default:
      return Expected(syntax);
  }

  int64_t count = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + digits, count);
  if (error != std::errc() || count > INT64_MAX / scale) {
    return Expected(syntax);
  }
  int64_t seconds = count * scale;
  if (seconds < min) return Expected(fmt::format("expected at least {}s", min));
  if (seconds > max) {
    if (max % (24 * 3600) == 0) {
      return Expected(fmt::format("expected at most {}d", max / (24 * 3600)));
    }
    return Expected(fmt::format("expected at most {}s", max));
  }
  return seconds;
}

Result<std::vector<Restriction>> ParseRestrictions(std::string_view text) {
  std::vector<Restriction> out;
  for (const std::string& item : SplitList(text)) {
    std::string lower = Lower(item);
    bool found = false;
    for (const RestrictionName& entry : kRestrictionNames) {
      if (entry.name == lower) {
        out.push_back(entry.restriction);
        found = true;
        break;
      }
    }
    if (!found) {
      std::string accepted;
      for (const RestrictionName& entry : kRestrictionNames) {
        if (!accepted.empty()) accepted += ", ";
        accepted += entry.name;
      }
      return Expected(fmt::format(
          "unsupported restriction \"{}\"; accepted: {}", item, accepted));
    }
  }
  return out;
}

Result<std::vector<IpNetwork>> ParseNetworks(std::string_view text) {
  std::vector<IpNetwork> out;
  for (const std::string& item : SplitList(text)) {
    std::optional<IpNetwork> network = IpNetwork::Parse(item);
    if (!network) {
      return Expected(fmt::format(
          "\"{}\" is not an address or address/prefix-length without host "
          "bits, such as 127.0.0.0/8 or [::1]/128",
          item));
    }
    out.push_back(*network);
  }
  return out;
}

Result<TlsVersionRange> ParseTlsProtocols(std::string_view text) {
  // enabled[i] follows the indexes of kProtocolNames.
  std::array<bool, 6> enabled = {true, true, true, true, true, true};
  bool saw_inclusion = false;
  std::array<bool, 6> included = {};

  // Postfix separates protocol names by commas, colons or white space.
  std::string normalized(text);
  for (char& c : normalized) {
    if (c == ':') c = ' ';
  }
  for (const std::string& item : SplitList(normalized)) {
    std::string_view name = item;
    std::string_view op;
    for (std::string_view prefix : {">=", "<=", "!"}) {
      if (name.starts_with(prefix)) {
        op = prefix;
        name.remove_prefix(prefix.size());
        break;
      }
    }
    int index = ProtocolIndex(name);
    if (index < 0) {
      return Expected(fmt::format(
          "unknown protocol \"{}\": expected {}, optionally prefixed by !, >= "
          "or <=",
          name, kProtocolChoices));
    }
    if (op == "!") {
      enabled[index] = false;
    } else if (op == ">=") {
      for (int i = 0; i < index; ++i) enabled[i] = false;
    } else if (op == "<=") {
      for (int i = index + 1; i < 6; ++i) enabled[i] = false;
    } else {
      saw_inclusion = true;
      included[index] = true;
    }
  }
  if (saw_inclusion) {
    for (int i = 0; i < 6; ++i) enabled[i] = enabled[i] && included[i];
  }

  // mailport never enables SSLv2 or SSLv3, so only the TLS versions count.
  int low = -1;
  int high = -1;
  for (int i = 2; i < 6; ++i) {
    if (!enabled[i]) continue;
    if (low < 0) low = i;
    if (high >= 0 && high != i - 1) {
      return Expected(
          "the enabled TLS versions must form a contiguous range, such as "
          ">=TLSv1.2");
    }
    high = i;
  }
  if (low < 0) {
    return Expected(
        "no TLS version is left enabled; use for example >=TLSv1.2");
  }
  return TlsVersionRange{static_cast<TlsVersion>(low - 2),
                         static_cast<TlsVersion>(high - 2)};
}

Result<std::filesystem::path> ParseSessionCache(std::string_view text) {
  if (text.empty()) return std::filesystem::path();
  constexpr std::string_view kMessage =
      "expected btree:PATH or lmdb:PATH with an absolute PATH, or empty for "
      "no cache";
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) return Expected(std::string(kMessage));
  std::string type = Lower(text.substr(0, colon));
  std::string_view path = text.substr(colon + 1);
  if (type != "btree" && type != "lmdb") return Expected(std::string(kMessage));
  if (path.empty() || path.front() != '/') {
    return Expected(std::string(kMessage));
  }
  return std::filesystem::path(path);
}

Result<bool> ParseTlsSslOptions(std::string_view text) {
  bool no_ticket = false;
  for (const std::string& item : SplitList(text)) {
    std::string lower = Lower(item);
    if (lower == "no_ticket") {
      no_ticket = true;
    } else if (lower != "no_compression") {
      // OpenSSL 3 sets SSL_OP_NO_COMPRESSION by default, so NO_COMPRESSION
      // needs no action.
      return Expected(fmt::format(
          "unsupported option \"{}\": expected NO_TICKET or NO_COMPRESSION",
          item));
    }
  }
  return no_ticket;
}

Result<std::string> ReadDomainOrFile(std::string_view value) {
  if (value.empty() || value.front() != '/') return std::string(value);
  std::ifstream in{std::string(value)};
  if (!in) {
    return Expected(
        fmt::format("cannot read {}: {}", value, std::strerror(errno)));
  }
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> words = SplitList(line);
    if (!words.empty()) return words.front();
  }
  return Expected(fmt::format("{} contains no domain name", value));
}

Status CheckValue(const ParameterInfo& info, std::string_view value) {
  auto to_status = [](const auto& result) -> Status {
    if (result.ok()) return Status::Ok();
    return result.error();
  };

  switch (info.type) {
    case ParameterType::kString:
      return Status::Ok();

    case ParameterType::kDomain:
      if (IsDomainName(value)) return Status::Ok();
      return Expected("expected a domain name such as mail.example.com");

    case ParameterType::kDomainOrFile: {
      Result<std::string> domain = ReadDomainOrFile(value);
      if (!domain.ok()) return domain.error();
      if (IsDomainName(*domain)) return Status::Ok();
      if (*domain != value) {
        return Expected(
            fmt::format("\"{}\" in that file is not a domain name", *domain));
      }
      return Expected(
          "expected a domain name such as example.com, or the path of a "
          "file that contains one");
    }

    case ParameterType::kDomainList:
      for (const std::string& item : SplitList(value)) {
        if (!IsDomainName(item)) {
          return Expected(fmt::format(
              "\"{}\" is not a domain name; expected domain names separated "
              "by commas (lookup tables are not supported)",
              item));
        }
      }
      return Status::Ok();

    case ParameterType::kNetworkList:
      return to_status(ParseNetworks(value));

    case ParameterType::kInterfaces: {
      std::vector<std::string> items = SplitList(value);
      std::string lower = Lower(value);
      if (lower == "all" || lower == "loopback-only" || lower == "localhost") {
        return Status::Ok();
      }
      constexpr std::string_view kMessage =
          "expected all, loopback-only, localhost or a list of IP addresses";
      if (items.empty()) return Expected(std::string(kMessage));
      for (const std::string& item : SplitList(lower)) {
        if (item != "localhost" && item != "loopback-only" &&
            !IsIpAddress(item)) {
          return Expected(std::string(kMessage));
        }
      }
      return Status::Ok();
    }

    case ParameterType::kInetProtocols: {
      std::vector<std::string> items = SplitList(Lower(value));
      if (items.size() == 1 && items[0] == "all") return Status::Ok();
      constexpr std::string_view kMessage =
          "expected all, ipv4, ipv6 or \"ipv4, ipv6\"";
      if (items.empty()) return Expected(std::string(kMessage));
      for (const std::string& item : items) {
        if (item != "ipv4" && item != "ipv6") {
          return Expected(std::string(kMessage));
        }
      }
      return Status::Ok();
    }

    case ParameterType::kDirectory:
      if (!value.empty() && value.front() == '/') return Status::Ok();
      return Expected("expected an absolute path");

    case ParameterType::kFile:
      if (value.empty() || value.front() == '/') return Status::Ok();
      return Expected("expected an absolute path, or empty for none");

    case ParameterType::kFileList:
      for (const std::string& item : SplitList(value)) {
        if (item.front() != '/') {
          return Expected(fmt::format(
              "\"{}\" is not an absolute path; expected absolute paths "
              "separated by commas",
              item));
        }
      }
      return Status::Ok();

    case ParameterType::kBool:
      return to_status(ParseBool(value));

    case ParameterType::kInteger:
      if (value.empty() && info.empty_ok) return Status::Ok();
      return to_status(ParseInteger(value, info.min, info.max));

    case ParameterType::kSize:
      return to_status(ParseSize(value));

    case ParameterType::kTime:
      if (value.empty() && info.empty_ok) return Status::Ok();
      return to_status(ParseTime(value, info.time_unit, info.min, info.max));

    case ParameterType::kEnum: {
      if (value.empty() && info.empty_ok) return Status::Ok();
      std::string lower = Lower(value);
      size_t start = 0;
      while (start <= info.choices.size()) {
        size_t bar = info.choices.find('|', start);
        if (bar == std::string_view::npos) bar = info.choices.size();
        if (info.choices.substr(start, bar - start) == lower) {
          return Status::Ok();
        }
        start = bar + 1;
      }
      return Expected("expected " + ChoiceList(info.choices));
    }

    case ParameterType::kRestrictions:
      return to_status(ParseRestrictions(value));

    case ParameterType::kSessionCache:
      return to_status(ParseSessionCache(value));

    case ParameterType::kMailbox:
      if (!value.empty() && value.back() == '/' && value.front() != '/') {
        return Status::Ok();
      }
      return Expected(
          "expected a Maildir path relative to the home directory and ending "
          "in \"/\", such as Maildir/ (mbox files are not supported)");

    case ParameterType::kSaslType: {
      std::string lower = Lower(value);
      if (lower == "passwd-file") return Status::Ok();
      if (lower == "dovecot" || lower == "cyrus") {
        return Expected(fmt::format(
            "mailport does not talk to {} but has a built-in passwd-file "
            "backend; set \"smtpd_sasl_type = passwd-file\" and "
            "\"smtpd_sasl_path = /path/to/passwd\" (a file of user:hash "
            "lines, default $config_directory/passwd)",
            value));
      }
      return Expected("expected passwd-file");
    }

    case ParameterType::kTlsProtocols:
      return to_status(ParseTlsProtocols(value));

    case ParameterType::kCipherGrade: {
      std::string lower = Lower(value);
      if (lower == "high" || lower == "medium") return Status::Ok();
      return Expected(
          "expected high or medium (mailport offers no low, export or null "
          "ciphers)");
    }

    case ParameterType::kCipherList:
      for (char c : value) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '!' ||
                  c == '_' || c == '.' || c == '@' || c == '=' ||
                  IsListSeparator(c) || c == ':';
        if (!ok) return Expected("expected OpenSSL cipher names such as aNULL");
      }
      return Status::Ok();

    case ParameterType::kTlsSslOptions:
      return to_status(ParseTlsSslOptions(value));

    case ParameterType::kUser: {
      if (value.empty()) return Status::Ok();
      std::string name(value);
      struct passwd entry;
      struct passwd* found = nullptr;
      std::array<char, 4096> buffer;
      int rc = getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(),
                          &found);
      if (rc == 0 && found != nullptr) return Status::Ok();
      return Expected("expected a user name that exists on this system");
    }
  }
  return Status::Ok();
}

}  // namespace mailport::config
