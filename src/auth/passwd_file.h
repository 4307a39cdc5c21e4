// The user database: a passwd-file in the format Dovecot reads.
//
// Each line is `user:password[:uid:gid:gecos:home:shell:extra]`, where
// password is a crypt(3) hash such as mkpasswd(1) writes: yescrypt ($y$),
// bcrypt ($2b$, also $2a$ and $2y$), sha512-crypt ($6$) or sha256-crypt
// ($5$).  An optional Dovecot scheme prefix "{CRYPT}", "{SHA512-CRYPT}",
// "{SHA256-CRYPT}", "{BLF-CRYPT}" or "{YESCRYPT}" is accepted; a prefix
// that names a specific scheme must match the hash.  Blank lines and lines
// starting with '#' are comments.  User names are compared
// case-insensitively (ASCII) and may be bare ("alice") or full addresses
// ("alice@example.test").
//
// A user whose hash is empty, locked ("*" or starting with "!"), weak (DES,
// MD5-crypt "$1$", plain-text schemes) or of an unknown scheme is loaded
// but never authenticates.  Weak, unknown and empty hashes also produce an
// entry in warnings() so that `mailport check` can show them.  When a name
// appears twice, the first line wins and the second is a warning.
//
// Lookups read a snapshot taken by Load(); a changed file is picked up by
// reloading (UserDatabase compares inode, mtime and size).  Writers take an
// exclusive flock(2) on PATH.lock, re-read the file, apply the change and
// replace the file atomically and durably (fs::WriteFileDurably), so
// readers never see half a file and concurrent writers do not lose each
// other's changes.  Comments and lines the writer did not touch are kept
// byte for byte (except that CRLF line ends become LF).
//
// Errors: a malformed line (no ':' or an empty name) is a permanent error
// naming the file and line; I/O failures are temporary errors.  Invalid
// names and passwords given to a writer are permanent errors that state what
// is wrong with the value (never echoing a password) and how to fix it.
//
// Thread safety: a PasswdFile is a plain value (no locking); UserDatabase
// is safe to share between threads.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "util/result.h"

namespace mailport::auth {

// Limits that writers enforce.  SASL PLAIN (RFC 4616) bounds authcid and
// password at 255 bytes, so a longer password can never be used over
// PLAIN.  The password bound is the longest phrase libxcrypt's crypt(3)
// accepts (CRYPT_MAX_PASSPHRASE_SIZE, 512 bytes with the NUL).
inline constexpr std::size_t kMaxUserNameLength = 255;
inline constexpr std::size_t kMaxPasswordLength = 511;

struct User {
  std::string name;
  std::string password_hash;  // as stored, scheme prefix included
  std::string home;           // sixth field, may be empty
};

// Returns OK when `name` may be stored: not empty, at most
// kMaxUserNameLength bytes, no ':', whitespace or control characters, and
// not starting with '#'.  The error message names the problem and the fix.
Status ValidateUserName(std::string_view name);

// Returns OK when `password` may be hashed: not empty, at most
// kMaxPasswordLength bytes, no NUL, CR or LF.  The error never contains the
// password.
Status ValidatePassword(std::string_view password);

class PasswdFile {
 public:
  // Loads `path`.  A missing file is an empty database, not an error.
  // Malformed lines are an error naming the file and line.
  static Result<PasswdFile> Load(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  std::optional<User> Find(std::string_view name) const;
  // Looks up a recipient: "local_part@domain" first, then the bare
  // "local_part".  An empty domain tries only the bare name.
  std::optional<User> FindRecipient(std::string_view local_part,
                                    std::string_view domain) const;
  const std::vector<User>& users() const { return users_; }
  // Problems that do not stop loading, each "FILE:LINE: text".
  const std::vector<std::string>& warnings() const { return warnings_; }

  // Adds a user or replaces its password; the file is rewritten durably.
  // The new hash is yescrypt.  Other fields of an existing line are kept.
  Status SetPassword(std::string_view name, std::string_view password);
  // Adds a user; an existing user (any case) is an error.
  Status Add(std::string_view name, std::string_view password);
  // Removes every line of the user; an unknown user is an error.
  Status Remove(std::string_view name);

  // Identity of the loaded file, to tell whether it changed since.
  struct Stamp {
    bool exists = false;
    dev_t device = 0;
    ino_t inode = 0;
    std::int64_t mtime_ns = 0;
    std::uintmax_t size = 0;
    bool operator==(const Stamp&) const = default;
  };
  const Stamp& stamp() const { return stamp_; }
  static Result<Stamp> StatFile(const std::filesystem::path& path);

 private:
  static Result<PasswdFile> Parse(const std::filesystem::path& path,
                                  std::string_view content, Stamp stamp);
  // Runs `change` on a freshly loaded copy under the writer lock, saves it
  // and then replaces *this with the result.
  template <typename Change>
  Status Modify(Change change);
  Status Save() const;
  std::string Serialize() const;

  std::filesystem::path path_;
  std::vector<User> users_;
  // Every line of the file, comments and blanks included, without its
  // line end; writers edit these and re-parse them.
  std::vector<std::string> lines_;
  std::unordered_map<std::string, std::size_t> index_;  // lower-case name
  std::vector<std::string> warnings_;
  Stamp stamp_;
};

// Thread-safe holder that the server consults on every AUTH and local
// recipient: it reloads the file when its inode, mtime or size changed
// since the last load.  When a reload fails, the previous snapshot stays in
// use and the error is logged once per change of the file.
class UserDatabase {
 public:
  explicit UserDatabase(std::filesystem::path path);

