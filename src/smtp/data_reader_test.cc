#include "smtp/data_reader.h"

#include <gtest/gtest.h>

namespace mailport::smtp {
namespace {

TEST(DataReader, EndsOnlyAtCrLfDotCrLf) {
  DataReader reader(0);
  std::string input = "Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n";
  std::size_t consumed = reader.Consume(input);
  ASSERT_TRUE(reader.done());
  EXPECT_EQ(input.substr(consumed), "QUIT\r\n");
  EXPECT_EQ(reader.content(), "Subject: x\r\n\r\nbody\r\n");
  EXPECT_EQ(reader.bare_line_breaks(), 0u);
}

TEST(DataReader, EmptyMessage) {
  DataReader reader(0);
  reader.Consume(".\r\n");
  ASSERT_TRUE(reader.done());
  EXPECT_EQ(reader.content(), "");
}

TEST(DataReader, RemovesDotStuffing) {
  DataReader reader(0);
  reader.Consume("..leading dot\r\n...\r\n.\r\n");
  ASSERT_TRUE(reader.done());
  EXPECT_EQ(reader.content(), ".leading dot\r\n..\r\n");
}

struct SmugglingCase {
  std::string name;
  std::string input;
};

class DataReaderSmugglingTest : public testing::TestWithParam<SmugglingCase> {};

// None of these sequences may end the data: each is a terminator that
// some other SMTP implementation accepted.
TEST_P(DataReaderSmugglingTest, BareLineBreakDotDoesNotEndData) {
  DataReader reader(0);
  std::string input = "body" + GetParam().input + "MAIL FROM:<x@example.com>";
  EXPECT_EQ(reader.Consume(input), input.size());
  EXPECT_FALSE(reader.done());
  EXPECT_GT(reader.bare_line_breaks(), 0u);
  reader.Consume("\r\n.\r\n");
  EXPECT_TRUE(reader.done());
  EXPECT_NE(reader.content().find("MAIL FROM:<x@example.com>"),
            std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Table, DataReaderSmugglingTest,
                         testing::Values(SmugglingCase{"LfDotLf", "\n.\n"},
                                         SmugglingCase{"LfDotCrLf", "\n.\r\n"},
                                         SmugglingCase{"CrLfDotLf", "\r\n.\n"},
                                         SmugglingCase{"CrDotCr", "\r.\r"},
                                         SmugglingCase{"CrLfDotCr",
                                                       "\r\n.\rX"}),
                         [](const auto& info) { return info.param.name; });

TEST(DataReader, NormalisesBareLineBreaks) {
  DataReader reader(0);
  reader.Consume("a\nb\rc\r\n.\r\n");
  ASSERT_TRUE(reader.done());
  EXPECT_EQ(reader.content(), "a\r\nb\r\nc\r\n");
  EXPECT_EQ(reader.bare_line_breaks(), 2u);
}

TEST(DataReader, TerminatorSplitAcrossReads) {
  DataReader reader(0);
  for (char c : std::string("x\r\n.\r\nNOOP")) {
    if (reader.done()) break;
    reader.Consume(std::string_view(&c, 1));
  }
  EXPECT_TRUE(reader.done());
  EXPECT_EQ(reader.content(), "x\r\n");
}

TEST(DataReader, ReadsToEndPastSizeLimit) {
  DataReader reader(10);
  std::string input = std::string(100, 'a') + "\r\n.\r\n";
  EXPECT_EQ(reader.Consume(input), input.size());
  EXPECT_TRUE(reader.done());
  EXPECT_TRUE(reader.too_large());
  EXPECT_EQ(reader.size(), 102u);
  EXPECT_TRUE(reader.content().empty());
}

}  // namespace
}  // namespace mailport::smtp
