#include "config/ip_network.h"

#include <gtest/gtest.h>

namespace mailport::config {
namespace {

TEST(IpNetwork, ParsesForms) {
  struct Case {
    std::string_view text;
    std::string_view canonical;
  };
  for (const Case& c :
       {Case{"127.0.0.0/8", "127.0.0.0/8"}, Case{"192.0.2.1", "192.0.2.1/32"},
        Case{"[::1]/128", "[::1]/128"},
        Case{"2001:db8::/32", "[2001:db8::]/32"},
        Case{"[2001:db8::1]", "[2001:db8::1]/128"},
        Case{"0.0.0.0/0", "0.0.0.0/0"}}) {
    std::optional<IpNetwork> network = IpNetwork::Parse(c.text);
    ASSERT_TRUE(network.has_value()) << c.text;
    EXPECT_EQ(network->ToString(), c.canonical);
  }
}

TEST(IpNetwork, RejectsInvalid) {
  for (std::string_view text :
       {"", "10.0.0.1/8", "10.0.0.0/33", "[::1]/129", "10.0.0.0/", "10.0.0/8",
        "example.test", "10.0.0.0/x", "/8", "hash:/etc/postfix/network"}) {
    EXPECT_FALSE(IpNetwork::Parse(text).has_value()) << text;
  }
}

TEST(IpNetwork, Contains) {
  IpNetwork loopback = IpNetwork::Parse("127.0.0.0/8").value();
  EXPECT_TRUE(loopback.Contains("127.1.2.3"));
  EXPECT_TRUE(loopback.Contains("::ffff:127.0.0.1"));
  EXPECT_FALSE(loopback.Contains("128.0.0.1"));
  EXPECT_FALSE(loopback.Contains("::1"));
  EXPECT_FALSE(loopback.Contains("garbage"));

  IpNetwork odd = IpNetwork::Parse("192.0.2.128/25").value();
  EXPECT_TRUE(odd.Contains("192.0.2.200"));
  EXPECT_FALSE(odd.Contains("192.0.2.127"));

  IpNetwork v6 = IpNetwork::Parse("[2001:db8::]/32").value();
  EXPECT_TRUE(v6.Contains("2001:db8:1::5"));
  EXPECT_TRUE(v6.Contains("[2001:db8::1]"));
  EXPECT_FALSE(v6.Contains("2001:db9::1"));
  EXPECT_FALSE(v6.Contains("192.0.2.1"));
}

}  // namespace
}  // namespace mailport::config
