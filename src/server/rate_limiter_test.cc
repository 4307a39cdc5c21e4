#include "server/rate_limiter.h"

#include <gtest/gtest.h>

namespace mailport::server {
namespace {

using std::chrono::seconds;

TEST(RateLimiter, AllowsUpToLimitPerWindow) {
  RateLimiter limiter(3, seconds(60));
  RateLimiter::Clock::time_point start{};
  EXPECT_TRUE(limiter.Allow("192.0.2.1", start));
  EXPECT_TRUE(limiter.Allow("192.0.2.1", start + seconds(1)));
  EXPECT_TRUE(limiter.Allow("192.0.2.1", start + seconds(2)));
  EXPECT_FALSE(limiter.Allow("192.0.2.1", start + seconds(3)));
  EXPECT_FALSE(limiter.Allow("192.0.2.1", start + seconds(59)));
}

TEST(RateLimiter, NewWindowStartsAfterExpiry) {
  RateLimiter limiter(1, seconds(60));
  RateLimiter::Clock::time_point start{};
  EXPECT_TRUE(limiter.Allow("192.0.2.1", start));
  EXPECT_FALSE(limiter.Allow("192.0.2.1", start + seconds(10)));
  EXPECT_TRUE(limiter.Allow("192.0.2.1", start + seconds(60)));
}

TEST(RateLimiter, CountsKeysSeparately) {
  RateLimiter limiter(1, seconds(60));
  RateLimiter::Clock::time_point start{};
  EXPECT_TRUE(limiter.Allow("192.0.2.1", start));
  EXPECT_TRUE(limiter.Allow("192.0.2.2", start));
  EXPECT_FALSE(limiter.Allow("192.0.2.1", start));
}

TEST(RateLimiter, ZeroLimitAllowsEverything) {
  RateLimiter limiter(0, seconds(60));
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.Allow("192.0.2.1"));
}

}  // namespace
}  // namespace mailport::server
