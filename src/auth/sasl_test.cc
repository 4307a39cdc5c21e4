#include "auth/sasl.h"

#include <gtest/gtest.h>

#include <string>

namespace mailport::auth {
namespace {

using namespace std::string_literals;
using Kind = SaslStep::Kind;

TEST(SaslTest, MechanismNamesAreCaseInsensitive) {
  EXPECT_NE(CreateMechanism("PLAIN"), nullptr);
  EXPECT_NE(CreateMechanism("plain"), nullptr);
  EXPECT_NE(CreateMechanism("Login"), nullptr);
  EXPECT_EQ(CreateMechanism("CRAM-MD5"), nullptr);
  EXPECT_EQ(CreateMechanism(""), nullptr);
  EXPECT_EQ(SupportedMechanisms(),
            (std::vector<std::string>{"PLAIN", "LOGIN"}));
}

struct PlainCase {
  std::string message;
  Kind kind;
  std::string authzid;
  std::string authcid;
  std::string password;
  std::string error_part;  // substring of the error for kMalformed
};

class PlainTest : public testing::TestWithParam<PlainCase> {};

void ExpectPlainResult(const SaslStep& step, const PlainCase& expected) {
  ASSERT_EQ(step.kind, expected.kind) << step.error;
  if (expected.kind == Kind::kCredentials) {
    EXPECT_EQ(step.authzid, expected.authzid);
    EXPECT_EQ(step.authcid, expected.authcid);
    EXPECT_EQ(step.password, expected.password);
  } else {
    EXPECT_NE(step.error.find(expected.error_part), std::string::npos)
        << step.error;
    // Errors are logged, so they must not carry the credentials.
    if (!expected.password.empty()) {
      EXPECT_EQ(step.error.find(expected.password), std::string::npos);
    }
  }
}

TEST_P(PlainTest, InitialResponse) {
  auto mechanism = CreateMechanism("PLAIN");
  ExpectPlainResult(mechanism->Start(GetParam().message), GetParam());
}

TEST_P(PlainTest, AfterEmptyChallenge) {
  auto mechanism = CreateMechanism("PLAIN");
  SaslStep first = mechanism->Start(std::nullopt);
  ASSERT_EQ(first.kind, Kind::kChallenge);
  EXPECT_EQ(first.challenge, "");
  ExpectPlainResult(mechanism->Next(GetParam().message), GetParam());
}

const std::string k255(255, 'a');
const std::string k256(256, 'a');

INSTANTIATE_TEST_SUITE_P(
    Table, PlainTest,
    testing::Values(PlainCase{"\0alice\0secret"s, Kind::kCredentials, "",
                              "alice", "secret", ""},
                    PlainCase{"alice\0alice\0secret"s, Kind::kCredentials,
                              "alice", "alice", "secret", ""},
                    PlainCase{"ALICE@example.test\0alice@example.test\0pw"s,
                              Kind::kCredentials, "ALICE@example.test",
                              "alice@example.test", "pw", ""},
                    PlainCase{"\0alice\0pass word with spaces"s,
                              Kind::kCredentials, "", "alice",
                              "pass word with spaces", ""},
                    PlainCase{"\0"s + k255 + "\0"s + k255, Kind::kCredentials,
                              "", k255, k255, ""},
                    PlainCase{"", Kind::kMalformed, "", "", "", "no NUL"},
                    PlainCase{"alicesecret", Kind::kMalformed, "", "",
                              "alicesecret", "no NUL"},
                    PlainCase{"\0alicesecret"s, Kind::kMalformed, "", "",
                              "alicesecret", "only one NUL"},
                    PlainCase{"\0\0secret"s, Kind::kMalformed, "", "", "secret",
                              "user name is empty"},
                    PlainCase{"\0alice\0"s, Kind::kMalformed, "", "", "",
                              "password is empty"},
                    PlainCase{"\0alice\0sec\0ret"s, Kind::kMalformed, "", "",
                              "sec", "NUL byte"},
                    PlainCase{"\0"s + k256 + "\0secret"s, Kind::kMalformed, "",
                              "", "secret", "longer than 255"},
                    PlainCase{"\0alice\0"s + k256, Kind::kMalformed, "", "", "",
                              "longer than 255"},
                    PlainCase{k256 + "\0alice\0secret"s, Kind::kMalformed, "",
                              "", "secret", "longer than 255"},
                    PlainCase{"bob\0alice\0secret"s, Kind::kMalformed, "", "",
                              "secret",
                              "proxy authorization is not supported"}));

TEST(PlainTest, SecondResponseIsMalformed) {
  auto mechanism = CreateMechanism("PLAIN");
  ASSERT_EQ(mechanism->Start("\0alice\0secret"s).kind, Kind::kCredentials);
  EXPECT_EQ(mechanism->Next("\0alice\0secret"s).kind, Kind::kMalformed);
}

TEST(LoginTest, ChallengesForNameThenPassword) {
  auto mechanism = CreateMechanism("LOGIN");
  SaslStep first = mechanism->Start(std::nullopt);
  ASSERT_EQ(first.kind, Kind::kChallenge);
  EXPECT_EQ(first.challenge, "Username:");
  SaslStep second = mechanism->Next("alice@example.test");
  ASSERT_EQ(second.kind, Kind::kChallenge);
  EXPECT_EQ(second.challenge, "Password:");
  SaslStep third = mechanism->Next("secret");
  ASSERT_EQ(third.kind, Kind::kCredentials);
  EXPECT_EQ(third.authcid, "alice@example.test");
  EXPECT_EQ(third.password, "secret");
  EXPECT_EQ(third.authzid, "");
  EXPECT_EQ(mechanism->Next("more").kind, Kind::kMalformed);
}

TEST(LoginTest, InitialResponseIsUserName) {
  auto mechanism = CreateMechanism("login");
  SaslStep first = mechanism->Start("alice");
  ASSERT_EQ(first.kind, Kind::kChallenge);
  EXPECT_EQ(first.challenge, "Password:");
  SaslStep second = mechanism->Next("secret");
  ASSERT_EQ(second.kind, Kind::kCredentials);
  EXPECT_EQ(second.authcid, "alice");
  EXPECT_EQ(second.password, "secret");
}

TEST(LoginTest, EmptyInitialResponseIsMalformed) {
  auto mechanism = CreateMechanism("LOGIN");
  SaslStep step = mechanism->Start("");
  ASSERT_EQ(step.kind, Kind::kMalformed);
  EXPECT_NE(step.error.find("user name is empty"), std::string::npos);
}

struct LoginCase {
  std::string user_name;
  std::string password;
  std::string error_part;
};

class LoginMalformedTest : public testing::TestWithParam<LoginCase> {};

TEST_P(LoginMalformedTest, Rejected) {
  auto mechanism = CreateMechanism("LOGIN");
  ASSERT_EQ(mechanism->Start(std::nullopt).kind, Kind::kChallenge);
  SaslStep step = mechanism->Next(GetParam().user_name);
  if (step.kind == Kind::kChallenge) {
    step = mechanism->Next(GetParam().password);
  }
  ASSERT_EQ(step.kind, Kind::kMalformed);
  EXPECT_NE(step.error.find(GetParam().error_part), std::string::npos)
      << step.error;
  EXPECT_EQ(mechanism->Next("anything").kind, Kind::kMalformed);
}

INSTANTIATE_TEST_SUITE_P(
    Table, LoginMalformedTest,
    testing::Values(LoginCase{"", "secret", "user name is empty"},
                    LoginCase{"alice", "", "password is empty"},
                    LoginCase{k256, "secret", "user name is longer"},
                    LoginCase{"alice", k256, "password is longer"},
                    LoginCase{"al\0ice"s, "secret", "user name contains a NUL"},
                    LoginCase{"alice", "sec\0ret"s,
                              "password contains a NUL"}));

}  // namespace
}  // namespace mailport::auth
