#include "queue/spool.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <random>

#include "queue/queue_file.h"
#include "queue/queue_id.h"
#include "util/fs.h"
#include "util/log.h"

namespace mailport::queue {
namespace {

namespace stdfs = std::filesystem;

constexpr std::string_view kStateSuffix = ".state";
// Attempts to find a free queue id before Store gives up.  A collision
// needs two processes in the same microsecond with the same random bits.
constexpr int kMaxIdAttempts = 4;
// Temporary files younger than this may belong to a Store() in progress in
// another process that has the same queue open (a command-line tool beside
// the daemon), so Recover() leaves them alone.
constexpr std::chrono::hours kStaleTemporaryAge{1};

// Reads a whole file; a missing file is a permanent error, anything else
// is temporary.
Result<std::string> ReadWholeFile(const stdfs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::string message =
        "open " + path.string() + " failed: " + fs::ErrnoText(errno);
    return errno == ENOENT ? PermanentError(message) : TemporaryError(message);
  }
  std::string data;
  char buffer[65536];
  while (true) {
    ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0) {
      if (errno == EINTR) continue;
      int saved_errno = errno;
      ::close(fd);
      return TemporaryError("read " + path.string() +
                            " failed: " + fs::ErrnoText(saved_errno));
    }
    if (got == 0) break;
    data.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return data;
}

std::string RandomSuffix() {
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  return std::to_string(generator() % 1000000000);
}

class FileSpool : public Spool {
 public:
  explicit FileSpool(const stdfs::path& root)
      : tmp_(root / "tmp"),
        active_(root / "active"),
        corrupt_(root / "corrupt") {}

  Status CreateLayout();
  void Recover();

  Result<std::string> Store(Envelope envelope,
                            std::string_view message) override;
  std::vector<Result<std::string>> StoreBatch(
      std::vector<std::pair<Envelope, std::string>> messages) override;
  std::vector<std::string> List() override;
  Result<QueuedMessage> Read(const std::string& queue_id) override;
  Result<std::string> ReadContent(const std::string& queue_id) override;
  Status Update(const QueuedMessage& message) override;
  Status Remove(const std::string& queue_id) override;
  void SetFsyncFailureForTesting(bool fail) override {
    fsync_failure_for_testing_ = fail;
  }

 private:
  Status CheckLatch();
  Status SyncFile(int fd, const stdfs::path& path);
  Status SyncDirectory(const stdfs::path& directory);
  Status Latch(const std::string& message);

  Status WriteSyncedFile(const stdfs::path& path, std::string_view header,
                         std::string_view content, std::string_view trailer);
  Result<std::string> WriteAndLink(Envelope& envelope,
                                   std::string_view message);
  Result<DecodedQueueFile> Decode(const std::string& queue_id,
                                  const std::string& data);
  void Quarantine(const std::string& queue_id, const std::string& reason);

  stdfs::path QueuePath(const std::string& queue_id) const {
    return active_ / queue_id;
  }
  stdfs::path StatePath(const std::string& queue_id) const {
    return active_ / (queue_id + std::string(kStateSuffix));
  }

  const stdfs::path tmp_;
  const stdfs::path active_;
  const stdfs::path corrupt_;

