// Unit tests of the egress library: prefixes, configuration, the request
// state machine, input validation, the store, the workflow and the HTTP API
// (with a fake enforcer), and the nft rule set text.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "egress/api.h"
#include "egress/config.h"
#include "egress/enforcer.h"
#include "egress/gate.h"
#include "egress/prefix.h"
#include "egress/request.h"
#include "egress/store.h"

namespace mailport::egress {
namespace {

constexpr std::int64_t kNow = 1'800'000'000;

std::vector<Prefix> InstanceNetworks() {
  return *ParsePrefixList("203.0.113.0/24, 2001:db8::/64");
}

TEST(Prefix, ParsesAddressesAndPrefixes) {
  auto host = ParsePrefix("203.0.113.10");
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(host->length, 32);
  EXPECT_EQ(host->ToString(), "203.0.113.10");
  auto network = ParsePrefix("2001:db8::/64");
  ASSERT_TRUE(network.ok());
  EXPECT_EQ(network->family, Family::kIpv6);
  EXPECT_EQ(network->ToString(), "2001:db8::/64");
  EXPECT_TRUE(network->Contains(*ParsePrefix("2001:db8::10")));
  EXPECT_FALSE(network->Contains(*ParsePrefix("2001:db8:1::10")));
  EXPECT_FALSE(network->Contains(*host));
}

TEST(Prefix, RejectsInvalidText) {
  for (const char* text : {"", "203.0.113", "203.0.113.256", "203.0.113.0/",
                           "203.0.113.0/33", "2001:db8::/129", "example.test",
                           "203.0.113.0/-1", "203.0.113.0/2x", "::1/abc"}) {
    EXPECT_FALSE(ParsePrefix(text).ok()) << text;
  }
}

TEST(Prefix, HostBitsRejectedUnlessAllowed) {
  auto rejected = ParsePrefix("203.0.113.7/24");
  ASSERT_FALSE(rejected.ok());
  EXPECT_NE(rejected.error().message.find("203.0.113.0/24"), std::string::npos);
  auto cleared = ParsePrefix("203.0.113.7/24", true);
  ASSERT_TRUE(cleared.ok());
  EXPECT_EQ(cleared->ToString(), "203.0.113.0/24");
}

TEST(Prefix, CoveredByInstanceRanges) {
  auto ranges = InstanceNetworks();
  EXPECT_TRUE(CoveredBy(*ParsePrefix("203.0.113.64/26"), ranges));
  EXPECT_TRUE(CoveredBy(*ParsePrefix("203.0.113.0/24"), ranges));
  EXPECT_FALSE(CoveredBy(*ParsePrefix("203.0.112.0/23"), ranges));
  EXPECT_FALSE(CoveredBy(*ParsePrefix("2001:db8::/48"), ranges));
  EXPECT_FALSE(CoveredBy(*ParsePrefix("198.51.100.1"), ranges));
}

TEST(Config, ParsesEveryKey) {
  auto config = ParseConfig(
      "# gateway\n"
      "instance_networks = 203.0.113.0/24,\n"
      "    2001:db8::/64\n"
      "instance_interfaces = eth1 eth2\n"
      "blocked_action = reject\n"
      "nft_hook = prerouting\n"
      "nft_priority = 5\n"
      "nft_table = gate\n"
      "database = /tmp/x.db\n"
      "api_listen = 127.0.0.1:8025\n"
      "api_token_file = /tmp/tokens\n"
      "expiry_check_interval = 10\n"
      "conntrack_flush = no\n"
      "log_file = /tmp/log\n"
      "log_level = debug\n");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->instance_networks.size(), 2u);
  EXPECT_EQ(config->instance_interfaces,
            (std::vector<std::string>{"eth1", "eth2"}));
  EXPECT_EQ(config->blocked_action, BlockedAction::kReject);
  EXPECT_EQ(config->hook, Hook::kPrerouting);
  EXPECT_EQ(config->hook_priority, 5);
  EXPECT_EQ(config->table_name, "gate");
  EXPECT_EQ(config->api_listen, "127.0.0.1:8025");
  EXPECT_EQ(config->expiry_check_interval.count(), 10);
  EXPECT_FALSE(config->conntrack_flush);
  EXPECT_EQ(config->log_level, "debug");
}

TEST(Config, ErrorsNameLineAndKey) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& row : std::vector<Case>{
           {"blocked_action = drop\n", "instance_networks is missing"},
           {"instance_networks = 203.0.113.0/24\nbogus = 1\n",
            "f:2: bogus: unknown parameter"},
           {"instance_networks = 203.0.113.300/24\n", "f:1: instance_networks"},
           {"instance_networks = 203.0.113.0/24\nblocked_action = maybe\n",
            "f:2: blocked_action"},
           {"instance_networks = 203.0.113.0/24\ninstance_networks = "
            "2001:db8::/64\n",
            "already set on line 1"},
           {"instance_networks = 203.0.113.0/24\nnft_priority = -300\n",
            "greater than -200"},
           {"instance_networks = 203.0.113.0/24\nnft_table = a;b\n",
            "nft_table"},
           {"  continued\n", "continuation line"},
           {"instance_networks\n", "expected \"key = value\""},
       }) {
    auto config = ParseConfig(row.text, "f");
    ASSERT_FALSE(config.ok()) << row.text;
    EXPECT_NE(config.error().message.find(row.message), std::string::npos)
        << config.error().message;
  }
}

