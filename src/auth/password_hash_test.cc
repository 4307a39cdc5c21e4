#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>

#include <string>

#include "auth/passwd_file.h"

namespace mailport::auth {
namespace {

// Wraps `text` in single quotes for /bin/sh.
std::string ShellQuote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Runs `command` with /bin/sh and returns its standard output without the
// final newline; `ok` is false when it did not exit with status 0.
std::string RunCommand(const std::string& command, bool* ok) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    *ok = false;
    return "";
  }
  std::string output;
  char buffer[512];
  std::size_t count;
  while ((count = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) {
    output.append(buffer, count);
  }
  int status = ::pclose(pipe);
  *ok = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  while (!output.empty() && output.back() == '\n') output.pop_back();
  return output;
}

// Returns the hash that the real mkpasswd(1) writes for `password`.
std::string Mkpasswd(const std::string& arguments,
                     const std::string& password) {
  bool ok = false;
  std::string hash = RunCommand(
      "mkpasswd " + arguments + " " + ShellQuote(password) + " 2>/dev/null",
      &ok);
  EXPECT_TRUE(ok) << "mkpasswd " << arguments
                  << " failed; install the whois package, which provides "
                     "mkpasswd (listed in scripts/packages/test.txt)";
  return hash;
}

struct MkpasswdCase {
  std::string arguments;
  std::string expected_prefix;
};

class MkpasswdHashTest : public testing::TestWithParam<MkpasswdCase> {};

TEST_P(MkpasswdHashTest, VerifiesRightPasswordOnly) {
  const std::string password = "correct horse battery staple";
  std::string hash = Mkpasswd(GetParam().arguments, password);
  ASSERT_TRUE(hash.starts_with(GetParam().expected_prefix)) << hash;

  EXPECT_EQ(ClassifyHash(hash).status, HashStatus::kUsable);
  EXPECT_TRUE(VerifyPassword(hash, password));
  EXPECT_FALSE(VerifyPassword(hash, "correct horse battery stapler"));
  EXPECT_FALSE(VerifyPassword(hash, "Correct horse battery staple"));
  EXPECT_FALSE(VerifyPassword(hash, ""));
  EXPECT_FALSE(VerifyPassword(hash, password + std::string(1, '\0') + "x"));
}

TEST_P(MkpasswdHashTest, AcceptsDovecotPrefixes) {
  const std::string password = "s3cret!";
  std::string hash = Mkpasswd(GetParam().arguments, password);
  EXPECT_TRUE(VerifyPassword("{CRYPT}" + hash, password));
  EXPECT_TRUE(VerifyPassword("{crypt}" + hash, password));
  EXPECT_FALSE(VerifyPassword("{CRYPT}" + hash, "s3cret"));
}

INSTANTIATE_TEST_SUITE_P(Mkpasswd, MkpasswdHashTest,
                         testing::Values(MkpasswdCase{"-m yescrypt", "$y$"},
                                         MkpasswdCase{"-m bcrypt", "$2b$"},
                                         MkpasswdCase{"-m bcrypt-a", "$2a$"},
                                         MkpasswdCase{"-m sha512crypt", "$6$"},
                                         MkpasswdCase{"-m sha256crypt",
                                                      "$5$"}));

TEST(DovecotPrefixTest, SchemeMustMatchHash) {
  const std::string password = "s3cret!";
  std::string yescrypt = Mkpasswd("-m yescrypt", password);
  std::string bcrypt = Mkpasswd("-m bcrypt", password);
  std::string sha512 = Mkpasswd("-m sha512crypt", password);
  std::string sha256 = Mkpasswd("-m sha256crypt", password);

  EXPECT_TRUE(VerifyPassword("{YESCRYPT}" + yescrypt, password));
  EXPECT_TRUE(VerifyPassword("{BLF-CRYPT}" + bcrypt, password));
  EXPECT_TRUE(VerifyPassword("{SHA512-CRYPT}" + sha512, password));
  EXPECT_TRUE(VerifyPassword("{SHA256-CRYPT}" + sha256, password));

  EXPECT_FALSE(VerifyPassword("{SHA512-CRYPT}" + yescrypt, password));
  EXPECT_FALSE(VerifyPassword("{BLF-CRYPT}" + sha512, password));
  EXPECT_FALSE(VerifyPassword("{YESCRYPT}" + sha256, password));
  EXPECT_EQ(ClassifyHash("{SHA512-CRYPT}" + yescrypt).status,
            HashStatus::kUnknown);
}

TEST(WeakHashTest, NeverMatches) {
  const std::string password = "s3cret!";
  std::string md5 = Mkpasswd("-m md5crypt", password);
  std::string des = Mkpasswd("-m descrypt", password);
  std::string bsdi = Mkpasswd("-m bsdicrypt", password);
  ASSERT_TRUE(md5.starts_with("$1$")) << md5;
  ASSERT_EQ(des.size(), 13u) << des;

  for (const std::string& hash :
       {md5, des, bsdi, "{CRYPT}" + md5, "{MD5-CRYPT}" + md5,
        "{PLAIN}" + password, "{CLEARTEXT}" + password}) {
    EXPECT_EQ(ClassifyHash(hash).status, HashStatus::kWeak) << hash;
    EXPECT_FALSE(VerifyPassword(hash, password)) << hash;
  }
}

TEST(UnusableHashTest, NeverMatches) {
  const std::string password = "s3cret!";
  std::string yescrypt = Mkpasswd("-m yescrypt", password);

  EXPECT_EQ(ClassifyHash("").status, HashStatus::kEmpty);
  EXPECT_EQ(ClassifyHash("*").status, HashStatus::kLocked);
  EXPECT_EQ(ClassifyHash("!" + yescrypt).status, HashStatus::kLocked);
  EXPECT_EQ(ClassifyHash("{ARGON2ID}$argon2id$v=19$m=65536").status,
            HashStatus::kUnknown);
  EXPECT_EQ(ClassifyHash("{CRYPT").status, HashStatus::kUnknown);
  EXPECT_EQ(ClassifyHash(password).status, HashStatus::kUnknown);

  for (const std::string& hash :
       {std::string(), std::string("*"), "!" + yescrypt, "*" + yescrypt,
        std::string(password), "{ARGON2ID}" + yescrypt,
        yescrypt.substr(0, yescrypt.size() - 1)}) {
    EXPECT_FALSE(VerifyPassword(hash, password)) << hash;
  }
  // An empty password never matches, even an empty or locked field.
  EXPECT_FALSE(VerifyPassword("", ""));
  EXPECT_FALSE(VerifyPassword("*", "*"));
}

TEST(HashPasswordTest, DefaultIsYescrypt) {
  Result<std::string> hash = HashPassword("s3cret!");
  ASSERT_TRUE(hash.ok()) << hash.error().message;
  EXPECT_TRUE(hash->starts_with("$y$")) << *hash;
  EXPECT_TRUE(VerifyPassword(*hash, "s3cret!"));
  EXPECT_FALSE(VerifyPassword(*hash, "s3cret"));

  Result<std::string> again = HashPassword("s3cret!");
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*hash, *again) << "each hash needs its own random salt";
}

