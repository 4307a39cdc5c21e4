// Delivery status notifications (bounces) for recipients that failed.
//
// The report is a multipart/report (RFC 6522) with three parts: a plain
// text explanation, a message/delivery-status part with one per-recipient
// block (RFC 3464 section 2.3), and the headers of the original message as
// text/rfc822-headers.  The bounce is sent from the null reverse-path, so
// that it never causes another bounce (RFC 5321 section 4.5.5), and it
// carries Auto-Submitted: auto-replied (RFC 3834).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/settings.h"
#include "queue/envelope.h"

namespace mailport::queue {

struct FailedRecipient {
  std::string address;
  std::string dsn;     // "5.1.1", "4.4.7" for an expired message
  std::string relay;   // as in DeliveryOutcome; "local", "none" or a host
  std::string detail;  // reason, without line breaks
};

// Builds the envelope and content of the bounce for `original`, whose
// content is `content`.  REQUIRES: !original.sender.empty(), since mail
// from the null sender is never bounced.
std::pair<Envelope, std::string> BuildBounce(
    const config::GlobalSettings& settings, const Envelope& original,
    std::string_view content, const std::vector<FailedRecipient>& failed,
    std::chrono::system_clock::time_point now);

// Formats `time` as an RFC 5322 date-time in UTC.
std::string FormatRfc5322Date(std::chrono::system_clock::time_point time);

}  // namespace mailport::queue
