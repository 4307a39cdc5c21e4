#include "queue/spool.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "queue/queue_file.h"
#include "queue/queue_id.h"

namespace mailport::queue {
namespace {

namespace stdfs = std::filesystem;

class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    std::string pattern =
        (stdfs::temp_directory_path() / "spool_test.XXXXXX").string();
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

Envelope MakeEnvelope(std::string sender, std::vector<std::string> rcpts) {
  Envelope envelope;
  envelope.sender = std::move(sender);
  envelope.recipients = std::move(rcpts);
  envelope.client_name = "localhost";
  envelope.client_address = "127.0.0.1";
  envelope.helo_name = "client.example.test";
  envelope.protocol = "ESMTP";
  envelope.body_type = "7BIT";
  return envelope;
}

std::unique_ptr<Spool> OpenSpool(const stdfs::path& directory) {
  auto spool = Spool::Open(directory);
  EXPECT_TRUE(spool.ok()) << spool.error().message;
  return std::move(spool).value();
}

std::size_t CountFiles(const stdfs::path& directory) {
  std::size_t count = 0;
  for (const auto& entry : stdfs::directory_iterator(directory)) {
    (void)entry;
    ++count;
  }
  return count;
}

TEST(QueueIdTest, FormatAndTime) {
  auto before = std::chrono::system_clock::now();
  std::string id = NewQueueId();
  auto after = std::chrono::system_clock::now();
  EXPECT_EQ(id.size(), kQueueIdLength);
  EXPECT_TRUE(IsQueueId(id));
  EXPECT_GE(QueueIdTime(id) + std::chrono::microseconds(1), before);
  EXPECT_LE(QueueIdTime(id), after + std::chrono::seconds(1));
  EXPECT_FALSE(IsQueueId("0123456789AI"));  // I is not in the alphabet
  EXPECT_FALSE(IsQueueId("0123456789A"));
  EXPECT_FALSE(IsQueueId("../etc/passw"));
}

TEST(QueueIdTest, UniqueAndSortedAcrossThreads) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 5000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&ids, t] {
      for (int i = 0; i < kPerThread; ++i) ids[t].push_back(NewQueueId());
    });
  }
  for (auto& thread : threads) thread.join();

  std::set<std::string> all;
  for (const auto& list : ids) {
    // Within one thread each id was made after the previous one.
    EXPECT_TRUE(std::is_sorted(list.begin(), list.end()));
    all.insert(list.begin(), list.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST(QueueFileTest, EscapeRoundTrip) {
  for (std::string value :
       {std::string(""), std::string("plain@example.test"),
        std::string("\"with space\"@example.test"), std::string("100%"),
        std::string("line\r\nbreak"), std::string("nul\0byte", 8),
        std::string("\xc3\xa9t\xc3\xa9@example.test")}) {
    std::string escaped = EscapeValue(value);
    EXPECT_EQ(escaped.find_first_of(" \r\n"), std::string::npos) << escaped;
    auto unescaped = UnescapeValue(escaped);
    ASSERT_TRUE(unescaped.ok());
    EXPECT_EQ(*unescaped, value);
  }
  EXPECT_FALSE(UnescapeValue("%4").ok());
  EXPECT_FALSE(UnescapeValue("%zz").ok());
}

TEST(SpoolTest, StoreReadUpdateRemove) {
  TemporaryDirectory directory;
  auto spool = OpenSpool(directory.path());
  const std::string content = "Subject: test\r\n\r\nbody line\r\n";
  Envelope envelope =
      MakeEnvelope("alice@example.test",
                   {"bob@example.test", "\"carol smith\"@example.test"});
  envelope.sasl_username = "alice";

  auto stored = spool->Store(envelope, content);
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  EXPECT_TRUE(IsQueueId(*stored));
  EXPECT_EQ(spool->List(), std::vector<std::string>{*stored});
  EXPECT_TRUE(stdfs::exists(directory.path() / "active" / *stored));

  auto read = spool->Read(*stored);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->envelope.queue_id, *stored);
  EXPECT_EQ(read->envelope.sender, "alice@example.test");
  EXPECT_EQ(read->envelope.recipients, envelope.recipients);
  EXPECT_EQ(read->envelope.sasl_username, "alice");
  EXPECT_EQ(read->envelope.helo_name, "client.example.test");
  ASSERT_EQ(read->recipients.size(), 2u);
  EXPECT_EQ(read->recipients[1].address, "\"carol smith\"@example.test");
  EXPECT_EQ(read->recipients[0].status, RecipientState::Status::kPending);
  EXPECT_EQ(read->recipients[0].attempts, 0);
  EXPECT_EQ(read->next_attempt, read->envelope.arrival_time);
  EXPECT_NE(read->envelope.arrival_time.time_since_epoch().count(), 0);

  auto read_content = spool->ReadContent(*stored);
  ASSERT_TRUE(read_content.ok());
  EXPECT_EQ(*read_content, content);

  QueuedMessage updated = *read;
  updated.recipients[0].status = RecipientState::Status::kDelivered;
  updated.recipients[0].attempts = 1;
  updated.recipients[0].last_reply = "2.0.0 delivered to maildir";
  updated.recipients[1].attempts = 3;
  updated.recipients[1].last_reply = "4.4.1 no transport";
  updated.next_attempt = read->envelope.arrival_time + std::chrono::hours(1);
  ASSERT_TRUE(spool->Update(updated).ok());

  // A second spool on the same directory reads what the first recorded.
  auto reopened = OpenSpool(directory.path());
  auto reread = reopened->Read(*stored);
  ASSERT_TRUE(reread.ok()) << reread.error().message;
  EXPECT_EQ(reread->recipients[0].status, RecipientState::Status::kDelivered);
  EXPECT_EQ(reread->recipients[0].attempts, 1);
  EXPECT_EQ(reread->recipients[0].last_reply, "2.0.0 delivered to maildir");
  EXPECT_EQ(reread->recipients[1].status, RecipientState::Status::kPending);
  EXPECT_EQ(reread->recipients[1].attempts, 3);
  EXPECT_EQ(reread->next_attempt, updated.next_attempt);

  ASSERT_TRUE(reopened->Remove(*stored).ok());
  EXPECT_TRUE(reopened->List().empty());
  EXPECT_EQ(CountFiles(directory.path() / "active"), 0u);
  EXPECT_FALSE(reopened->Read(*stored).ok());
  EXPECT_FALSE(reopened->Read(*stored).error().temporary);
}

TEST(SpoolTest, NullSenderAndEmptyContent) {
  TemporaryDirectory directory;
  auto spool = OpenSpool(directory.path());
  auto stored = spool->Store(MakeEnvelope("", {"bob@example.test"}), "");
  ASSERT_TRUE(stored.ok());
  auto read = spool->Read(*stored);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->envelope.sender, "");
  auto content = spool->ReadContent(*stored);
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(*content, "");
}