  std::atomic<bool> fsync_failure_for_testing_{false};
  std::atomic<bool> latched_{false};
  std::mutex latch_mutex_;
  std::string latch_error_;  // guarded by latch_mutex_
};

// Creates tmp/, active/ and corrupt/ and makes their entries durable, so
// that the first message stored cannot vanish with its directory.
Status FileSpool::CreateLayout() {
  for (const auto& directory : {tmp_, active_, corrupt_}) {
    Status created = fs::CreateDirectories(directory, 0700);
    if (!created) return created;
  }
  stdfs::path root = active_.parent_path();
  for (const auto& directory : {root, root.parent_path()}) {
    if (directory.empty()) continue;
    Status synced = fs::SyncDirectory(directory);
    if (!synced) return synced;
  }
  return Status::Ok();
}

// Cleans up what a crash can leave behind.  Files in tmp/ were never
// acknowledged, and a state file without its queue file belongs to a
// message whose removal was interrupted, so both can go.  Anything else
// unexpected in active/ is kept, in corrupt/.
void FileSpool::Recover() {
  std::error_code error;
  auto stale_before = stdfs::file_time_type::clock::now() - kStaleTemporaryAge;
  for (const auto& entry : stdfs::directory_iterator(tmp_, error)) {
    std::error_code time_error;
    auto modified = stdfs::last_write_time(entry.path(), time_error);
    if (time_error || modified > stale_before) continue;
    log::Info("queue: removing unfinished file {}", entry.path().string());
    stdfs::remove(entry.path(), error);
  }

  for (const auto& entry : stdfs::directory_iterator(active_, error)) {
    std::string name = entry.path().filename().string();
    if (IsQueueId(name)) continue;
    std::string_view base(name);
    if (base.ends_with(kStateSuffix)) {
      base.remove_suffix(kStateSuffix.size());
      if (IsQueueId(base)) {
        if (!stdfs::exists(QueuePath(std::string(base)), error)) {
          log::Info("{}: removing state file of a removed message", base);
          stdfs::remove(entry.path(), error);
        }
        continue;
      }
    }
    stdfs::path target = corrupt_ / name;
    log::Error("queue: unexpected file {} in the queue; moved to {}",
               entry.path().string(), target.string());
    stdfs::rename(entry.path(), target, error);
  }
}

Status FileSpool::CheckLatch() {
  if (!latched_) return Status::Ok();
  std::lock_guard lock(latch_mutex_);
  return TemporaryError(
      "queue is not accepting mail after an earlier disk "
      "error (" +
      latch_error_ + "); restart mailportd once the disk is repaired");
}

Status FileSpool::Latch(const std::string& message) {
  {
    std::lock_guard lock(latch_mutex_);
    if (!latched_) {
      latch_error_ = message;
      log::Error("queue: {}; refusing new mail until restart", message);
    }
    latched_ = true;
  }
  return TemporaryError(message);
}

Status FileSpool::SyncFile(int fd, const stdfs::path& path) {
  int result = fsync_failure_for_testing_ ? -1 : ::fsync(fd);
  if (result != 0) {
    int saved_errno = fsync_failure_for_testing_ ? EIO : errno;
    return Latch("fsync of " + path.string() +
                 " failed: " + fs::ErrnoText(saved_errno));
  }
  return Status::Ok();
}

Status FileSpool::SyncDirectory(const stdfs::path& directory) {
  int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return TemporaryError("open directory " + directory.string() +
                          " failed: " + fs::ErrnoText(errno));
  }
  Status synced = SyncFile(fd, directory);
  ::close(fd);
  return synced;
}

// Creates `path` exclusively, writes the three parts and fsyncs it.  On
// failure the file is removed.
Status FileSpool::WriteSyncedFile(const stdfs::path& path,
                                  std::string_view header,
                                  std::string_view content,
                                  std::string_view trailer) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return TemporaryError("create " + path.string() +
                          " failed: " + fs::ErrnoText(errno));
  }
  if (!fs::WriteAll(fd, header) || !fs::WriteAll(fd, content) ||
      !fs::WriteAll(fd, trailer)) {
    int saved_errno = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return TemporaryError("write " + path.string() +
                          " failed: " + fs::ErrnoText(saved_errno));
  }
  Status synced = SyncFile(fd, path);
  ::close(fd);
  if (!synced) ::unlink(path.c_str());
  return synced;
}

