#include "egress/api.h"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "util/log.h"

namespace mailport::egress {
namespace {

using nlohmann::json;

http::Response Json(int status, const json& body) {
  return {status, "application/json", body.dump()};
}

http::Response Failure(int status, const std::string& message) {
  return Json(status, json{{"error", message}});
}

// Maps a workflow error onto a status: a wrong state is a conflict, a
// missing request 404, a temporary failure 503, other input errors 400.
http::Response FromError(const Error& error) {
  if (error.temporary) return Failure(503, error.message);
  if (error.message.find("not found") != std::string::npos) {
    return Failure(404, error.message);
  }
  if (error.message.find("cannot ") != std::string::npos &&
      error.message.find("a request that is") != std::string::npos) {
    return Failure(409, error.message);
  }
  return Failure(400, error.message);
}

json ToJson(const Request& request, bool include_ticket) {
  json destinations = json::array();
  for (const Prefix& prefix : request.destinations) {
    destinations.push_back(prefix.ToString());
  }
  json out = {{"id", request.id},
              {"address", request.source.ToString()},
              {"destinations", destinations},
              {"reason", request.reason},
              {"domain", request.domain},
              {"daily_volume", request.daily_volume},
              {"requester", request.requester},
              {"state", StateName(request.state)},
              {"created_at", FormatTime(request.created_at)},
              {"decided_by", request.decided_by},
              {"decided_at", FormatTime(request.decided_at)},
              {"comment", request.comment},
              {"expires_at", FormatTime(request.expires_at)}};
  if (include_ticket) out["ticket"] = request.ticket;
  return out;
}

json ToJson(const AuditEntry& entry) {
  return {{"id", entry.id},
          {"request", entry.request_id},
          {"at", FormatTime(entry.at)},
          {"actor", entry.actor},
          {"event", entry.event},
          {"from", entry.from_state},
          {"to", entry.to_state},
          {"comment", entry.comment}};
}

std::optional<std::int64_t> ParseId(std::string_view text) {
  std::int64_t id = 0;
  auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), id);
  if (error != std::errc() || end != text.data() + text.size() || id <= 0) {
    return std::nullopt;
  }
  return id;
}

std::string StringField(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

// Returns the line of `listing` that carries `comment`, trimmed.
std::string RuleLine(const std::string& listing, const std::string& comment) {
  std::size_t position = listing.find("comment \"" + comment + "\"");
  if (position == std::string::npos) return "";
  std::size_t begin = listing.rfind('\n', position) + 1;
  std::size_t end = listing.find('\n', position);
  std::string line = listing.substr(begin, end - begin);
  line.erase(0, line.find_first_not_of(" \t"));
  return line;
}

}  // namespace

std::string Api::Authenticate(const http::Request& request) const {
  auto it = request.headers.find("authorization");
  if (it == request.headers.end() || it->second.rfind("Bearer ", 0) != 0) {
    return "";
  }
  std::string token = it->second.substr(7);
  for (const OperatorToken& candidate : tokens_) {
    if (candidate.token.size() == token.size() &&
        CRYPTO_memcmp(candidate.token.data(), token.data(), token.size()) ==
            0) {
      return candidate.name;
    }
  }
  return "";
}