TEST(StateMachine, AllowedTransitions) {
  EXPECT_EQ(*NextState(State::kPending, Action::kApprove), State::kApproved);
  EXPECT_EQ(*NextState(State::kPending, Action::kDeny), State::kDenied);
  EXPECT_EQ(*NextState(State::kApproved, Action::kRevoke), State::kRevoked);
  EXPECT_EQ(*NextState(State::kApproved, Action::kExpire), State::kExpired);
}

TEST(StateMachine, RejectedTransitions) {
  const State all_states[] = {State::kPending, State::kApproved, State::kDenied,
                              State::kRevoked, State::kExpired};
  const Action all_actions[] = {Action::kApprove, Action::kDeny,
                                Action::kRevoke, Action::kExpire};
  int allowed = 0;
  for (State state : all_states) {
    for (Action action : all_actions) {
      auto next = NextState(state, action);
      if (next.ok()) {
        ++allowed;
        continue;
      }
      EXPECT_NE(next.error().message.find(StateName(state)), std::string::npos)
          << next.error().message;
    }
  }
  EXPECT_EQ(allowed, 4);
  auto error = NextState(State::kDenied, Action::kApprove);
  ASSERT_FALSE(error.ok());
  EXPECT_EQ(error.error().message,
            "cannot approve a request that is denied: only pending requests "
            "can be approved");
}

TEST(StateMachine, OnlyApprovedUnexpiredIsException) {
  Request request;
  request.state = State::kApproved;
  EXPECT_TRUE(request.IsActiveException(kNow));
  request.expires_at = kNow + 1;
  EXPECT_TRUE(request.IsActiveException(kNow));
  request.expires_at = kNow;
  EXPECT_FALSE(request.IsActiveException(kNow));
  request.expires_at = 0;
  for (State state :
       {State::kPending, State::kDenied, State::kRevoked, State::kExpired}) {
    request.state = state;
    EXPECT_FALSE(request.IsActiveException(kNow)) << StateName(state);
  }
}

TEST(Validation, AcceptsInstanceAddress) {
  NewRequest request{
      "203.0.113.10", {"198.51.100.0/24"}, "invoices", "example.test", 500,
      "tenant"};
  auto validated = ValidateNewRequest(request, InstanceNetworks());
  ASSERT_TRUE(validated.ok()) << validated.error().message;
  EXPECT_EQ(validated->source.ToString(), "203.0.113.10");
  ASSERT_EQ(validated->destinations.size(), 1u);
}

