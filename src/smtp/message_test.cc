#include "smtp/message.h"

#include <gtest/gtest.h>

namespace mailport::smtp {
namespace {

TEST(FindHeader, FindsCaseInsensitiveAndUnfolds) {
  std::string content =
      "Subject: hello\r\nmessage-id:  <a@b>\r\nX-Long: one\r\n two\r\n"
      "\r\nDate: in the body\r\n";
  EXPECT_EQ(FindHeader(content, "Message-ID"), "<a@b>");
  EXPECT_EQ(FindHeader(content, "x-long"), "one two");
  EXPECT_FALSE(FindHeader(content, "Date").has_value());
}

TEST(FormatRfc5322Date, FormatsUtc) {
  auto time = std::chrono::system_clock::from_time_t(1796398814);
  EXPECT_EQ(FormatRfc5322Date(time), "Fri, 04 Dec 2026 15:40:14 +0000");
}

TEST(GenerateMessageId, UniqueWithHostname) {
  std::string first = GenerateMessageId("mail.example.test");
  std::string second = GenerateMessageId("mail.example.test");
  EXPECT_NE(first, second);
  EXPECT_EQ(first.front(), '<');
  EXPECT_NE(first.find("@mail.example.test>"), std::string::npos);
}

}  // namespace
}  // namespace mailport::smtp
