// Awaitable bridge from a session's strand to the queue's disk thread.
#pragma once

#include <asio.hpp>
#include <memory>
#include <string>

#include "queue/spool.h"

namespace mailport::server {

struct StoreOutcome {
  bool ok = false;
  std::string queue_id;
  std::string error_message;
};

// Submits a message to `commit_queue` and completes, on the caller's
// executor, once the message is durable or the write failed.
template <typename Token = asio::use_awaitable_t<>>
auto AsyncStore(queue::CommitQueue& commit_queue,
                queue::Envelope envelope,  // NOLINT(performance-*): moved
                std::string message,       // NOLINT(performance-*): moved
                Token&& token = {}) {
  return asio::async_initiate<Token, void(StoreOutcome)>(
      [&commit_queue](auto handler, queue::Envelope envelope,
                      std::string message) {
        auto executor = asio::get_associated_executor(handler);
        auto work = asio::make_work_guard(executor);
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        commit_queue.Submit(
            std::move(envelope), std::move(message),
            [shared, executor, work](Result<std::string> result) mutable {
              StoreOutcome outcome;
              if (result.ok()) {
                outcome.ok = true;
                outcome.queue_id = std::move(result.value());
              } else {
                outcome.error_message = result.error().message;
              }
              asio::post(executor,
                         [shared, outcome = std::move(outcome)]() mutable {
                           (*shared)(std::move(outcome));
                         });
              work.reset();
            });
      },
      token, std::move(envelope), std::move(message));
}

}  // namespace mailport::server
