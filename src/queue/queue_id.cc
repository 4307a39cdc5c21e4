#include "queue/queue_id.h"

#include <atomic>
#include <cstdint>
#include <random>

namespace mailport::queue {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr int kRandomBits = 6;
constexpr int kMicrosecondBits = 20;

// The last (seconds << 20 | microseconds) value handed out by this process.
std::atomic<uint64_t> last_timestamp{0};

uint64_t NowTimestamp() {
  auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(since_epoch)
          .count();
  auto seconds = static_cast<uint64_t>(micros / 1000000);
  auto fraction = static_cast<uint64_t>(micros % 1000000);
  return (seconds << kMicrosecondBits) | fraction;
}

// Returns a timestamp greater than every one returned before in this
// process.  When the clock has not moved on, the microsecond field counts
// up; 2^20 > 10^6, so carrying into the seconds field keeps the order.
uint64_t NextTimestamp() {
  uint64_t now = NowTimestamp();
  uint64_t previous = last_timestamp.load(std::memory_order_relaxed);
  uint64_t next;
  do {
    next = now > previous ? now : previous + 1;
  } while (!last_timestamp.compare_exchange_weak(previous, next,
                                                 std::memory_order_relaxed));
  return next;
}

int AlphabetIndex(char c) {
  for (int i = 0; i < 32; ++i) {
    if (kAlphabet[i] == c) return i;
  }
  return -1;
}

}  // namespace

std::string NewQueueId() {
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  uint64_t random_bits = generator() & ((1u << kRandomBits) - 1);
  uint64_t value = (NextTimestamp() << kRandomBits) | random_bits;

  std::string id(kQueueIdLength, '0');
  for (std::size_t i = kQueueIdLength; i-- > 0;) {
    id[i] = kAlphabet[value & 31];
    value >>= 5;
  }
  return id;
}

bool IsQueueId(std::string_view text) {
  if (text.size() != kQueueIdLength) return false;
  for (char c : text) {
    if (AlphabetIndex(c) < 0) return false;
  }
  return true;
}

std::chrono::system_clock::time_point QueueIdTime(std::string_view queue_id) {
  uint64_t value = 0;
  for (char c : queue_id) {
    value = (value << 5) | static_cast<uint64_t>(AlphabetIndex(c));
  }
  uint64_t timestamp = value >> kRandomBits;
  uint64_t seconds = timestamp >> kMicrosecondBits;
  uint64_t micros = timestamp & ((1u << kMicrosecondBits) - 1);
  return std::chrono::system_clock::time_point(
      std::chrono::microseconds(seconds * 1000000 + micros));
}

}  // namespace mailport::queue
