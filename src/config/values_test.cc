#include "config/values.h"

#include <gtest/gtest.h>

#include "config/listen.h"

namespace mailport::config {
namespace {

TEST(SplitList, CommasAndWhiteSpace) {
  std::vector<std::string> expected = {"a", "b", "c", "d"};
  EXPECT_EQ(SplitList(" a, b ,c\td "), expected);
  EXPECT_TRUE(SplitList(" , ").empty());
}

TEST(ParseBool, YesNoOnly) {
  EXPECT_TRUE(ParseBool("yes").value());
  EXPECT_TRUE(ParseBool("YES").value());
  EXPECT_FALSE(ParseBool("no").value());
  ASSERT_FALSE(ParseBool("true").ok());
  EXPECT_EQ(ParseBool("1").error().message, "expected yes or no");
}

TEST(ParseTime, UnitsAndLimits) {
  struct Case {
    std::string_view text;
    char unit;
    int64_t seconds;
  };
  for (const Case& c :
       {Case{"3600s", 's', 3600}, Case{"1h", 's', 3600}, Case{"5m", 's', 300},
        Case{"2d", 's', 172800}, Case{"1w", 's', 604800}, Case{"90", 's', 90},
        Case{"5", 'd', 432000}, Case{"0", 's', 0}}) {
    Result<int64_t> value = ParseTime(c.text, c.unit, 0, INT64_MAX);
    ASSERT_TRUE(value.ok()) << c.text;
    EXPECT_EQ(*value, c.seconds) << c.text;
  }
  for (std::string_view bad : {"", "s", "1x", "1hh", "-1s", "1.5h", "h1"}) {
    EXPECT_FALSE(ParseTime(bad, 's', 0, INT64_MAX).ok()) << bad;
  }
  EXPECT_EQ(ParseTime("101d", 's', 0, 100 * 86400).error().message,
            "expected at most 100d");
  EXPECT_TRUE(ParseTime("100d", 's', 0, 100 * 86400).ok());
  EXPECT_EQ(ParseTime("0s", 's', 1, INT64_MAX).error().message,
            "expected at least 1s");
  EXPECT_FALSE(ParseTime("99999999999999999w", 's', 0, INT64_MAX).ok());
}

TEST(ParseSize, PlainBytes) {
  EXPECT_EQ(ParseSize("10240000").value(), 10240000u);
  EXPECT_EQ(ParseSize("0").value(), 0u);
  EXPECT_FALSE(ParseSize("10M").ok());
  EXPECT_FALSE(ParseSize("-1").ok());
  EXPECT_FALSE(ParseSize("").ok());
}

TEST(ParseInteger, Range) {
  EXPECT_EQ(ParseInteger("4", 0, 4).value(), 4);
  EXPECT_EQ(ParseInteger("5", 0, 4).error().message,
            "expected a whole number from 0 to 4");
  EXPECT_FALSE(ParseInteger("2x", 0, 4).ok());
}

TEST(ParseRestrictions, KnownNames) {
  Result<std::vector<Restriction>> value = ParseRestrictions(
      "permit_mynetworks,permit_sasl_authenticated "
      "reject_unauth_destination, defer_unauth_destination "
      "permit_auth_destination permit reject");
  ASSERT_TRUE(value.ok());
  std::vector<Restriction> expected = {Restriction::kPermitMynetworks,
                                       Restriction::kPermitSaslAuthenticated,
                                       Restriction::kRejectUnauthDestination,
                                       Restriction::kDeferUnauthDestination,
                                       Restriction::kPermitAuthDestination,
                                       Restriction::kPermit,
                                       Restriction::kReject};
  EXPECT_EQ(*value, expected);
  EXPECT_TRUE(ParseRestrictions("").value().empty());
}

TEST(ParseRestrictions, UnsupportedNameListsAccepted) {
  Result<std::vector<Restriction>> value =
      ParseRestrictions("permit_mynetworks, check_client_access");
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.error().message,
            "unsupported restriction \"check_client_access\"; accepted: "
            "permit_mynetworks, permit_sasl_authenticated, "
            "reject_unauth_destination, defer_unauth_destination, "
            "permit_auth_destination, permit, reject");
}

TEST(ParseTlsProtocols, PostfixSyntax) {
  struct Case {
    std::string_view text;
    TlsVersion min;
    TlsVersion max;
  };
  for (const Case& c : {
           Case{">=TLSv1.2", TlsVersion::kTls1_2, TlsVersion::kTls1_3},
           Case{"!SSLv2, !SSLv3, !TLSv1, !TLSv1.1", TlsVersion::kTls1_2,
                TlsVersion::kTls1_3},
           Case{"!SSLv2:!SSLv3", TlsVersion::kTls1_0, TlsVersion::kTls1_3},
           Case{"TLSv1.2 TLSv1.3", TlsVersion::kTls1_2, TlsVersion::kTls1_3},
           Case{"TLSv1.3", TlsVersion::kTls1_3, TlsVersion::kTls1_3},
           Case{">=TLSv1.1 <=TLSv1.2", TlsVersion::kTls1_1,
                TlsVersion::kTls1_2},
           Case{"", TlsVersion::kTls1_0, TlsVersion::kTls1_3},
       }) {
    Result<TlsVersionRange> range = ParseTlsProtocols(c.text);
    ASSERT_TRUE(range.ok()) << c.text;
    EXPECT_EQ(range->min, c.min) << c.text;
    EXPECT_EQ(range->max, c.max) << c.text;
  }
}

TEST(ParseTlsProtocols, Errors) {
  EXPECT_EQ(ParseTlsProtocols("TLSv1.4").error().message,
            "unknown protocol \"TLSv1.4\": expected SSLv2, SSLv3, TLSv1, "
            "TLSv1.1, TLSv1.2 or TLSv1.3, optionally prefixed by !, >= or <=");
  EXPECT_EQ(ParseTlsProtocols("!TLSv1.2").error().message,
            "the enabled TLS versions must form a contiguous range, such as "
            ">=TLSv1.2");
  EXPECT_EQ(ParseTlsProtocols("SSLv3").error().message,
            "no TLS version is left enabled; use for example >=TLSv1.2");
}

TEST(ParseSessionCache, Prefixes) {
  EXPECT_EQ(ParseSessionCache("btree:/var/lib/x/scache").value(),
            "/var/lib/x/scache");
  EXPECT_EQ(ParseSessionCache("lmdb:/a").value(), "/a");
  EXPECT_TRUE(ParseSessionCache("").value().empty());
  for (std::string_view bad : {"hash:/a", "/a", "btree:", "lmdb:relative"}) {
    ASSERT_FALSE(ParseSessionCache(bad).ok()) << bad;
    EXPECT_EQ(ParseSessionCache(bad).error().message,
              "expected btree:PATH or lmdb:PATH with an absolute PATH, or "
              "empty for no cache");
  }
}

TEST(ParseTlsSslOptions, NoTicket) {
  EXPECT_TRUE(ParseTlsSslOptions("NO_TICKET").value());
  EXPECT_TRUE(ParseTlsSslOptions("no_compression, no_ticket").value());
  EXPECT_FALSE(ParseTlsSslOptions("").value());
  EXPECT_EQ(ParseTlsSslOptions("NO_RENEGOTIATION").error().message,
            "unsupported option \"NO_RENEGOTIATION\": expected NO_TICKET or "
            "NO_COMPRESSION");
}

TEST(ResolvePort, ServicesAndNumbers) {
  EXPECT_EQ(ResolvePort("smtp").value(), 25);
  EXPECT_EQ(ResolvePort("submission").value(), 587);
  EXPECT_EQ(ResolvePort("submissions").value(), 465);
  EXPECT_EQ(ResolvePort("smtps").value(), 465);
  EXPECT_EQ(ResolvePort("2525").value(), 2525);
  EXPECT_FALSE(ResolvePort("0").ok());
  EXPECT_FALSE(ResolvePort("65536").ok());
  EXPECT_FALSE(ResolvePort("no-such-service").ok());
}

TEST(ParseServiceName, HostForms) {
  ServiceEndpoint plain = ParseServiceName("submission").value();
  EXPECT_EQ(plain.host, "");
  EXPECT_EQ(plain.port, 587);
  ServiceEndpoint v4 = ParseServiceName("127.0.0.1:2525").value();
  EXPECT_EQ(v4.host, "127.0.0.1");
  EXPECT_EQ(v4.port, 2525);
  ServiceEndpoint v6 = ParseServiceName("[::1]:smtps").value();
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.service_part, "smtps");
  EXPECT_EQ(v6.port, 465);
  EXPECT_FALSE(ParseServiceName(":25").ok());
  EXPECT_FALSE(ParseServiceName("::1:25").ok());
  EXPECT_FALSE(ParseServiceName("[::1]25").ok());
}

