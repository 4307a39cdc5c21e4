#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "config/parameters.h"

namespace mailport::config {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr std::string_view kSmtpLine = "smtp inet n - n - - smtpd\n";

struct Loaded {
  Config config;
  Settings settings;
  std::vector<std::string> messages;  // Diagnostic::ToString() of each
};

Loaded LoadText(std::string_view main_cf, std::string_view master_cf) {
  Loaded loaded;
  loaded.config = Parse(main_cf, master_cf, "main.cf", "master.cf");
  loaded.settings = Resolve(loaded.config);
  for (const Diagnostic& diagnostic : loaded.config.diagnostics) {
    loaded.messages.push_back(diagnostic.ToString());
  }
  return loaded;
}

Parameters MainOnly(std::string_view main_cf) {
  Config config = Parse(main_cf, "", "main.cf", "master.cf");
  EXPECT_THAT(config.diagnostics, IsEmpty());
  return config.main;
}

// --- Diagnostics --------------------------------------------------------

TEST(Diagnostic, ToStringForms) {
  Diagnostic full{Diagnostic::Severity::kError, "main.cf", 7, "bad"};
  EXPECT_EQ(full.ToString(), "main.cf:7: error: bad");
  Diagnostic no_line{Diagnostic::Severity::kWarning, "master.cf", 0, "x"};
  EXPECT_EQ(no_line.ToString(), "master.cf: warning: x");
  Diagnostic bare{Diagnostic::Severity::kError, "", 0, "y"};
  EXPECT_EQ(bare.ToString(), "error: y");
}

TEST(Diagnostic, ToStringEscapesControlBytes) {
  Diagnostic diagnostic{Diagnostic::Severity::kError, "main.cf", 2,
                        std::string("found \"a\x1b[2J\0b\x7f\xc3\xa9\"", 18)};
  EXPECT_EQ(diagnostic.ToString(),
            "main.cf:2: error: found \"a\\x1b[2J\\x00b\\x7f\xc3\xa9\"");
}

// --- main.cf syntax ------------------------------------------------------

TEST(MainCf, CommentsAndContinuation) {
  Parameters p = MainOnly(
      "# comment\n"
      "\n"
      "mydestination = a.example.test,\n"
      "    b.example.test\n"
      "# a comment inside a logical line\n"
      "\tc.example.test\n"
      "smtpd_banner = $myhostname # not a comment\n"
      "   \n"
      "myhostname=mx.example.test\r\n");
  EXPECT_EQ(p.Get("mydestination"),
            "a.example.test, b.example.test c.example.test");
  EXPECT_EQ(p.Get("smtpd_banner"), "mx.example.test # not a comment");
  EXPECT_EQ(p.Find("myhostname")->line, 9);
  EXPECT_EQ(p.Find("mydestination")->line, 3);
}

TEST(MainCf, SyntaxErrors) {
  struct Case {
    std::string_view text;
    std::string_view expected;
  };
  for (const Case& c : {
           Case{"  indented = 1\n",
                "main.cf:1: error: line starts with white space but there is "
                "no previous line to continue; remove the leading white "
                "space"},
           Case{"# x\nmyhostname\n",
                "main.cf:2: error: expected \"name = value\", found "
                "\"myhostname\""},
           Case{"my-host = x\n",
                "main.cf:1: error: invalid parameter name \"my-host\": "
                "expected letters, digits and underscores before \"=\""},
           Case{"myhostname = a.test\nmyhostname = b.test\n",
                "main.cf:2: warning: myhostname overrides the earlier "
                "definition on line 1"},
       }) {
    Config config = Parse(c.text, "", "main.cf", "master.cf");
    ASSERT_EQ(config.diagnostics.size(), 1u) << c.text;
    EXPECT_EQ(config.diagnostics[0].ToString(), c.expected);
  }
}

TEST(MainCf, LaterDefinitionWins) {
  Config config = Parse("myhostname = a.test\nmyhostname = b.test\n", "",
                        "main.cf", "master.cf");
  EXPECT_EQ(config.main.Get("myhostname"), "b.test");
}

// --- Expansion -----------------------------------------------------------

TEST(Expansion, Forms) {
  Parameters p = MainOnly(
      "a = x\n"
      "empty =\n"
      "plain = [$a]\n"
      "braced = [${a}y]\n"
      "paren = [$(a)]\n"
      "dollar = $$a costs $$5\n"
      "if_set = [${a?set}] [${empty?set}]\n"
      "if_empty = [${a:unset}] [${empty:unset}]\n"
      "nested = ${a?<$a>}\n"
      "both = ${a?{yes}:{no}} ${empty?{yes}:{no}}\n"
      "undefined = [$nothing_here]\n"
      "trailing = cost$\n");
  EXPECT_EQ(p.Get("plain"), "[x]");
  EXPECT_EQ(p.Get("braced"), "[xy]");
  EXPECT_EQ(p.Get("paren"), "[x]");
  EXPECT_EQ(p.Get("dollar"), "$a costs $5");
  EXPECT_EQ(p.Get("if_set"), "[set] []");
  EXPECT_EQ(p.Get("if_empty"), "[] [unset]");
  EXPECT_EQ(p.Get("nested"), "<x>");
  EXPECT_EQ(p.Get("both"), "yes no");
  EXPECT_EQ(p.Get("undefined"), "[]");
  EXPECT_EQ(p.Get("trailing"), "cost$");
}

TEST(Expansion, DefaultsRefer) {
  Parameters p = MainOnly(
      "myhostname = mx.example.test\n"
      "data_directory = /srv/mail\n");
  EXPECT_EQ(p.Get("mydomain"), "example.test");
  EXPECT_EQ(p.Get("myorigin"), "mx.example.test");
  EXPECT_EQ(p.Get("mydestination"),
            "mx.example.test, localhost.example.test, localhost");
  EXPECT_EQ(p.Get("mailbox_base"), "/srv/mail/mailboxes");
  EXPECT_EQ(p.Get("smtpd_banner"), "mx.example.test ESMTP mailport");
  EXPECT_EQ(p.Get("smtpd_sasl_path"), "/etc/mailport/passwd");
  EXPECT_FALSE(p.IsSet("mydomain"));
}

TEST(Expansion, MydomainOfSingleLabelHost) {
  Parameters p = MainOnly("myhostname = box\n");
  EXPECT_EQ(p.Get("mydomain"), "localdomain");
}

TEST(Expansion, DeepChainWithinLimit) {
  std::string main_cf;
  for (int i = 0; i < 90; ++i) {
    main_cf += "p" + std::to_string(i) + " = $p" + std::to_string(i + 1) + "\n";
  }
  main_cf += "p90 = end\n";
  Parameters p = MainOnly(main_cf);
  EXPECT_EQ(p.Get("p0"), "end");
}

TEST(Expansion, CycleHitsLimit) {
  Parameters p = MainOnly("a = $b\nb = ${a}\n");
  Result<std::string> value = p.Expand("a");
  ASSERT_FALSE(value.ok());
  EXPECT_THAT(value.error().message,
              ::testing::HasSubstr("nested deeper than 100 levels"));
  EXPECT_EQ(p.Get("a"), "");
}

TEST(Expansion, CycleReportedAtUse) {
  Loaded loaded =
      LoadText("a = $b\nb = $a\nsmtpd_banner = $a ESMTP\n", kSmtpLine);
  EXPECT_THAT(loaded.messages,
              Contains("main.cf:3: error: invalid smtpd_banner value \"$a "
                       "ESMTP\": expansion of $a is nested deeper than 100 "
                       "levels; check for parameters that refer to each "
                       "other"));
}

TEST(Expansion, UnclosedBrace) {
  Parameters p = MainOnly("a = ${data_directory\n");
  Result<std::string> value = p.Expand("a");
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.error().message, "\"${data_directory\" has no closing \"}\"");
}

