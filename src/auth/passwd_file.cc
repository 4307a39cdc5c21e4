#include "auth/passwd_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <string>
#include <utility>

#include "auth/internal.h"
#include "util/fs.h"
#include "util/log.h"

namespace mailport::auth {
namespace {

constexpr std::string_view kLineFormat =
    "user:password[:uid:gid:gecos:home:shell:extra]";

bool IsCommentOrBlank(std::string_view line) {
  std::size_t first = line.find_first_not_of(" \t");
  return first == std::string_view::npos || line[first] == '#';
}

// The name field of a user line, or nullopt for comments and blanks.
std::optional<std::string_view> LineUserName(std::string_view line) {
  if (IsCommentOrBlank(line)) return std::nullopt;
  return line.substr(0, line.find(':'));
}

// Splits `line` at ':' into at most `max_fields` fields; the last one keeps
// any further colons, as Dovecot's extra field does.
std::vector<std::string_view> SplitFields(std::string_view line,
                                          std::size_t max_fields) {
  std::vector<std::string_view> fields;
  while (fields.size() + 1 < max_fields) {
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) break;
    fields.push_back(line.substr(0, colon));
    line.remove_prefix(colon + 1);
  }
  fields.push_back(line);
  return fields;
}

std::string Location(const std::filesystem::path& path, std::size_t line) {
  return path.string() + ":" + std::to_string(line);
}

// Text of a warning for a user that cannot log in, or empty when the hash
// status does not need one (usable or deliberately locked).
std::string HashWarning(const HashInfo& info, std::string_view name) {
  std::string fix =
      "; it cannot log in until a new password is set with "
      "`mailport user passwd " +
      std::string(name) + "`";
  std::string quoted = "user \"" + log::Sanitize(name) + "\"";
  switch (info.status) {
    case HashStatus::kUsable:
    case HashStatus::kLocked:
      return "";
    case HashStatus::kEmpty:
      return quoted + " has an empty password field" + fix;
    case HashStatus::kWeak:
      return quoted + " has a weak " + info.scheme + " hash" + fix;
    case HashStatus::kUnknown:
      return quoted + " has a hash of unsupported scheme (" + info.scheme +
             ")" + fix;
  }
  return "";
}

// Holds an exclusive flock(2) on PATH.lock while a writer re-reads and
// replaces the file.
class WriterLock {
 public:
  ~WriterLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Acquire(const std::filesystem::path& path) {
    std::filesystem::path lock_path = path;
    lock_path += ".lock";
    fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      return TemporaryError("open of lock file " + lock_path.string() +
                            " failed: " + fs::ErrnoText(errno));
    }
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      return TemporaryError("flock of " + lock_path.string() +
                            " failed: " + fs::ErrnoText(errno));
    }
    return Status::Ok();
  }

 private:
  int fd_ = -1;
};

}  // namespace

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Status ValidateUserName(std::string_view name) {
  const std::string fix =
      "; use a bare name such as alice or an address such as "
      "alice@example.test";
  if (name.empty())
    return PermanentError("invalid user name: it is empty" + fix);
  std::string quoted = "invalid user name \"" + log::Sanitize(name, 64) + "\"";
  if (name.size() > kMaxUserNameLength) {
    return PermanentError(quoted + ": it is " + std::to_string(name.size()) +
                          " bytes long, more than the maximum of " +
                          std::to_string(kMaxUserNameLength) + fix);
  }
  if (name.front() == '#') {
    return PermanentError(
        quoted + ": it starts with '#', which marks a comment line" + fix);
  }
  for (char c : name) {
    auto byte = static_cast<unsigned char>(c);
    if (c == ':') {
      return PermanentError(
          quoted + ": it contains ':', which separates passwd-file fields" +
          fix);
    }
    if (c == ' ' || c == '\t') {
      return PermanentError(quoted + ": it contains whitespace" + fix);
    }
    if (byte < 0x20 || byte == 0x7f) {
      return PermanentError(quoted + ": it contains a control character" + fix);
    }
  }
  return Status::Ok();
}

