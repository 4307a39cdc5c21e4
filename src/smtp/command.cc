#include "smtp/command.h"

#include <cctype>
#include <cstdint>

namespace mailport::smtp {
namespace {

constexpr std::size_t kMaxLocalPart = 64;
constexpr std::size_t kMaxDomain = 255;
constexpr std::size_t kMaxPath = 256;

bool IsAtext(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  static constexpr std::string_view kSpecials = "!#$%&'*+-/=?^_`{|}~";
  return kSpecials.find(c) != std::string_view::npos;
}

bool IsValidDotString(std::string_view text) {
  if (text.empty() || text.front() == '.' || text.back() == '.') return false;
  char previous = 0;
  for (char c : text) {
    if (c == '.' && previous == '.') return false;
    if (c != '.' && !IsAtext(c)) return false;
    previous = c;
  }
  return true;
}

bool IsValidQuotedString(std::string_view text) {
  if (text.size() < 2 || text.front() != '"' || text.back() != '"') {
    return false;
  }
  for (std::size_t i = 1; i + 1 < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\\') {
      // quoted-pairSMTP: backslash followed by any printable ASCII.
      if (i + 2 >= text.size()) return false;
      auto next = static_cast<unsigned char>(text[++i]);
      if (next < 32 || next > 126) return false;
    } else if (c == '"' || c < 32 || c > 126) {
      return false;
    }
  }
  return true;
}

bool IsValidDomain(std::string_view domain) {
  if (domain.empty() || domain.size() > kMaxDomain) return false;
  if (domain.front() == '[') {
    // Address literal; its content is checked loosely: the server never
    // connects to it, it only compares it.
    if (domain.back() != ']' || domain.size() < 3) return false;
    for (char c : domain.substr(1, domain.size() - 2)) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' &&
          c != ':') {
        return false;
      }
    }
    return true;
  }
  std::size_t label_start = 0;
  for (std::size_t i = 0; i <= domain.size(); ++i) {
    if (i == domain.size() || domain[i] == '.') {
      std::string_view label = domain.substr(label_start, i - label_start);
      if (label.empty() || label.size() > 63) return false;
      if (label.front() == '-' || label.back() == '-') return false;
      label_start = i + 1;
      continue;
    }
    char c = domain[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return false;
    }
  }
  return true;
}

// Finds the '@' that separates local part and domain, skipping a quoted
// local part.
std::size_t FindDomainSeparator(std::string_view mailbox) {
  bool quoted = false;
  for (std::size_t i = 0; i < mailbox.size(); ++i) {
    char c = mailbox[i];
    if (quoted && c == '\\') {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == '@' && !quoted) {
      return i;
    }
  }
  return std::string_view::npos;
}

// Returns `mailbox` with a quoted local part unquoted when the unquoted
// text is a valid dot-string.
std::string CanonicalMailbox(std::string_view mailbox) {
  std::size_t at = FindDomainSeparator(mailbox);
  if (at == std::string_view::npos || at < 2 || mailbox.front() != '"') {
    return std::string(mailbox);
  }
  std::string_view inner = mailbox.substr(1, at - 2);
  if (!IsValidDotString(inner)) return std::string(mailbox);
  return std::string(inner) + std::string(mailbox.substr(at));
}

bool IsValidParameterValue(std::string_view value) {
  if (value.empty()) return false;
  for (char c : value) {
    auto octet = static_cast<unsigned char>(c);
    if (octet < 33 || octet > 126 || octet == '=') return false;
  }
  return true;
}

// Keeps a client's keyword short enough for a reply line.
std::string ShortKey(std::string_view key) {
  constexpr std::size_t kMaxShown = 40;
  if (key.size() <= kMaxShown) return std::string(key);
  return std::string(key.substr(0, kMaxShown)) + "...";
}

std::string ValidateMailbox(std::string_view mailbox, bool allow_bare) {
  if (mailbox.size() > kMaxPath - 2) return "address is too long";
  std::size_t at = FindDomainSeparator(mailbox);
  if (at == std::string_view::npos) {
    if (allow_bare && ToLower(mailbox) == "postmaster") return "";
    return "address has no domain";
  }
  std::string_view local = mailbox.substr(0, at);
  std::string_view domain = mailbox.substr(at + 1);
  if (local.size() > kMaxLocalPart) return "local part is too long";
  if (!IsValidDotString(local) && !IsValidQuotedString(local)) {
    return "invalid local part";
  }
  if (!IsValidDomain(domain)) return "invalid domain";
  return "";
}

