// The egressd HTTP API (JSON) and the unblocking center page.
//
// Routes (docs/egress.md has the request and response fields):
//   GET  /                              the unblocking center page
//   POST /api/v1/requests               file a request (tenant, no token)
//   GET  /api/v1/requests/ID?ticket=T   one request: operator token or the
//                                       ticket returned when it was filed
//   GET  /api/v1/requests[?state=S]     operator
//   POST /api/v1/requests/ID/ACTION     approve, deny, revoke; operator
//   GET  /api/v1/status/ADDRESS         operator
//   GET  /api/v1/diagnose/ADDRESS       operator
//   GET  /api/v1/counters               operator
//   GET  /api/v1/audit[?request=ID]     operator
// Operators send "Authorization: Bearer TOKEN"; the token's name is
// recorded as the decider.  Errors are {"error": "..."} with 400 (invalid
// input), 401 (no or wrong token), 404, 409 (wrong state) or 503.
#pragma once

#include <string>
#include <vector>

#include "egress/config.h"
#include "egress/enforcer.h"
#include "egress/gate.h"
#include "egress/http.h"

namespace mailport::egress {

class Api {
 public:
  Api(Gate& gate, NftEnforcer& enforcer, std::vector<OperatorToken> tokens)
      : gate_(gate), enforcer_(enforcer), tokens_(std::move(tokens)) {}
  http::Response Handle(const http::Request& request);

 private:
  // Returns the operator name, or "" when the token is missing or wrong.
  std::string Authenticate(const http::Request& request) const;
  http::Response Diagnose(const std::string& address);

  Gate& gate_;
  NftEnforcer& enforcer_;
  std::vector<OperatorToken> tokens_;
};

// The HTML of the unblocking center.
const std::string& UnblockingCenterPage();

}  // namespace mailport::egress