struct MethodCase {
  std::string method;
  std::string prefix;
};

class HashMethodTest : public testing::TestWithParam<MethodCase> {};

TEST_P(HashMethodTest, OutputVerifiesAndMatchesSystemCrypt) {
  const std::string password = "pa$$ 'word\" \\ with üñí";
  Result<std::string> hash = HashPassword(password, GetParam().method);
  ASSERT_TRUE(hash.ok()) << hash.error().message;
  EXPECT_TRUE(hash->starts_with(GetParam().prefix)) << *hash;
  EXPECT_TRUE(VerifyPassword(*hash, password));
  EXPECT_FALSE(VerifyPassword(*hash, "password"));

  // Perl's crypt() is a second, independent caller of the system crypt(3)
  // that Dovecot and mkpasswd use; it must reproduce the hash.
  bool ok = false;
  std::string recomputed =
      RunCommand("perl -e 'print crypt($ARGV[0], $ARGV[1])' " +
                     ShellQuote(password) + " " + ShellQuote(*hash),
                 &ok);
  ASSERT_TRUE(ok);
  EXPECT_EQ(recomputed, *hash);
}

INSTANTIATE_TEST_SUITE_P(Methods, HashMethodTest,
                         testing::Values(MethodCase{"yescrypt", "$y$"},
                                         MethodCase{"YESCRYPT", "$y$"},
                                         MethodCase{"bcrypt", "$2b$12$"},
                                         MethodCase{"sha512-crypt", "$6$"},
                                         MethodCase{"sha512crypt", "$6$"},
                                         MethodCase{"sha256-crypt", "$5$"}));

// mkpasswd recomputes a hash from an explicit salt, which checks that the
// hashes HashPassword writes are exactly what mkpasswd would write.
TEST(HashPasswordTest, MkpasswdReproducesSha512AndBcrypt) {
  const std::string password = "s3cret!";

  Result<std::string> sha512 = HashPassword(password, "sha512-crypt");
  ASSERT_TRUE(sha512.ok());
  std::string salt = sha512->substr(3, sha512->find('$', 3) - 3);
  EXPECT_EQ(Mkpasswd("-m sha512crypt -S " + ShellQuote(salt), password),
            *sha512);

  Result<std::string> bcrypt = HashPassword(password, "bcrypt");
  ASSERT_TRUE(bcrypt.ok());
  // $2b$12$ then 22 characters of salt and 31 of checksum.
  ASSERT_EQ(bcrypt->size(), 60u) << *bcrypt;
  EXPECT_EQ(Mkpasswd("-m bcrypt -R 12 -S " + ShellQuote(bcrypt->substr(7, 22)),
                     password),
            *bcrypt);
}

TEST(HashPasswordTest, RejectsUnknownMethodAndBadPasswords) {
  Result<std::string> md5 = HashPassword("s3cret!", "md5crypt");
  ASSERT_FALSE(md5.ok());
  EXPECT_NE(md5.error().message.find("unsupported hash method \"md5crypt\""),
            std::string::npos)
      << md5.error().message;
  EXPECT_FALSE(md5.error().temporary);

  EXPECT_FALSE(HashPassword("").ok());
  EXPECT_FALSE(HashPassword("line\nbreak").ok());
  EXPECT_FALSE(HashPassword(std::string(kMaxPasswordLength + 1, 'x')).ok());
  EXPECT_TRUE(HashPassword(std::string(kMaxPasswordLength, 'x')).ok());
}

}  // namespace
}  // namespace mailport::auth
