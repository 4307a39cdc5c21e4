// Parsing of main.cf and master.cf, and $name expansion.

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "config/config.h"
#include "config/parameters.h"
#include "fmt/format.h"

namespace mailport::config {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_';
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (IsBlank(text.front()) || text.front() == '\r')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (IsBlank(text.back()) || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

bool IsParameterName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

// Returns the index of the bracket that closes the one at `open`, counting
// nested { } and ( ), or npos.
size_t FindClosing(std::string_view text, size_t open) {
  int depth = 0;
  for (size_t i = open; i < text.size(); ++i) {
    if (text[i] == '{' || text[i] == '(') ++depth;
    if (text[i] == '}' || text[i] == ')') {
      --depth;
      if (depth == 0) return i;
    }
  }
  return std::string_view::npos;
}

struct LogicalLine {
  std::string text;
  int line = 0;  // first physical line
  // Start offset in `text` and number of each physical line, so that a
  // diagnostic about one token can name the line it is on.
  std::vector<std::pair<size_t, int>> starts;

  int LineAt(size_t offset) const {
    int found = line;
    for (const auto& [start, number] : starts) {
      if (start <= offset) found = number;
    }
    return found;
  }
};

// Joins continuation lines.  Comment lines and blank lines are skipped and
// do not end a logical line, as in Postfix.
std::vector<LogicalLine> JoinLines(std::string_view text,
                                   const std::string& file,
                                   std::vector<Diagnostic>& diagnostics) {
  std::vector<LogicalLine> lines;
  int number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view physical = text.substr(start, end - start);
    start = end + 1;
    ++number;

    std::string_view trimmed = Trim(physical);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    if (IsBlank(physical.front())) {
      if (lines.empty()) {
        diagnostics.push_back(
            {Diagnostic::Severity::kError, file, number,
             "line starts with white space but there is no previous line to "
             "continue; remove the leading white space"});
        continue;
      }
      lines.back().text += ' ';
      lines.back().starts.emplace_back(lines.back().text.size(), number);
      lines.back().text += trimmed;
      continue;
    }
    lines.push_back({std::string(trimmed), number, {{0, number}}});
  }
  return lines;
}

void AddError(std::vector<Diagnostic>& diagnostics, const std::string& file,
              int line, std::string message) {
  diagnostics.push_back(
      {Diagnostic::Severity::kError, file, line, std::move(message)});
}

void ParseMainCf(std::string_view text, const std::string& file,
                 Config& config) {
  for (const LogicalLine& line : JoinLines(text, file, config.diagnostics)) {
    size_t equals = line.text.find('=');
    if (equals == std::string::npos) {
      AddError(
          config.diagnostics, file, line.line,
          fmt::format("expected \"name = value\", found \"{}\"", line.text));
      continue;
    }
    std::string name(Trim(std::string_view(line.text).substr(0, equals)));
    std::string value(Trim(std::string_view(line.text).substr(equals + 1)));
    if (!IsParameterName(name)) {
      AddError(config.diagnostics, file, line.line,
               fmt::format("invalid parameter name \"{}\": expected letters, "
                           "digits and underscores before \"=\"",
                           name));
      continue;
    }
    if (const Setting* earlier = config.main.Find(name)) {
      config.diagnostics.push_back(
          {Diagnostic::Severity::kWarning, file, line.line,
           fmt::format("{} overrides the earlier definition on line {}", name,
                       earlier->line)});
    }
    config.main.Set({name, value, file, line.line});
  }
}

struct Token {
  std::string text;  // for a braced token, the trimmed text inside
  bool braced = false;
  size_t offset = 0;  // where the token starts in the logical line
};

// Splits a master.cf line into white-space separated tokens, keeping
// `{ text with spaces }` together as Postfix 3 allows.
bool Tokenize(std::string_view text, std::vector<Token>& tokens) {
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && IsBlank(text[i])) ++i;
    if (i >= text.size()) break;
    if (text[i] == '{') {
      size_t close = text.find('}', i);
      if (close == std::string_view::npos) return false;
      tokens.push_back(
          {std::string(Trim(text.substr(i + 1, close - i - 1))), true, i});
      i = close + 1;
      continue;
    }
    size_t start = i;
    while (i < text.size() && !IsBlank(text[i])) ++i;
    tokens.push_back(
        {std::string(text.substr(start, i - start)), false, start});
  }
  return true;
}

