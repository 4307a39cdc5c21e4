#include "queue/queue_manager.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "queue/bounce.h"
#include "util/log.h"

namespace mailport::queue {
namespace {

using Clock = std::chrono::system_clock;

// Formats a delay in seconds the way mail logs show it: up to two decimals
// below ten seconds ("0.02", "1.5", "0"), whole seconds above.
std::string FormatDelay(Clock::duration delay) {
  double seconds = std::chrono::duration<double>(delay).count();
  if (seconds < 0) seconds = 0;
  if (seconds >= 10) return fmt::format("{:.0f}", seconds);
  std::string text = fmt::format("{:.2f}", seconds);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

const char* StatusWord(DeliveryOutcome::Status status) {
  switch (status) {
    case DeliveryOutcome::Status::kSent:
      return "sent";
    case DeliveryOutcome::Status::kDeferred:
      return "deferred";
    case DeliveryOutcome::Status::kBounced:
      return "bounced";
  }
  return "deferred";
}

std::string DomainOf(std::string_view address) {
  auto at = address.rfind('@');
  return std::string(at == std::string_view::npos ? address
                                                  : address.substr(at + 1));
}

void LogDelivery(const Envelope& envelope, const std::string& recipient,
                 const DeliveryOutcome& outcome, Clock::time_point now) {
  log::Info("{}: to=<{}>, relay={}, delay={}, dsn={}, status={} ({})",
            envelope.queue_id, log::Sanitize(recipient),
            log::Sanitize(outcome.relay),
            FormatDelay(now - envelope.arrival_time), outcome.dsn,
            StatusWord(outcome.status), log::Sanitize(outcome.detail, 400));
}

}  // namespace

std::chrono::seconds RetryDelay(int attempts, std::chrono::seconds minimal,
                                std::chrono::seconds maximal) {
  std::chrono::seconds delay = std::max(minimal, std::chrono::seconds(1));
  maximal = std::max(maximal, delay);
  for (int i = 1; i < attempts && delay < maximal; ++i) delay *= 2;
  return std::min(delay, maximal);
}

struct QueueManager::Impl {
  Impl(Spool& spool, const config::GlobalSettings& settings,
       TransportSelector select_transport, int threads)
      : spool_(spool),
        settings_(settings),
        select_transport_(std::move(select_transport)),
        thread_count_(std::max(threads, 1)) {}

  struct Due {
    Clock::time_point time;
    bool force = false;  // deliver even before next_attempt
  };

  void Schedule(const std::string& queue_id, Clock::time_point time,
                bool force);
  void ScheduleAll(bool force);
  void RunWorker();
  std::optional<Clock::time_point> Process(const std::string& queue_id,
                                           bool force);
  DeliveryOutcome DeliverOne(const Envelope& envelope,
                             const std::string& recipient,
                             std::string_view content);
  Status SendBounce(const QueuedMessage& message, std::string_view content,
                    const std::vector<FailedRecipient>& failed);
  void ScanIfDue(std::unique_lock<std::mutex>& lock);
  // queue_run_delay, but at least one second so that a zero setting cannot
  // make the workers list the directory in a loop.
  Clock::duration ScanInterval() const {
    return std::max<Clock::duration>(settings_.queue_run_delay,
                                     std::chrono::seconds(1));
  }

  Spool& spool_;
  const config::GlobalSettings settings_;
  const TransportSelector select_transport_;
  const int thread_count_;

