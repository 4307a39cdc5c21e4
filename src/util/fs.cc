#include "util/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace mailport::fs {
namespace {

std::string TemporaryName(const std::filesystem::path& path) {
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  return "." + path.filename().string() + ".tmp" +
         std::to_string(generator() % 1000000000);
}

}  // namespace

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(written));
  }
  return true;
}

std::string ErrnoText(int error_number) {
  char buffer[256];
  // GNU strerror_r returns the message, which may not be `buffer`.
  return ::strerror_r(error_number, buffer, sizeof buffer);
}

Status SyncDirectory(const std::filesystem::path& directory) {
  int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return TemporaryError("open directory " + directory.string() +
                          " failed: " + ErrnoText(errno));
  }
  int result = ::fsync(fd);
  int saved_errno = errno;
  ::close(fd);
  if (result != 0) {
    return TemporaryError("fsync of directory " + directory.string() +
                          " failed: " + ErrnoText(saved_errno));
  }
  return Status::Ok();
}

Status WriteFileDurably(const std::filesystem::path& path,
                        std::string_view data, unsigned mode) {
  std::filesystem::path directory = path.parent_path();
  if (directory.empty()) directory = ".";
  std::filesystem::path temporary = directory / TemporaryName(path);

  int fd =
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return TemporaryError("create " + temporary.string() +
                          " failed: " + ErrnoText(errno));
  }
  if (!WriteAll(fd, data) || ::fsync(fd) != 0) {
    int saved_errno = errno;
    ::close(fd);
    ::unlink(temporary.c_str());
    return TemporaryError("write " + temporary.string() +
                          " failed: " + ErrnoText(saved_errno));
  }
  ::close(fd);

  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    int saved_errno = errno;
    ::unlink(temporary.c_str());
    return TemporaryError("rename to " + path.string() +
                          " failed: " + ErrnoText(saved_errno));
  }
  return SyncDirectory(directory);
}

Status CreateDirectories(const std::filesystem::path& directory,
                         unsigned mode) {
  std::error_code error;
  std::filesystem::path current;
  for (const auto& part : directory) {
    current /= part;
    if (std::filesystem::is_directory(current, error)) continue;
    if (::mkdir(current.c_str(), mode) != 0 && errno != EEXIST) {
      return TemporaryError("mkdir " + current.string() +
                            " failed: " + ErrnoText(errno));
    }
  }
  return Status::Ok();
}

Result<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return PermanentError("cannot open " + path.string() + ": " +
                          ErrnoText(errno));
  }
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace mailport::fs
