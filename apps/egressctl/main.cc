// egressctl: the operator's and tenant's command line for egressd.  Every
// command is one call to the egressd HTTP API, so egressd stays the only
// writer of the store and the nftables table.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "egress/config.h"
#include "egress/http.h"

namespace {

using namespace mailport;
using namespace mailport::egress;
using nlohmann::json;

struct Connection {
  std::string address;
  std::string token;
};

void PrintRequest(const json& request) {
  std::printf(
      "request %lld: %s %s\n", static_cast<long long>(request.value("id", 0)),
      request.value("address", "").c_str(), request.value("state", "").c_str());
  for (const char* field :
       {"requester", "domain", "reason", "created_at", "decided_by",
        "decided_at", "comment", "expires_at", "ticket"}) {
    if (!request.contains(field)) continue;
    std::string value = request[field].get<std::string>();
    if (!value.empty()) std::printf("  %-11s %s\n", field, value.c_str());
  }
  std::printf("  %-11s %lld\n", "volume",
              static_cast<long long>(request.value("daily_volume", 0)));
  if (!request["destinations"].empty()) {
    std::printf("  %-11s", "toward");
    for (const auto& destination : request["destinations"]) {
      std::printf(" %s", destination.get<std::string>().c_str());
    }
    std::printf("\n");
  }
  for (const auto& entry : request.value("history", json::array())) {
    std::printf("  history     %s %s %s -> %s by %s%s%s\n",
                entry.value("at", "").c_str(), entry.value("event", "").c_str(),
                entry.value("from", "").c_str(), entry.value("to", "").c_str(),
                entry.value("actor", "").c_str(),
                entry.value("comment", "").empty() ? "" : ": ",
                entry.value("comment", "").c_str());
  }
}

// Sends one call and prints the result; returns the exit status.
int Call(const Connection& connection, const std::string& method,
         const std::string& target, const json& body, bool raw,
         const std::function<void(const json&)>& print) {
  auto response =
      http::Send(connection.address, method, target, connection.token,
                 body.is_null() ? "" : body.dump());
  if (!response) {
    std::fprintf(stderr, "egressctl: %s\n", response.error().message.c_str());
    return 3;
  }
  json document = json::parse(response->body, nullptr, false);
  if (response->status >= 300) {
    std::string message = document.is_object()
                              ? document.value("error", response->body)
                              : response->body;
    std::fprintf(stderr, "egressctl: %s\n", message.c_str());
    return response->status == 401 ? 4 : 1;
  }
  if (raw || document.is_discarded()) {
    std::printf("%s\n", response->body.c_str());
  } else {
    print(document);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"egressctl: file, review and inspect port-25 unblock requests"};
  app.require_subcommand(1);
  std::string config_path = "/etc/mailport/egressd.conf";
  std::string api_address, token_file, operator_name;
  bool raw = false;
  app.add_option("-c,--config", config_path,
                 "egressd configuration that names the API and token file");
  app.add_option("--api", api_address,
                 "API address, unix:/path or ADDRESS:PORT (overrides the "
                 "configuration)");
  app.add_option("--token-file", token_file, "operator token file");
  app.add_option(
      "--operator", operator_name,
      "use this operator's token from the file (default: the first)");
  app.add_flag("--json", raw, "print the API's JSON response");

  std::string address, reason, domain, requester, state, comment, until;
  std::vector<std::string> destinations;
  std::int64_t volume = 0, id = 0;
  auto* request = app.add_subcommand("request", "file an unblock request");
  request->add_option("ADDRESS", address, "instance address or prefix")
      ->required();
  request->add_option("--reason", reason, "use case")->required();
  request->add_option("--domain", domain, "sending domain");
  request->add_option("--volume", volume, "expected messages per day");
  request->add_option("--destination", destinations,
                      "allow only toward this prefix (repeatable)");
  request->add_option("--requester", requester, "who asks (default: operator)");
  auto* list = app.add_subcommand("list", "list requests");
  list->add_option("--state", state,
                   "pending, approved, denied, revoked or expired");
  auto* show = app.add_subcommand("show", "show a request and its history");
  show->add_option("ID", id, "request number")->required();
  std::map<std::string, CLI::App*> decisions;
  for (const char* action : {"approve", "deny", "revoke"}) {
    auto* command =
        app.add_subcommand(action, std::string(action) + " a request");
    command->add_option("ID", id, "request number")->required();
    command->add_option("--comment", comment, "recorded with the decision");
    if (std::string_view(action) == "approve") {
      command->add_option("--until", until,
                          "expiry: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or "
                          "+N[smhd]");
    }
    decisions[action] = command;
  }
  auto* status = app.add_subcommand("status", "is an address blocked, and why");
  status->add_option("ADDRESS", address, "instance address")->required();
  auto* diagnose = app.add_subcommand(
      "diagnose", "what the rules do to a port-25 connection from an address");
  diagnose->add_option("ADDRESS", address, "instance address")->required();
  auto* counters =
      app.add_subcommand("counters", "blocked port-25 attempts per source");
  auto* audit = app.add_subcommand("audit", "print the audit log");
  audit->add_option("--request", id, "only this request");
  CLI11_PARSE(app, argc, argv);

  Connection connection{api_address, ""};
  bool need_config = api_address.empty() || token_file.empty();
  if (need_config) {
    auto config = LoadConfig(config_path);
    if (!config) {
      std::fprintf(stderr, "egressctl: %s (or pass --api and --token-file)\n",
                   config.error().message.c_str());
      return 2;
    }
    if (connection.address.empty()) connection.address = config->api_listen;
    if (token_file.empty()) token_file = config->api_token_file.string();
  }
  // A tenant without access to the token file can still file and check.
  if (auto tokens = LoadTokens(token_file); tokens && !tokens->empty()) {
    connection.token = tokens->front().token;
    for (const OperatorToken& token : *tokens) {
      if (token.name == operator_name) connection.token = token.token;
    }
  }

  auto print_one = [](const json& document) { PrintRequest(document); };
  if (request->parsed()) {
    json body = {{"address", address},
                 {"reason", reason},
                 {"domain", domain},
                 {"daily_volume", volume},
                 {"destinations", destinations}};
    if (!requester.empty()) body["requester"] = requester;
    return Call(connection, "POST", "/api/v1/requests", body, raw, print_one);
  }
  if (list->parsed()) {
    std::string target = "/api/v1/requests";
    if (!state.empty()) target += "?state=" + http::UrlEncode(state);
    return Call(connection, "GET", target, nullptr, raw, [](const json& items) {
      for (const auto& item : items) {
        std::printf("%-5lld %-10s %-28s %-24s %s\n",
                    static_cast<long long>(item.value("id", 0)),
                    item.value("state", "").c_str(),
                    item.value("address", "").c_str(),
                    item.value("domain", "").c_str(),
                    item.value("requester", "").c_str());
      }
    });
  }
  if (show->parsed()) {
    return Call(connection, "GET", fmt::format("/api/v1/requests/{}", id),
                nullptr, raw, print_one);
  }
  for (const auto& [action, command] : decisions) {
    if (!command->parsed()) continue;
    json body = {{"comment", comment}};
    if (!until.empty()) body["until"] = until;
    return Call(connection, "POST",
                fmt::format("/api/v1/requests/{}/{}", id, action), body, raw,
                print_one);
  }
  if (status->parsed()) {
    return Call(connection, "GET", "/api/v1/status/" + http::UrlEncode(address),
                nullptr, raw, [](const json& document) {
                  std::printf("%s: %s\n%s\n",
                              document.value("address", "").c_str(),
                              document.value("status", "").c_str(),
                              document.value("summary", "").c_str());
                });
  }
  if (diagnose->parsed()) {
    return Call(
        connection, "GET", "/api/v1/diagnose/" + http::UrlEncode(address),
        nullptr, raw, [](const json& document) {
          std::printf("address   %s\n", document.value("address", "").c_str());
          std::printf("decision  %s\n", document.value("decision", "").c_str());
          std::printf("reason    %s\n", document.value("reason", "").c_str());
          std::printf("chain     inet %s\n",
                      document.value("chain", "").c_str());
          std::printf("rule      %s\n", document.value("rule", "").c_str());
          if (document.contains("counter")) {
            std::printf("counter   %s packets=%llu\n",
                        document["counter"].value("name", "").c_str(),
                        static_cast<unsigned long long>(
                            document["counter"].value("packets", 0ULL)));
          }
          std::printf("attempts  %llu blocked SYNs from this address\n",
                      static_cast<unsigned long long>(document.value(
                          "blocked_attempts_from_address", 0ULL)));
          std::printf("%s\n", document.value("summary", "").c_str());
        });
  }
  if (counters->parsed()) {
    return Call(
        connection, "GET", "/api/v1/counters", nullptr, raw,
        [](const json& items) {
          for (const auto& item : items) {
            std::printf(
                "%-40s %llu\n", item.value("address", "").c_str(),
                static_cast<unsigned long long>(item.value("blocked", 0ULL)));
          }
        });
  }
  if (audit->parsed()) {
    std::string target = "/api/v1/audit";
    if (id != 0) target += fmt::format("?request={}", id);
    return Call(connection, "GET", target, nullptr, raw, [](const json& items) {
      for (const auto& entry : items) {
        std::printf(
            "%s request=%lld event=%s %s->%s actor=%s comment=%s\n",
            entry.value("at", "").c_str(),
            static_cast<long long>(entry.value("request", 0)),
            entry.value("event", "").c_str(), entry.value("from", "").c_str(),
            entry.value("to", "").c_str(), entry.value("actor", "").c_str(),
            entry.value("comment", "").c_str());
      }
    });
  }
  return 2;
}
