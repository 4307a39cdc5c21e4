// A small HTTP/1.1 server and client for the egressd API, on standalone
// Asio with C++20 coroutines.
//
// One request per connection (every response carries Connection: close),
// bodies only with Content-Length (no chunked encoding), headers up to
// 16 KiB and bodies up to 64 KiB.  A client that sends more gets 413, and one
// that stalls for 10 seconds is disconnected.  The server listens on
// "unix:/path" or "ADDRESS:PORT" and runs the handler on the io_context
// thread.
#pragma once

#include <asio.hpp>
#include <functional>
#include <map>
#include <string>

#include "util/result.h"

namespace mailport::egress::http {

struct Request {
  std::string method;
  std::string path;  // without the query
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

using Handler = std::function<Response(const Request&)>;

class Server {
 public:
  Server(asio::io_context& context, Handler handler)
      : context_(context), handler_(std::move(handler)) {}
  // Binds the listener; a Unix socket path is replaced and made 0660.
  Status Listen(const std::string& address);

 private:
  asio::io_context& context_;
  Handler handler_;
};

// Sends one request and returns the response, blocking.  `address` is as
// for Server::Listen.
Result<Response> Send(const std::string& address, const std::string& method,
                      const std::string& target, const std::string& token,
                      const std::string& body);

std::string UrlDecode(std::string_view text);
std::string UrlEncode(std::string_view text);

}  // namespace mailport::egress::http
