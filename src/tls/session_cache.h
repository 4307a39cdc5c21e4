// Server-side TLS session cache in LMDB (smtpd_tls_session_cache_database).
//
// Each entry maps a session id (TLS 1.2 session id, or the TLS 1.3 ticket
// of a stateful ticket when session tickets are off) to the session's DER
// encoding from i2d_SSL_SESSION and its expiry time.  The file is one LMDB
// environment opened with MDB_NOSUBDIR (the data file is `path`, LMDB's lock
// file is `path`-lock), so several processes and restarts share it, which is
// the point of an on-disk store.
//
// Guarantees and limits:
//   - an entry whose expiry has passed is never returned; it is deleted when
//     looked up, and every 256 stores or when the map is full a sweep
//     deletes all expired entries;
//   - writes use MDB_NOSYNC: after a system crash the last stores may be
//     lost (clients then make a full handshake), but the file stays
//     consistent because LMDB commits are copy-on-write;
//   - a full map (kDefaultMapSize) drops new entries after a sweep, with a
//     warning; resumption then falls back to full handshakes;
//   - a process opens each path once: LMDB forbids opening the same
//     environment twice in one process, so Open() shares it between callers.
//
// Thread safety: every method may be called concurrently; LMDB serialises
// writers (across processes too) and readers do not block.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tls/clock.h"
#include "util/result.h"

namespace mailport::tls {

class SessionCache {
 public:
  static constexpr std::size_t kDefaultMapSize = 64 << 20;  // bytes

  // Opens or creates the environment at `path`, creating parent
  // directories with mode 0700; the file gets mode 0600 because sessions
  // contain master secrets.
  static Result<std::shared_ptr<SessionCache>> Open(
      const std::filesystem::path& path, Clock clock = SystemClock(),
      std::size_t map_size = kDefaultMapSize);

  ~SessionCache();
  SessionCache(const SessionCache&) = delete;
  SessionCache& operator=(const SessionCache&) = delete;

  // Stores `der` under `id` until `expiry`, replacing an older entry.
  Status Store(std::string_view id, std::string_view der,
               std::chrono::system_clock::time_point expiry);

  // Returns the DER session stored under `id` unless it is missing or
  // expired (an expired entry is deleted).
  std::optional<std::string> Lookup(std::string_view id);

  // Returns the stored expiry of `id`, expired or not.
  std::optional<std::chrono::system_clock::time_point> ExpiryOf(
      std::string_view id);

  void Remove(std::string_view id);

  // Deletes every expired entry and returns how many were deleted.
  std::size_t PurgeExpired();

  // Number of entries, expired ones included.
  std::size_t size();

  const std::filesystem::path& path() const { return path_; }

  // Hooks the cache into `context` as its external session store and turns
  // OpenSSL's internal store off.  `this` must outlive every handshake on
  // `context`, or the caller must call Uninstall() first.
  void Install(SSL_CTX* context);
  static void Uninstall(SSL_CTX* context);

  // Stores `session` until now plus its timeout, or logs why it could not.
  void StoreSession(SSL_SESSION* session);

  // Returns the session stored under `id` as a new object owned by the
  // caller, or nullptr when it is missing, expired or undecodable.
  SSL_SESSION* LookupSession(std::string_view id);

  // One open LMDB environment, shared by every SessionCache on its path.
  struct Environment;

 private:
  SessionCache(std::shared_ptr<Environment> environment,
               std::filesystem::path path, Clock clock);

  Status StoreOnce(std::string_view id, std::string_view value);

  std::shared_ptr<Environment> environment_;
  const std::filesystem::path path_;
  const Clock clock_;
};

}  // namespace mailport::tls
