#include "delivery/maildir.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>

#include "util/fs.h"

namespace mailport::delivery {
namespace {

namespace stdfs = std::filesystem;
using queue::DeliveryOutcome;

std::atomic<uint64_t> delivery_counter{0};

std::string ToLower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return out;
}

// maildir(5) reserves '/' and ':' in names, so they are written as octal.
std::string MaildirHostname(std::string_view hostname) {
  std::string out;
  for (char c : hostname) {
    if (c == '/') {
      out += "\\057";
    } else if (c == ':') {
      out += "\\072";
    } else {
      out += c;
    }
  }
  return out.empty() ? "localhost" : out;
}

std::string UniqueName(const std::string& hostname) {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  return fmt::format("{}.M{}P{}Q{}.{}", micros / 1000000, micros % 1000000,
                     ::getpid(), ++delivery_counter, MaildirHostname(hostname));
}

// Converts CRLF line ends to LF.  A lone CR or LF is kept as it is.
std::string ToUnixLineEnds(std::string_view prefix, std::string_view content) {
  std::string out;
  out.reserve(prefix.size() + content.size());
  for (std::string_view part : {prefix, content}) {
    for (std::size_t i = 0; i < part.size(); ++i) {
      if (part[i] == '\r' && i + 1 < part.size() && part[i + 1] == '\n') {
        continue;
      }
      out += part[i];
    }
  }
  return out;
}

Status WriteSynced(const stdfs::path& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return TemporaryError("create " + path.string() +
                          " failed: " + fs::ErrnoText(errno));
  }
  if (!fs::WriteAll(fd, data) || ::fsync(fd) != 0) {
    int saved_errno = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return TemporaryError("write " + path.string() +
                          " failed: " + fs::ErrnoText(saved_errno));
  }
  if (::close(fd) != 0) {
    int saved_errno = errno;
    ::unlink(path.c_str());
    return TemporaryError("close " + path.string() +
                          " failed: " + fs::ErrnoText(saved_errno));
  }
  return Status::Ok();
}

// Returns true when the header section of `content` has a Delivered-To
// field for `recipient`, which means the message has looped back here.
bool HasDeliveredTo(std::string_view content, std::string_view recipient) {
  std::string expected = ToLower(recipient);
  while (!content.empty()) {
    auto newline = content.find('\n');
    std::string_view line = content.substr(0, newline);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) return false;
    constexpr std::string_view kField = "delivered-to:";
    if (line.size() > kField.size() &&
        ToLower(line.substr(0, kField.size())) == kField) {
      std::string value = ToLower(line.substr(kField.size()));
      auto start = value.find_first_not_of(" \t<");
      auto end = value.find_last_not_of(" \t>");
      if (start != std::string::npos &&
          value.substr(start, end - start + 1) == expected) {
        return true;
      }
    }
    if (newline == std::string_view::npos) return false;
    content.remove_prefix(newline + 1);
  }
  return false;
}

// A passwd-file name becomes one path component under mailbox_base.
bool IsSafePathComponent(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

DeliveryOutcome Outcome(DeliveryOutcome::Status status, std::string dsn,
                        std::string detail) {
  return DeliveryOutcome{status, std::move(dsn), "local", std::move(detail)};
}

}  // namespace

Result<std::filesystem::path> DeliverToMaildir(
    const std::filesystem::path& directory, std::string_view prefix_headers,
    std::string_view content, const std::string& hostname) {
  std::error_code error;
  bool new_mailbox = !stdfs::is_directory(directory / "new", error);
  for (const char* subdirectory : {"cur", "new", "tmp"}) {
    Status created = fs::CreateDirectories(directory / subdirectory, 0700);
    if (!created) return created.error();
  }
  // A new Maildir's own entries must be durable too, or the first message
  // could vanish with its directory after a power loss.
  if (new_mailbox) {
    for (const auto& parent : {directory, directory.parent_path()}) {
      Status synced = fs::SyncDirectory(parent);
      if (!synced) return synced.error();
    }
  }

  std::string data = ToUnixLineEnds(prefix_headers, content);
  std::string unique = UniqueName(hostname);
  stdfs::path temporary = directory / "tmp" / unique;
  stdfs::path target =
      directory / "new" / fmt::format("{},S={}", unique, data.size());

  Status written = WriteSynced(temporary, data);
  if (!written) return written.error();
  if (::renameat2(AT_FDCWD, temporary.c_str(), AT_FDCWD, target.c_str(),
                  RENAME_NOREPLACE) != 0) {
    int saved_errno = errno;
    ::unlink(temporary.c_str());
    return TemporaryError("rename to " + target.string() +
                          " failed: " + fs::ErrnoText(saved_errno));
  }
  Status synced = fs::SyncDirectory(directory / "new");
  if (!synced) return synced.error();
  return target;
}