void ParseMasterCf(std::string_view text, const std::string& file,
                   Config& config) {
  for (const LogicalLine& line : JoinLines(text, file, config.diagnostics)) {
    std::vector<Token> tokens;
    if (!Tokenize(line.text, tokens)) {
      AddError(config.diagnostics, file, line.line,
               "\"{\" without a closing \"}\"");
      continue;
    }
    if (tokens.size() < 8) {
      AddError(config.diagnostics, file, line.line,
               fmt::format("expected 8 columns (service type private unpriv "
                           "chroot wakeup maxproc command), found {}",
                           tokens.size()));
      continue;
    }

    // "submission inet n - y - smtpd -o ..." lost a column: the command
    // slot then contains an option, and the real command is an argument.
    if (!tokens[7].braced && !tokens[7].text.empty() &&
        tokens[7].text.front() == '-') {
      AddError(config.diagnostics, file, line.line,
               fmt::format("the command column of service \"{}\" is \"{}\", "
                           "which is an option; a column is missing before "
                           "it (expected service type private unpriv chroot "
                           "wakeup maxproc command)",
                           tokens[0].text, tokens[7].text));
      continue;
    }

    Service service;
    service.name = tokens[0].text;
    service.type = tokens[1].text;
    service.private_column = tokens[2].text;
    service.unpriv_column = tokens[3].text;
    service.chroot_column = tokens[4].text;
    service.wakeup_column = tokens[5].text;
    service.maxproc_column = tokens[6].text;
    service.command = tokens[7].text;
    service.file = file;
    service.line = line.line;

    bool valid = true;
    for (size_t i = 8; i < tokens.size(); ++i) {
      if (tokens[i].braced || tokens[i].text != "-o") {
        service.arguments.push_back(tokens[i].text);
        continue;
      }
      int override_line = line.LineAt(tokens[i].offset);
      if (i + 1 >= tokens.size()) {
        AddError(config.diagnostics, file, override_line,
                 "\"-o\" at the end of the line; expected \"-o name=value\"");
        valid = false;
        break;
      }
      const std::string& pair = tokens[++i].text;
      size_t equals = pair.find('=');
      std::string name(Trim(std::string_view(pair).substr(
          0, equals == std::string::npos ? pair.size() : equals)));
      if (equals == std::string::npos || !IsParameterName(name)) {
        AddError(config.diagnostics, file, override_line,
                 fmt::format("invalid -o argument \"{}\": expected "
                             "\"-o name=value\" or \"-o {{ name = value }}\"",
                             pair));
        valid = false;
        continue;
      }
      std::string value(Trim(std::string_view(pair).substr(equals + 1)));
      service.overrides.push_back({name, value, file, override_line});
    }
    if (!valid) continue;

    for (const Service& earlier : config.services) {
      if (earlier.name == service.name && earlier.type == service.type) {
        AddError(config.diagnostics, file, line.line,
                 fmt::format("service \"{}\" type {} is already defined on "
                             "line {}",
                             service.name, service.type, earlier.line));
        valid = false;
        break;
      }
    }
    if (valid) config.services.push_back(std::move(service));
  }
}

enum class ReadOutcome { kRead, kMissing, kFailed };

ReadOutcome ReadFile(const std::filesystem::path& path, std::string& contents,
                     std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int saved = errno;
    if (saved == ENOENT) return ReadOutcome::kMissing;
    error = std::strerror(saved);
    return ReadOutcome::kFailed;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    error = "read failed";
    return ReadOutcome::kFailed;
  }
  contents = buffer.str();
  return ReadOutcome::kRead;
}

}  // namespace

std::string Diagnostic::ToString() const {
  std::string out;
  if (!file.empty()) {
    out += file;
    if (line > 0) out += fmt::format(":{}", line);
    out += ": ";
  }
  out += severity == Severity::kError ? "error: " : "warning: ";
  // Messages quote values from the file; a control byte in a garbage file
  // must not reach the terminal or log as is.
  for (char c : message) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += c;
    }
  }
  return out;
}

