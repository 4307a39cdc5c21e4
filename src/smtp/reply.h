// SMTP replies (RFC 5321 section 4.2) with enhanced status codes
// (RFC 3463, RFC 2034).
//
// Every reply the server sends is built here, so the text a client shows
// its user is in one place and reads the same everywhere.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mailport::smtp {

struct Reply {
  int code = 0;          // 220, 250, 354, 421, 530, ...
  std::string enhanced;  // "2.1.0"; empty for 220/221-style greetings
  std::vector<std::string> lines;

  // Formats "CODE-ENH text\r\n" for every line but the last, which uses a
  // space after the code, as RFC 5321 section 4.2.1 requires.
  std::string Format() const;
  // Single-line text for logs: "554 5.7.1 <x>: Relay access denied".
  std::string Summary() const;

  bool positive() const { return code >= 200 && code < 400; }
  bool temporary_failure() const { return code >= 400 && code < 500; }
  bool permanent_failure() const { return code >= 500; }
};

Reply MakeReply(int code, std::string_view enhanced, std::string text);

}  // namespace mailport::smtp
