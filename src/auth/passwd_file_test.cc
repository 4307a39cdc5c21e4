#include "auth/passwd_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "util/fs.h"

namespace mailport::auth {
namespace {

using namespace std::string_literals;

class PasswdFileTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = testing::TempDir() + "auth_test.XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    directory_ = pattern;
    path_ = directory_ / "passwd";
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  void WriteRaw(const std::string& content) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << content;
  }
  std::string ReadRaw() {
    Result<std::string> content = fs::ReadFile(path_);
    EXPECT_TRUE(content.ok());
    return content.ok() ? *content : "";
  }
  std::string Hash(const std::string& password) {
    Result<std::string> hash = HashPassword(password);
    EXPECT_TRUE(hash.ok());
    return hash.ok() ? *hash : "";
  }
  unsigned Mode() {
    struct stat info {};
    EXPECT_EQ(::stat(path_.c_str(), &info), 0);
    return info.st_mode & 07777;
  }

  std::filesystem::path directory_;
  std::filesystem::path path_;
};

TEST_F(PasswdFileTest, MissingFileIsEmpty) {
  Result<PasswdFile> file = PasswdFile::Load(path_);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_TRUE(file->users().empty());
  EXPECT_TRUE(file->warnings().empty());
  EXPECT_FALSE(file->Find("alice").has_value());
}

TEST_F(PasswdFileTest, ParsesFieldsAndIgnoresComments) {
  std::string alice = Hash("alice-pw");
  WriteRaw("# users of example.test\n\n   # indented comment\n" +
           ("alice@example.test:" + alice +
            ":1000:1000:Alice:/home/alice:/bin/sh:quota=1G:x\n") +
           "bob:{CRYPT}" + Hash("bob-pw") + "\r\n");
  Result<PasswdFile> file = PasswdFile::Load(path_);
  ASSERT_TRUE(file.ok()) << file.error().message;
  ASSERT_EQ(file->users().size(), 2u);
  EXPECT_TRUE(file->warnings().empty());

  std::optional<User> found = file->Find("alice@example.test");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->name, "alice@example.test");
  EXPECT_EQ(found->password_hash, alice);
  EXPECT_EQ(found->home, "/home/alice");

  std::optional<User> bob = file->Find("bob");
  ASSERT_TRUE(bob.has_value());
  EXPECT_EQ(bob->home, "");
  EXPECT_TRUE(VerifyPassword(bob->password_hash, "bob-pw"))
      << "the CR of a CRLF line end must not be part of the hash";
}

TEST_F(PasswdFileTest, LookupIsCaseInsensitive) {
  WriteRaw("Alice@Example.TEST:" + Hash("pw") + "\nbob:" + Hash("pw") + "\n");
  Result<PasswdFile> file = PasswdFile::Load(path_);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(file->Find("alice@example.test").has_value());
  EXPECT_EQ(file->Find("ALICE@EXAMPLE.TEST")->name, "Alice@Example.TEST");
  EXPECT_TRUE(file->Find("BOB").has_value());
  EXPECT_FALSE(file->Find("alice").has_value());
  EXPECT_FALSE(file->Find("bo").has_value());
}

TEST_F(PasswdFileTest, FindRecipientTriesAddressThenLocalPart) {
  WriteRaw("alice@example.test:" + Hash("a") + ":::::\nalice:" + Hash("b") +
           "\nbob:" + Hash("c") + "\n");
  Result<PasswdFile> file = PasswdFile::Load(path_);
  ASSERT_TRUE(file.ok());

  EXPECT_EQ(file->FindRecipient("alice", "example.test")->name,
            "alice@example.test");
  EXPECT_EQ(file->FindRecipient("ALICE", "EXAMPLE.test")->name,
            "alice@example.test");
  EXPECT_EQ(file->FindRecipient("alice", "other.test")->name, "alice");
  EXPECT_EQ(file->FindRecipient("bob", "example.test")->name, "bob");
  EXPECT_EQ(file->FindRecipient("alice", "")->name, "alice");
  EXPECT_FALSE(file->FindRecipient("carol", "example.test").has_value());
}

