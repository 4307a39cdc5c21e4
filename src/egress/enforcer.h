// Enforcement of the port-25 block in nftables, and conntrack cleanup.
//
// egressd owns one table (`inet <nft_table>`) and nothing else.  Rebuild()
// replaces the whole table in one nftables transaction ("add table; delete
// table; table { ... }" in one buffer), so the kernel switches from the old
// rule set to the new one at once and a failure or crash leaves the old one.
// SyncExceptions() rewrites only the allow sets, also in one transaction,
// so the rules and their counters stay.  The layout is in docs/egress.md.
//
// The block matches every port-25 packet of a non-excepted instance source,
// not only the first SYN, so a revoked address's established connections
// stop too; CutConnections() also deletes their conntrack entries.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "egress/config.h"
#include "egress/request.h"
#include "util/result.h"

namespace mailport::egress {

struct BlockedCounter {
  std::string source;
  std::uint64_t packets = 0;
};

class Enforcer {
 public:
  virtual ~Enforcer() = default;
  virtual Status Rebuild(const std::vector<Request>& exceptions,
                         std::int64_t now) = 0;
  virtual Status SyncExceptions(const std::vector<Request>& exceptions,
                                std::int64_t now) = 0;
  // Returns how many conntrack entries were deleted.
  virtual Result<int> CutConnections(const Prefix& source) = 0;
};

class NftEnforcer : public Enforcer {
 public:
  explicit NftEnforcer(const Config& config) : config_(config) {}

  Status Rebuild(const std::vector<Request>& exceptions,
                 std::int64_t now) override;
  Status SyncExceptions(const std::vector<Request>& exceptions,
                        std::int64_t now) override;
  Result<int> CutConnections(const Prefix& source) override;

  // The nft scripts that Rebuild() and SyncExceptions() run.
  std::string BuildRuleset(const std::vector<Request>& exceptions,
                           std::int64_t now) const;
  std::string BuildSetUpdate(const std::vector<Request>& exceptions,
                             std::int64_t now) const;

  // SYN packets blocked per source, from the dynamic sets blocked_v4/v6.
  Result<std::vector<BlockedCounter>> BlockedCounters();
  // Returns the packet count of a named counter object.
  Result<std::uint64_t> NamedCounter(const std::string& name);
  // Returns one chain as `nft -a list chain` prints it.
  Result<std::string> ListChain(const std::string& chain);
  // Returns true when `address` matches the set `set`.
  Result<bool> SetContains(const std::string& set, const std::string& key);

  const Config& config() const { return config_; }

 private:
  Result<std::string> Run(const std::string& commands, bool json = false);
  std::string SetElements(const std::vector<Request>& exceptions,
                          std::int64_t now, Family family,
                          bool with_destinations) const;

  Config config_;
};

}  // namespace mailport::egress
