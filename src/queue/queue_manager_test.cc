#include "queue/queue_manager.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "auth/passwd_file.h"
#include "delivery/maildir.h"
#include "queue/bounce.h"
#include "util/log.h"

namespace mailport::queue {
namespace {

namespace stdfs = std::filesystem;
using std::chrono::seconds;

class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    std::string pattern =
        (stdfs::temp_directory_path() / "qmgr_test.XXXXXX").string();
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

// Polls `condition` until it holds; the bound only keeps a broken build
// from hanging, no test depends on how fast the machine is.
template <typename Predicate>
bool WaitUntil(Predicate condition) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

std::string ReadWhole(const stdfs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct Call {
  Envelope envelope;
  std::string recipient;
  std::string content;
};

// A transport that returns outcomes from a script and records every call.
class ScriptedTransport : public Transport {
 public:
  using Script = std::function<DeliveryOutcome(int call_index,
                                               const std::string& recipient)>;
  explicit ScriptedTransport(Script script) : script_(std::move(script)) {}

  DeliveryOutcome Deliver(const Envelope& envelope,
                          const std::string& recipient,
                          std::string_view content) override {
    int index;
    {
      std::lock_guard lock(mutex_);
      index = static_cast<int>(calls_.size());
      calls_.push_back({envelope, recipient, std::string(content)});
    }
    if (on_call_) on_call_(envelope);
    return script_(index, recipient);
  }

  std::vector<Call> calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  std::size_t call_count() {
    std::lock_guard lock(mutex_);
    return calls_.size();
  }
  // Runs before the script on every call, on the delivery thread.
  std::function<void(const Envelope&)> on_call_;

 private:
  Script script_;
  std::mutex mutex_;
  std::vector<Call> calls_;
};

DeliveryOutcome Sent() {
  return {DeliveryOutcome::Status::kSent, "2.0.0", "test", "accepted"};
}
DeliveryOutcome Deferred() {
  return {DeliveryOutcome::Status::kDeferred, "4.2.0", "test", "mailbox busy"};
}
DeliveryOutcome Bounced() {
  return {DeliveryOutcome::Status::kBounced, "5.1.1", "test",
          "no such user here"};
}

Envelope MakeEnvelope(std::string sender, std::vector<std::string> rcpts) {
  Envelope envelope;
  envelope.sender = std::move(sender);
  envelope.recipients = std::move(rcpts);
  envelope.client_name = "localhost";
  envelope.client_address = "127.0.0.1";
  envelope.protocol = "ESMTP";
  envelope.body_type = "7BIT";
  return envelope;
}

// Settings with a one-second backoff and no periodic scan during a test.
config::GlobalSettings FastSettings(const stdfs::path& root) {
  config::GlobalSettings settings;
  settings.myhostname = "mx.example.test";
  settings.mydestination = {"example.test"};
  settings.queue_directory = root / "queue";
  settings.minimal_backoff_time = seconds(1);
  settings.maximal_backoff_time = seconds(1);
  settings.queue_run_delay = seconds(3600);
  return settings;
}

class QueueManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    settings_ = FastSettings(directory_.path());
    auto spool = Spool::Open(settings_.queue_directory);
    ASSERT_TRUE(spool.ok()) << spool.error().message;
    spool_ = std::move(spool).value();
  }

  std::string Store(Envelope envelope, const std::string& content) {
    auto stored = spool_->Store(std::move(envelope), content);
    EXPECT_TRUE(stored.ok()) << stored.error().message;
    return stored.ok() ? *stored : std::string();
  }

