// The queue manager: delivers queued messages and retries failures.
//
// It owns a small pool of delivery threads.  Each message is tried at once
// after Notify(), and on start-up every message found in the queue is
// scheduled (recovery after a crash).  A temporary failure is retried with
// exponential backoff between minimal_backoff_time and
// maximal_backoff_time; a message still undelivered after
// maximal_queue_lifetime, or a permanent failure, is bounced to the sender
// with a delivery status notification (RFC 3464), except for null-sender
// messages, which are dropped with a log line.
//
// Every outcome is logged as one line per recipient:
//   QUEUEID: to=<rcpt>, relay=..., delay=..., dsn=X.Y.Z, status=sent (...)
//
// Progress is recorded with Spool::Update after each recipient that is
// delivered, so a crash redelivers at most the recipient that was in
// flight (at-least-once delivery for that one recipient only).  A bounced
// recipient is recorded as bounced only once its bounce is stored; after a
// crash in between it is tried again, and bounced again.
//
// The whole queue is also rescanned every queue_run_delay, which picks up
// mail stored by other processes and messages whose schedule was lost.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "config/settings.h"
#include "queue/spool.h"

namespace mailport::queue {

struct DeliveryOutcome {
  enum class Status { kSent, kDeferred, kBounced };
  Status status = Status::kDeferred;
  std::string dsn;     // enhanced status code, "2.0.0", "4.4.1", "5.1.1"
  std::string relay;   // "local", "mx.example.test[192.0.2.1]:25", "none"
  std::string detail;  // human-readable reason for the log and bounce
};

// A transport delivers one recipient of one message.  Implementations live
// in src/delivery; they must be safe to call from several threads.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual DeliveryOutcome Deliver(const Envelope& envelope,
                                  const std::string& recipient,
                                  std::string_view content) = 0;
};

// Chooses the transport for a recipient, or nullptr when none can handle
// it (the recipient is then deferred with "no transport" in the log).
using TransportSelector = std::function<Transport*(std::string_view)>;

// Returns the wait before the next attempt after `attempts` failed ones:
// minimal * 2^(attempts-1), at most `maximal`, and never below one second
// so that a zero setting cannot make a delivery thread spin.
std::chrono::seconds RetryDelay(int attempts, std::chrono::seconds minimal,
                                std::chrono::seconds maximal);

// Thread model: the public methods may be called from any thread.  They
// only take the scheduling lock and do not block on the disk, except
// Start() and FlushAll(), which list the queue directory.
class QueueManager {
 public:
  QueueManager(Spool& spool, const config::GlobalSettings& settings,
               TransportSelector select_transport, int threads = 2);
  ~QueueManager();  // Stop()s
  QueueManager(const QueueManager&) = delete;
  QueueManager& operator=(const QueueManager&) = delete;

  // Schedules every message already in the queue and starts delivering.
  void Start();
  // Finishes deliveries in progress and stops; queued mail stays queued.
  void Stop();
  // Schedules a newly stored message for immediate delivery.
  void Notify(const std::string& queue_id);
  // Schedules every queued message for immediate delivery (`mailport
  // flush`, SIGHUP).
  void FlushAll();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailport::queue
