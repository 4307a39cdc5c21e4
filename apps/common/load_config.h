// Configuration loading shared by mailportd and the mailport command.
//
// Both programs take `-c DIR` (a directory with main.cf and master.cf, as
// Postfix's -c) or, without it, run on the embedded default configuration
// with its data under `--data-directory`.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>

#include "config/config.h"

namespace mailport::apps {

inline constexpr const char* kDefaultDataDirectory = "/var/lib/mailport";

struct LoadedConfig {
  config::Config config;
  config::Settings settings;
  bool embedded = false;
  int errors = 0;
  int warnings = 0;
};

// Loads and resolves the configuration and prints its errors, and its
// warnings when `print_warnings` is set, to `diagnostics`, one per line.
// A relative `data_directory` is taken relative to the current directory.
LoadedConfig LoadConfig(const std::optional<std::filesystem::path>& directory,
                        const std::filesystem::path& data_directory,
                        std::ostream& diagnostics, bool print_warnings = true);

}  // namespace mailport::apps
