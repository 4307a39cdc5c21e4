// Wall clock used for ticket key rotation and session cache expiry.  Tests
// pass their own function to move time without sleeping.
#pragma once

#include <chrono>
#include <functional>

namespace mailport::tls {

using Clock = std::function<std::chrono::system_clock::time_point()>;

inline Clock SystemClock() {
  return [] { return std::chrono::system_clock::now(); };
}

}  // namespace mailport::tls