TEST(Expansion, OverridesApplyToReferences) {
  Parameters main = MainOnly("myhostname = mx.example.test\n");
  Parameters service = main.WithOverrides(
      {{"myhostname", "submit.example.test", "master.cf", 4}});
  EXPECT_EQ(service.Get("smtpd_banner"), "submit.example.test ESMTP mailport");
  EXPECT_EQ(main.Get("smtpd_banner"), "mx.example.test ESMTP mailport");
  EXPECT_EQ(service.Locate("smtpd_banner")->file, "master.cf");
}

TEST(Expansion, LocateFollowsDefaults) {
  Parameters p = MainOnly("x = 1\ndata_directory = /srv\n");
  const Setting* where = p.Locate("queue_directory");
  EXPECT_EQ(where, nullptr);
  where = p.Locate("mailbox_base");
  ASSERT_NE(where, nullptr);
  EXPECT_EQ(where->name, "data_directory");
  EXPECT_EQ(where->line, 2);
}

// --- master.cf syntax ----------------------------------------------------

TEST(MasterCf, Columns) {
  Config config = Parse("",
                        "# comment\n"
                        "submission inet n - y - 10 smtpd\n"
                        "  -o syslog_name=postfix/submission\n"
                        "  -o { smtpd_banner = hello there $myhostname }\n"
                        "  -o {smtpd_tls_security_level=encrypt}\n"
                        "  -v\n",
                        "main.cf", "master.cf");
  EXPECT_THAT(config.diagnostics, IsEmpty());
  ASSERT_EQ(config.services.size(), 1u);
  const Service& service = config.services[0];
  EXPECT_EQ(service.name, "submission");
  EXPECT_EQ(service.type, "inet");
  EXPECT_EQ(service.private_column, "n");
  EXPECT_EQ(service.unpriv_column, "-");
  EXPECT_EQ(service.chroot_column, "y");
  EXPECT_EQ(service.wakeup_column, "-");
  EXPECT_EQ(service.maxproc_column, "10");
  EXPECT_EQ(service.command, "smtpd");
  EXPECT_THAT(service.arguments, ElementsAre("-v"));
  EXPECT_EQ(service.line, 2);
  ASSERT_EQ(service.overrides.size(), 3u);
  EXPECT_EQ(service.overrides[0].name, "syslog_name");
  EXPECT_EQ(service.overrides[0].value, "postfix/submission");
  EXPECT_EQ(service.overrides[1].name, "smtpd_banner");
  EXPECT_EQ(service.overrides[1].value, "hello there $myhostname");
  EXPECT_EQ(service.overrides[2].value, "encrypt");
  // Each override names the physical line it is on.
  EXPECT_EQ(service.overrides[0].line, 3);
  EXPECT_EQ(service.overrides[2].line, 5);
}

TEST(MasterCf, SyntaxErrors) {
  struct Case {
    std::string_view text;
    std::string_view expected;
  };
  for (const Case& c : {
           Case{"smtp inet n - n - smtpd\n",
                "master.cf:1: error: expected 8 columns (service type private "
                "unpriv chroot wakeup maxproc command), found 7"},
           Case{"smtp inet n - n - - smtpd -o\n",
                "master.cf:1: error: \"-o\" at the end of the line; expected "
                "\"-o name=value\""},
           Case{"smtp inet n - n - - smtpd -o smtpd_banner\n",
                "master.cf:1: error: invalid -o argument \"smtpd_banner\": "
                "expected \"-o name=value\" or \"-o { name = value }\""},
           Case{"smtp inet n - n - - smtpd -o { smtpd_banner = x\n",
                "master.cf:1: error: \"{\" without a closing \"}\""},
           Case{"smtp inet n - n - - smtpd\nsmtp inet n - n - - smtpd\n",
                "master.cf:2: error: service \"smtp\" type inet is already "
                "defined on line 1"},
       }) {
    Config config = Parse("", c.text, "main.cf", "master.cf");
    ASSERT_EQ(config.diagnostics.size(), 1u) << c.text;
    EXPECT_EQ(config.diagnostics[0].ToString(), c.expected);
  }
}

// --- Services and listen addresses ---------------------------------------

TEST(Services, NameResolution) {
  struct Case {
    std::string_view name;
    std::string_view host;
    uint16_t port;
  };
  for (const Case& c :
       {Case{"smtp", "0.0.0.0", 25}, Case{"submission", "0.0.0.0", 587},
        Case{"submissions", "0.0.0.0", 465}, Case{"smtps", "0.0.0.0", 465},
        Case{"2525", "0.0.0.0", 2525},
        Case{"127.0.0.1:2525", "127.0.0.1", 2525},
        Case{"127.0.0.1:submission", "127.0.0.1", 587},
        Case{"[::1]:587", "::1", 587}}) {
    std::string master_cf =
        std::string(c.name) +
        " inet n - n - - smtpd -o smtpd_tls_security_level=encrypt -o "
        "smtpd_sasl_auth_enable=yes\n";
    Loaded loaded = LoadText("", master_cf);
    EXPECT_THAT(loaded.messages, IsEmpty()) << c.name;
    ASSERT_FALSE(loaded.settings.services.empty()) << c.name;
    EXPECT_EQ(loaded.settings.services[0].host, c.host) << c.name;
    EXPECT_EQ(loaded.settings.services[0].port, c.port) << c.name;
    EXPECT_EQ(loaded.settings.services[0].name, c.name);
  }
}

TEST(Services, InvalidNames) {
  struct Case {
    std::string_view line;
    std::string_view expected;
  };
  for (const Case& c : {
           Case{"nosuchservice inet n - n - - smtpd\n",
                "master.cf:1: error: invalid service name \"nosuchservice\": "
                "service \"nosuchservice\" is not in /etc/services; use a port "
                "number"},
           Case{"mail.example.test:25 inet n - n - - smtpd\n",
                "master.cf:1: error: invalid service name "
                "\"mail.example.test:25\": host \"mail.example.test\" is not "
                "an IP address or localhost"},
           Case{"70000 inet n - n - - smtpd\n",
                "master.cf:1: error: invalid service name \"70000\": port "
                "\"70000\" is not a number from 1 to 65535"},
       }) {
    Loaded loaded = LoadText("", c.line);
    EXPECT_THAT(loaded.messages, ElementsAre(c.expected));
    EXPECT_TRUE(loaded.settings.services.empty());
  }
}

TEST(Services, InetInterfaces) {
  struct Case {
    std::string_view main_cf;
    std::vector<std::string> hosts;
  };
  for (const Case& c : {
           Case{"", {"0.0.0.0", "::"}},
           Case{"inet_interfaces = all\ninet_protocols = ipv4\n", {"0.0.0.0"}},
           Case{"inet_protocols = ipv6\n", {"::"}},
           Case{"inet_interfaces = loopback-only\n", {"127.0.0.1", "::1"}},
           Case{"inet_interfaces = localhost\ninet_protocols = ipv4\n",
                {"127.0.0.1"}},
           Case{"inet_interfaces = 127.0.0.2, [::1]\n", {"127.0.0.2", "::1"}},
           Case{
               "inet_interfaces = 192.0.2.7 localhost\ninet_protocols = ipv4\n",
               {"192.0.2.7", "127.0.0.1"}},
       }) {
    Loaded loaded = LoadText(c.main_cf, kSmtpLine);
    EXPECT_THAT(loaded.messages, IsEmpty()) << c.main_cf;
    std::vector<std::string> hosts;
    for (const SmtpdService& service : loaded.settings.services) {
      hosts.push_back(service.host);
      EXPECT_EQ(service.port, 25);
    }
    EXPECT_EQ(hosts, c.hosts) << c.main_cf;
  }
}