TEST(SpoolTest, StoreIdsUniqueAcrossThreads) {
  TemporaryDirectory directory;
  auto spool = OpenSpool(directory.path());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::mutex mutex;
  std::set<std::string> ids;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        auto stored =
            spool->Store(MakeEnvelope("a@example.test", {"b@example.test"}),
                         "Subject: x\r\n\r\n");
        ASSERT_TRUE(stored.ok());
        std::lock_guard lock(mutex);
        ids.insert(*stored);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(spool->List().size(), ids.size());
}

TEST(SpoolTest, StoreBatchCommitsEveryMessage) {
  TemporaryDirectory directory;
  auto spool = OpenSpool(directory.path());
  constexpr int kMessages = 20;
  std::vector<std::pair<Envelope, std::string>> batch;
  for (int i = 0; i < kMessages; ++i) {
    batch.emplace_back(
        MakeEnvelope("a@example.test",
                     {"rcpt" + std::to_string(i) + "@example.test"}),
        "Subject: message " + std::to_string(i) + "\r\n\r\nbody\r\n");
  }
  auto results = spool->StoreBatch(batch);
  ASSERT_EQ(results.size(), static_cast<std::size_t>(kMessages));
  EXPECT_EQ(CountFiles(directory.path() / "active"),
            static_cast<std::size_t>(kMessages));
  EXPECT_EQ(CountFiles(directory.path() / "tmp"), 0u);
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].error().message;
    auto read = spool->Read(*results[i]);
    ASSERT_TRUE(read.ok()) << read.error().message;
    EXPECT_EQ(read->envelope.recipients[0],
              "rcpt" + std::to_string(i) + "@example.test");
    auto content = spool->ReadContent(*results[i]);
    ASSERT_TRUE(content.ok());
    EXPECT_EQ(*content, batch[i].second);
  }
}

TEST(SpoolTest, CommitQueueStoresEverySubmission) {
  TemporaryDirectory directory;
  auto spool = OpenSpool(directory.path());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20;
  std::mutex mutex;
  std::condition_variable done;
  std::map<std::string, std::string> content_by_id;
  int failures = 0;
  int callbacks = 0;
  {
    CommitQueue commit_queue(*spool);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          std::string content = "Subject: " + std::to_string(t) + "/" +
                                std::to_string(i) + "\r\n\r\n";
          commit_queue.Submit(
              MakeEnvelope("a@example.test", {"b@example.test"}), content,
              [&, content](Result<std::string> result) {
                std::lock_guard lock(mutex);
                ++callbacks;
                if (result.ok()) {
                  content_by_id[*result] = content;
                } else {
                  ++failures;
                }
                done.notify_all();
              });
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }
  // The destructor finished the queued work.
  EXPECT_EQ(callbacks, kThreads * kPerThread);
  EXPECT_EQ(failures, 0);
  ASSERT_EQ(content_by_id.size(),
            static_cast<std::size_t>(kThreads * kPerThread));
  for (const auto& [id, content] : content_by_id) {
    auto read = spool->ReadContent(id);
    ASSERT_TRUE(read.ok()) << id;
    EXPECT_EQ(*read, content);
  }
}