// Writes one queue file to tmp/ and renames it into active/ under a new
// queue id, without syncing active/ (the caller does that once per batch).
Result<std::string> FileSpool::WriteAndLink(Envelope& envelope,
                                            std::string_view message) {
  for (int attempt = 0; attempt < kMaxIdAttempts; ++attempt) {
    envelope.queue_id = NewQueueId();
    std::string header = EncodeQueueHeader(envelope, message.size());
    Checksum checksum;
    checksum.Update(header);
    checksum.Update(message);
    std::string trailer = EncodeTrailer(checksum.value());

    stdfs::path temporary = tmp_ / envelope.queue_id;
    Status written = WriteSyncedFile(temporary, header, message, trailer);
    if (!written) return written.error();

    // RENAME_NOREPLACE makes the rename fail instead of replacing a
    // message that already has this id.
    stdfs::path target = QueuePath(envelope.queue_id);
    if (::renameat2(AT_FDCWD, temporary.c_str(), AT_FDCWD, target.c_str(),
                    RENAME_NOREPLACE) == 0) {
      return envelope.queue_id;
    }
    int saved_errno = errno;
    ::unlink(temporary.c_str());
    if (saved_errno != EEXIST) {
      return TemporaryError("rename to " + target.string() +
                            " failed: " + fs::ErrnoText(saved_errno));
    }
  }
  return TemporaryError("no free queue id found in " + active_.string());
}

Result<std::string> FileSpool::Store(Envelope envelope,
                                     std::string_view message) {
  std::vector<std::pair<Envelope, std::string>> batch;
  batch.emplace_back(std::move(envelope), std::string(message));
  return std::move(StoreBatch(std::move(batch)).front());
}

std::vector<Result<std::string>> FileSpool::StoreBatch(
    std::vector<std::pair<Envelope, std::string>> messages) {
  std::vector<Result<std::string>> results;
  results.reserve(messages.size());
  std::vector<std::size_t> linked;
  auto now = std::chrono::system_clock::now();

  for (auto& [envelope, content] : messages) {
    Status latch = CheckLatch();
    if (!latch) {
      results.emplace_back(latch.error());
      continue;
    }
    if (envelope.arrival_time.time_since_epoch().count() == 0) {
      envelope.arrival_time = now;
    }
    results.push_back(WriteAndLink(envelope, content));
    if (results.back().ok()) linked.push_back(results.size() - 1);
  }
  if (linked.empty()) return results;

  // One directory fsync makes every rename above durable (group commit).
  Status synced = CheckLatch();
  if (synced) synced = SyncDirectory(active_);
  if (synced) return results;

  // The client gets a temporary error and will send again, so the files
  // must not be delivered as well; removing them is best effort.
  for (std::size_t index : linked) {
    ::unlink(QueuePath(results[index].value()).c_str());
    results[index] = synced.error();
  }
  return results;
}

