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
        PathCase{"FROM:<" + std::string(65, 'a') + "@example.test>", false, ""},
        PathCase{"FROM:<" + std::string(64, 'a') + "@example.test>", true,
                 std::string(64, 'a') + "@example.test"},
        PathCase{"FROM:", false, ""}, PathCase{"FROM: ", false, ""},
        PathCase{"FROM:<@relay.test:>", false, ""},
        PathCase{"FROM:<@relay.test>", false, ""},
        PathCase{"FROM:<\"alice\"@example.test>", true, "alice@example.test"},
        PathCase{"FROM:<\"a.b\"@example.test>", true, "a.b@example.test"},
        PathCase{"FROM:<\".a\"@example.test>", true, "\".a\"@example.test"},
        PathCase{"FROM:<\"a\\\"b\"@example.test>", true,
                 "\"a\\\"b\"@example.test"},
        PathCase{"FROM:<\"a@example.test>", false, ""},
        PathCase{"FROM:<a@[]>", false, ""},
        PathCase{"FROM:<a@[192.0.2.1>", false, ""},
        PathCase{std::string("FROM:<a\0b@example.test>", 24), false, ""},
        PathCase{"FROM:<\xc3\xa9@example.test>", false, ""},
        PathCase{"FROM:<a@" + std::string(64, 'd') + ".test>", false, ""}));

struct ParameterCase {
  std::string argument;
  std::string error;  // "" when the parameters are valid
};

class MailParameterTest : public testing::TestWithParam<ParameterCase> {};

TEST_P(MailParameterTest, ChecksParameters) {
  const ParameterCase& test_case = GetParam();
  PathResult result = ParseMailFrom(test_case.argument);
  if (test_case.error.empty()) {
    EXPECT_TRUE(result.path.has_value()) << result.error;
    return;
  }
  EXPECT_FALSE(result.path.has_value());
  EXPECT_TRUE(result.bad_parameter) << test_case.argument;
  EXPECT_EQ(result.error, test_case.error);
}

INSTANTIATE_TEST_SUITE_P(
    Table, MailParameterTest,
    testing::Values(
        ParameterCase{"FROM:<a@example.test> SIZE=1 BODY=7BIT", ""},
        ParameterCase{"FROM:<a@example.test> SIZE", ""},
        ParameterCase{"FROM:<a@example.test> AUTH=<>", ""},
        ParameterCase{"FROM:<a@example.test> SIZE=1 size=2",
                      "duplicate parameter SIZE"},
        ParameterCase{"FROM:<a@example.test> SIZE=",
                      "invalid value of "
                      "parameter SIZE"},
        ParameterCase{"FROM:<a@example.test> AUTH=a=b",
                      "invalid value of parameter AUTH"},
        ParameterCase{"FROM:<a@example.test> AUTH=\x01",
                      "invalid value of parameter AUTH"},
        ParameterCase{"FROM:<a@example.test> AUTH=\xff",
                      "invalid value of parameter AUTH"},
        ParameterCase{"FROM:<a@example.test> =1", "syntax: invalid parameter"},
        ParameterCase{"FROM:<a@example.test>SIZE=1",
                      "syntax: expected a space before the parameter"}));

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

TEST(ParseMailFrom, AddressErrorIsNotParameterError) {
  PathResult result = ParseMailFrom("FROM:<a@-example.test> SIZE=1");
  EXPECT_FALSE(result.path.has_value());
  EXPECT_FALSE(result.bad_parameter);
}

TEST(ParseRcptTo, UnquotesDotStringLocalPart) {
  PathResult result = ParseRcptTo("TO:<\"alice\"@example.test>");
  ASSERT_TRUE(result.path.has_value()) << result.error;
  EXPECT_EQ(result.path->address, "alice@example.test");
}

TEST(ParseRcptTo, RejectsEmptyUnbracketedPath) {
  EXPECT_FALSE(ParseRcptTo("TO:").path.has_value());
}

TEST(ParseRcptTo, AcceptsBarePostmaster) {
  PathResult result = ParseRcptTo("TO:<Postmaster>");
  ASSERT_TRUE(result.path.has_value()) << result.error;
  EXPECT_EQ(result.path->address, "Postmaster");
}

TEST(ParseRcptTo, RejectsNullPath) {
  EXPECT_FALSE(ParseRcptTo("TO:<>").path.has_value());
}

TEST(ParseSizeValue, ReadsDigitsAndSaturates) {
  EXPECT_EQ(ParseSizeValue("0"), 0u);
  EXPECT_EQ(ParseSizeValue("10240000"), 10240000u);
  EXPECT_EQ(ParseSizeValue("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(ParseSizeValue("18446744073709551616"), UINT64_MAX);
  EXPECT_EQ(ParseSizeValue("99999999999999999999"), UINT64_MAX);
  EXPECT_EQ(ParseSizeValue("00000000000000000001"), 1u);
  EXPECT_EQ(ParseSizeValue("999999999999999999999"), std::nullopt);
  EXPECT_EQ(ParseSizeValue(""), std::nullopt);
  EXPECT_EQ(ParseSizeValue("-1"), std::nullopt);
  EXPECT_EQ(ParseSizeValue("+1"), std::nullopt);
  EXPECT_EQ(ParseSizeValue("1x"), std::nullopt);
  EXPECT_EQ(ParseSizeValue(" 1"), std::nullopt);
}

TEST(DomainOf, LowerCasesAndStripsTrailingDot) {
  EXPECT_EQ(DomainOf("a@Example.TEST."), "example.test");
  EXPECT_EQ(DomainOf("postmaster"), "");
  EXPECT_EQ(LocalPartOf("\"a@b\"@example.test"), "\"a@b\"");
}

}  // namespace
}  // namespace mailport::smtp