TEST(SpoolTest, CorruptQueueFileQuarantined) {
  TemporaryDirectory directory;
  auto spool = OpenSpool(directory.path());
  auto truncated =
      spool->Store(MakeEnvelope("a@example.test", {"b@example.test"}),
                   "Subject: x\r\n\r\n" + std::string(1000, 'x'));
  auto flipped =
      spool->Store(MakeEnvelope("a@example.test", {"b@example.test"}),
                   "Subject: y\r\n\r\nbody\r\n");
  auto intact = spool->Store(MakeEnvelope("a@example.test", {"b@example.test"}),
                             "Subject: z\r\n\r\nbody\r\n");
  ASSERT_TRUE(truncated.ok());
  ASSERT_TRUE(flipped.ok());
  ASSERT_TRUE(intact.ok());

  stdfs::path active = directory.path() / "active";
  stdfs::resize_file(active / *truncated, 500);
  {
    std::fstream file(active / *flipped,
                      std::ios::in | std::ios::out | std::ios::binary);
    auto size = stdfs::file_size(active / *flipped);
    file.seekp(static_cast<std::streamoff>(size - 30));
    file.put('Q');
  }

  for (const auto& id : {*truncated, *flipped}) {
    auto read = spool->Read(id);
    ASSERT_FALSE(read.ok());
    EXPECT_FALSE(read.error().temporary);
    EXPECT_FALSE(stdfs::exists(active / id));
    EXPECT_TRUE(stdfs::exists(directory.path() / "corrupt" / id));
  }
  EXPECT_EQ(stdfs::file_size(directory.path() / "corrupt" / *truncated), 500u);
  EXPECT_EQ(spool->List(), std::vector<std::string>{*intact});
  EXPECT_TRUE(spool->Read(*intact).ok());
}

TEST(SpoolTest, CorruptStateFileQuarantined) {
  TemporaryDirectory directory;
  auto spool = OpenSpool(directory.path());
  auto stored =
      spool->Store(MakeEnvelope("a@example.test", {"b@example.test"}), "x");
  ASSERT_TRUE(stored.ok());
  auto read = spool->Read(*stored);
  ASSERT_TRUE(read.ok());
  ASSERT_TRUE(spool->Update(*read).ok());

  stdfs::path state = directory.path() / "active" / (*stored + ".state");
  ASSERT_TRUE(stdfs::exists(state));
  stdfs::resize_file(state, 20);

  auto reread = spool->Read(*stored);
  ASSERT_FALSE(reread.ok());
  EXPECT_FALSE(reread.error().temporary);
  EXPECT_TRUE(spool->List().empty());
  EXPECT_TRUE(stdfs::exists(directory.path() / "corrupt" / *stored));
  EXPECT_TRUE(
      stdfs::exists(directory.path() / "corrupt" / (*stored + ".state")));
}

TEST(SpoolTest, OpenCleansUpAfterCrash) {
  TemporaryDirectory directory;
  std::string orphan_id;
  {
    auto spool = OpenSpool(directory.path());
    auto stored =
        spool->Store(MakeEnvelope("a@example.test", {"b@example.test"}), "x");
    ASSERT_TRUE(stored.ok());
    orphan_id = NewQueueId();
  }
  stdfs::path active = directory.path() / "active";
  stdfs::path tmp = directory.path() / "tmp";
  std::ofstream(active / (orphan_id + ".state")) << "left by a removal";
  std::ofstream(active / "stray-file") << "not a queue file";
  std::ofstream(tmp / "OLD") << "partial";
  std::ofstream(tmp / "FRESH") << "partial";
  stdfs::last_write_time(
      tmp / "OLD", stdfs::file_time_type::clock::now() - std::chrono::hours(2));

  auto spool = OpenSpool(directory.path());
  EXPECT_FALSE(stdfs::exists(active / (orphan_id + ".state")));
  EXPECT_FALSE(stdfs::exists(active / "stray-file"));
  EXPECT_TRUE(stdfs::exists(directory.path() / "corrupt" / "stray-file"));
  EXPECT_FALSE(stdfs::exists(tmp / "OLD"));
  // A young temporary file may belong to another process still writing.
  EXPECT_TRUE(stdfs::exists(tmp / "FRESH"));
  EXPECT_EQ(spool->List().size(), 1u);
}

