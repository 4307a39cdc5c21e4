// Queue ids: 12 characters of Crockford base-32 (digits and upper-case
// letters without I, L, O, U), so they are safe in file names and in log
// lines and sort in ASCII order by creation time.
//
// The 60 bits are, from the most significant: 34 bits of Unix seconds
// (enough until the year 2514), 20 bits of microseconds and 6 random bits.
// Within one process the (seconds, microseconds) part strictly increases,
// even when the clock does not advance or steps back, so one process never
// makes the same id twice.  The random bits separate processes that share
// a queue directory.  The spool additionally commits with a rename that
// fails on an existing name, so a live id is never overwritten.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace mailport::queue {

inline constexpr std::size_t kQueueIdLength = 12;

// Returns a new queue id.  Safe to call from several threads.
std::string NewQueueId();

// Returns true when `text` has the form of a queue id.
bool IsQueueId(std::string_view text);

// Returns the creation time encoded in `queue_id`.  REQUIRES: IsQueueId().
std::chrono::system_clock::time_point QueueIdTime(std::string_view queue_id);

}  // namespace mailport::queue
