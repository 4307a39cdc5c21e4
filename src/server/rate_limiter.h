// Per-client event counting in fixed time windows, as Postfix's anvil(8)
// does for smtpd_client_*_rate_limit.
//
// Allow(key) counts one event for `key` (a client address) and returns
// false once the key has had more than `limit` events in its current
// window of `window` length.  A key's window starts with its first event.
// Safe to call from several threads.  The table drops expired keys, so its
// size is bounded by the clients seen within one window.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace mailport::server {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // `limit` 0 means no limit: Allow() always returns true.
  RateLimiter(int limit, Clock::duration window)
      : limit_(limit), window_(window) {}

  bool Allow(const std::string& key, Clock::time_point now = Clock::now());

 private:
  struct Window {
    Clock::time_point start;
    int count = 0;
  };

  void ForgetExpired(Clock::time_point now);

  const int limit_;
  const Clock::duration window_;
  std::mutex mutex_;
  std::unordered_map<std::string, Window> windows_;  // guarded by mutex_
  Clock::time_point last_sweep_{};                   // guarded by mutex_
};

}  // namespace mailport::server
