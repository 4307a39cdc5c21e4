// Unblock requests and their state machine.
//
//   pending --approve--> approved --revoke--> revoked
//      |                     |
//      +--deny--> denied     +--expire--> expired
//
// denied, revoked and expired are final.  Only an approved request whose
// expiry (if any) lies in the future is an exception to the port-25 block.
// Times are Unix seconds (UTC); 0 means "not set".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "egress/prefix.h"
#include "util/result.h"

namespace mailport::egress {

enum class State { kPending, kApproved, kDenied, kRevoked, kExpired };
enum class Action { kApprove, kDeny, kRevoke, kExpire };

std::string_view StateName(State state);
std::optional<State> ParseState(std::string_view name);
std::string_view ActionName(Action action);
std::optional<Action> ParseAction(std::string_view name);

// Returns the state that `action` leads to from `from`, or an error that
// names both when the transition is not allowed.
Result<State> NextState(State from, Action action);

struct Request {
  std::int64_t id = 0;
  Prefix source;
  // Empty means every destination.
  std::vector<Prefix> destinations;
  std::string reason;
  std::string domain;
  std::int64_t daily_volume = 0;
  std::string requester;
  // Secret that lets the tenant who filed the request read its state.
  std::string ticket;
  State state = State::kPending;
  std::int64_t created_at = 0;
  std::string decided_by;
  std::int64_t decided_at = 0;
  std::string comment;
  std::int64_t expires_at = 0;

  bool IsActiveException(std::int64_t now) const {
    return state == State::kApproved && (expires_at == 0 || expires_at > now);
  }
};

struct AuditEntry {
  std::int64_t id = 0;
  std::int64_t request_id = 0;
  std::int64_t at = 0;
  std::string actor;
  std::string event;  // "request" or an ActionName
  std::string from_state;
  std::string to_state;
  std::string comment;
};

// Fields a tenant submits.  Validate() checks them against the instance
// ranges before anything is stored.
struct NewRequest {
  std::string source;
  std::vector<std::string> destinations;
  std::string reason;
  std::string domain;
  std::int64_t daily_volume = 0;
  std::string requester;
};

struct ValidatedRequest {
  Prefix source;
  std::vector<Prefix> destinations;
};

Result<ValidatedRequest> ValidateNewRequest(
    const NewRequest& request, const std::vector<Prefix>& instance_networks);

// Parses an expiry: "+30s", "+15m", "+2h", "+7d" (relative to `now`),
// "YYYY-MM-DD" (midnight UTC), "YYYY-MM-DDTHH:MM[:SS]Z", or Unix seconds
// prefixed with '@'.  Rejects times that are not after `now`.
Result<std::int64_t> ParseExpiry(std::string_view text, std::int64_t now);

// Formats Unix seconds as "YYYY-MM-DDTHH:MM:SSZ"; 0 gives "".
std::string FormatTime(std::int64_t unix_seconds);

}  // namespace mailport::egress
