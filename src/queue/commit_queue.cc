#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "queue/spool.h"

namespace mailport::queue {

struct CommitQueue::Impl {
  struct Submission {
    Envelope envelope;
    std::string message;
    Callback done;
  };

  explicit Impl(Spool& spool) : spool_(spool) {}
  void Run();

  Spool& spool_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Submission> waiting_;  // guarded by mutex_
  bool stopping_ = false;           // guarded by mutex_
  std::thread thread_;
};

// Takes every submission that arrived while the previous batch was on the
// disk, so that under load one directory fsync serves many messages.
void CommitQueue::Impl::Run() {
  while (true) {
    std::deque<Submission> batch;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
      if (waiting_.empty()) return;
      batch.swap(waiting_);
    }

    std::vector<std::pair<Envelope, std::string>> messages;
    messages.reserve(batch.size());
    for (auto& submission : batch) {
      messages.emplace_back(std::move(submission.envelope),
                            std::move(submission.message));
    }
    auto results = spool_.StoreBatch(std::move(messages));
    for (std::size_t i = 0; i < batch.size(); ++i) {
      batch[i].done(std::move(results[i]));
    }
  }
}

CommitQueue::CommitQueue(Spool& spool) : impl_(std::make_unique<Impl>(spool)) {
  impl_->thread_ = std::thread([this] { impl_->Run(); });
}

CommitQueue::~CommitQueue() {
  {
    std::lock_guard lock(impl_->mutex_);
    impl_->stopping_ = true;
  }
  impl_->wake_.notify_one();
  impl_->thread_.join();
}

void CommitQueue::Submit(Envelope envelope, std::string message,
                         Callback done) {
  {
    std::lock_guard lock(impl_->mutex_);
    impl_->waiting_.push_back(
        {std::move(envelope), std::move(message), std::move(done)});
  }
  impl_->wake_.notify_one();
}

}  // namespace mailport::queue
