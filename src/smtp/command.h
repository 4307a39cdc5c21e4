// SMTP command grammar (RFC 5321 section 4.1).
//
// ParseCommandLine() splits a command line into its verb and argument;
// ParseMailFrom() and ParseRcptTo() parse the reverse-path, forward-path and
// ESMTP parameters of MAIL and RCPT.  The parsers accept what RFC 5321
// allows and, like most MTAs, a space after the colon
// ("MAIL FROM: <a@b>").  They reject everything else with an error text
// suitable for a 501 reply.  Source routes ("@a,@b:user@c") are accepted
// and dropped, as RFC 5321 section 4.1.1.3 permits.  A quoted local part
// whose content is also a valid dot-string is stored unquoted
// ("\"alice\"@b" becomes "alice@b"), because RFC 5321 section 4.1.2 makes
// the two forms the same mailbox.  An ESMTP parameter may appear once, and
// its value, when given, must be 1*(%d33-60 / %d62-126) (RFC 5321 section
// 4.1.2, esmtp-value).
//
// Limits (RFC 5321 section 4.5.3.1): local part 64 octets, domain 255
// octets, path 256 octets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace mailport::smtp {

struct CommandLine {
  std::string verb;      // upper case: "MAIL", "EHLO"
  std::string argument;  // the rest of the line after one space, as sent
};

// REQUIRES: `line` has no CR LF.
CommandLine ParseCommandLine(std::string_view line);

struct MailPath {
  std::string address;  // "user@example.test"; "" for the null path <>
  // ESMTP parameters with upper-case keywords; values as sent.
  std::map<std::string, std::string> parameters;
};

struct PathResult {
  std::optional<MailPath> path;
  std::string error;  // set when path is empty
  // The path was valid but an ESMTP parameter was not (501 5.5.4 rather
  // than a bad-address reply).
  bool bad_parameter = false;
};

// `argument` is what follows the verb: "FROM:<a@b> SIZE=100".
PathResult ParseMailFrom(std::string_view argument);
// `argument`: "TO:<a@b>"; RCPT TO:<postmaster> without domain is allowed.
PathResult ParseRcptTo(std::string_view argument);

// Parses the value of the MAIL SIZE parameter, size-value = 1*20DIGIT
// (RFC 1870).  A value too large for 64 bits is returned as UINT64_MAX, so
// it exceeds every limit instead of being a syntax error.  Returns nullopt
// for anything but 1 to 20 digits.
std::optional<std::uint64_t> ParseSizeValue(std::string_view value);

// Returns the domain of `address` in lower case, or "" when there is none.
std::string DomainOf(std::string_view address);
// Returns the local part of `address`, or all of it when it has no '@'.
std::string LocalPartOf(std::string_view address);

// Lower-cases ASCII letters.
std::string ToLower(std::string_view text);

}  // namespace mailport::smtp
