#include "egress/http.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "util/log.h"

namespace mailport::egress::http {
namespace {

constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
constexpr std::size_t kMaxBodyBytes = 64 * 1024;
constexpr auto kIdleTimeout = std::chrono::seconds(10);

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

std::string Lower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

void ParseQuery(std::string_view text,
                std::map<std::string, std::string>& out) {
  while (!text.empty()) {
    std::size_t end = text.find('&');
    std::string_view pair = text.substr(0, end);
    text = end == std::string_view::npos ? "" : text.substr(end + 1);
    std::size_t equals = pair.find('=');
    if (equals == std::string_view::npos) {
      out[UrlDecode(pair)] = "";
    } else {
      out[UrlDecode(pair.substr(0, equals))] =
          UrlDecode(pair.substr(equals + 1));
    }
  }
}

// Returns 0 when `head` parses, else the HTTP error status to send.
int ParseHead(std::string_view head, Request& request) {
  std::size_t line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  std::size_t first = line.find(' ');
  std::size_t second = line.rfind(' ');
  if (first == std::string_view::npos || second == first) return 400;
  request.method = line.substr(0, first);
  std::string_view target = line.substr(first + 1, second - first - 1);
  if (target.empty() || target.front() != '/') return 400;
  std::size_t question = target.find('?');
  request.path = UrlDecode(target.substr(0, question));
  if (question != std::string_view::npos) {
    ParseQuery(target.substr(question + 1), request.query);
  }
  std::string_view rest = head.substr(line_end + 2);
  while (!rest.empty()) {
    std::size_t end = rest.find("\r\n");
    std::string_view header = rest.substr(0, end);
    rest = end == std::string_view::npos ? "" : rest.substr(end + 2);
    if (header.empty()) continue;
    std::size_t colon = header.find(':');
    if (colon == std::string_view::npos) return 400;
    std::string_view value = header.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    request.headers[Lower(std::string(header.substr(0, colon)))] = value;
  }
  return 0;
}

std::string Serialize(const Response& response) {
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
      "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
      "Connection: close\r\n\r\n{}",
      response.status, ReasonPhrase(response.status), response.content_type,
      response.body.size(), response.body);
}

Response ErrorResponse(int status, std::string_view message) {
  return {status, "application/json",
          fmt::format("{{\"error\":\"{}\"}}", message)};
}

template <typename Socket>
asio::awaitable<void> ServeConnection(Socket socket, Handler& handler) {
  asio::steady_timer deadline(socket.get_executor());
  deadline.expires_after(kIdleTimeout);
  deadline.async_wait([&socket](std::error_code error) {
    if (!error) socket.close();
  });

  std::string buffer;
  Request request;
  Response response;
  std::size_t head_end;
  try {
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (buffer.size() > kMaxHeaderBytes) break;
      char chunk[4096];
      std::size_t count = co_await socket.async_read_some(asio::buffer(chunk),
                                                          asio::use_awaitable);
      buffer.append(chunk, count);
    }
    if (head_end == std::string::npos) {
      response = ErrorResponse(413, "request header too large");
    } else if (int status = ParseHead(buffer.substr(0, head_end), request)) {
      response = ErrorResponse(status, "malformed request");
    } else {
      std::size_t length = 0;
      if (auto it = request.headers.find("content-length");
          it != request.headers.end()) {
        length = std::strtoul(it->second.c_str(), nullptr, 10);
      }
      if (length > kMaxBodyBytes) {
        response = ErrorResponse(413, "request body too large");
      } else {
        request.body = buffer.substr(head_end + 4);
        while (request.body.size() < length) {
          char chunk[4096];
          std::size_t count = co_await socket.async_read_some(
              asio::buffer(chunk), asio::use_awaitable);
          request.body.append(chunk, count);
        }
        request.body.resize(length);
        response = handler(request);
      }
    }
    std::string output = Serialize(response);
    co_await asio::async_write(socket, asio::buffer(output),
                               asio::use_awaitable);
  } catch (const std::exception& error) {
    log::Debug("event=http-connection-error error={}", error.what());
  }
  deadline.cancel();
  std::error_code ignored;
  socket.close(ignored);
}