  TemporaryDirectory directory_;
  config::GlobalSettings settings_;
  std::unique_ptr<Spool> spool_;
};

TEST(RetryDelayTest, DoublesUpToMaximum) {
  struct Row {
    int attempts;
    long expected;
  };
  for (auto row : {Row{0, 300}, Row{1, 300}, Row{2, 600}, Row{3, 1200},
                   Row{4, 2400}, Row{5, 4000}, Row{50, 4000}}) {
    EXPECT_EQ(RetryDelay(row.attempts, seconds(300), seconds(4000)).count(),
              row.expected)
        << "attempts=" << row.attempts;
  }
  EXPECT_EQ(RetryDelay(3, seconds(0), seconds(0)).count(), 1);
  EXPECT_EQ(RetryDelay(3, seconds(10), seconds(5)).count(), 10);
}

TEST_F(QueueManagerTest, DeliversToMaildirAndRemoves) {
  stdfs::path passwd = directory_.path() / "passwd";
  stdfs::path home = directory_.path() / "home" / "alice";
  std::ofstream(passwd) << "alice:*:1000:1000::" << home.string()
                        << ":/bin/sh\n";
  auto users = std::make_shared<auth::UserDatabase>(passwd);
  delivery::MaildirTransport maildir(settings_, users);
  stdfs::path log_path = directory_.path() / "mail.log";
  log::Init(log_path.string());

  // Stored before the manager exists, as after a crash: Start() finds it.
  std::string id =
      Store(MakeEnvelope("sender@example.test", {"alice@example.test"}),
            "Subject: hello\r\n\r\nHi Alice.\r\n");
  {
    QueueManager manager(*spool_, settings_,
                         [&maildir](std::string_view) { return &maildir; });
    manager.Start();
    ASSERT_TRUE(WaitUntil([&] { return spool_->List().empty(); }));
  }
  log::Init("");

  std::vector<stdfs::path> delivered;
  for (const auto& entry :
       stdfs::directory_iterator(home / "Maildir" / "new")) {
    delivered.push_back(entry.path());
  }
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(ReadWhole(delivered[0]),
            "Return-Path: <sender@example.test>\n"
            "Delivered-To: alice@example.test\n"
            "Subject: hello\n\nHi Alice.\n");

  std::string log_text = ReadWhole(log_path);
  EXPECT_NE(log_text.find(id + ": to=<alice@example.test>, relay=local, "
                               "delay="),
            std::string::npos)
      << log_text;
  EXPECT_NE(log_text.find(", dsn=2.0.0, status=sent (delivered to maildir)"),
            std::string::npos)
      << log_text;
  EXPECT_NE(log_text.find(id + ": removed"), std::string::npos) << log_text;
}

TEST_F(QueueManagerTest, NotifyDeliversAtOnce) {
  ScriptedTransport transport([](int, const std::string&) { return Sent(); });
  QueueManager manager(*spool_, settings_,
                       [&](std::string_view) { return &transport; });
  manager.Start();

  // queue_run_delay is an hour, so only Notify() can start this delivery.
  std::string id =
      Store(MakeEnvelope("a@example.test", {"b@example.test"}), "x\r\n");
  manager.Notify(id);
  ASSERT_TRUE(WaitUntil([&] { return spool_->List().empty(); }));
  ASSERT_EQ(transport.call_count(), 1u);
  EXPECT_EQ(transport.calls()[0].envelope.queue_id, id);
  EXPECT_EQ(transport.calls()[0].recipient, "b@example.test");
  EXPECT_EQ(transport.calls()[0].content, "x\r\n");
}

TEST_F(QueueManagerTest, RetriesDeferredRecipient) {
  ScriptedTransport transport([](int call, const std::string&) {
    return call < 2 ? Deferred() : Sent();
  });
  // On every call the state on disk must show the earlier attempts.
  std::mutex mutex;
  std::vector<int> attempts_on_disk;
  transport.on_call_ = [&](const Envelope& envelope) {
    auto read = spool_->Read(envelope.queue_id);
    std::lock_guard lock(mutex);
    attempts_on_disk.push_back(read.ok() ? read->recipients[0].attempts : -1);
  };

  Store(MakeEnvelope("a@example.test", {"b@example.test"}), "x");
  QueueManager manager(*spool_, settings_,
                       [&](std::string_view) { return &transport; });
  manager.Start();
  ASSERT_TRUE(WaitUntil([&] { return spool_->List().empty(); }));
  EXPECT_EQ(transport.call_count(), 3u);
  std::lock_guard lock(mutex);
  EXPECT_EQ(attempts_on_disk, (std::vector<int>{0, 1, 2}));
}

TEST_F(QueueManagerTest, DeferredStateRecordedAndKeptOnStop) {
  settings_.minimal_backoff_time = seconds(3600);
  settings_.maximal_backoff_time = seconds(7200);
  ScriptedTransport transport(
      [](int, const std::string&) { return Deferred(); });
  std::string id =
      Store(MakeEnvelope("a@example.test", {"b@example.test"}), "x");
  auto before = std::chrono::system_clock::now();
  {
    QueueManager manager(*spool_, settings_,
                         [&](std::string_view) { return &transport; });
    manager.Start();
    ASSERT_TRUE(WaitUntil([&] {
      auto read = spool_->Read(id);
      return read.ok() && read->recipients[0].attempts == 1;
    }));
    manager.Stop();
  }
  EXPECT_EQ(transport.call_count(), 1u);
  auto read = spool_->Read(id);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->recipients[0].status, RecipientState::Status::kPending);
  EXPECT_EQ(read->recipients[0].last_reply, "4.2.0 mailbox busy");
  EXPECT_GE(read->next_attempt, before + seconds(3600));
}

