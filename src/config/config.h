// main.cf and master.cf in Postfix syntax.
//
// Load() reads a configuration directory and returns every parameter and
// service it defines together with the diagnostics found on the way.
// Resolve() then validates the values and builds config::Settings.  Neither
// stops at the first problem: the caller prints all diagnostics and refuses
// to start when any is an error (mailportd), or exits non-zero
// (`mailport check`).
//
// Syntax, as postconf(5) and master(5) describe it:
//   - '#' starts a comment when it is the first non-blank character;
//   - a line that starts with white space continues the previous one;
//   - main.cf lines are `name = value`; a later definition replaces an
//     earlier one; `$name` and `${name}` expand recursively when the value
//     is used, and `${name?text}` / `${name:text}` expand to text when name
//     is non-empty / empty;
//   - master.cf lines have the columns service, type, private, unpriv,
//     chroot, wakeup, maxproc, command, followed by arguments, where
//     `-o name=value` overrides a main.cf parameter for that service only.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/settings.h"
#include "util/result.h"

namespace mailport::config {

struct Diagnostic {
  enum class Severity { kWarning, kError };

  Severity severity = Severity::kError;
  std::string file;  // empty when not tied to a file
  int line = 0;      // 1-based; 0 when not tied to a line
  std::string message;

  // "FILE:LINE: error: MESSAGE", the form compilers and postconf use.
  std::string ToString() const;
};

// A parameter definition from main.cf or from a master.cf `-o` override.
struct Setting {
  std::string name;
  std::string value;  // raw, before $name expansion
  std::string file;
  int line = 0;
};

// Parameters set in main.cf over the built-in defaults of every supported
// parameter (see parameters.h).
class Parameters {
 public:
  // Nested expansions deeper than this are an error, which ends cycles such
  // as `a = $b` with `b = $a`.
  static constexpr int kMaxExpansionDepth = 100;

  void Set(Setting setting);
  bool IsSet(std::string_view name) const;

  // Replaces the built-in default of `name` for this instance; Load() uses
  // it for config_directory.
  void SetDefault(std::string name, std::string value);

  // Returns the expanded value: the setting when present, else the built-in
  // default, else "".  Returns "" when expansion fails, and Expand() returns
  // the error.
  std::string Get(std::string_view name) const;

  // Returns the expanded value, or an error when expansion is nested deeper
  // than kMaxExpansionDepth or a `${` has no closing brace.
  Result<std::string> Expand(std::string_view name) const;

  // Returns the value before expansion: the setting, else the default.
  std::string Raw(std::string_view name) const;

  // Returns where `name` was set, or nullptr for a default.
  const Setting* Find(std::string_view name) const;

  // Returns the setting that a problem with `name` should be reported at:
  // its own, else the first set parameter that its default refers to
  // (depth first), else nullptr.
  const Setting* Locate(std::string_view name) const;

  // Returns a copy with `overrides` applied on top.
  Parameters WithOverrides(const std::vector<Setting>& overrides) const;

  const std::map<std::string, Setting, std::less<>>& settings() const {
    return settings_;
  }

 private:
  Result<std::string> ExpandText(std::string_view text, int depth) const;
  Result<std::string> ExpandName(std::string_view name, int depth) const;
  const Setting* LocateAt(std::string_view name, int depth) const;

  std::map<std::string, Setting, std::less<>> settings_;
  std::map<std::string, std::string, std::less<>> defaults_;
};

// Returns the parameter names that `raw` refers to with $name, ${name},
// $(name) and the ?/: forms, in order of appearance.
std::vector<std::string> ReferencedNames(std::string_view raw);

// One line of master.cf.
struct Service {
  std::string name;  // "smtp", "submission", "127.0.0.1:2525", ...
  std::string type;  // inet, unix, unix-dgram, fifo, pass
  std::string private_column;
  std::string unpriv_column;
  std::string chroot_column;
  std::string wakeup_column;
  std::string maxproc_column;
  std::string command;                 // first word of the command column
  std::vector<std::string> arguments;  // the rest, `-o` pairs removed
  std::vector<Setting> overrides;      // from `-o name=value`
  std::string file;
  int line = 0;
};

struct Config {
  std::filesystem::path directory;
  Parameters main;
  std::vector<Service> services;
  std::vector<Diagnostic> diagnostics;

  bool HasErrors() const;
};

// Reads DIRECTORY/main.cf and DIRECTORY/master.cf.  A missing main.cf is an
// empty one (all defaults); a missing master.cf is an error, because it is
// the list of services to run.
Config Load(const std::filesystem::path& directory);

// Parses configuration text; `main_name` and `master_name` label the
// diagnostics.  Load() is this plus file reading.
Config Parse(std::string_view main_cf, std::string_view master_cf,
             const std::string& main_name, const std::string& master_name);

// Validates every parameter used and builds the typed settings.  Adds an
// error diagnostic for each invalid value (naming file, line, parameter,
// value and what is accepted), a warning for each unknown parameter, and a
// safety warning for submission services that allow AUTH or mail without
// TLS.
Settings Resolve(Config& config);

// The embedded default configuration that `mailportd` uses when started
// without -c: loopback listeners for smtp, submission and submissions, data
// under `data_directory`.
std::string EmbeddedMainCf(const std::filesystem::path& data_directory);
std::string EmbeddedMasterCf();

}  // namespace mailport::config