  std::mutex mutex_;
  std::condition_variable wake_;
  // The schedule, indexed both ways; guarded by mutex_.
  std::map<std::string, Due> due_by_id_;
  std::set<std::pair<Clock::time_point, std::string>> ids_by_time_;
  // Messages a worker is processing, with a Notify() that came meanwhile.
  std::map<std::string, std::optional<Due>> running_;
  Clock::time_point next_scan_;
  bool scanning_ = false;
  bool started_ = false;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

void QueueManager::Impl::Schedule(const std::string& queue_id,
                                  Clock::time_point time, bool force) {
  {
    std::lock_guard lock(mutex_);
    auto running = running_.find(queue_id);
    if (running != running_.end()) {
      // The worker reschedules it when done; remember the earlier time.
      auto& pending = running->second;
      if (!pending || time < pending->time) pending = Due{time, force};
      if (force) pending->force = true;
      return;
    }
    auto [entry, inserted] = due_by_id_.try_emplace(queue_id, Due{time, force});
    if (!inserted) {
      ids_by_time_.erase({entry->second.time, queue_id});
      entry->second.time = std::min(entry->second.time, time);
      entry->second.force = entry->second.force || force;
    }
    ids_by_time_.insert({entry->second.time, queue_id});
  }
  wake_.notify_one();
}

void QueueManager::Impl::ScheduleAll(bool force) {
  auto now = Clock::now();
  for (const auto& queue_id : spool_.List()) Schedule(queue_id, now, force);
}

// Lists the queue every queue_run_delay and schedules what is not
// scheduled yet.  Runs on whichever worker finds the scan due.
void QueueManager::Impl::ScanIfDue(std::unique_lock<std::mutex>& lock) {
  if (scanning_ || Clock::now() < next_scan_) return;
  scanning_ = true;
  lock.unlock();

  std::vector<std::string> ids = spool_.List();
  auto now = Clock::now();
  std::vector<std::string> unknown;
  {
    std::lock_guard scan_lock(mutex_);
    for (auto& queue_id : ids) {
      if (!due_by_id_.contains(queue_id) && !running_.contains(queue_id)) {
        unknown.push_back(std::move(queue_id));
      }
    }
  }
  for (const auto& queue_id : unknown) Schedule(queue_id, now, false);

  lock.lock();
  next_scan_ = Clock::now() + ScanInterval();
  scanning_ = false;
}

void QueueManager::Impl::RunWorker() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    ScanIfDue(lock);
    if (stopping_) break;

    auto now = Clock::now();
    if (ids_by_time_.empty() || ids_by_time_.begin()->first > now) {
      Clock::time_point wake_at = next_scan_;
      if (!ids_by_time_.empty()) {
        wake_at = std::min(wake_at, ids_by_time_.begin()->first);
      }
      wake_.wait_until(lock, wake_at);
      continue;
    }

    std::string queue_id = ids_by_time_.begin()->second;
    ids_by_time_.erase(ids_by_time_.begin());
    bool force = due_by_id_[queue_id].force;
    due_by_id_.erase(queue_id);
    running_[queue_id] = std::nullopt;
    lock.unlock();

    std::optional<Clock::time_point> next = Process(queue_id, force);

