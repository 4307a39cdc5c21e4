#include "config/config.h"

#include <gtest/gtest.h>

namespace mailport::config {
namespace {

TEST(EmbeddedConfig, LoadsClean) {
  Config config = Parse(EmbeddedMainCf("/var/lib/mailport"), EmbeddedMasterCf(),
                        "main.cf", "master.cf");
  Settings settings = Resolve(config);
  for (const Diagnostic& d : config.diagnostics) ADD_FAILURE() << d.ToString();
  EXPECT_EQ(settings.services.size(), 3u);
}

}  // namespace
}  // namespace mailport::config