http::Response Api::Handle(const http::Request& request) {
  const std::string& path = request.path;
  if (path == "/" || path == "/index.html") {
    if (request.method != "GET") return Failure(405, "use GET");
    return {200, "text/html; charset=utf-8", UnblockingCenterPage()};
  }
  if (path.rfind("/api/v1/", 0) != 0) return Failure(404, "no such resource");
  std::string route = path.substr(8);
  std::string actor = Authenticate(request);

  if (route == "requests" && request.method == "POST") {
    json body = json::parse(request.body, nullptr, false);
    if (!body.is_object()) return Failure(400, "body must be a JSON object");
    NewRequest fields;
    fields.source = StringField(body, "address");
    fields.reason = StringField(body, "reason");
    fields.domain = StringField(body, "domain");
    fields.requester = StringField(body, "requester");
    if (auto volume = body.find("daily_volume"); volume != body.end()) {
      if (!volume->is_number_integer()) {
        return Failure(400, "daily_volume must be an integer");
      }
      fields.daily_volume = volume->get<std::int64_t>();
    }
    if (auto list = body.find("destinations"); list != body.end()) {
      if (!list->is_array()) return Failure(400, "destinations must be a list");
      for (const auto& item : *list) {
        if (!item.is_string()) {
          return Failure(400, "destinations must be strings");
        }
        fields.destinations.push_back(item.get<std::string>());
      }
    }
    if (fields.requester.empty())
      fields.requester = actor.empty() ? "tenant" : actor;
    auto created = gate_.Submit(fields);
    if (!created) return FromError(created.error());
    return Json(201, ToJson(*created, true));
  }

  if (route.rfind("requests/", 0) == 0) {
    std::string rest = route.substr(9);
    std::string action_name;
    if (auto slash = rest.find('/'); slash != std::string::npos) {
      action_name = rest.substr(slash + 1);
      rest = rest.substr(0, slash);
    }
    auto id = ParseId(rest);
    if (!id)
      return Failure(400, fmt::format("invalid request id \"{}\"", rest));

    if (action_name.empty() && request.method == "GET") {
      auto found = gate_.store().Get(*id);
      if (!found) {
        return actor.empty() ? Failure(401, "operator token or ticket required")
                             : FromError(found.error());
      }
      auto ticket = request.query.find("ticket");
      bool ticket_ok =
          ticket != request.query.end() &&
          ticket->second.size() == found->ticket.size() &&
          CRYPTO_memcmp(ticket->second.data(), found->ticket.data(),
                        found->ticket.size()) == 0;
      if (actor.empty() && !ticket_ok) {
        return Failure(401, "operator token or ticket required");
      }
      json out = ToJson(*found, false);
      if (!actor.empty()) {
        json history = json::array();
        if (auto audit = gate_.store().Audit(*id)) {
          for (const AuditEntry& entry : *audit)
            history.push_back(ToJson(entry));
        }
        out["history"] = history;
      }
      return Json(200, out);
    }
    if (request.method != "POST") return Failure(405, "use POST");
    if (actor.empty()) return Failure(401, "operator token required");
    auto action = ParseAction(action_name);
    if (!action || *action == Action::kExpire) {
      return Failure(404, fmt::format("unknown action \"{}\": use approve, "
                                      "deny or revoke",
                                      action_name));
    }
    json body = request.body.empty()
                    ? json::object()
                    : json::parse(request.body, nullptr, false);
    if (!body.is_object()) return Failure(400, "body must be a JSON object");
    auto decided =
        gate_.Decide(*id, *action, actor, StringField(body, "comment"),
                     StringField(body, "until"));
    if (!decided) return FromError(decided.error());
    return Json(200, ToJson(*decided, false));
  }

  if (request.method != "GET") return Failure(405, "use GET");
  if (actor.empty()) return Failure(401, "operator token required");

  if (route == "requests") {
    std::optional<State> state;
    if (auto it = request.query.find("state"); it != request.query.end()) {
      state = ParseState(it->second);
      if (!state) {
        return Failure(400, fmt::format("invalid state \"{}\": use pending, "
                                        "approved, denied, revoked or expired",
                                        it->second));
      }
    }
    auto list = gate_.store().List(state);
    if (!list) return FromError(list.error());
    json out = json::array();
    for (const Request& item : *list) out.push_back(ToJson(item, false));
    return Json(200, out);
  }
  if (route.rfind("status/", 0) == 0) {
    auto status = gate_.StatusOf(route.substr(7));
    if (!status) return FromError(status.error());
    json exceptions = json::array();
    for (const Request& item : status->exceptions)
      exceptions.push_back(item.id);
    std::string verdict = !status->is_instance         ? "not-filtered"
                          : status->exceptions.empty() ? "blocked"
                                                       : "allowed";
    return Json(200, json{{"address", status->address.ToString()},
                          {"status", verdict},
                          {"exceptions", exceptions},
                          {"summary", status->Summary()}});
  }
  if (route.rfind("diagnose/", 0) == 0) return Diagnose(route.substr(9));
  if (route == "counters") {
    auto counters = enforcer_.BlockedCounters();
    if (!counters) return FromError(counters.error());
    json out = json::array();
    for (const BlockedCounter& counter : *counters) {
      out.push_back(
          {{"address", counter.source}, {"blocked", counter.packets}});
    }
    return Json(200, out);
  }
  if (route == "audit") {
    std::int64_t request_id = 0;
    if (auto it = request.query.find("request"); it != request.query.end()) {
      auto id = ParseId(it->second);
      if (!id) return Failure(400, "invalid request id");
      request_id = *id;
    }
    auto audit = gate_.store().Audit(request_id);
    if (!audit) return FromError(audit.error());
    json out = json::array();
    for (const AuditEntry& entry : *audit) out.push_back(ToJson(entry));
    return Json(200, out);
  }
  return Failure(404, "no such resource");
}

http::Response Api::Diagnose(const std::string& address) {
  auto status = gate_.StatusOf(address);
  if (!status) return FromError(status.error());
  if (!status->address.IsHost()) {
    return Failure(400, "diagnose takes one address, not a prefix");
  }
  std::string suffix = status->address.family == Family::kIpv4 ? "v4" : "v6";
  std::string key = status->address.ToString();
  std::string chain = "smtp_out_" + suffix;
  auto listing = enforcer_.ListChain(chain);
  if (!listing) return FromError(listing.error());

  json out = {{"address", key}, {"chain", chain}};
  auto in_instances = enforcer_.SetContains("instances_" + suffix, key);
  auto in_allow = enforcer_.SetContains("allow_" + suffix, key);
  std::string comment, counter;
  if (!in_instances.ok() || !*in_instances) {
    out["decision"] = "pass";
    out["reason"] =
        "the address is not in the instance set, so the gate "
        "does not filter it";
    comment = "not an instance";
  } else if (in_allow.ok() && *in_allow) {
    out["decision"] = "pass";
    out["reason"] = "the address is in the allow set";
    comment = "exception";
    counter = "allowed_" + suffix;
  } else if (!status->exceptions.empty()) {
    out["decision"] = "pass to listed destinations, block elsewhere";
    out["reason"] =
        "the address has destination-restricted exceptions in "
        "the allow_dest set";
    comment = "exception to destination";
    counter = "allowed_dest_" + suffix;
  } else {
    out["decision"] = enforcer_.config().blocked_action == BlockedAction::kDrop
                          ? "block (drop: the client sees a timeout)"
                          : "block (reject with TCP reset)";
    out["reason"] = "no approved exception covers the address";
    comment = "port 25 blocked";
    counter = "blocked_" + suffix;
  }
  out["rule"] = RuleLine(*listing, comment);
  if (!counter.empty()) {
    auto packets = enforcer_.NamedCounter(counter);
    out["counter"] = {{"name", counter},
                      {"packets", packets.ok() ? *packets : 0}};
  }
  std::uint64_t attempts = 0;
  if (auto counters = enforcer_.BlockedCounters()) {
    for (const BlockedCounter& item : *counters) {
      if (item.source == key) attempts = item.packets;
    }
  }
  out["blocked_attempts_from_address"] = attempts;
  out["summary"] = status->Summary();
  return Json(200, out);
}

}  // namespace mailport::egress
