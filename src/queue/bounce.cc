#include "queue/bounce.h"

#include <fmt/format.h>

#include <ctime>

namespace mailport::queue {
namespace {

// Returns the header section of `content`, each line ending in CRLF.
std::string OriginalHeaders(std::string_view content) {
  std::string headers;
  while (!content.empty()) {
    auto newline = content.find('\n');
    std::string_view line = content.substr(0, newline);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    headers += line;
    headers += "\r\n";
    if (newline == std::string_view::npos) break;
    content.remove_prefix(newline + 1);
  }
  return headers;
}

bool HasEightBit(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

// Removes line breaks so that a reason from a remote server cannot start
// a new header or part.
std::string SingleLine(std::string_view text) {
  std::string out;
  for (char c : text) out += (c == '\r' || c == '\n') ? ' ' : c;
  return out;
}

std::string DiagnosticCode(const FailedRecipient& recipient) {
  // "smtp" marks a reply of a remote SMTP server (RFC 3464 section 2.3.6);
  // local outcomes use an extension type.
  bool remote = recipient.relay != "local" && recipient.relay != "none";
  return fmt::format("{}; {}", remote ? "smtp" : "X-mailport",
                     SingleLine(recipient.detail));
}

}  // namespace

std::string FormatRfc5322Date(std::chrono::system_clock::time_point time) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed",
                                          "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr",
                                            "May", "Jun", "Jul", "Aug",
                                            "Sep", "Oct", "Nov", "Dec"};
  std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{}, {:02d} {} {} {:02d}:{:02d}:{:02d} +0000",
                     kDays[utc.tm_wday], utc.tm_mday, kMonths[utc.tm_mon],
                     utc.tm_year + 1900, utc.tm_hour, utc.tm_min, utc.tm_sec);
}

std::pair<Envelope, std::string> BuildBounce(
    const config::GlobalSettings& settings, const Envelope& original,
    std::string_view content, const std::vector<FailedRecipient>& failed,
    std::chrono::system_clock::time_point now) {
  std::string hostname =
      settings.myhostname.empty() ? "localhost" : settings.myhostname;
  std::string boundary =
      fmt::format("{}.{}/{}", original.queue_id,
                  std::chrono::system_clock::to_time_t(now), hostname);
  std::string headers = OriginalHeaders(content);
  bool eight_bit = HasEightBit(headers);

  std::string out;
  out += fmt::format("From: {}@{} (Mail Delivery System)\r\n",
                     settings.bounce_sender, hostname);
  out += fmt::format("To: <{}>\r\n", original.sender);
  out += "Subject: Undelivered Mail Returned to Sender\r\n";
  out += fmt::format("Date: {}\r\n", FormatRfc5322Date(now));
  out += fmt::format("Message-ID: <{}.{}.bounce@{}>\r\n", original.queue_id,
                     std::chrono::system_clock::to_time_t(now), hostname);
  out += "Auto-Submitted: auto-replied\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += fmt::format(
      "Content-Type: multipart/report; report-type=delivery-status;\r\n"
      "\tboundary=\"{}\"\r\n",
      boundary);
  out += "\r\n";
  out += "This is a MIME-encapsulated message.\r\n\r\n";

  out += fmt::format("--{}\r\n", boundary);
  out += "Content-Description: Notification\r\n";
  out += "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
  out += fmt::format(
      "The mail system at {} could not deliver your message to one or\r\n"
      "more recipients.  Each failed recipient is listed below with the\r\n"
      "reason.\r\n\r\n",
      hostname);
  for (const auto& recipient : failed) {
    out += fmt::format("<{}>: {}\r\n", recipient.address,
                       SingleLine(recipient.detail));
  }
  out += "\r\n";

  out += fmt::format("--{}\r\n", boundary);
  out += "Content-Description: Delivery report\r\n";
  out += "Content-Type: message/delivery-status\r\n\r\n";
  out += fmt::format("Reporting-MTA: dns; {}\r\n", hostname);
  out += fmt::format("X-Mailport-Queue-ID: {}\r\n", original.queue_id);
  out += fmt::format("X-Mailport-Sender: rfc822; {}\r\n", original.sender);
  out += fmt::format("Arrival-Date: {}\r\n",
                     FormatRfc5322Date(original.arrival_time));
  for (const auto& recipient : failed) {
    out += "\r\n";
    out += fmt::format("Final-Recipient: rfc822; {}\r\n", recipient.address);
    out += "Action: failed\r\n";
    out += fmt::format("Status: {}\r\n", recipient.dsn);
    out += fmt::format("Diagnostic-Code: {}\r\n", DiagnosticCode(recipient));
    out += fmt::format("Last-Attempt-Date: {}\r\n", FormatRfc5322Date(now));
  }
  out += "\r\n";

  out += fmt::format("--{}\r\n", boundary);
  out += "Content-Description: Undelivered Message Headers\r\n";
  out += "Content-Type: text/rfc822-headers\r\n";
  if (eight_bit) out += "Content-Transfer-Encoding: 8bit\r\n";
  out += "\r\n";
  out += headers;
  out += "\r\n";
  out += fmt::format("--{}--\r\n", boundary);

  Envelope envelope;
  envelope.sender = "";
  envelope.recipients = {original.sender};
  envelope.client_name = "localhost";
  envelope.client_address = "127.0.0.1";
  envelope.helo_name = hostname;
  envelope.protocol = "local";
  envelope.body_type = eight_bit ? "8BITMIME" : "7BIT";
  envelope.arrival_time = now;
  return {std::move(envelope), std::move(out)};
}

}  // namespace mailport::queue
