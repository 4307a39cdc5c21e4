#include "util/base64.h"

#include <gtest/gtest.h>

namespace mailport {
namespace {

TEST(Base64, EncodesRfc4648Vectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
}

TEST(Base64, DecodesSaslPlainResponse) {
  auto decoded = Base64Decode("AHVzZXIAc2VjcmV0");
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, std::string("\0user\0secret", 12));
}

TEST(Base64, RejectsMalformedInput) {
  EXPECT_FALSE(Base64Decode("Zm9").has_value());
  EXPECT_FALSE(Base64Decode("Zm=v").has_value());
  EXPECT_FALSE(Base64Decode("Z===").has_value());
  EXPECT_FALSE(Base64Decode("Zm9v Zm9v").has_value());
  EXPECT_FALSE(Base64Decode("Zg==Zg==").has_value());
  EXPECT_FALSE(Base64Decode("Zm9*").has_value());
}

}  // namespace
}  // namespace mailport