TEST(Validation, RejectsBadInput) {
  struct Case {
    NewRequest request;
    const char* message;
  };
  std::vector<Case> cases = {
      {{"203.0.113.999", {}, "x", "", 0, ""}, "invalid address"},
      {{"203.0.112.0/23", {}, "x", "", 0, ""}, "not inside the instance"},
      {{"2001:db8::/32", {}, "x", "", 0, ""}, "not inside the instance"},
      {{"0.0.0.0/0", {}, "x", "", 0, ""}, "not inside the instance"},
      {{"203.0.113.10", {"2001:db8:1::25"}, "x", "", 0, ""},
       "same address family"},
      {{"203.0.113.10", {"198.51.100.300"}, "x", "", 0, ""}, "invalid address"},
      {{"203.0.113.10", {}, "", "", 0, ""}, "reason is missing"},
      {{"203.0.113.10", {}, "a\x01", "", 0, ""}, "invalid reason"},
      {{"203.0.113.10", {}, "x", "-bad..domain", 0, ""},
       "invalid sending domain"},
      {{"203.0.113.10", {}, "x", "", -1, ""}, "invalid daily volume"},
      {{"203.0.113.10", {}, "x", "", 0, "a\nb"}, "invalid requester"},
  };
  for (const Case& row : cases) {
    auto validated = ValidateNewRequest(row.request, InstanceNetworks());
    ASSERT_FALSE(validated.ok()) << row.message;
    EXPECT_NE(validated.error().message.find(row.message), std::string::npos)
        << validated.error().message;
  }
}

TEST(Expiry, ParsesFormats) {
  EXPECT_EQ(*ParseExpiry("+30s", kNow), kNow + 30);
  EXPECT_EQ(*ParseExpiry("+2h", kNow), kNow + 7200);
  EXPECT_EQ(*ParseExpiry("+7d", kNow), kNow + 7 * 86400);
  EXPECT_EQ(*ParseExpiry("2030-01-01", kNow), 1893456000);
  EXPECT_EQ(*ParseExpiry("2030-01-01T00:00:10Z", kNow), 1893456010);
  EXPECT_EQ(*ParseExpiry("@1900000000", kNow), 1900000000);
  EXPECT_EQ(FormatTime(1893456010), "2030-01-01T00:00:10Z");
}

TEST(Expiry, RejectsPastAndGarbage) {
  auto past = ParseExpiry("2020-01-01", kNow);
  ASSERT_FALSE(past.ok());
  EXPECT_NE(past.error().message.find("in the past"), std::string::npos);
  EXPECT_FALSE(ParseExpiry("+0s", kNow).ok());
  for (const char* text :
       {"", "+", "+5", "+5y", "+-5s", "tomorrow", "2030-13-01x", "@abc"}) {
    EXPECT_FALSE(ParseExpiry(text, kNow).ok()) << text;
  }
}

class FakeEnforcer : public Enforcer {
 public:
  Status Rebuild(const std::vector<Request>& exceptions,
                 std::int64_t) override {
    ++rebuilds;
    last = exceptions;
    return Status::Ok();
  }
  Status SyncExceptions(const std::vector<Request>& exceptions,
                        std::int64_t) override {
    ++syncs;
    last = exceptions;
    if (fail) return TemporaryError("injected failure");
    return Status::Ok();
  }
  Result<int> CutConnections(const Prefix& source) override {
    cut.push_back(source.ToString());
    return 1;
  }
  int rebuilds = 0;
  int syncs = 0;
  bool fail = false;
  std::vector<Request> last;
  std::vector<std::string> cut;
};

class GateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ =
        std::filesystem::temp_directory_path() /
        ("egress-test-" + std::to_string(::getpid()) + "-" +
         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(directory_);
    std::filesystem::create_directories(directory_);
    config_.instance_networks = InstanceNetworks();
    OpenStore();
  }
  void TearDown() override {
    gate_.reset();
    store_.reset();
    std::filesystem::remove_all(directory_);
  }
  void OpenStore() {
    gate_.reset();
    store_.reset();
    auto store = Store::Open(directory_ / "egress.db");
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
    gate_ = std::make_unique<Gate>(config_, *store_, enforcer_,
                                   [this] { return now_; });
  }
  std::int64_t Submit(const std::string& address) {
    auto request = gate_->Submit(
        {address, {}, "transactional mail", "example.test", 10, "tenant"});
    EXPECT_TRUE(request.ok()) << request.error().message;
    return request.ok() ? request->id : 0;
  }

  std::filesystem::path directory_;
  Config config_;
  FakeEnforcer enforcer_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Gate> gate_;
  std::int64_t now_ = kNow;
};

TEST_F(GateTest, ApproveThenRevoke) {
  std::int64_t id = Submit("203.0.113.10");
  auto approved = gate_->Decide(id, Action::kApprove, "alice", "ok", "");
  ASSERT_TRUE(approved.ok()) << approved.error().message;
  EXPECT_EQ(approved->state, State::kApproved);
  EXPECT_EQ(approved->decided_by, "alice");
  ASSERT_EQ(enforcer_.last.size(), 1u);
  EXPECT_TRUE(enforcer_.cut.empty());

  auto revoked = gate_->Decide(id, Action::kRevoke, "bob", "abuse", "");
  ASSERT_TRUE(revoked.ok());
  EXPECT_EQ(revoked->state, State::kRevoked);
  EXPECT_TRUE(enforcer_.last.empty());
  EXPECT_EQ(enforcer_.cut, std::vector<std::string>{"203.0.113.10"});

  auto audit = store_->Audit(id);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 3u);
  EXPECT_EQ((*audit)[0].event, "request");
  EXPECT_EQ((*audit)[1].event, "approve");
  EXPECT_EQ((*audit)[1].actor, "alice");
  EXPECT_EQ((*audit)[2].from_state, "approved");
  EXPECT_EQ((*audit)[2].to_state, "revoked");
  EXPECT_EQ((*audit)[2].comment, "abuse");
}

TEST_F(GateTest, DecisionOnNonPendingChangesNothing) {
  std::int64_t id = Submit("203.0.113.10");
  ASSERT_TRUE(gate_->Decide(id, Action::kDeny, "alice", "no", "").ok());
  int syncs = enforcer_.syncs;
  for (Action action : {Action::kApprove, Action::kDeny, Action::kRevoke}) {
    auto result = gate_->Decide(id, action, "alice", "", "");
    ASSERT_FALSE(result.ok());
    EXPECT_FALSE(result.error().temporary);
  }
  EXPECT_EQ(enforcer_.syncs, syncs);
  EXPECT_EQ(store_->Get(id)->state, State::kDenied);
  EXPECT_EQ(store_->Audit(id)->size(), 2u);
}

TEST_F(GateTest, PastExpiryRejected) {
  std::int64_t id = Submit("203.0.113.10");
  auto result = gate_->Decide(id, Action::kApprove, "alice", "", "2020-01-01");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(store_->Get(id)->state, State::kPending);
  auto on_deny = gate_->Decide(id, Action::kDeny, "alice", "", "+1d");
  ASSERT_FALSE(on_deny.ok());
  EXPECT_EQ(store_->Get(id)->state, State::kPending);
}