TEST(Services, HostOverridesInetInterfaces) {
  Loaded loaded = LoadText("inet_interfaces = loopback-only\n",
                           "localhost:2525 inet n - n - - smtpd\n"
                           "192.0.2.10:2526 inet n - n - - smtpd\n");
  EXPECT_THAT(loaded.messages, IsEmpty());
  ASSERT_EQ(loaded.settings.services.size(), 3u);
  EXPECT_EQ(loaded.settings.services[0].host, "127.0.0.1");
  EXPECT_EQ(loaded.settings.services[1].host, "::1");
  EXPECT_EQ(loaded.settings.services[2].host, "192.0.2.10");
}

TEST(Services, ProtocolMismatch) {
  Loaded loaded = LoadText(
      "inet_protocols = ipv4\ninet_interfaces = 127.0.0.1 ::1\n", kSmtpLine);
  EXPECT_THAT(loaded.messages,
              ElementsAre("main.cf:2: error: inet_interfaces lists ::1, but "
                          "inet_protocols excludes its address family"));
  Loaded v6 =
      LoadText("inet_protocols = ipv4\n", "[::1]:2525 inet n - n - - smtpd\n");
  EXPECT_THAT(v6.messages,
              ElementsAre("master.cf:1: error: invalid service name "
                          "\"[::1]:2525\": IPv6 address, but inet_protocols "
                          "excludes ipv6"));
}

TEST(Services, ListenerConflicts) {
  Loaded loaded = LoadText("inet_protocols = ipv4\n",
                           "smtps inet n - n - - smtpd\n"
                           "127.0.0.1:submissions inet n - n - - smtpd\n");
  EXPECT_THAT(loaded.messages,
              Contains("master.cf:2: error: service \"127.0.0.1:submissions\" "
                       "listens on 127.0.0.1:465, which conflicts with "
                       "service \"smtps\" on line 1 (0.0.0.0:465)"));
}

TEST(Services, MaxprocColumn) {
  Loaded loaded = LoadText("default_process_limit = 7\n",
                           "127.0.0.1:25 inet n - n - - smtpd\n"
                           "127.0.0.1:26 inet n - n - 0 smtpd\n"
                           "127.0.0.1:27 inet n - n - 30 smtpd\n");
  EXPECT_THAT(loaded.messages, IsEmpty());
  ASSERT_EQ(loaded.settings.services.size(), 3u);
  EXPECT_EQ(loaded.settings.services[0].max_processes, 7);
  EXPECT_EQ(loaded.settings.services[1].max_processes, 0);
  EXPECT_EQ(loaded.settings.services[2].max_processes, 30);
}

TEST(Services, ColumnDiagnostics) {
  struct Case {
    std::string_view line;
    std::string_view expected;
  };
  for (const Case& c : {
           Case{"127.0.0.1:25 inet y - n - - smtpd\n",
                "master.cf:1: warning: service \"127.0.0.1:25\": inet "
                "services cannot be private; the private column y is "
                "ignored, write n"},
           Case{"127.0.0.1:25 inet x - n - - smtpd\n",
                "master.cf:1: error: invalid private column \"x\" of service "
                "\"127.0.0.1:25\": expected y, n or -"},
           Case{"127.0.0.1:25 inet n maybe n - - smtpd\n",
                "master.cf:1: error: invalid unpriv column \"maybe\" of "
                "service \"127.0.0.1:25\": expected y, n or -"},
           Case{"127.0.0.1:25 inet n - yes - - smtpd\n",
                "master.cf:1: error: invalid chroot column \"yes\" of service "
                "\"127.0.0.1:25\": expected y, n or -"},
           Case{"127.0.0.1:25 inet n - n 60 - smtpd\n",
                "master.cf:1: warning: service \"127.0.0.1:25\": wakeup time "
                "60 is ignored because smtpd needs no wake-up requests"},
           Case{"127.0.0.1:25 inet n - n 1m - smtpd\n",
                "master.cf:1: error: invalid wakeup column \"1m\" of service "
                "\"127.0.0.1:25\": expected seconds, optionally followed by "
                "?, or -"},
           Case{"127.0.0.1:25 inet n - n - many smtpd\n",
                "master.cf:1: error: invalid maxproc column \"many\" of "
                "service \"127.0.0.1:25\": expected a number of concurrent "
                "sessions (0 = no limit) or -"},
           Case{"127.0.0.1:25 inet n - n - - smtpd -v\n",
                "master.cf:1: warning: service \"127.0.0.1:25\": smtpd "
                "argument \"-v\" is ignored; only -o name=value is "
                "supported"},
           Case{"submission inet n - y - smtpd -o smtpd_sasl_auth_enable=yes\n",
                "master.cf:1: error: the command column of service "
                "\"submission\" is \"-o\", which is an option; a column is "
                "missing before it (expected service type private unpriv "
                "chroot wakeup maxproc command)"},
           Case{"smtp inet n - y - 1 postscreen\n",
                "master.cf:1: warning: service \"smtp\": command "
                "\"postscreen\" is not supported on inet services, only "
                "smtpd; line ignored"},
           Case{"pickup unix n - y 60 1 pickup\n",
                "master.cf:1: warning: service \"pickup\" type unix is part "
                "of Postfix's internal architecture, which mailportd has "
                "built in; line ignored"},
           Case{"smtp tcp n - n - - smtpd\n",
                "master.cf:1: error: invalid type \"tcp\" of service "
                "\"smtp\": expected inet, unix, unix-dgram, fifo or pass"},
       }) {
    // A second, valid service keeps the "no smtpd service" error out.
    Loaded loaded = LoadText(
        "", std::string(c.line) + "127.0.0.1:10025 inet n - n - - smtpd\n");
    EXPECT_THAT(loaded.messages, ElementsAre(c.expected)) << c.line;
  }
}

TEST(Services, NoSmtpdServiceIsAnError) {
  for (std::string_view master_cf :
       {"# only comments\n", "pickup unix n - y 60 1 pickup\n"}) {
    Loaded loaded = LoadText("", std::string(master_cf));
    EXPECT_THAT(loaded.messages,
                Contains("error: master.cf defines no smtpd service of type "
                         "inet; add a line such as \"smtp inet n - n - - "
                         "smtpd\""))
        << master_cf;
  }
}

TEST(Services, ChrootAcceptedSilently) {
  Loaded loaded = LoadText("", "127.0.0.1:25 inet n y y 0 - smtpd\n");
  EXPECT_THAT(loaded.messages, IsEmpty());
  EXPECT_EQ(loaded.settings.services.size(), 1u);
}

TEST(Services, StockPostfixMasterCfLoads) {
  Loaded loaded = LoadText(
      "",
      "smtp      inet  n       -       y       -       -       smtpd\n"
      "pickup    unix  n       -       y       60      1       pickup\n"
      "cleanup   unix  n       -       y       -       0       cleanup\n"
      "qmgr      unix  n       -       n       300     1       qmgr\n"
      "tlsmgr    unix  -       -       y       1000?   1       tlsmgr\n"
      "rewrite   unix  -       -       y       -       -       "
      "trivial-rewrite\n"
      "smtp      unix  -       -       y       -       -       smtp\n"
      "maildrop  unix  -       n       n       -       -       pipe\n"
      "  flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${recipient}\n");
  EXPECT_FALSE(loaded.config.HasErrors());
  EXPECT_EQ(loaded.messages.size(), 7u);
  ASSERT_EQ(loaded.settings.services.size(), 2u);
  EXPECT_EQ(loaded.settings.services[0].port, 25);
}

