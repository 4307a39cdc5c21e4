// Durable store of unblock requests and their audit log, on SQLite.
//
// Every change runs in one IMMEDIATE transaction that updates the request
// and appends its audit entry, with synchronous=FULL, so after a crash
// either both are on disk or neither is.  The audit table is append-only:
// triggers abort any UPDATE or DELETE on it.  One Store object is used from
// one thread at a time.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "egress/request.h"
#include "util/result.h"

namespace mailport::egress {

class Store {
 public:
  static Result<std::unique_ptr<Store>> Open(const std::filesystem::path& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  Result<Request> Insert(const ValidatedRequest& validated,
                         const NewRequest& fields, const std::string& ticket,
                         std::int64_t now);
  // A missing request is a permanent error "request ID not found".
  Result<Request> Get(std::int64_t id);
  Result<std::vector<Request>> List(std::optional<State> state);

  // Applies `action` if the state machine allows it.  `expires_at` is
  // stored only by approve.
  Result<Request> Transition(std::int64_t id, Action action,
                             const std::string& actor,
                             const std::string& comment,
                             std::int64_t expires_at, std::int64_t now);

  // Moves every approved request whose expiry is at or before `now` to
  // expired and returns them.
  Result<std::vector<Request>> ExpireDue(std::int64_t now);

  // Returns the audit log, of one request or (with 0) of all.
  Result<std::vector<AuditEntry>> Audit(std::int64_t request_id);

 private:
  explicit Store(sqlite3* database) : database_(database) {}
  Status Execute(const char* sql);
  Result<Request> TransitionLocked(std::int64_t id, Action action,
                                   const std::string& actor,
                                   const std::string& comment,
                                   std::int64_t expires_at, std::int64_t now);

  sqlite3* database_;
};

}  // namespace mailport::egress