TEST_F(PasswdFileTest, MalformedLineIsErrorWithLocation) {
  WriteRaw("# comment\nalice-without-colon\n");
  Result<PasswdFile> file = PasswdFile::Load(path_);
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.error().message.find(path_.string() + ":2: invalid line"),
            std::string::npos)
      << file.error().message;
  EXPECT_FALSE(file.error().temporary);

  WriteRaw(":" + Hash("pw") + "\n");
  Result<PasswdFile> empty_name = PasswdFile::Load(path_);
  ASSERT_FALSE(empty_name.ok());
  EXPECT_NE(empty_name.error().message.find(":1: invalid line: the user name "
                                            "is empty"),
            std::string::npos)
      << empty_name.error().message;
}

TEST_F(PasswdFileTest, WeakAndUnknownHashesWarnAndNeverMatch) {
  WriteRaw(
      "md5:$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1\n"  // "secret"
      "plain:{PLAIN}secret\n"
      "empty:\n"
      "locked:!" +
      Hash("secret") +
      "\n"
      "star:*\n"
      "argon:{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA\n"
      "good:" +
      Hash("secret") + "\nGOOD:" + Hash("other") + "\n");
  Result<PasswdFile> file = PasswdFile::Load(path_);
  ASSERT_TRUE(file.ok()) << file.error().message;

  const std::vector<std::string>& warnings = file->warnings();
  ASSERT_EQ(warnings.size(), 5u);
  EXPECT_NE(warnings[0].find(":1: user \"md5\" has a weak MD5-crypt hash"),
            std::string::npos)
      << warnings[0];
  EXPECT_NE(warnings[0].find("mailport user passwd md5"), std::string::npos);
  EXPECT_NE(warnings[1].find(":2: user \"plain\" has a weak {PLAIN} hash"),
            std::string::npos)
      << warnings[1];
  EXPECT_NE(warnings[2].find(":3: user \"empty\" has an empty password"),
            std::string::npos)
      << warnings[2];
  EXPECT_NE(warnings[3].find(":6: user \"argon\" has a hash of unsupported "
                             "scheme ({ARGON2ID})"),
            std::string::npos)
      << warnings[3];
  EXPECT_NE(warnings[4].find(":8: duplicate user \"GOOD\""), std::string::npos)
      << warnings[4];

  // Every user is loaded, so delivery and `mailport user passwd` find it,
  // but only the good hash authenticates.
  EXPECT_EQ(file->users().size(), 7u);
  for (const User& user : file->users()) {
    EXPECT_EQ(VerifyPassword(user.password_hash, "secret"), user.name == "good")
        << user.name;
  }
  EXPECT_FALSE(VerifyPassword(file->Find("good")->password_hash, "other"));
}

TEST_F(PasswdFileTest, WritersKeepCommentsAndOtherFields) {
  const std::string original_tail = "# trailing comment\n";
  WriteRaw("# header comment\n\nalice:" + Hash("old") +
           ":1000:1000:Alice:/home/alice:/bin/sh:extra:field\n"
           "  # indented\n"
           "carol:" +
           Hash("carol-pw") + "\n" + original_tail);
  Result<PasswdFile> file = PasswdFile::Load(path_);
  ASSERT_TRUE(file.ok());

  ASSERT_TRUE(file->SetPassword("ALICE", "new").ok());
  ASSERT_TRUE(file->Add("bob@example.test", "bob-pw").ok());
  ASSERT_TRUE(file->Remove("Carol").ok());

  // The object reflects the change without reloading.
  EXPECT_TRUE(VerifyPassword(file->Find("alice")->password_hash, "new"));
  EXPECT_TRUE(file->Find("bob@example.test").has_value());
  EXPECT_FALSE(file->Find("carol").has_value());

  Result<PasswdFile> reloaded = PasswdFile::Load(path_);
  ASSERT_TRUE(reloaded.ok());
  std::optional<User> alice = reloaded->Find("alice");
  ASSERT_TRUE(alice.has_value());
  EXPECT_TRUE(VerifyPassword(alice->password_hash, "new"));
  EXPECT_FALSE(VerifyPassword(alice->password_hash, "old"));
  EXPECT_EQ(alice->home, "/home/alice");
  EXPECT_TRUE(VerifyPassword(reloaded->Find("bob@example.test")->password_hash,
                             "bob-pw"));
  EXPECT_FALSE(reloaded->Find("carol").has_value());

  std::string expected = "# header comment\n\nalice:" + alice->password_hash +
                         ":1000:1000:Alice:/home/alice:/bin/sh:extra:field\n"
                         "  # indented\n" +
                         original_tail + "bob@example.test:" +
                         reloaded->Find("bob@example.test")->password_hash +
                         "\n";
  EXPECT_EQ(ReadRaw(), expected);
}