// --- Parameter values ----------------------------------------------------

TEST(Values, InvalidValueDiagnostics) {
  struct Case {
    std::string_view main_cf;
    std::string_view expected;
  };
  for (const Case& c : {
           Case{"smtpd_tls_security_level = maybe\n",
                "main.cf:1: error: invalid smtpd_tls_security_level value "
                "\"maybe\": expected none, may or encrypt"},
           Case{"smtpd_tls_auth_only = true\n",
                "main.cf:1: error: invalid smtpd_tls_auth_only value \"true\": "
                "expected yes or no"},
           Case{"smtpd_tls_loglevel = 5\n",
                "main.cf:1: error: invalid smtpd_tls_loglevel value \"5\": "
                "expected a whole number from 0 to 4"},
           Case{"message_size_limit = 10M\n",
                "main.cf:1: error: invalid message_size_limit value \"10M\": "
                "expected a number of bytes such as 10240000"},
           Case{"smtpd_timeout = 5 minutes\n",
                "main.cf:1: error: invalid smtpd_timeout value \"5 minutes\": "
                "expected a time such as 300s, 5m, 1h, 2d or 1w (a bare "
                "number is in unit s)"},
           Case{"smtpd_tls_session_cache_timeout = 101d\n",
                "main.cf:1: error: invalid smtpd_tls_session_cache_timeout "
                "value \"101d\": expected at most 100d"},
           Case{"smtpd_tls_session_cache_database = hash:/var/lib/x\n",
                "main.cf:1: error: invalid smtpd_tls_session_cache_database "
                "value \"hash:/var/lib/x\": expected btree:PATH or lmdb:PATH "
                "with an absolute PATH, or empty for no cache"},
           Case{"home_mailbox = Mailbox\n",
                "main.cf:1: error: invalid home_mailbox value \"Mailbox\": "
                "expected a Maildir path relative to the home directory and "
                "ending in \"/\", such as Maildir/ (mbox files are not "
                "supported)"},
           Case{"smtpd_sasl_type = dovecot\n",
                "main.cf:1: error: invalid smtpd_sasl_type value \"dovecot\": "
                "mailport does not talk to dovecot but has a built-in "
                "passwd-file backend; set \"smtpd_sasl_type = passwd-file\" "
                "and \"smtpd_sasl_path = /path/to/passwd\" (a file of "
                "user:hash lines, default $config_directory/passwd)"},
           Case{"smtpd_sasl_type = sql\n",
                "main.cf:1: error: invalid smtpd_sasl_type value \"sql\": "
                "expected passwd-file"},
           Case{"smtpd_relay_restrictions = permit_mynetworks, "
                "check_relay_domains\n",
                "main.cf:1: error: invalid smtpd_relay_restrictions value "
                "\"permit_mynetworks, check_relay_domains\": unsupported "
                "restriction \"check_relay_domains\"; accepted: "
                "permit_mynetworks, permit_sasl_authenticated, "
                "reject_unauth_destination, defer_unauth_destination, "
                "permit_auth_destination, permit, reject"},
           Case{"mynetworks = 127.0.0.0/8 10.0.0.1/8\n",
                "main.cf:1: error: invalid mynetworks value \"127.0.0.0/8 "
                "10.0.0.1/8\": \"10.0.0.1/8\" is not an address or "
                "address/prefix-length without host bits, such as "
                "127.0.0.0/8 or [::1]/128"},
           Case{"myhostname = mail_server\n",
                "main.cf:1: error: invalid myhostname value \"mail_server\": "
                "expected a domain name such as mail.example.com"},
           Case{"mydestination = hash:/etc/postfix/domains\n",
                "main.cf:1: error: invalid mydestination value "
                "\"hash:/etc/postfix/domains\": \"hash:/etc/postfix/domains\" "
                "is not a domain name; expected domain names separated by "
                "commas (lookup tables are not supported)"},
           Case{"inet_interfaces = eth0\n",
                "main.cf:1: error: invalid inet_interfaces value \"eth0\": "
                "expected all, loopback-only, localhost or a list of IP "
                "addresses"},
           Case{"inet_protocols = ipv5\n",
                "main.cf:1: error: invalid inet_protocols value \"ipv5\": "
                "expected all, ipv4, ipv6 or \"ipv4, ipv6\""},
           Case{"data_directory = var/lib\n",
                "main.cf:1: error: invalid data_directory value \"var/lib\": "
                "expected an absolute path"},
           Case{"smtpd_tls_cert_file = cert.pem\n",
                "main.cf:1: error: invalid smtpd_tls_cert_file value "
                "\"cert.pem\": expected an absolute path, or empty for none"},
           Case{"smtpd_tls_mandatory_protocols = >=TLSv1.4\n",
                "main.cf:1: error: invalid smtpd_tls_mandatory_protocols value "
                "\">=TLSv1.4\": unknown protocol \"TLSv1.4\": expected SSLv2, "
                "SSLv3, TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3, optionally "
                "prefixed by !, >= or <="},
           Case{"smtpd_tls_mandatory_ciphers = export\n",
                "main.cf:1: error: invalid smtpd_tls_mandatory_ciphers value "
                "\"export\": expected high or medium (mailport offers no low, "
                "export or null ciphers)"},
           Case{
               "tls_ssl_options = NO_RENEGOTIATION\n",
               "main.cf:1: error: invalid tls_ssl_options value "
               "\"NO_RENEGOTIATION\": unsupported option \"NO_RENEGOTIATION\": "
               "expected NO_TICKET or NO_COMPRESSION"},
           Case{"smtpd_submission = maybe\n",
                "main.cf:1: error: invalid smtpd_submission value \"maybe\": "
                "expected auto, yes or no"},
           Case{"line_length_limit = 512\n",
                "main.cf:1: error: invalid line_length_limit value \"512\": "
                "expected a whole number of at least 1000"},
           Case{"mail_owner = no-such-user-mailport-test\n",
                "main.cf:1: error: invalid mail_owner value "
                "\"no-such-user-mailport-test\": expected a user name that "
                "exists on this system"},
           Case{"minimal_backoff_time = 2h\nmaximal_backoff_time = 1h\n",
                "main.cf:1: error: minimal_backoff_time (7200s) is greater "
                "than maximal_backoff_time (3600s)"},
       }) {
    Loaded loaded = LoadText(c.main_cf, "127.0.0.1:25 inet n - n - - smtpd\n");
    EXPECT_THAT(loaded.messages, ElementsAre(c.expected)) << c.main_cf;
  }
}

TEST(Values, InheritedErrorReportedOnce) {
  // mailbox_base defaults to ${data_directory}/mailboxes and so is invalid
  // too, but only the setting at fault is reported.
  Loaded loaded = LoadText("# x\ndata_directory = relative\n",
                           "127.0.0.1:25 inet n - n - - smtpd\n");
  EXPECT_THAT(loaded.messages,
              ElementsAre("main.cf:2: error: invalid data_directory value "
                          "\"relative\": expected an absolute path"));
}

TEST(Values, ErrorAfterExpansionNamesSetting) {
  Loaded loaded = LoadText(
      "cache_type = hash\n"
      "smtpd_tls_session_cache_database = ${cache_type}:/var/lib/x\n",
      "127.0.0.1:25 inet n - n - - smtpd\n");
  EXPECT_THAT(loaded.messages,
              ElementsAre("main.cf:2: error: invalid "
                          "smtpd_tls_session_cache_database value "
                          "\"hash:/var/lib/x\": expected btree:PATH or "
                          "lmdb:PATH with an absolute PATH, or empty for no "
                          "cache"));
}