Status ValidatePassword(std::string_view password) {
  if (password.empty()) {
    return PermanentError(
        "invalid password: it is empty; give a password "
        "of at least one character");
  }
  if (password.size() > kMaxPasswordLength) {
    return PermanentError(
        "invalid password: it is " + std::to_string(password.size()) +
        " bytes long, more than the maximum of " +
        std::to_string(kMaxPasswordLength) + "; choose a shorter password");
  }
  if (password.find('\0') != std::string_view::npos) {
    return PermanentError(
        "invalid password: it contains a NUL byte, which "
        "SASL cannot carry; choose a password without it");
  }
  if (password.find_first_of("\r\n") != std::string_view::npos) {
    return PermanentError(
        "invalid password: it contains a line break (CR or "
        "LF); a password must be a single line");
  }
  return Status::Ok();
}

Result<PasswdFile::Stamp> PasswdFile::StatFile(
    const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return Stamp{};
    return TemporaryError("stat of " + path.string() +
                          " failed: " + fs::ErrnoText(errno));
  }
  return Stamp{true, info.st_dev, info.st_ino,
               info.st_mtim.tv_sec * 1000000000LL + info.st_mtim.tv_nsec,
               static_cast<std::uintmax_t>(info.st_size)};
}

Result<PasswdFile> PasswdFile::Load(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      PasswdFile empty;
      empty.path_ = path;
      return empty;
    }
    return TemporaryError("open of passwd-file " + path.string() +
                          " failed: " + fs::ErrnoText(errno));
  }

  // The stamp comes from the descriptor that is read, so it describes
  // exactly the content parsed even if the file is replaced meanwhile.
  struct stat info {};
  std::string content;
  bool failed = ::fstat(fd, &info) != 0;
  char buffer[65536];
  while (!failed) {
    ssize_t count = ::read(fd, buffer, sizeof buffer);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) failed = true;
    if (count <= 0) break;
    content.append(buffer, static_cast<std::size_t>(count));
  }
  int saved_errno = errno;
  ::close(fd);
  if (failed) {
    return TemporaryError("read of passwd-file " + path.string() +
                          " failed: " + fs::ErrnoText(saved_errno));
  }

  Stamp stamp{true, info.st_dev, info.st_ino,
              info.st_mtim.tv_sec * 1000000000LL + info.st_mtim.tv_nsec,
              static_cast<std::uintmax_t>(info.st_size)};
  return Parse(path, content, stamp);
}

