#include "egress/gate.h"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <cstdlib>

#include "util/log.h"

namespace mailport::egress {
namespace {

Result<std::string> NewTicket() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return TemporaryError("cannot generate a random ticket");
  }
  std::string ticket;
  for (unsigned char byte : bytes) ticket += fmt::format("{:02x}", byte);
  return ticket;
}

// Test-only fault injection: MAILPORT_EGRESS_TEST_CRASH_AFTER_STORE=1 makes
// egressd die between the store commit and the rule update, which is the
// window the crash test exercises.
void TestOnlyCrashAfterStore() {
  const char* value = std::getenv("MAILPORT_EGRESS_TEST_CRASH_AFTER_STORE");
  if (value != nullptr && std::string_view(value) == "1") std::abort();
}

}  // namespace

bool AddressStatus::AllowedEverywhere() const {
  for (const Request& request : exceptions) {
    if (request.destinations.empty()) return true;
  }
  return false;
}

std::string AddressStatus::Summary() const {
  if (!is_instance) {
    return fmt::format(
        "{} is not an instance address: the gate does not filter it",
        address.ToString());
  }
  if (exceptions.empty()) {
    return fmt::format(
        "{} is blocked: port 25 is closed by default and no "
        "approved request covers it",
        address.ToString());
  }
  std::string text = fmt::format("{} is allowed", address.ToString());
  text +=
      AllowedEverywhere() ? " to every destination" : " to listed destinations";
  for (const Request& request : exceptions) {
    text +=
        fmt::format("; request {} ({}", request.id, request.source.ToString());
    if (!request.destinations.empty()) {
      text += " to";
      for (const Prefix& destination : request.destinations) {
        text += " " + destination.ToString();
      }
    }
    text += fmt::format(", approved by {}", request.decided_by);
    if (request.expires_at != 0) {
      text += fmt::format(", until {}", FormatTime(request.expires_at));
    }
    text += ")";
  }
  return text;
}

Gate::Gate(const Config& config, Store& store, Enforcer& enforcer, Clock clock)
    : config_(config),
      store_(store),
      enforcer_(enforcer),
      clock_(std::move(clock)) {}

Result<std::vector<Request>> Gate::ActiveExceptions() {
  auto approved = store_.List(State::kApproved);
  if (!approved) return approved.error();
  std::vector<Request> active;
  std::int64_t now = Now();
  for (const Request& request : *approved) {
    if (request.IsActiveException(now)) active.push_back(request);
  }
  return active;
}

Status Gate::Start() {
  auto expired = store_.ExpireDue(Now());
  if (!expired) return expired.error();
  for (const Request& request : *expired) {
    log::Info("request={} event=expire source={}", request.id,
              request.source.ToString());
  }
  auto active = ActiveExceptions();
  if (!active) return active.error();
  if (Status status = enforcer_.Rebuild(*active, Now()); !status) {
    return status;
  }
  log::Info("event=rebuild table=inet/{} exceptions={}", config_.table_name,
            active->size());
  return Status::Ok();
}

Result<Request> Gate::Submit(const NewRequest& fields) {
  auto validated = ValidateNewRequest(fields, config_.instance_networks);
  if (!validated) return validated.error();
  auto ticket = NewTicket();
  if (!ticket) return ticket.error();
  auto request = store_.Insert(*validated, fields, *ticket, Now());
  if (!request) return request.error();
  log::Info("request={} event=request source={} requester={} domain={}",
            request->id, request->source.ToString(),
            log::Sanitize(request->requester), log::Sanitize(request->domain));
  return request;
}

Result<Request> Gate::Decide(std::int64_t id, Action action,
                             const std::string& actor,
                             const std::string& comment,
                             const std::string& until) {
  if (action == Action::kExpire) {
    return PermanentError(
        "expire is not a decision: egressd expires "
        "requests itself");
  }
  if (comment.size() > 2000) {
    return PermanentError("comment is longer than 2000 characters");
  }
  std::int64_t expires_at = 0;
  if (!until.empty()) {
    if (action != Action::kApprove) {
      return PermanentError("--until applies to approve only");
    }
    auto parsed = ParseExpiry(until, Now());
    if (!parsed) return parsed.error();
    expires_at = *parsed;
  }

  auto request =
      store_.Transition(id, action, actor, comment, expires_at, Now());
  if (!request) return request.error();
  log::Info("request={} event={} source={} actor={} state={}", id,
            ActionName(action), request->source.ToString(),
            log::Sanitize(actor), StateName(request->state));
  TestOnlyCrashAfterStore();

  std::vector<Prefix> cut;
  if (action == Action::kRevoke) cut.push_back(request->source);
  if (action == Action::kApprove || action == Action::kRevoke) {
    if (Status status = SyncAndCut(cut); !status) {
      return Error{
          fmt::format("request {} is {} but the rules were not "
                      "updated: {}",
                      id, StateName(request->state), status.error().message),
          true};
    }
  }
  return request;
}

Status Gate::SyncAndCut(const std::vector<Prefix>& cut) {
  auto active = ActiveExceptions();
  if (!active) return active.error();
  if (Status status = enforcer_.SyncExceptions(*active, Now()); !status) {
    log::Error("event=sync-failed error={}", status.error().message);
    return status;
  }
  for (const Prefix& source : cut) {
    // A source still covered by another unrestricted exception keeps its
    // connections.
    auto status = StatusOf(source.ToString());
    if (status && status->AllowedEverywhere()) continue;
    auto deleted = enforcer_.CutConnections(source);
    if (!deleted) {
      log::Error("event=conntrack-failed source={} error={}", source.ToString(),
                 deleted.error().message);
      return deleted.error();
    }
    log::Info("event=cut source={} connections={}", source.ToString(),
              *deleted);
  }
  return Status::Ok();
}

Status Gate::ExpireAndSync() {
  auto expired = store_.ExpireDue(Now());
  if (!expired) return expired.error();
  std::vector<Prefix> cut;
  for (const Request& request : *expired) {
    log::Info("request={} event=expire source={}", request.id,
              request.source.ToString());
    cut.push_back(request.source);
  }
  return SyncAndCut(cut);
}

std::int64_t Gate::NextExpiry() {
  auto active = ActiveExceptions();
  std::int64_t next = 0;
  if (!active) return 0;
  for (const Request& request : *active) {
    if (request.expires_at != 0 && (next == 0 || request.expires_at < next)) {
      next = request.expires_at;
    }
  }
  return next;
}

Result<AddressStatus> Gate::StatusOf(const std::string& address) {
  auto prefix = ParsePrefix(address);
  if (!prefix) return prefix.error();
  AddressStatus status;
  status.address = *prefix;
  status.is_instance = CoveredBy(*prefix, config_.instance_networks);
  auto active = ActiveExceptions();
  if (!active) return active.error();
  for (const Request& request : *active) {
    if (request.source.Contains(*prefix)) status.exceptions.push_back(request);
  }
  return status;
}

}  // namespace mailport::egress