TEST_F(PasswdFileTest, SetPasswordAddsMissingUser) {
  Result<PasswdFile> file = PasswdFile::Load(path_);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(file->SetPassword("dave", "pw").ok());
  Result<PasswdFile> reloaded = PasswdFile::Load(path_);
  ASSERT_TRUE(reloaded.ok());
  ASSERT_TRUE(reloaded->Find("dave").has_value());
  EXPECT_TRUE(VerifyPassword(reloaded->Find("dave")->password_hash, "pw"));
}

TEST_F(PasswdFileTest, WriterSeesChangesOfOtherWriters) {
  Result<PasswdFile> first = PasswdFile::Load(path_);
  Result<PasswdFile> second = PasswdFile::Load(path_);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(first->Add("alice", "a").ok());
  ASSERT_TRUE(second->Add("bob", "b").ok());

  Result<PasswdFile> reloaded = PasswdFile::Load(path_);
  ASSERT_TRUE(reloaded.ok());
  EXPECT_TRUE(reloaded->Find("alice").has_value());
  EXPECT_TRUE(reloaded->Find("bob").has_value());
  Status duplicate = first->Add("BOB", "b");
  ASSERT_FALSE(duplicate.ok());
  EXPECT_NE(duplicate.error().message.find("user \"bob\" already exists"),
            std::string::npos)
      << duplicate.error().message;
}

TEST_F(PasswdFileTest, RemoveUnknownUserFails) {
  WriteRaw("alice:" + Hash("pw") + "\n");
  Result<PasswdFile> file = PasswdFile::Load(path_);
  ASSERT_TRUE(file.ok());
  Status removed = file->Remove("bob");
  ASSERT_FALSE(removed.ok());
  EXPECT_NE(removed.error().message.find("user \"bob\" not found"),
            std::string::npos)
      << removed.error().message;
  EXPECT_FALSE(removed.error().temporary);
}

TEST_F(PasswdFileTest, RemoveDeletesDuplicates) {
  WriteRaw("alice:" + Hash("a") + "\n# keep\nALICE:" + Hash("b") + "\n");
  Result<PasswdFile> file = PasswdFile::Load(path_);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(file->Remove("alice").ok());
  EXPECT_EQ(ReadRaw(), "# keep\n");
}

TEST_F(PasswdFileTest, NewFileIsPrivateAndModeIsKept) {
  Result<PasswdFile> file = PasswdFile::Load(path_);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(file->Add("alice", "pw").ok());
  EXPECT_EQ(Mode(), 0600u);

  ASSERT_EQ(::chmod(path_.c_str(), 0640), 0);
  ASSERT_TRUE(file->SetPassword("alice", "pw2").ok());
  EXPECT_EQ(Mode(), 0640u);

  // A world-readable file loses the world bits on the next write.
  ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
  ASSERT_TRUE(file->Add("bob", "pw").ok());
  EXPECT_EQ(Mode(), 0640u);
}

struct InvalidCase {
  std::string value;
  std::string error_part;
};

