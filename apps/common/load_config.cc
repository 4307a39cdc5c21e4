#include "common/load_config.h"

#include <ostream>

namespace mailport::apps {

LoadedConfig LoadConfig(const std::optional<std::filesystem::path>& directory,
                        const std::filesystem::path& data_directory,
                        std::ostream& diagnostics, bool print_warnings) {
  LoadedConfig loaded;
  if (directory) {
    loaded.config = config::Load(*directory);
  } else {
    loaded.embedded = true;
    std::error_code ignored;
    loaded.config = config::Parse(
        config::EmbeddedMainCf(
            std::filesystem::absolute(data_directory, ignored)),
        config::EmbeddedMasterCf(), "embedded main.cf", "embedded master.cf");
  }
  loaded.settings = config::Resolve(loaded.config);
  for (const config::Diagnostic& diagnostic : loaded.config.diagnostics) {
    if (diagnostic.severity == config::Diagnostic::Severity::kError) {
      ++loaded.errors;
    } else {
      ++loaded.warnings;
      if (!print_warnings) continue;
    }
    diagnostics << diagnostic.ToString() << "\n";
  }
  return loaded;
}

}  // namespace mailport::apps
