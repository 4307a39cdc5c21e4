// The durable queue: one file per message under queue_directory.
//
// The on-disk format and the directory layout are in docs/queue-format.md.
// Store() returns only once the message file and its directory entry are on
// disk (fsync of the file, rename into place, fsync of the directory), so a
// message acknowledged with 250 survives kill -9 and power loss.  After an
// fsync fails the spool latches the error and rejects every later Store()
// with a temporary error, because the kernel may already have dropped the
// unsynced pages and carrying on could lose mail silently.
//
// Read() of a queue file that is truncated or damaged moves it (and its
// state file) to queue_directory/corrupt, logs an error and returns a
// permanent error.  Queue files are never deleted for being unreadable.
//
// All methods block on the disk and are safe to call from several threads,
// as long as no two threads Update() or Remove() the same queue id at once
// (the queue manager hands each message to one delivery thread).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "queue/envelope.h"
#include "util/result.h"

namespace mailport::queue {

// Per-recipient progress, stored with the message.
struct RecipientState {
  enum class Status { kPending, kDelivered, kBounced };
  std::string address;
  Status status = Status::kPending;
  int attempts = 0;
  std::string last_reply;  // last delivery outcome text, for bounces
};

struct QueuedMessage {
  Envelope envelope;
  std::vector<RecipientState> recipients;
  std::chrono::system_clock::time_point next_attempt;
  std::filesystem::path path;  // the queue file
};

class Spool {
 public:
  // Opens (creating if needed) the queue under `queue_directory`.
  static Result<std::unique_ptr<Spool>> Open(
      const std::filesystem::path& queue_directory);
  virtual ~Spool() = default;

  // Stores a message durably and returns its new queue id.
  virtual Result<std::string> Store(Envelope envelope,
                                    std::string_view message) = 0;

  // Stores several messages and makes them durable with one directory
  // fsync.  Returns one result per message, in order.
  virtual std::vector<Result<std::string>> StoreBatch(
      std::vector<std::pair<Envelope, std::string>> messages) = 0;

  // Queue ids of every message in the queue, for recovery at start-up.
  virtual std::vector<std::string> List() = 0;

  virtual Result<QueuedMessage> Read(const std::string& queue_id) = 0;
  // Opens the message content (headers and body, CRLF line ends).
  virtual Result<std::string> ReadContent(const std::string& queue_id) = 0;
  // Records per-recipient progress and the next attempt time, durably.
  virtual Status Update(const QueuedMessage& message) = 0;
  // Removes a message whose recipients are all done.
  virtual Status Remove(const std::string& queue_id) = 0;

  // Test-only: while `fail` is true every fsync the spool makes fails with
  // EIO, as on a failing disk, which latches the spool.  Spools that do
  // not write files ignore it.
  virtual void SetFsyncFailureForTesting(bool fail) { (void)fail; }
};

// Runs Spool::StoreBatch on a dedicated disk thread, so that network threads
// never block on fsync and concurrent submissions share one directory fsync
// (group commit).
class CommitQueue {
 public:
  using Callback = std::function<void(Result<std::string>)>;

  explicit CommitQueue(Spool& spool);
  ~CommitQueue();  // finishes queued work, then joins the thread
  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;

  // Queues a message for storing.  `done` runs on the disk thread with the
  // queue id or the error; the caller posts back to its own executor.
  void Submit(Envelope envelope, std::string message, Callback done);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailport::queue
