// Helpers for the header section of a message (RFC 5322 section 2.2).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace mailport::smtp {

// Returns the unfolded value of the first header field called `name`
// (case-insensitive) in the header section of `content`, or nullopt.
std::optional<std::string> FindHeader(std::string_view content,
                                      std::string_view name);

// Formats `time` as an RFC 5322 date-time in UTC:
// "Fri, 04 Dec 2026 15:40:14 +0000".
std::string FormatRfc5322Date(std::chrono::system_clock::time_point time);

// Returns a new globally unique Message-ID value "<...@hostname>".
std::string GenerateMessageId(std::string_view hostname);

}  // namespace mailport::smtp
