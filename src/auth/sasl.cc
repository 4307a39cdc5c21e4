#include "auth/sasl.h"

#include "auth/internal.h"

namespace mailport::auth {
namespace {

// RFC 4616 section 2 bounds authzid, authcid and passwd at 255 octets; the
// same bound applies to LOGIN, which has no specification of its own.
constexpr std::size_t kMaxField = 255;

SaslStep Challenge(std::string text) {
  SaslStep step;
  step.kind = SaslStep::Kind::kChallenge;
  step.challenge = std::move(text);
  return step;
}

SaslStep Malformed(std::string error) {
  SaslStep step;
  step.kind = SaslStep::Kind::kMalformed;
  step.error = std::move(error);
  return step;
}

// Error messages describe the shape of the response only: they are sent to
// the client and logged, so they never quote AUTH data.
class PlainMechanism : public SaslMechanism {
 public:
  SaslStep Start(std::optional<std::string_view> initial_response) override {
    // RFC 4954 section 4: without an initial response the server sends an
    // empty challenge and the client replies with the message.
    if (!initial_response) return Challenge("");
    return Finish(*initial_response);
  }

  SaslStep Next(std::string_view response) override { return Finish(response); }

 private:
  SaslStep Finish(std::string_view message) {
    if (done_) return Malformed("PLAIN exchange is already complete");
    done_ = true;

    // message = [authzid] NUL authcid NUL passwd (RFC 4616 section 2).
    std::size_t first = message.find('\0');
    if (first == std::string_view::npos) {
      return Malformed("PLAIN response has no NUL separator");
    }
    std::size_t second = message.find('\0', first + 1);
    if (second == std::string_view::npos) {
      return Malformed("PLAIN response has only one NUL separator");
    }
    std::string_view authzid = message.substr(0, first);
    std::string_view authcid = message.substr(first + 1, second - first - 1);
    std::string_view password = message.substr(second + 1);

    if (password.find('\0') != std::string_view::npos) {
      return Malformed("PLAIN password contains a NUL byte");
    }
    if (authcid.empty()) return Malformed("PLAIN user name is empty");
    if (password.empty()) return Malformed("PLAIN password is empty");
    if (authzid.size() > kMaxField || authcid.size() > kMaxField ||
        password.size() > kMaxField) {
      return Malformed("PLAIN field longer than 255 bytes");
    }
    if (!authzid.empty() && AsciiLower(authzid) != AsciiLower(authcid)) {
      return Malformed(
          "PLAIN authorization identity differs from the user name; proxy "
          "authorization is not supported");
    }

    SaslStep step;
    step.kind = SaslStep::Kind::kCredentials;
    step.authzid = authzid;
    step.authcid = authcid;
    step.password = password;
    return step;
  }

  bool done_ = false;
};

// LOGIN as Microsoft and most clients implement it: the server prompts for
// "Username:" and then "Password:".
class LoginMechanism : public SaslMechanism {
 public:
  SaslStep Start(std::optional<std::string_view> initial_response) override {
    if (!initial_response) return Challenge("Username:");
    // Some clients send the user name as an initial response.
    return Next(*initial_response);
  }

  SaslStep Next(std::string_view response) override {
    switch (state_) {
      case State::kUserName:
        if (FieldCheck valid = CheckField(response, "user name"); !valid.ok) {
          state_ = State::kDone;
          return Malformed(valid.error);
        }
        user_name_ = response;
        state_ = State::kPassword;
        return Challenge("Password:");

      case State::kPassword: {
        state_ = State::kDone;
        if (FieldCheck valid = CheckField(response, "password"); !valid.ok) {
          return Malformed(valid.error);
        }
        SaslStep step;
        step.kind = SaslStep::Kind::kCredentials;
        step.authcid = std::move(user_name_);
        step.password = response;
        return step;
      }

      case State::kDone:
        break;
    }
    return Malformed("LOGIN exchange is already complete");
  }

 private:
  enum class State { kUserName, kPassword, kDone };
  struct FieldCheck {
    bool ok = true;
    std::string error;
  };

  static FieldCheck CheckField(std::string_view value, std::string_view what) {
    std::string prefix = "LOGIN " + std::string(what);
    if (value.empty()) return {false, prefix + " is empty"};
    if (value.size() > kMaxField) {
      return {false, prefix + " is longer than 255 bytes"};
    }
    if (value.find('\0') != std::string_view::npos) {
      return {false, prefix + " contains a NUL byte"};
    }
    return {};
  }

  State state_ = State::kUserName;
  std::string user_name_;
};

}  // namespace

std::unique_ptr<SaslMechanism> CreateMechanism(std::string_view name) {
  std::string lower = AsciiLower(name);
  if (lower == "plain") return std::make_unique<PlainMechanism>();
  if (lower == "login") return std::make_unique<LoginMechanism>();
  return nullptr;
}

const std::vector<std::string>& SupportedMechanisms() {
  static const std::vector<std::string> mechanisms{"PLAIN", "LOGIN"};
  return mechanisms;
}

}  // namespace mailport::auth
