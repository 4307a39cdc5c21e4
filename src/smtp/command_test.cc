#include "smtp/command.h"

#include <gtest/gtest.h>

namespace mailport::smtp {
namespace {

TEST(ParseCommandLine, SplitsVerbAndArgument) {
  CommandLine command = ParseCommandLine("mail FROM:<a@example.test>  ");
  EXPECT_EQ(command.verb, "MAIL");
  EXPECT_EQ(command.argument, "FROM:<a@example.test>");
}

TEST(ParseCommandLine, VerbWithoutArgument) {
  CommandLine command = ParseCommandLine("QUIT");
  EXPECT_EQ(command.verb, "QUIT");
  EXPECT_EQ(command.argument, "");
}

struct PathCase {
  std::string argument;
  bool valid;
  std::string address;
};

class MailFromTest : public testing::TestWithParam<PathCase> {};

TEST_P(MailFromTest, ParsesReversePath) {
  const PathCase& test_case = GetParam();
  PathResult result = ParseMailFrom(test_case.argument);
  ASSERT_EQ(result.path.has_value(), test_case.valid)
      << test_case.argument << ": " << result.error;
  if (test_case.valid) {
    EXPECT_EQ(result.path->address, test_case.address);
  } else {
    EXPECT_FALSE(result.error.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, MailFromTest,
    testing::Values(
        PathCase{"FROM:<alice@example.test>", true, "alice@example.test"},
        PathCase{"from:<alice@example.test>", true, "alice@example.test"},
        PathCase{"FROM: <alice@example.test>", true, "alice@example.test"},
        PathCase{"FROM:<>", true, ""},
        PathCase{"FROM:alice@example.test", true, "alice@example.test"},
        PathCase{"FROM:<@relay.test:alice@example.test>", true,
                 "alice@example.test"},
        PathCase{"FROM:<\"a b\"@example.test>", true, "\"a b\"@example.test"},
        PathCase{"FROM:<a@[192.0.2.1]>", true, "a@[192.0.2.1]"},
        PathCase{"FROM:<alice@example.test", false, ""},
        PathCase{"FROM:<alice>", false, ""},
        PathCase{"FROM:<.alice@example.test>", false, ""},
        PathCase{"FROM:<al..ice@example.test>", false, ""},
        PathCase{"FROM:<alice@-example.test>", false, ""},
        PathCase{"FROM:<alice@exa mple.test>", false, ""},
        PathCase{"TO:<alice@example.test>", false, ""},
        PathCase{"FROM:<" + std::string(65, 'a') + "@example.test>", false,
                 ""}));

TEST(ParseMailFrom, ReadsEsmtpParameters) {
  PathResult result =
      ParseMailFrom("FROM:<a@example.test> size=1000 BODY=8BITMIME");
  ASSERT_TRUE(result.path.has_value()) << result.error;
  EXPECT_EQ(result.path->parameters.at("SIZE"), "1000");
  EXPECT_EQ(result.path->parameters.at("BODY"), "8BITMIME");
}

TEST(ParseMailFrom, RejectsInvalidParameter) {
  EXPECT_FALSE(ParseMailFrom("FROM:<a@example.test> =x").path.has_value());
  EXPECT_FALSE(ParseMailFrom("FROM:<a@example.test>SIZE=1").path.has_value());
}

TEST(ParseRcptTo, AcceptsBarePostmaster) {
  PathResult result = ParseRcptTo("TO:<Postmaster>");
  ASSERT_TRUE(result.path.has_value()) << result.error;
  EXPECT_EQ(result.path->address, "Postmaster");
}

TEST(ParseRcptTo, RejectsNullPath) {
  EXPECT_FALSE(ParseRcptTo("TO:<>").path.has_value());
}

TEST(DomainOf, LowerCasesAndStripsTrailingDot) {
  EXPECT_EQ(DomainOf("a@Example.TEST."), "example.test");
  EXPECT_EQ(DomainOf("postmaster"), "");
  EXPECT_EQ(LocalPartOf("\"a@b\"@example.test"), "\"a@b\"");
}

}  // namespace
}  // namespace mailport::smtp