TEST_F(GateTest, ExpiryEndsException) {
  std::int64_t id = Submit("2001:db8::10");
  ASSERT_TRUE(gate_->Decide(id, Action::kApprove, "alice", "", "+60s").ok());
  EXPECT_EQ(gate_->NextExpiry(), kNow + 60);
  ASSERT_TRUE(gate_->StatusOf("2001:db8::10")->AllowedEverywhere());

  now_ += 59;
  ASSERT_TRUE(gate_->ExpireAndSync().ok());
  EXPECT_EQ(store_->Get(id)->state, State::kApproved);
  now_ += 1;
  ASSERT_TRUE(gate_->ExpireAndSync().ok());
  EXPECT_EQ(store_->Get(id)->state, State::kExpired);
  EXPECT_TRUE(enforcer_.last.empty());
  EXPECT_EQ(enforcer_.cut, std::vector<std::string>{"2001:db8::10"});
  EXPECT_TRUE(gate_->StatusOf("2001:db8::10")->exceptions.empty());
  EXPECT_EQ(gate_->NextExpiry(), 0);
}

TEST_F(GateTest, DecisionsSurviveReopen) {
  std::int64_t approved = Submit("203.0.113.10");
  std::int64_t denied = Submit("203.0.113.11");
  ASSERT_TRUE(gate_->Decide(approved, Action::kApprove, "a", "", "").ok());
  ASSERT_TRUE(gate_->Decide(denied, Action::kDeny, "a", "", "").ok());
  OpenStore();
  ASSERT_TRUE(gate_->Start().ok());
  EXPECT_EQ(enforcer_.rebuilds, 1);
  ASSERT_EQ(enforcer_.last.size(), 1u);
  EXPECT_EQ(enforcer_.last[0].id, approved);
  EXPECT_EQ(store_->Get(denied)->state, State::kDenied);
}

TEST_F(GateTest, FailedRuleUpdateIsTemporary) {
  std::int64_t id = Submit("203.0.113.10");
  enforcer_.fail = true;
  auto result = gate_->Decide(id, Action::kApprove, "alice", "", "");
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(result.error().temporary);
  EXPECT_NE(result.error().message.find("rules were not updated"),
            std::string::npos);
}

TEST_F(GateTest, RevokeKeepsConnectionsOfWiderException) {
  std::int64_t wide = Submit("203.0.113.0/24");
  std::int64_t narrow = Submit("203.0.113.10");
  ASSERT_TRUE(gate_->Decide(wide, Action::kApprove, "a", "", "").ok());
  ASSERT_TRUE(gate_->Decide(narrow, Action::kApprove, "a", "", "").ok());
  ASSERT_TRUE(gate_->Decide(narrow, Action::kRevoke, "a", "", "").ok());
  EXPECT_TRUE(enforcer_.cut.empty());
  EXPECT_TRUE(gate_->StatusOf("203.0.113.10")->AllowedEverywhere());
}