bool Config::HasErrors() const {
  for (const Diagnostic& diagnostic : diagnostics) {
    if (diagnostic.severity == Diagnostic::Severity::kError) return true;
  }
  return false;
}

void Parameters::Set(Setting setting) {
  std::string name = setting.name;
  settings_[name] = std::move(setting);
}

bool Parameters::IsSet(std::string_view name) const {
  return settings_.find(name) != settings_.end();
}

void Parameters::SetDefault(std::string name, std::string value) {
  defaults_[std::move(name)] = std::move(value);
}

const Setting* Parameters::Find(std::string_view name) const {
  auto it = settings_.find(name);
  return it == settings_.end() ? nullptr : &it->second;
}

std::string Parameters::Raw(std::string_view name) const {
  if (auto it = settings_.find(name); it != settings_.end()) {
    return it->second.value;
  }
  if (auto it = defaults_.find(name); it != defaults_.end()) return it->second;
  if (name == "myhostname") return DefaultHostname();
  if (name == "mydomain") return "";  // derived in ExpandName()
  if (const ParameterInfo* info = FindParameter(name)) {
    return std::string(info->default_value);
  }
  return "";
}

std::string Parameters::Get(std::string_view name) const {
  Result<std::string> value = Expand(name);
  return value.ok() ? std::move(value).value() : std::string();
}

Result<std::string> Parameters::Expand(std::string_view name) const {
  return ExpandName(name, 0);
}

Result<std::string> Parameters::ExpandName(std::string_view name,
                                           int depth) const {
  if (depth > kMaxExpansionDepth) {
    return PermanentError(fmt::format(
        "expansion of ${} is nested deeper than {} levels; check for "
        "parameters that refer to each other",
        name, kMaxExpansionDepth));
  }

  // Postfix derives mydomain from myhostname without its first label.
  if (name == "mydomain" && !IsSet(name) &&
      defaults_.find(name) == defaults_.end()) {
    Result<std::string> hostname = ExpandName("myhostname", depth + 1);
    if (!hostname.ok()) return hostname;
    size_t dot = hostname->find('.');
    if (dot == std::string::npos || dot + 1 >= hostname->size()) {
      return std::string("localdomain");
    }
    return hostname->substr(dot + 1);
  }
  return ExpandText(Raw(name), depth);
}

Result<std::string> Parameters::ExpandText(std::string_view text,
                                           int depth) const {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c != '$' || i + 1 >= text.size()) {
      out += c;
      ++i;
      continue;
    }
    char next = text[i + 1];
    if (next == '$') {
      out += '$';
      i += 2;
      continue;
    }

    if (IsNameChar(next)) {
      size_t end = i + 1;
      while (end < text.size() && IsNameChar(text[end])) ++end;
      Result<std::string> value =
          ExpandName(text.substr(i + 1, end - i - 1), depth + 1);
      if (!value.ok()) return value;
      out += *value;
      i = end;
      continue;
    }

    if (next != '{' && next != '(') {
      out += c;
      ++i;
      continue;
    }
    size_t close = FindClosing(text, i + 1);
    if (close == std::string_view::npos) {
      return PermanentError(fmt::format("\"{}\" has no closing \"{}\"",
                                        text.substr(i),
                                        next == '{' ? '}' : ')'));
    }
    std::string_view inner = text.substr(i + 2, close - i - 2);
    i = close + 1;

    size_t name_end = 0;
    while (name_end < inner.size() && IsNameChar(inner[name_end])) ++name_end;
    std::string_view name = inner.substr(0, name_end);
    std::string_view rest = inner.substr(name_end);
    if (name.empty() || (!rest.empty() && rest[0] != '?' && rest[0] != ':')) {
      return PermanentError(
          fmt::format("invalid expression \"${{{}}}\": expected ${{name}}, "
                      "${{name?text}} or ${{name:text}}",
                      inner));
    }

    Result<std::string> value = ExpandName(name, depth + 1);
    if (!value.ok()) return value;
    if (rest.empty()) {
      out += *value;
      continue;
    }

    // ${name?text} and ${name:text}, and Postfix 3.0's
    // ${name?{text1}:{text2}} with both branches.
    bool non_empty = !value->empty();
    std::string_view when_set;
    std::string_view when_empty;
    if (rest[0] == '?') {
      std::string_view branches = rest.substr(1);
      if (!branches.empty() && branches.front() == '{') {
        size_t first_close = FindClosing(branches, 0);
        if (first_close == std::string_view::npos) {
          return PermanentError(
              fmt::format("\"${{{}}}\" has no closing \"}}\"", inner));
        }
        when_set = branches.substr(1, first_close - 1);
        std::string_view tail = branches.substr(first_close + 1);
        if (tail.size() >= 2 && tail[0] == ':' && tail[1] == '{' &&
            tail.back() == '}') {
          when_empty = tail.substr(2, tail.size() - 3);
        } else if (!tail.empty()) {
          return PermanentError(
              fmt::format("invalid expression \"${{{}}}\": expected "
                          "${{name?{{text1}}:{{text2}}}}",
                          inner));
        }
      } else {
        when_set = branches;
      }
    } else {
      when_empty = rest.substr(1);
    }
    Result<std::string> chosen =
        ExpandText(non_empty ? when_set : when_empty, depth);
    if (!chosen.ok()) return chosen;
    out += *chosen;
  }
  return out;
}