MaildirTransport::MaildirTransport(const config::GlobalSettings& settings,
                                   std::shared_ptr<auth::UserDatabase> users)
    : settings_(settings), users_(std::move(users)) {}

bool MaildirTransport::IsLocalDomain(std::string_view domain) const {
  std::string normalized = ToLower(domain);
  if (!normalized.empty() && normalized.back() == '.') normalized.pop_back();
  if (normalized.empty()) return true;
  return std::any_of(settings_.mydestination.begin(),
                     settings_.mydestination.end(),
                     [&normalized](const std::string& destination) {
                       return ToLower(destination) == normalized;
                     });
}

bool MaildirTransport::IsLocalRecipient(std::string_view recipient) {
  return MailboxFor(recipient).ok();
}

Result<std::filesystem::path> MaildirTransport::MailboxFor(
    std::string_view recipient) {
  auto at = recipient.rfind('@');
  std::string_view local_part = recipient.substr(0, at);
  std::string domain;
  if (at != std::string_view::npos) {
    domain = ToLower(recipient.substr(at + 1));
    if (!domain.empty() && domain.back() == '.') domain.pop_back();
  }
  if (!IsLocalDomain(domain)) {
    return PermanentError("domain " + domain + " is not in mydestination");
  }
  if (local_part.empty()) return PermanentError("empty local part");

  std::optional<auth::User> user;
  if (users_) user = users_->FindRecipient(local_part, domain);
  if (!user) {
    // A database that cannot be read must not turn into "unknown user"
    // bounces for real users.
    Status loaded = users_ ? users_->Reload() : Status::Ok();
    if (!loaded) {
      return TemporaryError("user database not available: " +
                            loaded.error().message);
    }
    return PermanentError("unknown user");
  }

  const std::string& home_mailbox = settings_.home_mailbox;
  if (home_mailbox.empty() || home_mailbox.back() != '/') {
    return TemporaryError("home_mailbox = " + home_mailbox +
                          " is not a Maildir (it must end in '/'); mbox "
                          "delivery is not supported");
  }
  if (!user->home.empty()) {
    if (user->home.front() != '/') {
      return TemporaryError("home directory " + user->home + " of user " +
                            user->name + " is not an absolute path");
    }
    return stdfs::path(user->home) / home_mailbox;
  }
  if (settings_.mailbox_base.empty()) {
    return TemporaryError("user " + user->name +
                          " has no home directory and mailbox_base is not "
                          "set");
  }
  if (!IsSafePathComponent(user->name)) {
    return TemporaryError("user name " + user->name +
                          " cannot be used as a directory name under "
                          "mailbox_base");
  }
  return settings_.mailbox_base / user->name / home_mailbox;
}

queue::DeliveryOutcome MaildirTransport::Deliver(
    const queue::Envelope& envelope, const std::string& recipient,
    std::string_view content) {
  auto mailbox = MailboxFor(recipient);
  if (!mailbox) {
    if (mailbox.error().temporary) {
      return Outcome(DeliveryOutcome::Status::kDeferred, "4.3.0",
                     mailbox.error().message);
    }
    return Outcome(DeliveryOutcome::Status::kBounced, "5.1.1",
                   "<" + recipient + ">: " + mailbox.error().message);
  }

  // RFC 5321 section 4.4 puts Return-Path at the final delivery; a
  // Delivered-To for this recipient already present is a forwarding loop.
  if (HasDeliveredTo(content, recipient)) {
    return Outcome(DeliveryOutcome::Status::kBounced, "5.4.6",
                   "mail forwarding loop for <" + recipient + ">");
  }
  std::string prefix = fmt::format("Return-Path: <{}>\r\nDelivered-To: {}\r\n",
                                   envelope.sender, recipient);

  auto delivered =
      DeliverToMaildir(*mailbox, prefix, content, settings_.myhostname);
  if (!delivered) {
    return Outcome(DeliveryOutcome::Status::kDeferred, "4.3.0",
                   "cannot deliver to maildir: " + delivered.error().message);
  }
  return Outcome(DeliveryOutcome::Status::kSent, "2.0.0",
                 "delivered to maildir");
}

}  // namespace mailport::delivery
