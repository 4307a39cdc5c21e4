#include "util/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <memory>
#include <mutex>

namespace mailport::log {
namespace {

std::mutex logger_mutex;
std::shared_ptr<spdlog::logger> logger;

std::shared_ptr<spdlog::logger> MakeStderrLogger() {
  auto created = std::make_shared<spdlog::logger>(
      "mailport", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  created->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$: %v");
  return created;
}

}  // namespace

void Init(const std::string& path, std::string_view level) {
  std::shared_ptr<spdlog::logger> created;
  if (path.empty()) {
    created = MakeStderrLogger();
  } else {
    created = std::make_shared<spdlog::logger>(
        "mailport",
        std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, false));
    created->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l: %v");
    created->flush_on(spdlog::level::info);
  }
  created->set_level(spdlog::level::from_str(std::string(level)));
  std::lock_guard lock(logger_mutex);
  logger = std::move(created);
}

spdlog::logger& Get() {
  std::lock_guard lock(logger_mutex);
  if (!logger) logger = MakeStderrLogger();
  return *logger;
}

std::string Sanitize(std::string_view text, std::size_t max_length) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() < max_length ? text.size() : max_length);
  for (char c : text) {
    if (out.size() >= max_length) {
      out += "...";
      break;
    }
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f || c == '\\') {
      out += '\\';
      out += 'x';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace mailport::log