TEST(SpoolTest, FsyncFailureLatches) {
  TemporaryDirectory directory;
  auto spool = OpenSpool(directory.path());
  auto before =
      spool->Store(MakeEnvelope("a@example.test", {"b@example.test"}), "x");
  ASSERT_TRUE(before.ok());

  spool->SetFsyncFailureForTesting(true);
  auto failed =
      spool->Store(MakeEnvelope("a@example.test", {"b@example.test"}), "y");
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(failed.error().temporary);
  EXPECT_NE(failed.error().message.find("fsync"), std::string::npos)
      << failed.error().message;

  // The disk "recovers", but the spool keeps rejecting mail.
  spool->SetFsyncFailureForTesting(false);
  auto after =
      spool->Store(MakeEnvelope("a@example.test", {"b@example.test"}), "z");
  ASSERT_FALSE(after.ok());
  EXPECT_TRUE(after.error().temporary);
  std::vector<std::pair<Envelope, std::string>> batch(
      3, {MakeEnvelope("a@example.test", {"b@example.test"}), "w"});
  for (const auto& result : spool->StoreBatch(batch)) {
    EXPECT_FALSE(result.ok());
  }

  // Nothing that was refused stays in the queue; earlier mail does.
  EXPECT_EQ(spool->List(), std::vector<std::string>{*before});
  EXPECT_EQ(CountFiles(directory.path() / "tmp"), 0u);
}

// Writes every queue id to `fd` after Store() returned, until killed.
[[noreturn]] void StoreUntilKilled(const stdfs::path& directory, int fd) {
  auto spool = Spool::Open(directory);
  if (!spool) ::_exit(2);
  for (int sequence = 0;; ++sequence) {
    std::string content = "Subject: " + std::to_string(sequence) + "\r\n\r\n" +
                          std::string(sequence % 5000, 'x') + "\r\n";
    Envelope envelope;
    envelope.sender = "seq" + std::to_string(sequence) + "@example.test";
    envelope.recipients = {"b@example.test"};
    auto stored = (*spool)->Store(std::move(envelope), content);
    if (!stored) ::_exit(3);
    std::string line = *stored + " " + std::to_string(sequence) + "\n";
    if (::write(fd, line.data(), line.size()) !=
        static_cast<ssize_t>(line.size())) {
      ::_exit(4);
    }
  }
}

TEST(SpoolTest, KilledWriterLosesNoStoredMessage) {
  TemporaryDirectory directory;
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    StoreUntilKilled(directory.path(), pipe_fds[1]);
  }
  ::close(pipe_fds[1]);

  // Wait for a few stores, then kill at a random moment.
  FILE* reader = ::fdopen(pipe_fds[0], "r");
  ASSERT_NE(reader, nullptr);
  std::vector<std::pair<std::string, int>> reported;
  char id_buffer[64];
  int sequence = 0;
  while (reported.size() < 10 &&
         std::fscanf(reader, "%63s %d", id_buffer, &sequence) == 2) {
    reported.emplace_back(id_buffer, sequence);
  }
  std::mt19937 generator{std::random_device{}()};
  std::this_thread::sleep_for(std::chrono::milliseconds(
      std::uniform_int_distribution<int>(0, 300)(generator)));
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int wait_status = 0;
  ASSERT_EQ(::waitpid(child, &wait_status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(wait_status))
      << "child exited early, status " << WEXITSTATUS(wait_status);
  while (std::fscanf(reader, "%63s %d", id_buffer, &sequence) == 2) {
    reported.emplace_back(id_buffer, sequence);
  }
  std::fclose(reader);
  ASSERT_GE(reported.size(), 10u);

  auto spool = OpenSpool(directory.path());
  std::vector<std::string> listed = spool->List();
  std::set<std::string> listed_set(listed.begin(), listed.end());
  for (const auto& [id, number] : reported) {
    EXPECT_TRUE(listed_set.contains(id)) << id;
    auto content = spool->ReadContent(id);
    ASSERT_TRUE(content.ok()) << id << ": " << content.error().message;
    EXPECT_EQ(*content, "Subject: " + std::to_string(number) + "\r\n\r\n" +
                            std::string(number % 5000, 'x') + "\r\n");
    auto read = spool->Read(id);
    ASSERT_TRUE(read.ok());
    EXPECT_EQ(read->envelope.sender,
              "seq" + std::to_string(number) + "@example.test");
  }
  // The message in flight at the kill may be listed too, but only whole.
  EXPECT_LE(listed.size(), reported.size() + 1);
  for (const auto& id : listed) {
    EXPECT_TRUE(spool->Read(id).ok()) << id;
  }
  EXPECT_EQ(CountFiles(directory.path() / "corrupt"), 0u);
}

}  // namespace
}  // namespace mailport::queue
