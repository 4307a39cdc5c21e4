// Server side of the SASL mechanisms PLAIN (RFC 4616) and LOGIN.
//
// The SMTP session does the base64 framing of RFC 4954; a mechanism sees
// decoded client responses and returns raw challenges.  A mechanism never
// checks the password itself: once it has the credentials it returns
// kCredentials and the session verifies them against the user database.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailport::auth {

struct SaslStep {
  enum class Kind {
    kChallenge,    // send `challenge` (334) and wait for a response
    kCredentials,  // `authcid` and `password` (and `authzid`) are ready
    kMalformed,    // the client's response is invalid: 501 5.5.2
  };
  Kind kind = Kind::kMalformed;
  std::string challenge;
  std::string authzid;
  std::string authcid;
  std::string password;
  std::string error;  // why kMalformed, for the reply and log
};

class SaslMechanism {
 public:
  virtual ~SaslMechanism() = default;
  // `initial_response` is the decoded argument that followed the mechanism
  // name on the AUTH line, if any ("=" decodes to an empty response).
  virtual SaslStep Start(std::optional<std::string_view> initial_response) = 0;
  virtual SaslStep Next(std::string_view response) = 0;
};

// Returns the mechanism for `name` (case-insensitive) or nullptr when it is
// not supported.
std::unique_ptr<SaslMechanism> CreateMechanism(std::string_view name);

// Mechanism names for the EHLO AUTH keyword, e.g. {"PLAIN", "LOGIN"}.
const std::vector<std::string>& SupportedMechanisms();

}  // namespace mailport::auth