class InvalidNameTest : public PasswdFileTest,
                        public testing::WithParamInterface<InvalidCase> {};

TEST_P(InvalidNameTest, Rejected) {
  Status valid = ValidateUserName(GetParam().value);
  ASSERT_FALSE(valid.ok());
  EXPECT_NE(valid.error().message.find(GetParam().error_part),
            std::string::npos)
      << valid.error().message;
  EXPECT_NE(valid.error().message.find("use a bare name"), std::string::npos);

  Result<PasswdFile> file = PasswdFile::Load(path_);
  ASSERT_TRUE(file.ok());
  EXPECT_FALSE(file->Add(GetParam().value, "pw").ok());
  EXPECT_FALSE(file->SetPassword(GetParam().value, "pw").ok());
  EXPECT_FALSE(std::filesystem::exists(path_));
}

INSTANTIATE_TEST_SUITE_P(
    Table, InvalidNameTest,
    testing::Values(InvalidCase{"", "invalid user name: it is empty"},
                    InvalidCase{"al:ice", "\"al:ice\": it contains ':'"},
                    InvalidCase{"al ice", "\"al ice\": it contains whitespace"},
                    InvalidCase{"al\tice", "it contains whitespace"},
                    InvalidCase{"al\x01ice", "it contains a control character"},
                    InvalidCase{"al\x7fice", "it contains a control character"},
                    InvalidCase{"alice\n", "it contains a control character"},
                    InvalidCase{"#alice", "it starts with '#'"},
                    InvalidCase{
                        std::string(256, 'a'),
                        "is 256 bytes long, more than the maximum of 255"}));

TEST(ValidateUserNameTest, AcceptsAddressesAndUtf8) {
  EXPECT_TRUE(ValidateUserName("alice").ok());
  EXPECT_TRUE(ValidateUserName("alice@example.test").ok());
  EXPECT_TRUE(ValidateUserName("a#b").ok());
  EXPECT_TRUE(ValidateUserName("j\xc3\xb6rg@example.test").ok());
  EXPECT_TRUE(ValidateUserName(std::string(255, 'a')).ok());
}

class InvalidPasswordTest : public PasswdFileTest,
                            public testing::WithParamInterface<InvalidCase> {};

TEST_P(InvalidPasswordTest, Rejected) {
  Status valid = ValidatePassword(GetParam().value);
  ASSERT_FALSE(valid.ok());
  EXPECT_NE(valid.error().message.find(GetParam().error_part),
            std::string::npos)
      << valid.error().message;
  if (!GetParam().value.empty()) {
    EXPECT_EQ(valid.error().message.find(GetParam().value), std::string::npos)
        << "the error must not contain the password";
  }

  Result<PasswdFile> file = PasswdFile::Load(path_);
  ASSERT_TRUE(file.ok());
  Status added = file->Add("alice", GetParam().value);
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error().message, valid.error().message);
}

INSTANTIATE_TEST_SUITE_P(
    Table, InvalidPasswordTest,
    testing::Values(InvalidCase{"", "invalid password: it is empty"},
                    InvalidCase{"secret\n", "contains a line break (CR or LF)"},
                    InvalidCase{"sec\rret", "contains a line break (CR or LF)"},
                    InvalidCase{"sec\0ret"s, "contains a NUL byte"},
                    InvalidCase{
                        std::string(512, 'p'),
                        "is 512 bytes long, more than the maximum of 511"}));

class InvalidPasswordFileTest : public PasswdFileTest {};
TEST_F(InvalidPasswordFileTest, NameAndPasswordErrorsLeaveFileUnchanged) {
  WriteRaw("alice:" + Hash("pw") + "\n");
  std::string before = ReadRaw();
  Result<PasswdFile> file = PasswdFile::Load(path_);
  ASSERT_TRUE(file.ok());
  EXPECT_FALSE(file->SetPassword("alice", "").ok());
  EXPECT_FALSE(file->Add("bad name", "pw").ok());
  EXPECT_EQ(ReadRaw(), before);
}

