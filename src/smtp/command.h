// SMTP command grammar (RFC 5321 section 4.1).
//
// ParseCommandLine() splits a command line into its verb and argument;
// ParseMailFrom() and ParseRcptTo() parse the reverse-path, forward-path and
// ESMTP parameters of MAIL and RCPT.  The parsers accept what RFC 5321
// allows and, like most MTAs, a missing space after the colon
// ("MAIL FROM: <a@b>"); they reject everything else with an error text
// suitable for a 501 reply.  Source routes ("@a,@b:user@c") are accepted
// and dropped, as RFC 5321 section 4.1.1.3 permits.
//
// Limits (RFC 5321 section 4.5.3.1): local part 64 octets, domain 255
// octets, path 256 octets.
#pragma once

#include <cstddef>
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
};

// `argument` is what follows the verb: "FROM:<a@b> SIZE=100".
PathResult ParseMailFrom(std::string_view argument);
// `argument`: "TO:<a@b>"; RCPT TO:<postmaster> without domain is allowed.
PathResult ParseRcptTo(std::string_view argument);

// Returns the domain of `address` in lower case, or "" when there is none.
std::string DomainOf(std::string_view address);
// Returns the local part of `address`, or all of it when it has no '@'.
std::string LocalPartOf(std::string_view address);

// Lower-cases ASCII letters.
std::string ToLower(std::string_view text);

}  // namespace mailport::smtp