    lock.lock();
    std::optional<Due> notified = std::move(running_[queue_id]);
    running_.erase(queue_id);
    lock.unlock();
    if (notified) {
      Schedule(queue_id, notified->time, notified->force);
    } else if (next) {
      Schedule(queue_id, *next, false);
    }
    lock.lock();
  }
}

DeliveryOutcome QueueManager::Impl::DeliverOne(const Envelope& envelope,
                                               const std::string& recipient,
                                               std::string_view content) {
  Transport* transport =
      select_transport_ ? select_transport_(recipient) : nullptr;
  if (transport == nullptr) {
    return DeliveryOutcome{
        DeliveryOutcome::Status::kDeferred, "4.4.1", "none",
        fmt::format("no transport for {}: outbound delivery is not "
                    "configured",
                    DomainOf(recipient))};
  }
  // Transports return outcomes; an exception is a bug in one of them and
  // must not end the delivery thread.
  try {
    return transport->Deliver(envelope, recipient, content);
  } catch (const std::exception& error) {
    return DeliveryOutcome{DeliveryOutcome::Status::kDeferred, "4.3.0", "none",
                           fmt::format("transport failed: {}", error.what())};
  }
}

Status QueueManager::Impl::SendBounce(
    const QueuedMessage& message, std::string_view content,
    const std::vector<FailedRecipient>& failed) {
  const Envelope& envelope = message.envelope;
  if (envelope.sender.empty()) {
    for (const auto& recipient : failed) {
      log::Info("{}: to=<{}>, dsn={}, no bounce sent: the sender is null",
                envelope.queue_id, log::Sanitize(recipient.address),
                recipient.dsn);
    }
    return Status::Ok();
  }

  auto [bounce_envelope, bounce] =
      BuildBounce(settings_, envelope, content, failed, Clock::now());
  auto stored = spool_.Store(std::move(bounce_envelope), bounce);
  if (!stored) {
    log::Error("{}: cannot queue the bounce to <{}>: {}", envelope.queue_id,
               log::Sanitize(envelope.sender), stored.error().message);
    return stored.error();
  }
  log::Info("{}: sender non-delivery notification: {}", envelope.queue_id,
            *stored);
  Schedule(*stored, Clock::now(), true);
  return Status::Ok();
}

// Tries every pending recipient of one message once.  Returns when to try
// again, or nullopt when the message is gone from the queue.
std::optional<Clock::time_point> QueueManager::Impl::Process(
    const std::string& queue_id, bool force) {
  auto read = spool_.Read(queue_id);
  if (!read) {
    log::Error("{}: cannot read queue file: {}", queue_id,
               read.error().message);
    if (!read.error().temporary) return std::nullopt;
    return Clock::now() + RetryDelay(1, settings_.minimal_backoff_time,
                                     settings_.maximal_backoff_time);
  }
  QueuedMessage& message = *read;
  const Envelope& envelope = message.envelope;
  auto now = Clock::now();
  if (!force && message.next_attempt > now) return message.next_attempt;

  auto content = spool_.ReadContent(queue_id);
  if (!content) {
    log::Error("{}: cannot read queue file: {}", queue_id,
               content.error().message);
    if (!content.error().temporary) return std::nullopt;
    return now + RetryDelay(1, settings_.minimal_backoff_time,
                            settings_.maximal_backoff_time);
  }
  log::Info("{}: from=<{}>, size={}, nrcpt={} (queue active)", queue_id,
            log::Sanitize(envelope.sender), content->size(),
            message.recipients.size());

  // Bounced recipients stay "pending" on disk until their bounce is stored,
  // so that a crash in between cannot lose the bounce.
  std::vector<std::size_t> unreported;
  std::vector<FailedRecipient> failed;
  auto state_for_disk = [&message, &unreported] {
    QueuedMessage copy = message;
    for (std::size_t index : unreported) {
      copy.recipients[index].status = RecipientState::Status::kPending;
    }
    return copy;
  };

  for (std::size_t i = 0; i < message.recipients.size(); ++i) {
    RecipientState& recipient = message.recipients[i];
    if (recipient.status != RecipientState::Status::kPending) continue;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
    }

    DeliveryOutcome outcome = DeliverOne(envelope, recipient.address, *content);
    now = Clock::now();
    LogDelivery(envelope, recipient.address, outcome, now);
    recipient.attempts++;
    recipient.last_reply = outcome.dsn + " " + outcome.detail;

    if (outcome.status == DeliveryOutcome::Status::kBounced) {
      recipient.status = RecipientState::Status::kBounced;
      unreported.push_back(i);
      failed.push_back(
          {recipient.address, outcome.dsn, outcome.relay, outcome.detail});
    } else if (outcome.status == DeliveryOutcome::Status::kSent) {
      recipient.status = RecipientState::Status::kDelivered;
      // The state only needs to reach the disk when something is left to
      // do; for the last pending recipient the removal below follows.
      bool work_left = !unreported.empty();
      for (std::size_t j = i + 1; j < message.recipients.size(); ++j) {
        if (message.recipients[j].status == RecipientState::Status::kPending) {
          work_left = true;
        }
      }
      if (!work_left) continue;
      Status updated = spool_.Update(state_for_disk());
      if (!updated) {
        log::Error("{}: cannot record delivery to <{}>: {}", queue_id,
                   log::Sanitize(recipient.address), updated.error().message);
      }
    }
  }