TEST_F(GateTest, AuditIsAppendOnly) {
  Submit("203.0.113.10");
  sqlite3* database = nullptr;
  ASSERT_EQ(sqlite3_open((directory_ / "egress.db").c_str(), &database),
            SQLITE_OK);
  EXPECT_NE(
      sqlite3_exec(database, "DELETE FROM audit", nullptr, nullptr, nullptr),
      SQLITE_OK);
  EXPECT_NE(sqlite3_exec(database, "UPDATE audit SET actor = 'x'", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(database);
  EXPECT_EQ(store_->Audit(0)->size(), 1u);
}

http::Request ApiRequest(std::string method, std::string path,
                         std::string body = "", std::string token = "") {
  http::Request request;
  request.method = std::move(method);
  request.path = std::move(path);
  request.body = std::move(body);
  if (!token.empty()) request.headers["authorization"] = "Bearer " + token;
  return request;
}

constexpr const char* kToken = "operator-token-0123456789";

TEST_F(GateTest, ApiTenantAndOperatorAccess) {
  NftEnforcer unused_nft(config_);
  Api api(*gate_, unused_nft, {{"alice", kToken}});

  auto created = api.Handle(ApiRequest(
      "POST", "/api/v1/requests",
      R"({"address":"203.0.113.10","reason":"invoices","daily_volume":5})"));
  ASSERT_EQ(created.status, 201) << created.body;
  auto body = nlohmann::json::parse(created.body);
  std::string ticket = body["ticket"];
  EXPECT_EQ(body["state"], "pending");
  EXPECT_EQ(body["requester"], "tenant");

  auto anonymous = ApiRequest("GET", "/api/v1/requests/1");
  EXPECT_EQ(api.Handle(anonymous).status, 401);
  anonymous.query["ticket"] = "0" + ticket.substr(1);
  if (ticket[0] == '0') anonymous.query["ticket"] = "1" + ticket.substr(1);
  EXPECT_EQ(api.Handle(anonymous).status, 401);
  anonymous.query["ticket"] = ticket;
  EXPECT_EQ(api.Handle(anonymous).status, 200);
  EXPECT_EQ(api.Handle(ApiRequest("GET", "/api/v1/requests/99")).status, 401);

  EXPECT_EQ(api.Handle(ApiRequest("GET", "/api/v1/requests")).status, 401);
  EXPECT_EQ(api.Handle(ApiRequest("GET", "/api/v1/requests", "", "wrong-token"))
                .status,
            401);
  EXPECT_EQ(
      api.Handle(ApiRequest("POST", "/api/v1/requests/1/approve", "{}")).status,
      401);
  EXPECT_EQ(store_->Get(1)->state, State::kPending);

  auto approved = api.Handle(ApiRequest("POST", "/api/v1/requests/1/approve",
                                        R"({"comment":"ok"})", kToken));
  ASSERT_EQ(approved.status, 200) << approved.body;
  EXPECT_EQ(nlohmann::json::parse(approved.body)["decided_by"], "alice");
  EXPECT_EQ(nlohmann::json::parse(approved.body).count("ticket"), 0u);

  auto again = api.Handle(
      ApiRequest("POST", "/api/v1/requests/1/approve", "{}", kToken));
  EXPECT_EQ(again.status, 409) << again.body;
  auto missing =
      api.Handle(ApiRequest("POST", "/api/v1/requests/7/deny", "{}", kToken));
  EXPECT_EQ(missing.status, 404) << missing.body;
  auto expire =
      api.Handle(ApiRequest("POST", "/api/v1/requests/1/expire", "{}", kToken));
  EXPECT_EQ(expire.status, 404) << expire.body;

  auto history =
      api.Handle(ApiRequest("GET", "/api/v1/requests/1", "", kToken));
  ASSERT_EQ(history.status, 200);
  EXPECT_EQ(nlohmann::json::parse(history.body)["history"].size(), 2u);
}

TEST_F(GateTest, ApiRejectsBadInput) {
  NftEnforcer unused_nft(config_);
  Api api(*gate_, unused_nft, {{"alice", kToken}});
  struct Case {
    http::Request request;
    int status;
    const char* message;
  };
  std::vector<Case> cases = {
      {ApiRequest("POST", "/api/v1/requests", "not json"), 400, "JSON object"},
      {ApiRequest(
           "POST", "/api/v1/requests",
           R"({"address":"203.0.113.10","reason":"x","daily_volume":"a"})"),
       400, "daily_volume"},
      {ApiRequest("POST", "/api/v1/requests",
                  R"({"address":"192.0.2.1","reason":"x"})"),
       400, "not inside the instance networks"},
      {ApiRequest(
           "POST", "/api/v1/requests",
           R"({"address":"203.0.113.10","reason":"x","destinations":[1]})"),
       400, "strings"},
      {ApiRequest("GET", "/api/v1/requests/abc", "", kToken), 400,
       "invalid request id"},
      {ApiRequest("GET", "/api/v1/status/bogus", "", kToken), 400,
       "invalid address"},
      {ApiRequest("GET", "/api/v1/nothing", "", kToken), 404, "no such"},
  };
  auto list_state = ApiRequest("GET", "/api/v1/requests", "", kToken);
  list_state.query["state"] = "open";
  cases.push_back({list_state, 400, "invalid state"});
  for (const Case& row : cases) {
    auto response = api.Handle(row.request);
    EXPECT_EQ(response.status, row.status) << row.request.path;
    EXPECT_NE(response.body.find(row.message), std::string::npos)
        << response.body;
  }
  EXPECT_TRUE(store_->List(std::nullopt)->empty());
  EXPECT_TRUE(store_->Audit(0)->empty());
}

TEST(Http, UrlEncodingRoundTrip) {
  EXPECT_EQ(http::UrlEncode("2001:db8::10"), "2001%3Adb8%3A%3A10");
  EXPECT_EQ(http::UrlDecode("2001%3Adb8%3A%3A10"), "2001:db8::10");
  EXPECT_EQ(http::UrlDecode("a+b%2"), "a b%2");
  EXPECT_EQ(http::UrlDecode("%zz"), "%zz");
}

TEST(Ruleset, ContainsBlockAndExceptions) {
  Config config;
  config.instance_networks = InstanceNetworks();
  config.instance_interfaces = {"eth1"};
  config.blocked_action = BlockedAction::kReject;
  NftEnforcer enforcer(config);
  Request everywhere;
  everywhere.state = State::kApproved;
  everywhere.source = *ParsePrefix("203.0.113.10");
  everywhere.expires_at = kNow + 100;
  Request inside = everywhere;
  inside.source = *ParsePrefix("203.0.113.8/29");
  inside.expires_at = 0;
  Request restricted;
  restricted.state = State::kApproved;
  restricted.source = *ParsePrefix("2001:db8::10");
  restricted.destinations = {*ParsePrefix("2001:db8:1::/48")};
  Request pending = everywhere;
  pending.state = State::kPending;
  pending.source = *ParsePrefix("203.0.113.99");

  std::string rules =
      enforcer.BuildRuleset({everywhere, inside, restricted, pending}, kNow);
  EXPECT_NE(rules.find("delete table inet mailport_egress"), std::string::npos);
  EXPECT_NE(rules.find("iifname { \"eth1\" } meta l4proto tcp tcp dport 25"),
            std::string::npos);
  EXPECT_NE(rules.find("elements = { 203.0.113.0/24 }"), std::string::npos);
  EXPECT_NE(rules.find("elements = { 2001:db8::/64 }"), std::string::npos);
  // 203.0.113.10 lies inside 203.0.113.8/29, so only the /29 is loaded.
  EXPECT_NE(rules.find("elements = { 203.0.113.8/29 }"), std::string::npos);
  EXPECT_EQ(rules.find("203.0.113.10 timeout"), std::string::npos);
  EXPECT_NE(rules.find("2001:db8::10 . 2001:db8:1::/48"), std::string::npos);
  EXPECT_EQ(rules.find("203.0.113.99"), std::string::npos);
  EXPECT_NE(rules.find("reject with tcp reset comment \"port 25 blocked\""),
            std::string::npos);

  std::string update = enforcer.BuildSetUpdate({everywhere}, kNow);
  EXPECT_NE(update.find("flush set inet mailport_egress allow_v4"),
            std::string::npos);
  EXPECT_NE(update.find("add element inet mailport_egress allow_v4 { "
                        "203.0.113.10 timeout 100s }"),
            std::string::npos);
  EXPECT_EQ(update.find("chain"), std::string::npos);
}

TEST(Ruleset, DropAction) {
  Config config;
  config.instance_networks = InstanceNetworks();
  NftEnforcer enforcer(config);
  std::string rules = enforcer.BuildRuleset({}, kNow);
  EXPECT_NE(rules.find("drop comment \"port 25 blocked\""), std::string::npos);
  EXPECT_EQ(rules.find("reject"), std::string::npos);
  EXPECT_EQ(rules.find("iifname"), std::string::npos);
}

}  // namespace
}  // namespace mailport::egress