TEST(ListenAddresses, InetInterfaces) {
  using List = std::vector<std::string>;
  InetProtocols both{true, true};
  InetProtocols v4{true, false};
  EXPECT_EQ(ListenAddresses("all", both), (List{"0.0.0.0", "::"}));
  EXPECT_EQ(ListenAddresses("all", v4), (List{"0.0.0.0"}));
  EXPECT_EQ(ListenAddresses("loopback-only", both), (List{"127.0.0.1", "::1"}));
  EXPECT_EQ(ListenAddresses("localhost", v4), (List{"127.0.0.1"}));
  EXPECT_EQ(ListenAddresses("192.0.2.1, [2001:db8::1]", both),
            (List{"192.0.2.1", "2001:db8::1"}));
}

TEST(ParseInetProtocols, Forms) {
  InetProtocols all = ParseInetProtocols("all");
  EXPECT_TRUE(all.ipv4);
  EXPECT_TRUE(all.ipv6);
  InetProtocols v4 = ParseInetProtocols("ipv4");
  EXPECT_TRUE(v4.ipv4);
  EXPECT_FALSE(v4.ipv6);
  InetProtocols v6 = ParseInetProtocols("ipv6");
  EXPECT_FALSE(v6.ipv4);
  EXPECT_TRUE(v6.ipv6);
}

}  // namespace
}  // namespace mailport::config