template <typename Acceptor>
asio::awaitable<void> AcceptLoop(Acceptor acceptor, Handler& handler) {
  for (;;) {
    try {
      auto socket = co_await acceptor.async_accept(asio::use_awaitable);
      asio::co_spawn(acceptor.get_executor(),
                     ServeConnection(std::move(socket), handler),
                     asio::detached);
    } catch (const std::system_error& error) {
      log::Warn("event=accept-failed error={}", error.what());
    }
  }
}

bool SplitHostPort(const std::string& address, std::string& host,
                   std::string& port) {
  std::size_t colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  host = address.substr(0, colon);
  port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return !host.empty() && !port.empty();
}

}  // namespace

Status Server::Listen(const std::string& address) {
  try {
    if (address.rfind("unix:", 0) == 0) {
      std::string path = address.substr(5);
      ::unlink(path.c_str());
      asio::local::stream_protocol::acceptor acceptor(
          context_, asio::local::stream_protocol::endpoint(path));
      ::chmod(path.c_str(), 0660);
      asio::co_spawn(context_, AcceptLoop(std::move(acceptor), handler_),
                     asio::detached);
      return Status::Ok();
    }
    std::string host, port;
    if (!SplitHostPort(address, host, port)) {
      return PermanentError(fmt::format(
          "invalid api_listen \"{}\": use unix:/path or ADDRESS:PORT",
          address));
    }
    asio::ip::tcp::endpoint endpoint(
        asio::ip::make_address(host),
        static_cast<unsigned short>(std::stoi(port)));
    if (!endpoint.address().is_loopback()) {
      log::Warn(
          "event=api-not-loopback address={}: the API then relies on "
          "tokens alone and carries them without TLS",
          address);
    }
    asio::ip::tcp::acceptor acceptor(context_, endpoint);
    asio::co_spawn(context_, AcceptLoop(std::move(acceptor), handler_),
                   asio::detached);
    return Status::Ok();
  } catch (const std::exception& error) {
    return PermanentError(
        fmt::format("cannot listen on {}: {}", address, error.what()));
  }
}

namespace {

template <typename Socket>
Result<Response> Exchange(Socket& socket, const std::string& text) {
  asio::write(socket, asio::buffer(text));
  std::string buffer;
  std::error_code error;
  char chunk[4096];
  for (;;) {
    std::size_t count = socket.read_some(asio::buffer(chunk), error);
    buffer.append(chunk, count);
    if (error) break;
  }
  if (error != asio::error::eof) {
    return TemporaryError(
        fmt::format("reading the response failed: {}", error.message()));
  }
  std::size_t head_end = buffer.find("\r\n\r\n");
  if (head_end == std::string::npos || buffer.size() < 12) {
    return TemporaryError("malformed HTTP response");
  }
  Response response;
  response.status = std::atoi(buffer.c_str() + 9);
  response.body = buffer.substr(head_end + 4);
  return response;
}

}  // namespace

Result<Response> Send(const std::string& address, const std::string& method,
                      const std::string& target, const std::string& token,
                      const std::string& body) {
  std::string text = fmt::format(
      "{} {} HTTP/1.1\r\nHost: egressd\r\nContent-Type: application/json\r\n"
      "Content-Length: {}\r\nConnection: close\r\n",
      method, target, body.size());
  if (!token.empty())
    text += fmt::format("Authorization: Bearer {}\r\n", token);
  text += "\r\n" + body;

  try {
    asio::io_context context;
    if (address.rfind("unix:", 0) == 0) {
      asio::local::stream_protocol::socket socket(context);
      socket.connect(asio::local::stream_protocol::endpoint(address.substr(5)));
      return Exchange(socket, text);
    }
    std::string host, port;
    if (!SplitHostPort(address, host, port)) {
      return PermanentError(fmt::format("invalid API address \"{}\"", address));
    }
    asio::ip::tcp::socket socket(context);
    socket.connect(
        asio::ip::tcp::endpoint(asio::ip::make_address(host),
                                static_cast<unsigned short>(std::stoi(port))));
    return Exchange(socket, text);
  } catch (const std::exception& error) {
    return TemporaryError(
        fmt::format("cannot reach egressd at {}: {}", address, error.what()));
  }
}

std::string UrlDecode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size()) {
      unsigned int value = 0;
      std::string digits(text.substr(i + 1, 2));
      if (std::sscanf(digits.c_str(), "%2x", &value) == 1) {
        out += static_cast<char>(value);
        i += 2;
      } else {
        out += '%';
      }
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string UrlEncode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace mailport::egress::http
