// The unblock workflow: validation, state changes in the store, and the
// matching rule changes.
//
// Order of work for every change: validate, commit the store, then update
// the nft sets.  A crash after the commit leaves the previous rules in
// force (the block is never missing) and the next start rebuilds the table
// from the store.  A failed rule update is logged and retried at the next
// expiry check.  Gate is not thread-safe: egressd calls it from its one
// io_context thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "egress/config.h"
#include "egress/enforcer.h"
#include "egress/request.h"
#include "egress/store.h"
#include "util/result.h"

namespace mailport::egress {

struct AddressStatus {
  Prefix address;
  bool is_instance = false;
  // Active exceptions that cover the address.
  std::vector<Request> exceptions;
  bool AllowedEverywhere() const;
  std::string Summary() const;
};

class Gate {
 public:
  using Clock = std::function<std::int64_t()>;
  Gate(const Config& config, Store& store, Enforcer& enforcer, Clock clock);

  // Expires what is due and rebuilds the whole table.
  Status Start();
  Result<Request> Submit(const NewRequest& fields);
  // `until` is an expiry as ParseExpiry() takes it; only approve uses it.
  Result<Request> Decide(std::int64_t id, Action action,
                         const std::string& actor, const std::string& comment,
                         const std::string& until);
  // Expires due exceptions and rewrites the sets; called by a timer.
  Status ExpireAndSync();
  // Returns the earliest expiry of an active exception, or 0.
  std::int64_t NextExpiry();
  Result<AddressStatus> StatusOf(const std::string& address);
  Result<std::vector<Request>> ActiveExceptions();

  Store& store() { return store_; }
  std::int64_t Now() const { return clock_(); }

 private:
  Status SyncAndCut(const std::vector<Prefix>& cut);

  const Config& config_;
  Store& store_;
  Enforcer& enforcer_;
  Clock clock_;
};

}  // namespace mailport::egress
