#include "delivery/maildir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

namespace mailport::delivery {
namespace {

namespace stdfs = std::filesystem;
using queue::DeliveryOutcome;

class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    std::string pattern =
        (stdfs::temp_directory_path() / "maildir_test.XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TemporaryDirectory() {
    std::error_code error;
    stdfs::remove_all(path_, error);
  }
  const stdfs::path& path() const { return path_; }

 private:
  stdfs::path path_;
};

std::string ReadWhole(const stdfs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<stdfs::path> FilesIn(const stdfs::path& directory) {
  std::vector<stdfs::path> files;
  for (const auto& entry : stdfs::directory_iterator(directory)) {
    files.push_back(entry.path());
  }
  return files;
}

unsigned ModeOf(const stdfs::path& path) {
  struct stat status {};
  ::stat(path.c_str(), &status);
  return status.st_mode & 07777;
}

TEST(DeliverToMaildirTest, WritesIntoNewWithExactContent) {
  TemporaryDirectory directory;
  stdfs::path maildir = directory.path() / "Maildir";
  auto delivered = DeliverToMaildir(
      maildir, "Return-Path: <a@example.test>\r\n",
      "Subject: hi\r\n\r\nline one\r\nline two\r\n", "mx.example.test");
  ASSERT_TRUE(delivered.ok()) << delivered.error().message;

  for (const char* subdirectory : {"cur", "new", "tmp"}) {
    EXPECT_EQ(ModeOf(maildir / subdirectory), 0700u) << subdirectory;
  }
  EXPECT_TRUE(FilesIn(maildir / "tmp").empty());
  EXPECT_TRUE(FilesIn(maildir / "cur").empty());
  ASSERT_EQ(FilesIn(maildir / "new").size(), 1u);
  EXPECT_EQ(delivered->parent_path(), maildir / "new");

  const std::string expected =
      "Return-Path: <a@example.test>\nSubject: hi\n\nline one\nline two\n";
  EXPECT_EQ(ReadWhole(*delivered), expected);
  std::string name = delivered->filename().string();
  EXPECT_TRUE(
      name.ends_with(".mx.example.test,S=" + std::to_string(expected.size())))
      << name;
  EXPECT_NE(name.find(".M"), std::string::npos) << name;
  EXPECT_NE(name.find("P" + std::to_string(::getpid()) + "Q"),
            std::string::npos)
      << name;
}

TEST(DeliverToMaildirTest, HostnameCharactersEscaped) {
  TemporaryDirectory directory;
  auto delivered =
      DeliverToMaildir(directory.path() / "Maildir", "", "x", "odd/host:name");
  ASSERT_TRUE(delivered.ok()) << delivered.error().message;
  EXPECT_NE(delivered->filename().string().find(".odd\\057host\\072name,S=1"),
            std::string::npos)
      << delivered->filename();
}

TEST(DeliverToMaildirTest, NamesUniqueAcrossThreads) {
  TemporaryDirectory directory;
  stdfs::path maildir = directory.path() / "Maildir";
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::mutex mutex;
  std::set<std::string> names;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        auto delivered =
            DeliverToMaildir(maildir, "", "Subject: x\r\n\r\n", "host");
        ASSERT_TRUE(delivered.ok()) << delivered.error().message;
        std::lock_guard lock(mutex);
        names.insert(delivered->filename().string());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(names.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(FilesIn(maildir / "new").size(), names.size());
  EXPECT_TRUE(FilesIn(maildir / "tmp").empty());
}

TEST(DeliverToMaildirTest, DiskErrorIsTemporary) {
  TemporaryDirectory directory;
  // A regular file where the Maildir should be makes mkdir fail.
  std::ofstream(directory.path() / "Maildir") << "not a directory";
  auto delivered = DeliverToMaildir(directory.path() / "Maildir", "", "x", "h");
  ASSERT_FALSE(delivered.ok());
  EXPECT_TRUE(delivered.error().temporary);
}

class MaildirTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    alice_home_ = directory_.path() / "home" / "alice";
    passwd_ = directory_.path() / "passwd";
    std::ofstream(passwd_) << "# users\n"
                           << "alice:*:1000:1000::" << alice_home_.string()
                           << ":/bin/sh\n"
                           << "bob@example.test:*\n"
                           << "relative:*:1001:1001::home/relative:/bin/sh\n";
    settings_.myhostname = "mx.example.test";
    settings_.mydestination = {"example.test", "mx.example.test"};
    settings_.mailbox_base = directory_.path() / "mail";
    users_ = std::make_shared<auth::UserDatabase>(passwd_);
  }

  queue::Envelope EnvelopeFor(std::string recipient) {
    queue::Envelope envelope;
    envelope.queue_id = "0123456789AB";
    envelope.sender = "sender@remote.example.test";
    envelope.recipients = {std::move(recipient)};
    return envelope;
  }

  TemporaryDirectory directory_;
  stdfs::path alice_home_;
  stdfs::path passwd_;
  config::GlobalSettings settings_;
  std::shared_ptr<auth::UserDatabase> users_;
};

TEST_F(MaildirTransportTest, LocalDomainMatching) {
  MaildirTransport transport(settings_, users_);
  EXPECT_TRUE(transport.IsLocalDomain("example.test"));
  EXPECT_TRUE(transport.IsLocalDomain("EXAMPLE.Test"));
  EXPECT_TRUE(transport.IsLocalDomain("example.test."));
  EXPECT_TRUE(transport.IsLocalDomain(""));
  EXPECT_FALSE(transport.IsLocalDomain("other.example.test"));
  EXPECT_FALSE(transport.IsLocalDomain("example.testx"));
}

TEST_F(MaildirTransportTest, MailboxResolution) {
  MaildirTransport transport(settings_, users_);

  auto alice = transport.MailboxFor("alice@Example.TEST");
  ASSERT_TRUE(alice.ok()) << alice.error().message;
  EXPECT_EQ(*alice, alice_home_ / "Maildir/");

  // The bare local part is tried after the full address.
  auto alice_other = transport.MailboxFor("ALICE@mx.example.test");
  ASSERT_TRUE(alice_other.ok()) << alice_other.error().message;
  EXPECT_EQ(*alice_other, alice_home_ / "Maildir/");

  // No home field: mailbox_base/NAME as stored in the passwd-file.
  auto bob = transport.MailboxFor("Bob@example.test");
  ASSERT_TRUE(bob.ok()) << bob.error().message;
  EXPECT_EQ(*bob, settings_.mailbox_base / "bob@example.test" / "Maildir/");
  // bob exists only as bob@example.test, not as a bare name.
  EXPECT_FALSE(transport.MailboxFor("bob@mx.example.test").ok());

  auto unknown = transport.MailboxFor("carol@example.test");
  ASSERT_FALSE(unknown.ok());
  EXPECT_FALSE(unknown.error().temporary);
  EXPECT_FALSE(transport.IsLocalRecipient("carol@example.test"));
  EXPECT_TRUE(transport.IsLocalRecipient("alice@example.test"));

  auto remote = transport.MailboxFor("alice@remote.example.test");
  ASSERT_FALSE(remote.ok());
  EXPECT_FALSE(remote.error().temporary);

  auto relative = transport.MailboxFor("relative@example.test");
  ASSERT_FALSE(relative.ok());
  EXPECT_TRUE(relative.error().temporary);
}

TEST_F(MaildirTransportTest, SettingsWithoutMailboxAreTemporary) {
  settings_.mailbox_base.clear();
  MaildirTransport transport(settings_, users_);
  auto bob = transport.MailboxFor("bob@example.test");
  ASSERT_FALSE(bob.ok());
  EXPECT_TRUE(bob.error().temporary);

  settings_.home_mailbox = "Mailbox";
  auto alice = transport.MailboxFor("alice@example.test");
  ASSERT_FALSE(alice.ok());
  EXPECT_TRUE(alice.error().temporary);
}

TEST_F(MaildirTransportTest, DeliverPrependsHeaders) {
  MaildirTransport transport(settings_, users_);
  DeliveryOutcome outcome =
      transport.Deliver(EnvelopeFor("alice@example.test"), "alice@example.test",
                        "Subject: hello\r\n\r\nbody\r\n");
  EXPECT_EQ(outcome.status, DeliveryOutcome::Status::kSent);
  EXPECT_EQ(outcome.dsn, "2.0.0");
  EXPECT_EQ(outcome.relay, "local");
  EXPECT_EQ(outcome.detail, "delivered to maildir");

  auto files = FilesIn(alice_home_ / "Maildir" / "new");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(ReadWhole(files[0]),
            "Return-Path: <sender@remote.example.test>\n"
            "Delivered-To: alice@example.test\n"
            "Subject: hello\n\nbody\n");
  EXPECT_TRUE(FilesIn(alice_home_ / "Maildir" / "tmp").empty());
}

TEST_F(MaildirTransportTest, NullSenderReturnPath) {
  MaildirTransport transport(settings_, users_);
  queue::Envelope envelope = EnvelopeFor("bob@example.test");
  envelope.sender = "";
  DeliveryOutcome outcome =
      transport.Deliver(envelope, "bob@example.test", "Subject: x\r\n\r\n");
  ASSERT_EQ(outcome.status, DeliveryOutcome::Status::kSent) << outcome.detail;
  auto files =
      FilesIn(settings_.mailbox_base / "bob@example.test" / "Maildir" / "new");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_TRUE(ReadWhole(files[0]).starts_with("Return-Path: <>\n"));
}

TEST_F(MaildirTransportTest, UnknownUserBounced) {
  MaildirTransport transport(settings_, users_);
  DeliveryOutcome outcome = transport.Deliver(EnvelopeFor("carol@example.test"),
                                              "carol@example.test", "x");
  EXPECT_EQ(outcome.status, DeliveryOutcome::Status::kBounced);
  EXPECT_EQ(outcome.dsn, "5.1.1");
  EXPECT_NE(outcome.detail.find("unknown user"), std::string::npos);
}

TEST_F(MaildirTransportTest, DiskErrorDeferred) {
  stdfs::create_directories(alice_home_);
  std::ofstream(alice_home_ / "Maildir") << "in the way";
  MaildirTransport transport(settings_, users_);
  DeliveryOutcome outcome = transport.Deliver(EnvelopeFor("alice@example.test"),
                                              "alice@example.test", "x");
  EXPECT_EQ(outcome.status, DeliveryOutcome::Status::kDeferred);
  EXPECT_EQ(outcome.dsn, "4.3.0");
}

TEST_F(MaildirTransportTest, DeliveredToLoopBounced) {
  MaildirTransport transport(settings_, users_);
  DeliveryOutcome outcome = transport.Deliver(
      EnvelopeFor("alice@example.test"), "alice@example.test",
      "Delivered-To: Alice@Example.Test\r\nSubject: again\r\n\r\n"
      "Delivered-To: alice@example.test in the body does not count\r\n");
  EXPECT_EQ(outcome.status, DeliveryOutcome::Status::kBounced);
  EXPECT_EQ(outcome.dsn, "5.4.6");

  // The same field in the body is not a loop.
  DeliveryOutcome body_only = transport.Deliver(
      EnvelopeFor("alice@example.test"), "alice@example.test",
      "Subject: fine\r\n\r\nDelivered-To: alice@example.test\r\n");
  EXPECT_EQ(body_only.status, DeliveryOutcome::Status::kSent);
}

TEST_F(MaildirTransportTest, UnreadableDatabaseDefers) {
  // A directory where the passwd-file should be cannot be loaded.
  stdfs::remove(passwd_);
  stdfs::create_directories(passwd_);
  auto users = std::make_shared<auth::UserDatabase>(passwd_);
  MaildirTransport transport(settings_, users);
  auto alice = transport.MailboxFor("alice@example.test");
  ASSERT_FALSE(alice.ok());
  EXPECT_TRUE(alice.error().temporary) << alice.error().message;
}

}  // namespace
}  // namespace mailport::delivery