TEST(Values, ErrorInDefaultNamesReferencedSetting) {
  // smtpd_banner keeps its default "$myhostname ESMTP $mail_name"; a cycle
  // through myhostname is reported at the myhostname line.
  Loaded loaded =
      LoadText("# x\nmyhostname = $mydomain\nmydomain = $myhostname\n",
               "127.0.0.1:25 inet n - n - - smtpd\n");
  EXPECT_THAT(loaded.messages,
              Contains(::testing::StartsWith(
                  "main.cf:2: error: invalid myhostname value \"$mydomain\": "
                  "expansion of")));
  for (const std::string& message : loaded.messages) {
    EXPECT_THAT(message, ::testing::StartsWith("main.cf:")) << message;
  }
}

TEST(Values, ErrorInOverrideNamesItsLine) {
  Loaded loaded = LoadText("",
                           "# services\n"
                           "127.0.0.1:25 inet n - n - - smtpd\n"
                           "  -o smtpd_tls_security_level=strict\n");
  EXPECT_THAT(loaded.messages,
              ElementsAre("master.cf:3: error: invalid "
                          "smtpd_tls_security_level value \"strict\": "
                          "expected none, may or encrypt"));
}

TEST(Values, ErrorReportedOncePerSetting) {
  Loaded loaded = LoadText("smtpd_tls_loglevel = 9\n",
                           "127.0.0.1:25 inet n - n - - smtpd\n"
                           "127.0.0.1:26 inet n - n - - smtpd\n");
  EXPECT_EQ(loaded.messages.size(), 1u);
}

TEST(Values, OpenRelayIsError) {
  Loaded loaded =
      LoadText("smtpd_relay_restrictions = permit_mynetworks, permit\n",
               "127.0.0.1:25 inet n - n - - smtpd\n");
  EXPECT_THAT(loaded.messages,
              ElementsAre("master.cf:1: error: service \"127.0.0.1:25\" "
                          "would relay mail for anyone: "
                          "smtpd_relay_restrictions and "
                          "smtpd_recipient_restrictions contain none of "
                          "reject_unauth_destination, "
                          "defer_unauth_destination or reject"));
  Loaded fixed = LoadText(
      "smtpd_relay_restrictions =\n"
      "smtpd_recipient_restrictions = permit_mynetworks, "
      "defer_unauth_destination\n",
      "127.0.0.1:25 inet n - n - - smtpd\n");
  EXPECT_THAT(fixed.messages, IsEmpty());
}

TEST(Values, TypedSettings) {
  Loaded loaded = LoadText(
      "myhostname = MX.Example.Test\n"
      "mydestination = $myhostname, Example.Test.\n"
      "mynetworks = 192.0.2.0/24, [2001:db8::]/32\n"
      "message_size_limit = 0\n"
      "smtpd_recipient_limit = 50\n"
      "smtpd_timeout = 5m\n"
      "smtpd_session_timeout = 2h\n"
      "smtpd_error_sleep_time = 2\n"
      "smtpd_sasl_failure_delay = 3s\n"
      "smtpd_sasl_failure_limit = 5\n"
      "smtpd_hard_error_limit = 30\n"
      "smtpd_soft_error_limit = 3\n"
      "line_length_limit = 4096\n"
      "maximal_queue_lifetime = 2\n"
      "queue_run_delay = 1m\n"
      "smtpd_relay_restrictions = permit_sasl_authenticated, reject\n"
      "smtpd_recipient_restrictions = permit_auth_destination\n"
      "smtpd_banner = $myhostname ready\n"
      "maillog_file = /var/log/mailport.log\n"
      "mail_owner = root\n",
      "127.0.0.1:25 inet n - n - - smtpd\n");
  EXPECT_THAT(loaded.messages, IsEmpty());
  const GlobalSettings& global = loaded.settings.global;
  EXPECT_EQ(global.myhostname, "mx.example.test");
  EXPECT_EQ(global.mydomain, "example.test");
  EXPECT_THAT(global.mydestination,
              ElementsAre("mx.example.test", "example.test"));
  ASSERT_EQ(global.mynetworks.size(), 2u);
  EXPECT_EQ(global.mynetworks[1].ToString(), "[2001:db8::]/32");
  EXPECT_EQ(global.maximal_queue_lifetime, std::chrono::hours(48));
  EXPECT_EQ(global.queue_run_delay, std::chrono::seconds(60));
  EXPECT_EQ(global.maillog_file, "/var/log/mailport.log");
  EXPECT_EQ(global.mail_owner, "root");
  EXPECT_EQ(global.data_directory, "/var/lib/mailport");
  EXPECT_EQ(global.queue_directory, "/var/spool/mailport");
  EXPECT_EQ(global.mailbox_base, "/var/lib/mailport/mailboxes");

  ASSERT_EQ(loaded.settings.services.size(), 1u);
  const SmtpdService& smtpd = loaded.settings.services[0];
  EXPECT_EQ(smtpd.message_size_limit, 0u);
  EXPECT_EQ(smtpd.recipient_limit, 50u);
  EXPECT_EQ(smtpd.timeout, std::chrono::seconds(300));
  EXPECT_EQ(smtpd.session_timeout, std::chrono::seconds(7200));
  EXPECT_EQ(smtpd.error_sleep_time, std::chrono::milliseconds(2000));
  EXPECT_EQ(smtpd.sasl_failure_delay, std::chrono::milliseconds(3000));
  EXPECT_EQ(smtpd.sasl_failure_limit, 5);
  EXPECT_EQ(smtpd.hard_error_limit, 30);
  EXPECT_EQ(smtpd.soft_error_limit, 3);
  EXPECT_EQ(smtpd.line_length_limit, 4096u);
  EXPECT_THAT(
      smtpd.relay_restrictions,
      ElementsAre(Restriction::kPermitSaslAuthenticated, Restriction::kReject));
  EXPECT_THAT(smtpd.recipient_restrictions,
              ElementsAre(Restriction::kPermitAuthDestination));
  EXPECT_EQ(smtpd.banner, "MX.Example.Test ready");
  EXPECT_EQ(smtpd.myhostname, "mx.example.test");
  EXPECT_EQ(smtpd.mynetworks.size(), 2u);
  EXPECT_FALSE(smtpd.submission);
}

TEST(Values, Defaults) {
  Loaded loaded = LoadText("", "127.0.0.1:25 inet n - n - - smtpd\n");
  EXPECT_THAT(loaded.messages, IsEmpty());
  const GlobalSettings& global = loaded.settings.global;
  EXPECT_EQ(global.myhostname, DefaultHostname());
  EXPECT_EQ(global.home_mailbox, "Maildir/");
  ASSERT_EQ(global.mynetworks.size(), 2u);
  EXPECT_EQ(global.mynetworks[0].ToString(), "127.0.0.0/8");
  EXPECT_EQ(global.mynetworks[1].ToString(), "[::1]/128");
  EXPECT_THAT(global.mydestination, Contains("localhost"));
  EXPECT_THAT(global.mydestination, Contains(DefaultHostname()));
  EXPECT_EQ(global.config_directory, "/etc/mailport");

  const SmtpdService& smtpd = loaded.settings.services[0];
  EXPECT_EQ(smtpd.tls.security_level, TlsSecurityLevel::kNone);
  EXPECT_EQ(smtpd.tls.min_version, TlsVersion::kTls1_2);
  EXPECT_EQ(smtpd.tls.max_version, TlsVersion::kTls1_3);
  EXPECT_TRUE(smtpd.tls.session_tickets);
  EXPECT_EQ(smtpd.tls.ciphers, "HIGH:MEDIUM:!aNULL:!eNULL:!MD5:!RC4:!3DES");
  EXPECT_EQ(smtpd.max_processes, 100);
  EXPECT_EQ(smtpd.banner, DefaultHostname() + " ESMTP mailport");
  EXPECT_EQ(smtpd.sasl_password_file, "/etc/mailport/passwd");
  EXPECT_THAT(smtpd.relay_restrictions,
              ElementsAre(Restriction::kPermitMynetworks,
                          Restriction::kPermitSaslAuthenticated,
                          Restriction::kRejectUnauthDestination));
  EXPECT_THAT(smtpd.recipient_restrictions, IsEmpty());
  EXPECT_EQ(smtpd.message_size_limit, 10240000u);
  EXPECT_EQ(smtpd.session_timeout, std::chrono::seconds(3600));
  EXPECT_EQ(smtpd.sasl_failure_limit, 3);
}

