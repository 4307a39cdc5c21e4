// The user database: a passwd-file in the format Dovecot reads.
//
// Each line is `user:password[:uid:gid:gecos:home:shell:extra]`, where
// password is a crypt(3) hash such as mkpasswd(1) writes: yescrypt ($y$),
// bcrypt ($2b$), sha512-crypt ($6$) or sha256-crypt ($5$); an optional
// Dovecot scheme prefix "{CRYPT}", "{SHA512-CRYPT}", "{BLF-CRYPT}" or
// "{YESCRYPT}" is accepted.  Blank lines and lines starting with '#' are
// ignored.  User names are compared case-insensitively and may be bare
// ("alice") or full addresses ("alice@example.test").
//
// Lookups read a snapshot taken by Load(); a changed file is picked up by
// reloading (ReloadIfChanged() compares mtime and size).  Writers replace
// the file atomically and durably, so readers never see half a file.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace mailport::auth {

struct User {
  std::string name;
  std::string password_hash;  // as stored, scheme prefix included
  std::string home;           // sixth field, may be empty
};

class PasswdFile {
 public:
  // Loads `path`.  A missing file is an empty database, not an error.
  // Malformed lines are an error naming the file and line.
  static Result<PasswdFile> Load(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  std::optional<User> Find(std::string_view name) const;
  const std::vector<User>& users() const { return users_; }

  // Adds a user or replaces its password; the file is rewritten durably.
  // Names with ':' , whitespace or control characters are rejected.
  Status SetPassword(std::string_view name, std::string_view password);
  // Adds a user; an existing user is an error.
  Status Add(std::string_view name, std::string_view password);
  Status Remove(std::string_view name);

 private:
  Status Save() const;

  std::filesystem::path path_;
  std::vector<User> users_;
  // Lines that are not users (comments, blanks) are kept on rewrite.
  std::vector<std::string> lines_;
};

// Thread-safe holder that the server consults on every AUTH: it reloads the
// file when its mtime or size changed since the last load.
class UserDatabase {
 public:
  explicit UserDatabase(std::filesystem::path path);

  // Returns true when `password` matches the user's hash.  Verification
  // runs crypt(3) even for unknown users, so response time does not tell
  // which users exist.
  bool Verify(std::string_view name, std::string_view password);
  std::optional<User> Find(std::string_view name);

 private:
  void ReloadIfChanged();

  std::filesystem::path path_;
  std::mutex mutex_;
  std::shared_ptr<const PasswdFile> snapshot_;
  std::filesystem::file_time_type mtime_{};
  std::uintmax_t size_ = 0;
  bool loaded_ = false;
};

// Hashes `password` with yescrypt (the Debian 12 default of mkpasswd) or
// the method named: "yescrypt", "bcrypt", "sha512-crypt".
Result<std::string> HashPassword(std::string_view password,
                                 std::string_view method = "yescrypt");

// Returns true when `password` matches `hash` (any supported scheme).
bool VerifyPassword(std::string_view hash, std::string_view password);

}  // namespace mailport::auth