const Setting* Parameters::Locate(std::string_view name) const {
  return LocateAt(name, 0);
}

const Setting* Parameters::LocateAt(std::string_view name, int depth) const {
  if (const Setting* setting = Find(name)) return setting;
  if (depth > kMaxExpansionDepth) return nullptr;
  std::string raw = Raw(name);
  if (name == "mydomain") raw = "$myhostname";
  for (const std::string& referenced : ReferencedNames(raw)) {
    if (const Setting* setting = LocateAt(referenced, depth + 1)) {
      return setting;
    }
  }
  return nullptr;
}

Parameters Parameters::WithOverrides(
    const std::vector<Setting>& overrides) const {
  Parameters copy = *this;
  for (const Setting& setting : overrides) copy.Set(setting);
  return copy;
}

std::vector<std::string> ReferencedNames(std::string_view raw) {
  std::vector<std::string> names;
  for (size_t i = 0; i + 1 < raw.size(); ++i) {
    if (raw[i] != '$') continue;
    char next = raw[i + 1];
    if (next == '$') {
      ++i;
      continue;
    }
    size_t start = (next == '{' || next == '(') ? i + 2 : i + 1;
    size_t end = start;
    while (end < raw.size() && IsNameChar(raw[end])) ++end;
    if (end > start) names.emplace_back(raw.substr(start, end - start));
  }
  return names;
}

Config Parse(std::string_view main_cf, std::string_view master_cf,
             const std::string& main_name, const std::string& master_name) {
  Config config;
  ParseMainCf(main_cf, main_name, config);
  ParseMasterCf(master_cf, master_name, config);
  return config;
}

Config Load(const std::filesystem::path& directory) {
  std::filesystem::path main_path = directory / "main.cf";
  std::filesystem::path master_path = directory / "master.cf";
  std::string main_cf;
  std::string master_cf;
  std::vector<Diagnostic> read_errors;
  std::string error;

  switch (ReadFile(main_path, main_cf, error)) {
    case ReadOutcome::kRead:
    case ReadOutcome::kMissing:  // all defaults, as with an empty main.cf
      break;
    case ReadOutcome::kFailed:
      read_errors.push_back({Diagnostic::Severity::kError, main_path.string(),
                             0, fmt::format("cannot read: {}", error)});
      break;
  }
  switch (ReadFile(master_path, master_cf, error)) {
    case ReadOutcome::kRead:
      break;
    case ReadOutcome::kMissing:
      read_errors.push_back(
          {Diagnostic::Severity::kError, master_path.string(), 0,
           "file not found; master.cf lists the services to run"});
      break;
    case ReadOutcome::kFailed:
      read_errors.push_back({Diagnostic::Severity::kError, master_path.string(),
                             0, fmt::format("cannot read: {}", error)});
      break;
  }

  Config config =
      Parse(main_cf, master_cf, main_path.string(), master_path.string());
  config.directory = directory;
  config.main.SetDefault("config_directory", directory.string());
  config.diagnostics.insert(config.diagnostics.begin(), read_errors.begin(),
                            read_errors.end());
  return config;
}

}  // namespace mailport::config
