// Operator log of every mailport program.
//
// Lines go through spdlog to standard error (the default, so that a
// foreground daemon logs to the terminal or to journald) or to a file.  The
// grammar follows Postfix's mail log: the queue id or NOQUEUE first, then
// `key=value` fields.  Text that came from the network passes through
// Sanitize() before it is logged so that a client cannot forge log lines.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

namespace mailport::log {

// Routes the log to `path` (appending), or to standard error when empty.
// `level` is one of spdlog's names: trace, debug, info, warn, error.
void Init(const std::string& path, std::string_view level = "info");

spdlog::logger& Get();

// Returns `text` with control characters and non-ASCII bytes escaped as
// \xHH and cut to `max_length` bytes (marked with "...").
std::string Sanitize(std::string_view text, std::size_t max_length = 200);

template <typename... Args>
void Info(fmt::format_string<Args...> format, Args&&... args) {
  Get().info(format, std::forward<Args>(args)...);
}
template <typename... Args>
void Warn(fmt::format_string<Args...> format, Args&&... args) {
  Get().warn(format, std::forward<Args>(args)...);
}
template <typename... Args>
void Error(fmt::format_string<Args...> format, Args&&... args) {
  Get().error(format, std::forward<Args>(args)...);
}
template <typename... Args>
void Debug(fmt::format_string<Args...> format, Args&&... args) {
  Get().debug(format, std::forward<Args>(args)...);
}

}  // namespace mailport::log
