#include "egress/request.h"

#include <fmt/format.h>

#include <charconv>
#include <ctime>

namespace mailport::egress {
namespace {

constexpr std::size_t kMaxReasonLength = 2000;
constexpr std::size_t kMaxFieldLength = 253;
constexpr std::size_t kMaxDestinations = 32;
constexpr std::int64_t kMaxDailyVolume = 100'000'000;

bool IsPrintable(std::string_view text, bool allow_newlines) {
  for (unsigned char c : text) {
    if (c == '\n' && allow_newlines) continue;
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

bool IsDomainName(std::string_view name) {
  if (name.empty() || name.size() > kMaxFieldLength) return false;
  std::size_t label_length = 0;
  for (char c : name) {
    if (c == '.') {
      if (label_length == 0) return false;
      label_length = 0;
      continue;
    }
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c >= '0' && c <= '9') || c == '-';
    if (!allowed || ++label_length > 63) return false;
  }
  return label_length > 0;
}

}  // namespace

std::string_view StateName(State state) {
  switch (state) {
    case State::kPending:
      return "pending";
    case State::kApproved:
      return "approved";
    case State::kDenied:
      return "denied";
    case State::kRevoked:
      return "revoked";
    case State::kExpired:
      return "expired";
  }
  return "unknown";
}

std::optional<State> ParseState(std::string_view name) {
  for (State state : {State::kPending, State::kApproved, State::kDenied,
                      State::kRevoked, State::kExpired}) {
    if (StateName(state) == name) return state;
  }
  return std::nullopt;
}

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kApprove:
      return "approve";
    case Action::kDeny:
      return "deny";
    case Action::kRevoke:
      return "revoke";
    case Action::kExpire:
      return "expire";
  }
  return "unknown";
}

std::optional<Action> ParseAction(std::string_view name) {
  for (Action action :
       {Action::kApprove, Action::kDeny, Action::kRevoke, Action::kExpire}) {
    if (ActionName(action) == name) return action;
  }
  return std::nullopt;
}

Result<State> NextState(State from, Action action) {
  switch (action) {
    case Action::kApprove:
      if (from == State::kPending) return State::kApproved;
      break;
    case Action::kDeny:
      if (from == State::kPending) return State::kDenied;
      break;
    case Action::kRevoke:
    case Action::kExpire:
      if (from == State::kApproved) {
        return action == Action::kRevoke ? State::kRevoked : State::kExpired;
      }
      break;
  }
  std::string_view needed =
      action == Action::kApprove || action == Action::kDeny ? "pending"
                                                            : "approved";
  auto target = action == Action::kApprove  ? State::kApproved
                : action == Action::kDeny   ? State::kDenied
                : action == Action::kRevoke ? State::kRevoked
                                            : State::kExpired;
  return PermanentError(fmt::format(
      "cannot {} a request that is {}: only {} requests can be {}",
      ActionName(action), StateName(from), needed, StateName(target)));
}

Result<ValidatedRequest> ValidateNewRequest(
    const NewRequest& request, const std::vector<Prefix>& instance_networks) {
  ValidatedRequest validated;
  auto source = ParsePrefix(request.source);
  if (!source) return source.error();
  if (!CoveredBy(*source, instance_networks)) {
    return PermanentError(fmt::format(
        "{} is not inside the instance networks of this gateway; an exception "
        "can only cover instance addresses",
        source->ToString()));
  }
  validated.source = *source;

  if (request.destinations.size() > kMaxDestinations) {
    return PermanentError(
        fmt::format("at most {} destination prefixes", kMaxDestinations));
  }
  for (const std::string& text : request.destinations) {
    auto destination = ParsePrefix(text);
    if (!destination) return destination.error();
    if (destination->family != source->family) {
      return PermanentError(fmt::format(
          "destination {} is not of the same address family as source {}",
          destination->ToString(), source->ToString()));
    }
    validated.destinations.push_back(*destination);
  }

  if (request.reason.empty()) {
    return PermanentError("reason is missing: describe the use case");
  }
  if (request.reason.size() > kMaxReasonLength ||
      !IsPrintable(request.reason, true)) {
    return PermanentError(fmt::format(
        "invalid reason: at most {} printable characters", kMaxReasonLength));
  }
  if (!request.domain.empty() && !IsDomainName(request.domain)) {
    return PermanentError(
        fmt::format("invalid sending domain \"{}\"", request.domain));
  }
  if (request.daily_volume < 0 || request.daily_volume > kMaxDailyVolume) {
    return PermanentError(
        fmt::format("invalid daily volume {}: must be 0 to {}",
                    request.daily_volume, kMaxDailyVolume));
  }
  if (request.requester.size() > kMaxFieldLength ||
      !IsPrintable(request.requester, false)) {
    return PermanentError("invalid requester name");
  }
  return validated;
}

Result<std::int64_t> ParseExpiry(std::string_view text, std::int64_t now) {
  std::int64_t result = 0;
  auto parse_number = [](std::string_view digits, std::int64_t& value) {
    auto [end, error] =
        std::from_chars(digits.data(), digits.data() + digits.size(), value);
    return error == std::errc() && end == digits.data() + digits.size() &&
           value >= 0;
  };

  if (!text.empty() && text.front() == '+') {
    std::int64_t amount = 0;
    std::string_view digits = text.substr(1, text.size() - 2);
    std::int64_t unit = 0;
    switch (text.size() > 2 ? text.back() : '\0') {
      case 's':
        unit = 1;
        break;
      case 'm':
        unit = 60;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'd':
        unit = 86400;
        break;
    }
    if (unit == 0 || !parse_number(digits, amount) ||
        amount > 3650 * 86400 / unit) {
      return PermanentError(fmt::format(
          "invalid expiry \"{}\": use +N followed by s, m, h or d", text));
    }
    result = now + amount * unit;
  } else if (!text.empty() && text.front() == '@') {
    if (!parse_number(text.substr(1), result)) {
      return PermanentError(fmt::format("invalid expiry \"{}\"", text));
    }
  } else {
    std::tm parts{};
    std::string copy(text);
    const char* end = nullptr;
    for (const char* format :
         {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%MZ", "%Y-%m-%d"}) {
      parts = std::tm{};
      end = strptime(copy.c_str(), format, &parts);
      if (end != nullptr && *end == '\0') break;
      end = nullptr;
    }
    if (end == nullptr) {
      return PermanentError(fmt::format(
          "invalid expiry \"{}\": use YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ (UTC) "
          "or +N[smhd]",
          text));
    }
    result = timegm(&parts);
  }

  if (result <= now) {
    return PermanentError(
        fmt::format("expiry {} is in the past; give a time after {}",
                    FormatTime(result), FormatTime(now)));
  }
  return result;
}

std::string FormatTime(std::int64_t unix_seconds) {
  if (unix_seconds == 0) return "";
  std::time_t time = unix_seconds;
  std::tm parts{};
  gmtime_r(&time, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

}  // namespace mailport::egress
