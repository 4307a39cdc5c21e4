// Base64 (RFC 4648 section 4) as SASL uses it (RFC 4954 section 4).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mailport {

std::string Base64Encode(std::string_view data);

// Returns nullopt for anything that is not canonical padded base64.
// Whitespace is not accepted: SMTP clients send each response on one line.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace mailport