TEST(Values, LegacyTlsBooleans) {
  Loaded may =
      LoadText("smtpd_use_tls = yes\n", "127.0.0.1:25 inet n - n - - smtpd\n");
  EXPECT_EQ(may.settings.services[0].tls.security_level,
            TlsSecurityLevel::kMay);
  Loaded encrypt = LoadText("smtpd_use_tls = yes\nsmtpd_enforce_tls = yes\n",
                            "127.0.0.1:25 inet n - n - - smtpd\n");
  EXPECT_EQ(encrypt.settings.services[0].tls.security_level,
            TlsSecurityLevel::kEncrypt);
  Loaded explicit_level =
      LoadText("smtpd_enforce_tls = yes\nsmtpd_tls_security_level = may\n",
               "127.0.0.1:25 inet n - n - - smtpd\n");
  EXPECT_EQ(explicit_level.settings.services[0].tls.security_level,
            TlsSecurityLevel::kMay);
}

TEST(Values, TlsRangeAndCiphersByLevel) {
  Loaded loaded = LoadText(
      "smtpd_tls_security_level = may\n"
      "smtpd_tls_protocols = !SSLv2, !SSLv3\n"
      "smtpd_tls_mandatory_protocols = >=TLSv1.3\n"
      "smtpd_tls_mandatory_ciphers = high\n"
      "smtpd_tls_exclude_ciphers = aNULL, RC4\n"
      "smtpd_tls_mandatory_exclude_ciphers = CAMELLIA\n"
      "tls_ssl_options = NO_TICKET\n",
      "127.0.0.1:25 inet n - n - - smtpd\n"
      "127.0.0.1:465 inet n - n - - smtpd -o smtpd_tls_wrappermode=yes "
      "-o smtpd_sasl_auth_enable=yes\n");
  EXPECT_THAT(loaded.messages, IsEmpty());
  ASSERT_EQ(loaded.settings.services.size(), 2u);
  const TlsServerSettings& may = loaded.settings.services[0].tls;
  EXPECT_EQ(may.min_version, TlsVersion::kTls1_0);
  EXPECT_EQ(may.ciphers,
            "HIGH:MEDIUM:!aNULL:!eNULL:!MD5:!RC4:!3DES:!aNULL:!RC4");
  EXPECT_FALSE(may.session_tickets);
  const TlsServerSettings& wrapper = loaded.settings.services[1].tls;
  EXPECT_TRUE(wrapper.wrapper_mode);
  EXPECT_EQ(wrapper.min_version, TlsVersion::kTls1_3);
  EXPECT_EQ(wrapper.ciphers,
            "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES:!aNULL:!RC4:!CAMELLIA");
}

// --- Unknown parameters --------------------------------------------------

TEST(Unknown, MainCfWarningNamesLine) {
  Loaded loaded =
      LoadText("# Debian defaults\nbiff = no\nappend_dot_mydomain = no\n",
               "127.0.0.1:25 inet n - n - - smtpd\n");
  EXPECT_THAT(loaded.messages,
              ElementsAre("main.cf:2: warning: unknown parameter \"biff\" is "
                          "ignored",
                          "main.cf:3: warning: unknown parameter "
                          "\"append_dot_mydomain\" is ignored"));
  EXPECT_FALSE(loaded.config.HasErrors());
}

TEST(Unknown, TypoGetsSuggestion) {
  Loaded loaded = LoadText("smtpd_tls_secutiry_level = encrypt\n",
                           "127.0.0.1:25 inet n - n - - smtpd\n"
                           "  -o smtpd_sasl_auth_enabel=yes\n");
  EXPECT_THAT(loaded.messages,
              Contains("main.cf:1: warning: unknown parameter "
                       "\"smtpd_tls_secutiry_level\" is ignored; did you "
                       "mean \"smtpd_tls_security_level\"?"));
  EXPECT_THAT(loaded.messages,
              Contains("master.cf:2: warning: unknown parameter "
                       "\"smtpd_sasl_auth_enabel\" in -o override of "
                       "service \"127.0.0.1:25\" is ignored; did you mean "
                       "\"smtpd_sasl_auth_enable\"?"));
}

TEST(Unknown, OverrideWarningNamesMasterLine) {
  Loaded loaded = LoadText("",
                           "\n127.0.0.1:587 inet n - n - - smtpd\n"
                           "  -o smtpd_tls_security_level=encrypt\n"
                           "  -o smtpd_sasl_auth_enable=yes\n"
                           "  -o milter_macro_daemon_name=ORIGINATING\n");
  EXPECT_THAT(loaded.messages,
              ElementsAre("master.cf:5: warning: unknown parameter "
                          "\"milter_macro_daemon_name\" in -o override of "
                          "service \"127.0.0.1:587\" is ignored"));
}

TEST(Unknown, ReferencedUserParameterIsUsed) {
  Loaded loaded = LoadText(
      "my_banner_text = hello\nsmtpd_banner = $myhostname "
      "$my_banner_text\n",
      "127.0.0.1:25 inet n - n - - smtpd -o "
      "smtpd_relay_restrictions=$mua_relay -o "
      "mua_relay=permit_sasl_authenticated,reject\n");
  EXPECT_THAT(loaded.messages, IsEmpty());
  EXPECT_THAT(
      loaded.settings.services[0].relay_restrictions,
      ElementsAre(Restriction::kPermitSaslAuthenticated, Restriction::kReject));
}

TEST(Unknown, GlobalParameterInOverride) {
  Loaded loaded = LoadText(
      "", "127.0.0.1:25 inet n - n - - smtpd -o data_directory=/srv\n");
  EXPECT_THAT(loaded.messages,
              ElementsAre("master.cf:1: warning: -o data_directory on service "
                          "\"127.0.0.1:25\" changes only $data_directory "
                          "expansions in this service; data_directory itself "
                          "applies to the whole server, so set it in main.cf"));
}

// --- The provider's example and safety warnings -------------------------

// The Postfix lines that cloud providers document for running submission
// on port 587 when port 25 is blocked.

constexpr std::string_view kProviderMainCf =
    "smtpd_tls_security_level = may\n"
    "smtpd_tls_auth_only = yes\n"
    "smtpd_tls_key_file = /etc/ssl/private/mailserver.key\n"
    "smtpd_tls_cert_file = /etc/ssl/certs/mailserver.pem\n"
    "smtpd_tls_loglevel = 1\n"
    "smtpd_tls_session_cache_database = btree:${data_directory}/smtpd_scache\n";

constexpr std::string_view kProviderMasterCf =
    "smtp       inet n       -       y       -       -       smtpd\n"
    "submission inet n       -       y       -       -       smtpd\n";