TEST_F(QueueManagerTest, FlushAllRetriesBeforeBackoff) {
  settings_.minimal_backoff_time = seconds(3600);
  settings_.maximal_backoff_time = seconds(3600);
  ScriptedTransport transport(
      [](int, const std::string&) { return Deferred(); });
  std::string id =
      Store(MakeEnvelope("a@example.test", {"b@example.test"}), "x");
  QueueManager manager(*spool_, settings_,
                       [&](std::string_view) { return &transport; });
  manager.Start();
  ASSERT_TRUE(WaitUntil([&] {
    auto read = spool_->Read(id);
    return read.ok() && read->recipients[0].attempts == 1;
  }));
  manager.FlushAll();
  ASSERT_TRUE(WaitUntil([&] {
    auto read = spool_->Read(id);
    return read.ok() && read->recipients[0].attempts == 2;
  }));
  EXPECT_EQ(transport.call_count(), 2u);
}

TEST_F(QueueManagerTest, RecordedDeliveryNotRepeated) {
  std::string id =
      Store(MakeEnvelope("a@example.test",
                         {"first@example.test", "second@example.test"}),
            "x");
  // As if the daemon died right after delivering to the first recipient.
  auto read = spool_->Read(id);
  ASSERT_TRUE(read.ok());
  read->recipients[0].status = RecipientState::Status::kDelivered;
  read->recipients[0].attempts = 1;
  ASSERT_TRUE(spool_->Update(*read).ok());

  ScriptedTransport transport([](int, const std::string&) { return Sent(); });
  QueueManager manager(*spool_, settings_,
                       [&](std::string_view) { return &transport; });
  manager.Start();
  ASSERT_TRUE(WaitUntil([&] { return spool_->List().empty(); }));
  ASSERT_EQ(transport.call_count(), 1u);
  EXPECT_EQ(transport.calls()[0].recipient, "second@example.test");
}

TEST_F(QueueManagerTest, NoTransportDefersWithLogLine) {
  stdfs::path log_path = directory_.path() / "mail.log";
  log::Init(log_path.string());
  std::string id =
      Store(MakeEnvelope("a@example.test", {"bob@example.test"}), "x");
  {
    QueueManager manager(*spool_, settings_,
                         [](std::string_view) { return nullptr; });
    manager.Start();
    ASSERT_TRUE(WaitUntil([&] {
      auto read = spool_->Read(id);
      return read.ok() && read->recipients[0].attempts >= 2;
    }));
  }
  log::Init("");
  EXPECT_EQ(spool_->List(), std::vector<std::string>{id});
  auto read = spool_->Read(id);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->recipients[0].status, RecipientState::Status::kPending);
  EXPECT_EQ(read->recipients[0].last_reply,
            "4.4.1 no transport for example.test: outbound delivery is not "
            "configured");

  std::string log_text = ReadWhole(log_path);
  std::string expected_start = id + ": to=<bob@example.test>, relay=none, ";
  std::string expected_end =
      ", dsn=4.4.1, status=deferred (no transport for example.test: "
      "outbound delivery is not configured)";
  EXPECT_NE(log_text.find(expected_start), std::string::npos) << log_text;
  EXPECT_NE(log_text.find(expected_end), std::string::npos) << log_text;
}

class BounceTest : public QueueManagerTest {
 protected:
  // Routes the sender's domain to `returned_` and everything else to
  // `primary_`.
  TransportSelector Selector() {
    return [this](std::string_view recipient) -> Transport* {
      if (recipient.ends_with("@sender.example.test")) return &returned_;
      return &primary_;
    };
  }

  ScriptedTransport primary_{[](int, const std::string&) { return Bounced(); }};
  ScriptedTransport returned_{[](int, const std::string&) { return Sent(); }};
};

TEST_F(BounceTest, PermanentFailureBouncedToSender) {
  std::string id = Store(
      MakeEnvelope("alice@sender.example.test", {"bob@remote.example.test"}),
      "From: alice@sender.example.test\r\nSubject: greetings\r\n\r\n"
      "secret body\r\n");
  QueueManager manager(*spool_, settings_, Selector());
  manager.Start();
  ASSERT_TRUE(WaitUntil([&] { return returned_.call_count() == 1; }));
  ASSERT_TRUE(WaitUntil([&] { return spool_->List().empty(); }));

  Call bounce = returned_.calls()[0];
  EXPECT_EQ(bounce.envelope.sender, "");
  EXPECT_EQ(bounce.envelope.recipients,
            std::vector<std::string>{"alice@sender.example.test"});
  EXPECT_EQ(bounce.recipient, "alice@sender.example.test");
  const std::string& text = bounce.content;
  for (const char* expected :
       {"From: MAILER-DAEMON@mx.example.test (Mail Delivery System)\r\n",
        "To: <alice@sender.example.test>\r\n",
        "Auto-Submitted: auto-replied\r\n",
        "Content-Type: multipart/report; report-type=delivery-status;",
        "Content-Type: message/delivery-status\r\n",
        "Reporting-MTA: dns; mx.example.test\r\n",
        "Final-Recipient: rfc822; bob@remote.example.test\r\n",
        "Action: failed\r\n", "Status: 5.1.1\r\n",
        "Diagnostic-Code: smtp; no such user here\r\n",
        "Content-Type: text/rfc822-headers\r\n",
        "\r\nSubject: greetings\r\n"}) {
    EXPECT_NE(text.find(expected), std::string::npos)
        << "missing " << expected << " in\n"
        << text;
  }
  EXPECT_NE(text.find("X-Mailport-Queue-ID: " + id), std::string::npos);
  // Only the headers of the original are returned.
  EXPECT_EQ(text.find("secret body"), std::string::npos);
}