  // A message past maximal_queue_lifetime bounces every recipient still
  // pending with 4.4.7 (RFC 3463: delivery time expired).
  bool stopped_early = false;
  {
    std::lock_guard lock(mutex_);
    stopped_early = stopping_;
  }
  if (!stopped_early &&
      now - envelope.arrival_time >= settings_.maximal_queue_lifetime) {
    bool any_expired = false;
    for (std::size_t i = 0; i < message.recipients.size(); ++i) {
      RecipientState& recipient = message.recipients[i];
      if (recipient.status != RecipientState::Status::kPending) continue;
      any_expired = true;
      recipient.status = RecipientState::Status::kBounced;
      unreported.push_back(i);
      failed.push_back({recipient.address, "4.4.7", "none",
                        "message expired in the queue, last reply: " +
                            recipient.last_reply});
    }
    if (any_expired) {
      log::Info("{}: from=<{}>, status=expired, returned to sender", queue_id,
                log::Sanitize(envelope.sender));
    }
  }

  bool bounce_stored = true;
  if (!failed.empty()) {
    bounce_stored = SendBounce(message, *content, failed).ok();
    if (bounce_stored) {
      unreported.clear();
    } else {
      // Without a stored bounce these recipients must be tried again.
      for (std::size_t index : unreported) {
        message.recipients[index].status = RecipientState::Status::kPending;
      }
      unreported.clear();
    }
  }

  int max_attempts = 0;
  bool all_done = true;
  for (const auto& recipient : message.recipients) {
    if (recipient.status != RecipientState::Status::kPending) continue;
    all_done = false;
    max_attempts = std::max(max_attempts, recipient.attempts);
  }

  if (all_done) {
    Status removed = spool_.Remove(queue_id);
    if (!removed) {
      log::Error("{}: cannot remove queue file: {}", queue_id,
                 removed.error().message);
      return now + RetryDelay(1, settings_.minimal_backoff_time,
                              settings_.maximal_backoff_time);
    }
    log::Info("{}: removed", queue_id);
    return std::nullopt;
  }

  // Retry no later than the expiry, so that the bounce goes out on time.
  auto next = now + RetryDelay(max_attempts, settings_.minimal_backoff_time,
                               settings_.maximal_backoff_time);
  auto expiry = envelope.arrival_time + settings_.maximal_queue_lifetime;
  if (next > expiry) next = std::max(expiry, now);
  message.next_attempt = next;
  Status updated = spool_.Update(message);
  if (!updated) {
    log::Error("{}: cannot record delivery state: {}", queue_id,
               updated.error().message);
  }
  return next;
}

QueueManager::QueueManager(Spool& spool, const config::GlobalSettings& settings,
                           TransportSelector select_transport, int threads)
    : impl_(std::make_unique<Impl>(spool, settings, std::move(select_transport),
                                   threads)) {}

QueueManager::~QueueManager() { Stop(); }

void QueueManager::Start() {
  {
    std::lock_guard lock(impl_->mutex_);
    if (impl_->started_) return;
    impl_->started_ = true;
    impl_->next_scan_ = Clock::now() + impl_->ScanInterval();
  }
  // Recovery: whatever is in the queue now was accepted before a restart
  // or crash; each message keeps its own next_attempt time.
  std::vector<std::string> ids = impl_->spool_.List();
  auto now = Clock::now();
  for (const auto& queue_id : ids) impl_->Schedule(queue_id, now, false);
  log::Info("queue: started {} delivery threads, {} message(s) in the queue",
            impl_->thread_count_, ids.size());

  std::lock_guard lock(impl_->mutex_);
  for (int i = 0; i < impl_->thread_count_; ++i) {
    impl_->threads_.emplace_back([this] { impl_->RunWorker(); });
  }
}

void QueueManager::Stop() {
  {
    std::lock_guard lock(impl_->mutex_);
    if (!impl_->started_ || impl_->stopping_) return;
    impl_->stopping_ = true;
  }
  impl_->wake_.notify_all();
  for (auto& thread : impl_->threads_) thread.join();
  impl_->threads_.clear();
  log::Info("queue: stopped");
}

void QueueManager::Notify(const std::string& queue_id) {
  impl_->Schedule(queue_id, Clock::now(), true);
}

void QueueManager::FlushAll() { impl_->ScheduleAll(true); }

}  // namespace mailport::queue