Result<PasswdFile> PasswdFile::Parse(const std::filesystem::path& path,
                                     std::string_view content, Stamp stamp) {
  PasswdFile file;
  file.path_ = path;
  file.stamp_ = stamp;

  std::size_t number = 0;
  while (!content.empty()) {
    std::size_t end = content.find('\n');
    std::string_view line = content.substr(0, end);
    content.remove_prefix(end == std::string_view::npos ? content.size()
                                                        : end + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    ++number;
    file.lines_.emplace_back(line);
    if (IsCommentOrBlank(line)) continue;

    std::vector<std::string_view> fields = SplitFields(line, 8);
    if (fields.size() < 2) {
      return PermanentError(Location(path, number) +
                            ": invalid line: expected " +
                            std::string(kLineFormat));
    }
    std::string_view name = fields[0];
    if (name.empty()) {
      return PermanentError(Location(path, number) +
                            ": invalid line: the user name is empty");
    }
    if (Status valid = ValidateUserName(name); !valid) {
      file.warnings_.push_back(Location(path, number) + ": " +
                               valid.error().message +
                               "; this line is ignored");
      continue;
    }

    std::string key = AsciiLower(name);
    if (auto first = file.index_.find(key); first != file.index_.end()) {
      file.warnings_.push_back(Location(path, number) + ": duplicate user \"" +
                               log::Sanitize(name) +
                               "\"; this line is ignored because an earlier "
                               "line defines the same user");
      continue;
    }

    std::string hash_warning = HashWarning(ClassifyHash(fields[1]), name);
    if (!hash_warning.empty()) {
      file.warnings_.push_back(Location(path, number) + ": " + hash_warning);
    }
    User user{std::string(name), std::string(fields[1]),
              fields.size() > 5 ? std::string(fields[5]) : std::string()};
    file.index_.emplace(std::move(key), file.users_.size());
    file.users_.push_back(std::move(user));
  }
  return file;
}

std::optional<User> PasswdFile::Find(std::string_view name) const {
  auto found = index_.find(AsciiLower(name));
  if (found == index_.end()) return std::nullopt;
  return users_[found->second];
}

std::optional<User> PasswdFile::FindRecipient(std::string_view local_part,
                                              std::string_view domain) const {
  if (!domain.empty()) {
    std::string address(local_part);
    address += '@';
    address += domain;
    if (auto user = Find(address)) return user;
  }
  return Find(local_part);
}

std::string PasswdFile::Serialize() const {
  std::string out;
  for (const std::string& line : lines_) {
    out += line;
    out += '\n';
  }
  return out;
}

Status PasswdFile::Save() const {
  // Keep the mode an operator chose (for example 0640 with the daemon's
  // group), but never world-readable; a new file is 0600.
  struct stat old {};
  bool existed = ::stat(path_.c_str(), &old) == 0;
  unsigned mode = existed ? ((old.st_mode & 0640) | 0600) : 0600;

  if (Status written = fs::WriteFileDurably(path_, Serialize(), mode);
      !written) {
    return written;
  }

  // The replacement is owned by the writing process.  Restoring the old
  // owner keeps the file readable for a daemon that reads it via its group.
  struct stat now {};
  if (existed && ::stat(path_.c_str(), &now) == 0 &&
      (now.st_uid != old.st_uid || now.st_gid != old.st_gid) &&
      ::chown(path_.c_str(), old.st_uid, old.st_gid) != 0) {
    return TemporaryError(
        "wrote " + path_.string() + " but could not restore its owner " +
        std::to_string(old.st_uid) + ":" + std::to_string(old.st_gid) + ": " +
        fs::ErrnoText(errno));
  }
  return Status::Ok();
}

template <typename Change>
Status PasswdFile::Modify(Change change) {
  WriterLock lock;
  if (Status locked = lock.Acquire(path_); !locked) return locked;

  // Another writer may have changed the file since this copy was loaded.
  Result<PasswdFile> fresh = Load(path_);
  if (!fresh) return fresh.error();
  if (Status changed = change(*fresh); !changed) return changed;

  std::string content = fresh->Serialize();
  Result<PasswdFile> parsed = Parse(path_, content, Stamp{});
  if (!parsed) return parsed.error();
  if (Status saved = parsed->Save(); !saved) return saved;

  Result<Stamp> stamp = StatFile(path_);
  if (stamp) parsed->stamp_ = *stamp;
  *this = std::move(parsed).value();
  return Status::Ok();
}

Status PasswdFile::SetPassword(std::string_view name,
                               std::string_view password) {
  if (Status valid = ValidateUserName(name); !valid) return valid;
  Result<std::string> hash = HashPassword(password);
  if (!hash) return hash.error();

  return Modify([&](PasswdFile& file) -> Status {
    std::string key = AsciiLower(name);
    for (std::string& line : file.lines_) {
      std::optional<std::string_view> line_name = LineUserName(line);
      if (!line_name || AsciiLower(*line_name) != key) continue;
      // Replace only the password field; uid, gid, home and the rest stay.
      std::size_t first = line.find(':');
      std::size_t second = line.find(':', first + 1);
      std::string rest =
          second == std::string::npos ? std::string() : line.substr(second);
      line = line.substr(0, first + 1) + *hash + rest;
      return Status::Ok();
    }
    file.lines_.push_back(std::string(name) + ":" + *hash);
    return Status::Ok();
  });
}

Status PasswdFile::Add(std::string_view name, std::string_view password) {
  if (Status valid = ValidateUserName(name); !valid) return valid;
  Result<std::string> hash = HashPassword(password);
  if (!hash) return hash.error();

  return Modify([&](PasswdFile& file) -> Status {
    if (auto existing = file.Find(name)) {
      return PermanentError("user \"" + existing->name +
                            "\" already exists in " + file.path_.string() +
                            "; use `mailport user passwd` to change its "
                            "password");
    }
    file.lines_.push_back(std::string(name) + ":" + *hash);
    return Status::Ok();
  });
}

Status PasswdFile::Remove(std::string_view name) {
  return Modify([&](PasswdFile& file) -> Status {
    std::string key = AsciiLower(name);
    std::size_t before = file.lines_.size();
    std::erase_if(file.lines_, [&](const std::string& line) {
      std::optional<std::string_view> line_name = LineUserName(line);
      return line_name && AsciiLower(*line_name) == key;
    });
    if (file.lines_.size() == before) {
      return PermanentError("user \"" + log::Sanitize(name) +
                            "\" not found in " + file.path_.string());
    }
    return Status::Ok();
  });
}

}  // namespace mailport::auth