  // Returns true when `password` matches the user's hash.  Verification
  // runs crypt(3) even for unknown users and for users that cannot log in
  // (against a fixed yescrypt hash), so response time does not tell which
  // users exist.
  // NOTE: the fixed hash costs as much as a default yescrypt hash, so
  // users with bcrypt or sha512-crypt hashes still differ in timing.
  bool Verify(std::string_view name, std::string_view password);
  std::optional<User> Find(std::string_view name);
  std::optional<User> FindRecipient(std::string_view local_part,
                                    std::string_view domain);

  // Loads the file now (if changed) and returns the load error, if any.
  Status Reload();
  // Warnings of the snapshot in use.
  std::vector<std::string> warnings();

 private:
  std::shared_ptr<const PasswdFile> Snapshot();
  Status ReloadIfChanged();

  std::filesystem::path path_;
  std::mutex mutex_;
  std::shared_ptr<const PasswdFile> snapshot_;  // guarded by mutex_
  PasswdFile::Stamp stamp_;                     // guarded by mutex_
  Status last_error_;                           // guarded by mutex_
  bool loaded_ = false;                         // guarded by mutex_
};

// Hashes `password` with the method named (case-insensitive).  The
// default "yescrypt" is what Debian 12's mkpasswd writes.  "bcrypt" writes
// $2b$ with cost 12, "sha512-crypt" writes $6$ with 5000 rounds and
// "sha256-crypt" writes $5$.  The mkpasswd spellings "sha512crypt" and
// "sha256crypt" work too.  The result has no scheme prefix, as mkpasswd
// writes it.
Result<std::string> HashPassword(std::string_view password,
                                 std::string_view method = "yescrypt");

// Returns true when `password` matches `hash` (any supported scheme, with
// or without a Dovecot prefix).  Weak, locked, empty and unknown hashes
// never match.
bool VerifyPassword(std::string_view hash, std::string_view password);

// Classification of a stored hash, with or without a Dovecot prefix.
enum class HashStatus { kUsable, kEmpty, kLocked, kWeak, kUnknown };
struct HashInfo {
  HashStatus status = HashStatus::kUnknown;
  std::string scheme;      // e.g. "yescrypt", "MD5-crypt", "{PLAIN}"
  std::string crypt_hash;  // the hash without its prefix, when usable
};
HashInfo ClassifyHash(std::string_view stored);

}  // namespace mailport::auth