class UserDatabaseTest : public PasswdFileTest {};

TEST_F(UserDatabaseTest, VerifiesKnownUsersOnly) {
  WriteRaw("Alice@example.test:" + Hash("secret") +
           "\nweak:$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1\n");
  UserDatabase database(path_);
  EXPECT_TRUE(database.Verify("alice@example.test", "secret"));
  EXPECT_TRUE(database.Verify("ALICE@EXAMPLE.TEST", "secret"));
  EXPECT_FALSE(database.Verify("alice@example.test", "Secret"));
  EXPECT_FALSE(database.Verify("alice@example.test", ""));
  EXPECT_FALSE(database.Verify("nobody", "secret"));
  EXPECT_FALSE(database.Verify("", "secret"));
  EXPECT_FALSE(database.Verify("weak", "secret"));
  EXPECT_EQ(database.warnings().size(), 1u);
  EXPECT_EQ(database.FindRecipient("alice", "EXAMPLE.TEST")->name,
            "Alice@example.test");
}

TEST_F(UserDatabaseTest, ReloadsAfterFileChanges) {
  UserDatabase database(path_);
  EXPECT_FALSE(database.Verify("alice", "one"));
  EXPECT_TRUE(database.Reload().ok());

  // Created after the first lookup.
  WriteRaw("alice:" + Hash("one") + "\n");
  EXPECT_TRUE(database.Verify("alice", "one"));

  // Replaced atomically (a new inode), as the writers do.
  ASSERT_TRUE(fs::WriteFileDurably(path_, "alice:" + Hash("two") + "\n").ok());
  EXPECT_TRUE(database.Verify("alice", "two"));
  EXPECT_FALSE(database.Verify("alice", "one"));

  // Rewritten in place with a different size.
  WriteRaw("# comment\nalice:" + Hash("three") + "\nbob:" + Hash("b") + "\n");
  EXPECT_TRUE(database.Verify("alice", "three"));
  EXPECT_TRUE(database.Find("bob").has_value());

  // Through the writer API of another PasswdFile, as `mailport user` does.
  Result<PasswdFile> file = PasswdFile::Load(path_);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(file->Remove("bob").ok());
  EXPECT_FALSE(database.Find("bob").has_value());

  std::filesystem::remove(path_);
  EXPECT_FALSE(database.Verify("alice", "three"));
}

TEST_F(UserDatabaseTest, BrokenFileKeepsPreviousUsers) {
  WriteRaw("alice:" + Hash("one") + "\n");
  UserDatabase database(path_);
  EXPECT_TRUE(database.Verify("alice", "one"));

  WriteRaw("alice:" + Hash("one") + "\nthis line has no colon\n");
  Status reloaded = database.Reload();
  ASSERT_FALSE(reloaded.ok());
  EXPECT_NE(reloaded.error().message.find(":2: invalid line"),
            std::string::npos)
      << reloaded.error().message;
  EXPECT_TRUE(database.Verify("alice", "one"));

  WriteRaw("alice:" + Hash("two") + "\n");
  EXPECT_TRUE(database.Reload().ok());
  EXPECT_TRUE(database.Verify("alice", "two"));
}

TEST_F(UserDatabaseTest, ConcurrentVerifyDuringRewrites) {
  WriteRaw("alice:" + Hash("secret") + "\n");
  Result<PasswdFile> file = PasswdFile::Load(path_);
  ASSERT_TRUE(file.ok());
  UserDatabase database(path_);

  // Readers must always see a complete file: alice's password never
  // changes, while the writer adds and removes bob.
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int thread = 0; thread < 3; ++thread) {
    readers.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        if (!database.Verify("alice", "secret")) ++failures;
        if (database.Verify("alice", "wrong")) ++failures;
      }
    });
  }
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(file->Add("bob", "b").ok());
    EXPECT_TRUE(file->Remove("bob").ok());
  }
  for (std::thread& reader : readers) reader.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace mailport::auth