TEST_F(BounceTest, NullSenderNotBounced) {
  Store(MakeEnvelope("", {"bob@remote.example.test"}), "Subject: x\r\n\r\n");
  QueueManager manager(*spool_, settings_, Selector());
  manager.Start();
  // A bounce would be queued before the original is removed, and it would
  // stay queued until `returned_` took it, so an empty queue is final.
  ASSERT_TRUE(WaitUntil([&] { return spool_->List().empty(); }));
  EXPECT_EQ(primary_.call_count(), 1u);
  EXPECT_EQ(returned_.call_count(), 0u);
}

TEST_F(BounceTest, ExpiredMessageBouncedWith447) {
  settings_.maximal_queue_lifetime = seconds(0);
  ScriptedTransport deferring(
      [](int, const std::string&) { return Deferred(); });
  Store(MakeEnvelope("alice@sender.example.test", {"bob@remote.example.test"}),
        "Subject: late\r\n\r\n");
  QueueManager manager(*spool_, settings_,
                       [&](std::string_view recipient) -> Transport* {
                         if (recipient.ends_with("@sender.example.test")) {
                           return &returned_;
                         }
                         return &deferring;
                       });
  manager.Start();
  ASSERT_TRUE(WaitUntil([&] { return spool_->List().empty(); }));
  EXPECT_EQ(deferring.call_count(), 1u);
  ASSERT_EQ(returned_.call_count(), 1u);
  const std::string text = returned_.calls()[0].content;
  EXPECT_NE(text.find("Status: 4.4.7\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Action: failed\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find("last reply: 4.2.0 mailbox busy"), std::string::npos)
      << text;
}

TEST_F(BounceTest, OnlyFailedRecipientsReported) {
  ScriptedTransport mixed([](int, const std::string& recipient) {
    return recipient.starts_with("good") ? Sent() : Bounced();
  });
  Store(MakeEnvelope("alice@sender.example.test",
                     {"good@remote.example.test", "bad@remote.example.test"}),
        "Subject: mixed\r\n\r\n");
  QueueManager manager(*spool_, settings_,
                       [&](std::string_view recipient) -> Transport* {
                         if (recipient.ends_with("@sender.example.test")) {
                           return &returned_;
                         }
                         return &mixed;
                       });
  manager.Start();
  ASSERT_TRUE(WaitUntil([&] { return spool_->List().empty(); }));
  EXPECT_EQ(mixed.call_count(), 2u);
  ASSERT_EQ(returned_.call_count(), 1u);
  const std::string text = returned_.calls()[0].content;
  EXPECT_NE(text.find("Final-Recipient: rfc822; bad@remote.example.test"),
            std::string::npos);
  EXPECT_EQ(text.find("Final-Recipient: rfc822; good@remote.example.test"),
            std::string::npos);
}

TEST(BuildBounceTest, LocalFailureUsesExtensionType) {
  config::GlobalSettings settings;
  settings.myhostname = "mx.example.test";
  Envelope original;
  original.queue_id = "0123456789AB";
  original.sender = "alice@example.test";
  original.arrival_time = std::chrono::system_clock::from_time_t(0);
  auto [envelope, text] =
      BuildBounce(settings, original, "Subject: caf\xc3\xa9\r\n\r\nbody\r\n",
                  {{"bob@example.test", "5.1.1", "local", "unknown\r\nuser"}},
                  std::chrono::system_clock::from_time_t(86400));
  EXPECT_EQ(envelope.sender, "");
  EXPECT_EQ(envelope.body_type, "8BITMIME");
  EXPECT_NE(text.find("Diagnostic-Code: X-mailport; unknown  user\r\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Arrival-Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"),
            std::string::npos);
  EXPECT_NE(text.find("Date: Fri, 02 Jan 1970 00:00:00 +0000\r\n"),
            std::string::npos);
  EXPECT_NE(text.find("Content-Transfer-Encoding: 8bit\r\n"),
            std::string::npos);
  EXPECT_TRUE(text.ends_with("--\r\n"));
}

}  // namespace
}  // namespace mailport::queue
