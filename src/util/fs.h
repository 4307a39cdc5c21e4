// Durable file operations.
//
// A file written with WriteFileDurably() either exists with its full content
// after a crash or power loss, or does not exist.  The data goes to a
// temporary file in the same directory, which is fsynced and renamed into
// place.  Then the directory itself is fsynced, so that the rename is on
// disk.
// These calls block on the disk; network code runs them on a disk thread.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "util/result.h"

namespace mailport::fs {

// Writes `data` to `path` through a temporary file, fsync and rename, then
// fsyncs the parent directory.  `mode` sets the permission bits.
Status WriteFileDurably(const std::filesystem::path& path,
                        std::string_view data, unsigned mode = 0600);

// fsyncs a directory so that entries created, renamed or removed in it
// survive a crash.
Status SyncDirectory(const std::filesystem::path& directory);

// Creates `directory` and its parents with `mode`, as mkdir -p.
Status CreateDirectories(const std::filesystem::path& directory,
                         unsigned mode = 0700);

// Reads a whole file.  A missing file is a permanent error.
Result<std::string> ReadFile(const std::filesystem::path& path);

// Writes all of `data` to `fd`, retrying short writes and EINTR.  Returns
// false with errno set when a write fails.
bool WriteAll(int fd, std::string_view data);

// Returns strerror(errno) text for `error_number`.
std::string ErrnoText(int error_number);

}  // namespace mailport::fs
