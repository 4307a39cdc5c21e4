// Helpers shared by the files of the auth library; not part of its API.
#pragma once

#include <string>
#include <string_view>

namespace mailport::auth {

// Runs crypt(3) with `password` against a fixed yescrypt hash that matches
// nothing, to spend the time that checking a real user would take.
void VerifyDummy(std::string_view password);

// Returns `text` with ASCII letters in lower case.
std::string AsciiLower(std::string_view text);

}  // namespace mailport::auth
