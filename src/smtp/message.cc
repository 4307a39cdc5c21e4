#include "smtp/message.h"

#include <array>
#include <atomic>
#include <cctype>
#include <ctime>
#include <random>

#include "smtp/command.h"

namespace mailport::smtp {

std::optional<std::string> FindHeader(std::string_view content,
                                      std::string_view name) {
  std::string wanted = ToLower(name);
  std::size_t position = 0;
  std::optional<std::string> found;
  while (position < content.size()) {
    std::size_t end = content.find("\r\n", position);
    if (end == std::string_view::npos) end = content.size();
    std::string_view line = content.substr(position, end - position);
    if (line.empty()) break;  // end of the header section
    bool continuation = line.front() == ' ' || line.front() == '\t';
    if (continuation) {
      if (found) *found += std::string(line);
    } else if (found) {
      break;
    } else {
      std::size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string field = ToLower(line.substr(0, colon));
        while (!field.empty() && field.back() == ' ') field.pop_back();
        if (field == wanted) {
          std::string_view value = line.substr(colon + 1);
          while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
          found = std::string(value);
        }
      }
    }
    position = end + 2;
  }
  return found;
}

std::string FormatRfc5322Date(std::chrono::system_clock::time_point time) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  static constexpr std::array<const char*, 7> kDays = {
      "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun",
      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:%02d:%02d +0000",
                kDays[parts.tm_wday], parts.tm_mday, kMonths[parts.tm_mon],
                parts.tm_year + 1900, parts.tm_hour, parts.tm_min,
                parts.tm_sec);
  return buffer;
}

std::string GenerateMessageId(std::string_view hostname) {
  static std::atomic<unsigned long> counter{0};
  thread_local std::mt19937_64 generator{std::random_device{}()};
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now).count();
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "<%llx.%lx.%llx@",
                static_cast<unsigned long long>(micros), counter.fetch_add(1),
                static_cast<unsigned long long>(generator()));
  return std::string(buffer) + std::string(hostname) + ">";
}

}  // namespace mailport::smtp
