#include "server/rate_limiter.h"

namespace mailport::server {

bool RateLimiter::Allow(const std::string& key, Clock::time_point now) {
  if (limit_ <= 0) return true;
  std::lock_guard lock(mutex_);
  if (now - last_sweep_ >= window_) ForgetExpired(now);

  Window& window = windows_[key];
  if (window.count == 0 || now - window.start >= window_) {
    window.start = now;
    window.count = 0;
  }
  ++window.count;
  return window.count <= limit_;
}

void RateLimiter::ForgetExpired(Clock::time_point now) {
  for (auto it = windows_.begin(); it != windows_.end();) {
    if (now - it->second.start >= window_) {
      it = windows_.erase(it);
    } else {
      ++it;
    }
  }
  last_sweep_ = now;
}

}  // namespace mailport::server