TEST(ProviderExample, QuotedLinesLoad) {
  Loaded loaded = LoadText(kProviderMainCf, kProviderMasterCf);
  EXPECT_FALSE(loaded.config.HasErrors());
  ASSERT_EQ(loaded.settings.services.size(), 4u);
  const SmtpdService& submission = loaded.settings.services[2];
  EXPECT_EQ(submission.name, "submission");
  EXPECT_EQ(submission.host, "0.0.0.0");
  EXPECT_EQ(submission.port, 587);
  EXPECT_EQ(loaded.settings.services[3].host, "::");
  EXPECT_TRUE(submission.submission);
  EXPECT_FALSE(loaded.settings.services[0].submission);
  EXPECT_EQ(submission.tls.security_level, TlsSecurityLevel::kMay);
  EXPECT_TRUE(submission.tls.auth_only);
  EXPECT_FALSE(submission.tls.wrapper_mode);
  EXPECT_EQ(submission.tls.key_file, "/etc/ssl/private/mailserver.key");
  EXPECT_EQ(submission.tls.cert_file, "/etc/ssl/certs/mailserver.pem");
  EXPECT_EQ(submission.tls.loglevel, 1);
  EXPECT_EQ(submission.tls.session_cache_path,
            "/var/lib/mailport/smtpd_scache");
}

TEST(ProviderExample, QuotedLinesWarn) {
  Loaded loaded = LoadText(kProviderMainCf, kProviderMasterCf);
  EXPECT_THAT(loaded.messages,
              Contains("master.cf:2: warning: submission service "
                       "\"submission\" accepts mail without TLS; add \"-o "
                       "smtpd_tls_security_level=encrypt\" to this line"));
  EXPECT_THAT(loaded.messages,
              Contains("master.cf:2: warning: submission service "
                       "\"submission\" requires AUTH but "
                       "smtpd_sasl_auth_enable = no, so it accepts no mail; "
                       "add \"-o smtpd_sasl_auth_enable=yes\" to this line"));
  // The TLS files of the example do not exist here (unless this host has
  // them); that is a warning, never an error.
  std::ifstream cert("/etc/ssl/certs/mailserver.pem");
  if (!cert) {
    EXPECT_THAT(loaded.messages,
                Contains("main.cf:4: warning: smtpd_tls_cert_file "
                         "\"/etc/ssl/certs/mailserver.pem\" does not exist; "
                         "TLS uses a generated self-signed certificate "
                         "instead"));
  }
  for (const std::string& message : loaded.messages) {
    EXPECT_THAT(message, Not(::testing::HasSubstr("error")));
  }
}

TEST(ProviderExample, UsualOverridesSilenceWarnings) {
  Loaded loaded =
      LoadText("smtpd_tls_security_level = may\nsmtpd_tls_auth_only = yes\n",
               "submission inet n - y - - smtpd\n"
               "  -o syslog_name=postfix/submission\n"
               "  -o smtpd_tls_security_level=encrypt\n"
               "  -o smtpd_sasl_auth_enable=yes\n"
               "smtps inet n - n - - smtpd -o smtpd_tls_wrappermode=yes "
               "-o smtpd_sasl_auth_enable=yes\n");
  EXPECT_THAT(loaded.messages, IsEmpty());
  ASSERT_EQ(loaded.settings.services.size(), 4u);
  const SmtpdService& submission = loaded.settings.services[0];
  EXPECT_EQ(submission.syslog_name, "postfix/submission");
  EXPECT_EQ(submission.tls.security_level, TlsSecurityLevel::kEncrypt);
  EXPECT_TRUE(submission.sasl_auth_enable);
  const SmtpdService& smtps = loaded.settings.services[2];
  EXPECT_EQ(smtps.port, 465);
  EXPECT_TRUE(smtps.tls.wrapper_mode);
  EXPECT_TRUE(smtps.submission);
}

TEST(Safety, MissingCertificateWarnsOnce) {
  Loaded loaded = LoadText(
      "smtpd_tls_security_level = may\n"
      "smtpd_tls_cert_file = /nonexistent/mailport-test/cert.pem\n",
      "127.0.0.1:25 inet n - n - - smtpd\n");
  EXPECT_THAT(loaded.messages,
              ElementsAre("main.cf:2: warning: smtpd_tls_cert_file "
                          "\"/nonexistent/mailport-test/cert.pem\" does not "
                          "exist; TLS uses a generated self-signed "
                          "certificate instead"));
  EXPECT_EQ(loaded.settings.services[0].tls.key_file,
            "/nonexistent/mailport-test/cert.pem");
}

TEST(Safety, AuthWithoutTls) {
  Loaded loaded = LoadText("smtpd_tls_security_level = may\n",
                           "submission inet n - n - - smtpd -o "
                           "smtpd_sasl_auth_enable=yes\n");
  EXPECT_THAT(loaded.messages,
              ElementsAre("master.cf:1: warning: submission service "
                          "\"submission\" allows AUTH without TLS; add \"-o "
                          "smtpd_tls_auth_only=yes\" or \"-o "
                          "smtpd_tls_security_level=encrypt\" to this line",
                          "master.cf:1: warning: submission service "
                          "\"submission\" accepts mail without TLS; add \"-o "
                          "smtpd_tls_security_level=encrypt\" to this line"));
}

TEST(Safety, AuthOnlyWithoutTls) {
  Loaded loaded =
      LoadText("smtpd_tls_auth_only = yes\nsmtpd_sasl_auth_enable = yes\n",
               "127.0.0.1:25 inet n - n - - smtpd\n");
  EXPECT_THAT(loaded.messages,
              ElementsAre("master.cf:1: warning: service \"127.0.0.1:25\" has "
                          "smtpd_tls_auth_only = yes but TLS security level "
                          "none, so nobody can authenticate; set "
                          "smtpd_tls_security_level to may or encrypt"));
}

TEST(Safety, SubmissionDetection) {
  struct Case {
    std::string_view line;
    bool submission;
  };
  for (const Case& c : {
           Case{"127.0.0.1:587 inet n - n - - smtpd", true},
           Case{"127.0.0.1:465 inet n - n - - smtpd", true},
           Case{"127.0.0.1:submission inet n - n - - smtpd", true},
           Case{"127.0.0.1:2525 inet n - n - - smtpd -o "
                "syslog_name=postfix/submission",
                true},
           Case{"127.0.0.1:2525 inet n - n - - smtpd -o "
                "syslog_name=postfix/smtps",
                true},
           Case{"127.0.0.1:2525 inet n - n - - smtpd -o smtpd_submission=yes",
                true},
           Case{"127.0.0.1:587 inet n - n - - smtpd -o smtpd_submission=no",
                false},
           Case{"127.0.0.1:2525 inet n - n - - smtpd", false},
       }) {
    std::string line = std::string(c.line) +
                       " -o smtpd_tls_wrappermode=yes -o "
                       "smtpd_sasl_auth_enable=yes\n";
    Loaded loaded = LoadText("", line);
    EXPECT_THAT(loaded.messages, IsEmpty()) << c.line;
    ASSERT_EQ(loaded.settings.services.size(), 1u) << c.line;
    EXPECT_EQ(loaded.settings.services[0].submission, c.submission) << c.line;
  }
}

TEST(Safety, AuthEnabledWithoutPath) {
  Loaded loaded =
      LoadText("smtpd_sasl_path =\n",
               "127.0.0.1:465 inet n - n - - smtpd -o "
               "smtpd_tls_wrappermode=yes -o smtpd_sasl_auth_enable=yes\n");
  EXPECT_THAT(loaded.messages,
              ElementsAre("main.cf:1: error: service \"127.0.0.1:465\" "
                          "enables AUTH but smtpd_sasl_path is empty; set it "
                          "to the passwd-file of users"));
}

// --- Embedded configuration and Load() ----------------------------------