std::vector<std::string> FileSpool::List() {
  std::vector<std::string> ids;
  std::error_code error;
  for (const auto& entry : stdfs::directory_iterator(active_, error)) {
    std::string name = entry.path().filename().string();
    if (IsQueueId(name)) ids.push_back(std::move(name));
  }
  if (error) {
    log::Error("queue: cannot list {}: {}", active_.string(), error.message());
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

void FileSpool::Quarantine(const std::string& queue_id,
                           const std::string& reason) {
  std::error_code error;
  stdfs::path target = corrupt_ / queue_id;
  for (int suffix = 1; stdfs::exists(target, error); ++suffix) {
    target = corrupt_ / (queue_id + "." + std::to_string(suffix));
  }
  stdfs::rename(QueuePath(queue_id), target, error);
  if (error) {
    log::Error(
        "{}: queue file is corrupt ({}) and could not be moved to {}: "
        "{}",
        queue_id, reason, target.string(), error.message());
    return;
  }
  std::error_code state_error;
  stdfs::rename(StatePath(queue_id), target.string() + ".state", state_error);
  log::Error("{}: queue file is corrupt ({}); moved to {}", queue_id, reason,
             target.string());
  (void)SyncDirectory(active_);
  (void)SyncDirectory(corrupt_);
}

Result<DecodedQueueFile> FileSpool::Decode(const std::string& queue_id,
                                           const std::string& data) {
  auto decoded = DecodeQueueFile(data);
  if (!decoded) {
    Quarantine(queue_id, decoded.error().message);
    return PermanentError(queue_id + ": corrupt queue file (" +
                          decoded.error().message + ")");
  }
  if (decoded->envelope.queue_id != queue_id) {
    Quarantine(queue_id, "file names queue id " + decoded->envelope.queue_id);
    return PermanentError(queue_id + ": queue file has another queue id");
  }
  return decoded;
}

Result<QueuedMessage> FileSpool::Read(const std::string& queue_id) {
  if (!IsQueueId(queue_id)) {
    return PermanentError("invalid queue id " + log::Sanitize(queue_id));
  }
  auto data = ReadWholeFile(QueuePath(queue_id));
  if (!data) return data.error();
  auto decoded = Decode(queue_id, *data);
  if (!decoded) return decoded.error();

  QueuedMessage message;
  message.envelope = std::move(decoded->envelope);
  message.path = QueuePath(queue_id);
  message.next_attempt = message.envelope.arrival_time;
  for (const auto& address : message.envelope.recipients) {
    RecipientState state;
    state.address = address;
    message.recipients.push_back(std::move(state));
  }

  auto state = ReadWholeFile(StatePath(queue_id));
  if (!state) {
    // No state file: nothing was attempted yet.
    if (!state.error().temporary) return message;
    return state.error();
  }
  Status applied = DecodeStateFile(*state, message);
  if (!applied) {
    Quarantine(queue_id, "state file: " + applied.error().message);
    return PermanentError(queue_id + ": corrupt state file (" +
                          applied.error().message + ")");
  }
  return message;
}

Result<std::string> FileSpool::ReadContent(const std::string& queue_id) {
  if (!IsQueueId(queue_id)) {
    return PermanentError("invalid queue id " + log::Sanitize(queue_id));
  }
  auto data = ReadWholeFile(QueuePath(queue_id));
  if (!data) return data.error();
  auto decoded = Decode(queue_id, *data);
  if (!decoded) return decoded.error();
  return std::string(decoded->content);
}

Status FileSpool::Update(const QueuedMessage& message) {
  const std::string& queue_id = message.envelope.queue_id;
  if (!IsQueueId(queue_id)) {
    return PermanentError("invalid queue id " + log::Sanitize(queue_id));
  }
  stdfs::path temporary =
      tmp_ / (queue_id + std::string(kStateSuffix) + "." + RandomSuffix());
  Status written = WriteSyncedFile(temporary, EncodeStateFile(message), {}, {});
  if (!written) return written;

  stdfs::path target = StatePath(queue_id);
  if (::rename(temporary.c_str(), target.c_str()) != 0) {
    int saved_errno = errno;
    ::unlink(temporary.c_str());
    return TemporaryError("rename to " + target.string() +
                          " failed: " + fs::ErrnoText(saved_errno));
  }
  return SyncDirectory(active_);
}

// The queue file goes first: a crash after that leaves only an orphan
// state file, which Recover() removes, and never a message that forgot
// which recipients were done.
Status FileSpool::Remove(const std::string& queue_id) {
  if (!IsQueueId(queue_id)) {
    return PermanentError("invalid queue id " + log::Sanitize(queue_id));
  }
  stdfs::path path = QueuePath(queue_id);
  if (::unlink(path.c_str()) != 0) {
    std::string message =
        "unlink " + path.string() + " failed: " + fs::ErrnoText(errno);
    return errno == ENOENT ? PermanentError(message) : TemporaryError(message);
  }
  ::unlink(StatePath(queue_id).c_str());
  // The directory is not fsynced here: after a power loss the worst case
  // is that the removed message comes back and is delivered again, which
  // costs a duplicate, never a loss, and saves one fsync per message.
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Spool>> Spool::Open(
    const std::filesystem::path& queue_directory) {
  auto spool = std::make_unique<FileSpool>(queue_directory);
  Status created = spool->CreateLayout();
  if (!created) return created.error();
  spool->Recover();
  return std::unique_ptr<Spool>(std::move(spool));
}

}  // namespace mailport::queue