PathResult ParsePath(std::string_view argument, std::string_view keyword,
                     bool is_reverse_path) {
  PathResult result;
  if (argument.size() < keyword.size() ||
      ToLower(argument.substr(0, keyword.size())) != ToLower(keyword)) {
    result.error =
        std::string("syntax: expected ") + std::string(keyword) + "<address>";
    return result;
  }
  std::string_view rest = argument.substr(keyword.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);

  std::string_view path;
  if (!rest.empty() && rest.front() == '<') {
    bool quoted = false;
    std::size_t close = std::string_view::npos;
    for (std::size_t i = 1; i < rest.size(); ++i) {
      if (quoted && rest[i] == '\\') {
        ++i;
      } else if (rest[i] == '"') {
        quoted = !quoted;
      } else if (rest[i] == '>' && !quoted) {
        close = i;
        break;
      }
    }
    if (close == std::string_view::npos) {
      result.error = "syntax: missing '>' after the address";
      return result;
    }
    path = rest.substr(1, close - 1);
    rest.remove_prefix(close + 1);
  } else {
    // A path without angle brackets, as some old clients send it.  An
    // empty one is a missing argument, not the null path "<>".
    std::size_t end = rest.find(' ');
    path = rest.substr(0, end);
    rest = end == std::string_view::npos ? "" : rest.substr(end);
    if (path.empty()) {
      result.error =
          std::string("syntax: expected ") + std::string(keyword) + "<address>";
      return result;
    }
  }

  // Drop a source route "@relay1,@relay2:" (RFC 5321 section 4.1.1.3).
  if (!path.empty() && path.front() == '@') {
    std::size_t colon = path.find(':');
    if (colon == std::string_view::npos || colon + 1 == path.size()) {
      result.error = "syntax: invalid source route";
      return result;
    }
    path.remove_prefix(colon + 1);
  }

  MailPath parsed;
  if (path.empty()) {
    if (!is_reverse_path) {
      result.error = "syntax: the recipient address is empty";
      return result;
    }
  } else {
    std::string problem = ValidateMailbox(path, !is_reverse_path);
    if (!problem.empty()) {
      result.error = problem;
      return result;
    }
    parsed.address = CanonicalMailbox(path);
  }

  while (!rest.empty()) {
    if (rest.front() != ' ') {
      result.error = "syntax: expected a space before the parameter";
      result.bad_parameter = true;
      return result;
    }
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (rest.empty()) break;
    std::size_t end = rest.find(' ');
    std::string_view parameter = rest.substr(0, end);
    rest = end == std::string_view::npos ? "" : rest.substr(end);

    std::size_t equals = parameter.find('=');
    std::string_view key = parameter.substr(0, equals);
    std::string_view value =
        equals == std::string_view::npos ? "" : parameter.substr(equals + 1);
    bool valid_key =
        !key.empty() && std::isalnum(static_cast<unsigned char>(key.front()));
    for (char c : key) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') {
        valid_key = false;
      }
    }
    if (!valid_key) {
      result.error = "syntax: invalid parameter";
      result.bad_parameter = true;
      return result;
    }
    if (equals != std::string_view::npos && !IsValidParameterValue(value)) {
      result.error = "invalid value of parameter " + ShortKey(key);
      result.bad_parameter = true;
      return result;
    }
    std::string upper_key;
    for (char c : key) {
      upper_key +=
          static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    // A repeated keyword could let one check see the first value and a
    // later stage the last one.
    auto [unused, inserted] =
        parsed.parameters.emplace(upper_key, std::string(value));
    if (!inserted) {
      result.error = "duplicate parameter " + ShortKey(upper_key);
      result.bad_parameter = true;
      return result;
    }
  }
  result.path = std::move(parsed);
  return result;
}

}  // namespace

std::string ToLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

CommandLine ParseCommandLine(std::string_view line) {
  CommandLine command;
  std::size_t space = line.find(' ');
  std::string_view verb = line.substr(0, space);
  for (char c : verb) {
    command.verb +=
        static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (space != std::string_view::npos) {
    std::string_view argument = line.substr(space + 1);
    while (!argument.empty() && argument.back() == ' ') {
      argument.remove_suffix(1);
    }
    command.argument = std::string(argument);
  }
  return command;
}

PathResult ParseMailFrom(std::string_view argument) {
  return ParsePath(argument, "FROM:", true);
}

PathResult ParseRcptTo(std::string_view argument) {
  return ParsePath(argument, "TO:", false);
}

std::optional<std::uint64_t> ParseSizeValue(std::string_view value) {
  constexpr std::size_t kMaxDigits = 20;
  if (value.empty() || value.size() > kMaxDigits) return std::nullopt;
  std::uint64_t size = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    auto digit = static_cast<std::uint64_t>(c - '0');
    if (size > (UINT64_MAX - digit) / 10) {
      size = UINT64_MAX;
    } else {
      size = size * 10 + digit;
    }
  }
  return size;
}

std::string DomainOf(std::string_view address) {
  std::size_t at = FindDomainSeparator(address);
  if (at == std::string_view::npos) return "";
  std::string domain = ToLower(address.substr(at + 1));
  while (!domain.empty() && domain.back() == '.') domain.pop_back();
  return domain;
}

std::string LocalPartOf(std::string_view address) {
  std::size_t at = FindDomainSeparator(address);
  return std::string(address.substr(0, at));
}

}  // namespace mailport::smtp
