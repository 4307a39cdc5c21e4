// The envelope of a queued message: the SMTP transaction's sender,
// recipients and client details, apart from the message content itself.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace mailport::queue {

struct Envelope {
  std::string queue_id;  // assigned by Spool::Store
  std::string sender;    // reverse-path without brackets; "" = null sender
  std::vector<std::string> recipients;  // forward-paths without brackets
  std::string client_name;              // "localhost" or "unknown"
  std::string client_address;           // "127.0.0.1"
  std::string helo_name;
  std::string sasl_username;  // empty when not authenticated
  std::string protocol;       // "ESMTPSA", "ESMTPS", "SMTP", ...
  std::string body_type;      // "7BIT" or "8BITMIME"
  std::chrono::system_clock::time_point arrival_time;
};

}  // namespace mailport::queue