TEST(Embedded, LoadsClean) {
  Loaded loaded =
      LoadText(EmbeddedMainCf("/tmp/mailport data"), EmbeddedMasterCf());
  EXPECT_THAT(loaded.messages, IsEmpty());
  const Settings& settings = loaded.settings;
  EXPECT_EQ(settings.global.data_directory, "/tmp/mailport data");
  EXPECT_EQ(settings.global.queue_directory, "/tmp/mailport data/queue");
  EXPECT_EQ(settings.global.mailbox_base, "/tmp/mailport data/mailboxes");
  EXPECT_THAT(settings.global.mydestination, Contains("localhost"));
  EXPECT_THAT(settings.global.mydestination, Contains(DefaultHostname()));

  ASSERT_EQ(settings.services.size(), 3u);
  const SmtpdService& smtp = settings.services[0];
  const SmtpdService& submission = settings.services[1];
  const SmtpdService& submissions = settings.services[2];
  for (const SmtpdService& service : settings.services) {
    EXPECT_EQ(service.host, "127.0.0.1");
    EXPECT_TRUE(service.tls.auth_only);
    EXPECT_TRUE(service.tls.cert_file.empty());
    EXPECT_EQ(service.tls.session_cache_path,
              "/tmp/mailport data/smtpd_scache");
    EXPECT_EQ(service.sasl_password_file, "/tmp/mailport data/passwd");
  }
  EXPECT_EQ(smtp.port, 25);
  EXPECT_EQ(smtp.tls.security_level, TlsSecurityLevel::kMay);
  EXPECT_FALSE(smtp.submission);
  EXPECT_EQ(submission.port, 587);
  EXPECT_EQ(submission.tls.security_level, TlsSecurityLevel::kEncrypt);
  EXPECT_TRUE(submission.sasl_auth_enable);
  EXPECT_TRUE(submission.submission);
  EXPECT_EQ(submissions.port, 465);
  EXPECT_TRUE(submissions.tls.wrapper_mode);
  EXPECT_TRUE(submissions.sasl_auth_enable);
  EXPECT_TRUE(submissions.submission);
}

TEST(Embedded, DollarInDataDirectory) {
  Loaded loaded = LoadText(EmbeddedMainCf("/srv/$mail"), EmbeddedMasterCf());
  EXPECT_THAT(loaded.messages, IsEmpty());
  EXPECT_EQ(loaded.settings.global.data_directory, "/srv/$mail");
}

class LoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/config_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    directory_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  void Write(const std::string& name, std::string_view text) {
    std::ofstream out(directory_ / name);
    out << text;
  }

  std::filesystem::path directory_;
};

TEST_F(LoadTest, ReadsBothFiles) {
  Write("main.cf", "myhostname = mx.example.test\nbiff = no\n");
  Write("master.cf", "127.0.0.1:2525 inet n - n - - smtpd\n");
  Config config = Load(directory_);
  Settings settings = Resolve(config);
  ASSERT_EQ(config.diagnostics.size(), 1u);
  EXPECT_EQ(config.diagnostics[0].ToString(),
            (directory_ / "main.cf").string() +
                ":2: warning: unknown parameter \"biff\" is ignored");
  EXPECT_EQ(config.directory, directory_);
  EXPECT_EQ(settings.global.myhostname, "mx.example.test");
  EXPECT_EQ(settings.global.config_directory, directory_);
  ASSERT_EQ(settings.services.size(), 1u);
  EXPECT_EQ(settings.services[0].sasl_password_file, directory_ / "passwd");
}

TEST_F(LoadTest, MissingMainCfIsEmpty) {
  Write("master.cf", "127.0.0.1:2525 inet n - n - - smtpd\n");
  Config config = Load(directory_);
  Settings settings = Resolve(config);
  EXPECT_THAT(config.diagnostics, IsEmpty());
  EXPECT_EQ(settings.services.size(), 1u);
}

TEST_F(LoadTest, MissingMasterCfIsError) {
  Write("main.cf", "");
  Config config = Load(directory_);
  ASSERT_EQ(config.diagnostics.size(), 1u);
  EXPECT_TRUE(config.HasErrors());
  EXPECT_EQ(config.diagnostics[0].ToString(),
            (directory_ / "master.cf").string() +
                ": error: file not found; master.cf lists the services to "
                "run");
}

TEST_F(LoadTest, MyoriginFromFile) {
  Write("mailname", "\n  origin.example.test\n");
  Write("master.cf", "127.0.0.1:2525 inet n - n - - smtpd\n");
  Write("main.cf", "myorigin = " + (directory_ / "mailname").string() + "\n");
  Config config = Load(directory_);
  Settings settings = Resolve(config);
  EXPECT_THAT(config.diagnostics, IsEmpty());
  EXPECT_EQ(settings.global.myorigin, "origin.example.test");
}

TEST_F(LoadTest, MyoriginFileMissing) {
  std::string path = (directory_ / "no-mailname").string();
  Write("master.cf", "127.0.0.1:2525 inet n - n - - smtpd\n");
  Write("main.cf", "myorigin = " + path + "\n");
  Config config = Load(directory_);
  Resolve(config);
  ASSERT_EQ(config.diagnostics.size(), 1u);
  EXPECT_EQ(config.diagnostics[0].ToString(),
            (directory_ / "main.cf").string() +
                ":1: error: invalid myorigin value \"" + path +
                "\": cannot read " + path + ": No such file or directory");
}

TEST_F(LoadTest, DebianSampleLoads) {
  std::filesystem::path testdata =
      std::filesystem::path(MAILPORT_SOURCE_DIR) / "src/config/testdata";
  Config config = Load(testdata / "debian");
  Settings settings = Resolve(config);
  std::vector<std::string> messages;
  for (const Diagnostic& d : config.diagnostics) {
    messages.push_back(d.ToString());
  }
  EXPECT_FALSE(config.HasErrors()) << ::testing::PrintToString(messages);
  EXPECT_THAT(messages,
              Contains(testdata.string() +
                       "/debian/main.cf:5: warning: unknown parameter "
                       "\"biff\" is ignored"));
  // inet_protocols = ipv4 leaves one listener, 0.0.0.0:25.
  ASSERT_EQ(settings.services.size(), 1u);
  EXPECT_EQ(settings.services[0].host, "0.0.0.0");
  EXPECT_EQ(settings.services[0].port, 25);
  EXPECT_EQ(settings.services[0].banner, "debian ESMTP mailport (Debian/GNU)");
  EXPECT_EQ(settings.global.mynetworks.size(), 3u);
  EXPECT_THAT(settings.services[0].relay_restrictions,
              ElementsAre(Restriction::kPermitMynetworks,
                          Restriction::kPermitSaslAuthenticated,
                          Restriction::kDeferUnauthDestination));
}

TEST_F(LoadTest, SampleFilesLoad) {
  std::filesystem::path testdata =
      std::filesystem::path(MAILPORT_SOURCE_DIR) / "src/config/testdata";
  Config config = Load(testdata / "submission");
  Settings settings = Resolve(config);
  std::vector<std::string> messages;
  for (const Diagnostic& d : config.diagnostics) {
    messages.push_back(d.ToString());
  }
  EXPECT_FALSE(config.HasErrors()) << ::testing::PrintToString(messages);
  EXPECT_EQ(settings.services.size(), 6u);
}

// --- Documentation --------------------------------------------------------

TEST(Docs, EveryParameterDocumented) {
  std::ifstream in(std::filesystem::path(MAILPORT_SOURCE_DIR) /
                   "docs/parameters.md");
  ASSERT_TRUE(in) << "docs/parameters.md not found";
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  for (const ParameterInfo& info : AllParameters()) {
    EXPECT_NE(text.find("| `" + std::string(info.name) + "`"),
              std::string::npos)
        << info.name << " is missing from docs/parameters.md";
  }
}

}  // namespace
}  // namespace mailport::config
