#include "tls/session_cache.h"

#include <lmdb.h>

#include <atomic>
#include <map>
#include <mutex>

#include "tls/openssl_util.h"
#include "util/fs.h"
#include "util/log.h"

namespace mailport::tls {

using std::chrono::system_clock;

struct SessionCache::Environment {
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  std::atomic<std::uint64_t> stores{0};
  std::atomic<std::uint64_t> dropped{0};

  ~Environment() {
    if (env == nullptr) return;
    mdb_env_sync(env, 1);
    mdb_env_close(env);
  }
};

namespace {

constexpr std::size_t kExpiryBytes = 8;
constexpr std::uint64_t kSweepInterval = 256;

// Environments by canonical path, because LMDB must not open one file twice
// in a process.
std::mutex registry_mutex;
std::map<std::string, std::weak_ptr<SessionCache::Environment>>& Registry() {
  static auto* registry =
      new std::map<std::string, std::weak_ptr<SessionCache::Environment>>;
  return *registry;
}

std::string LmdbText(int code) { return mdb_strerror(code); }

MDB_val Value(std::string_view data) {
  return MDB_val{data.size(), const_cast<char*>(data.data())};
}

std::string EncodeEntry(std::string_view der, system_clock::time_point expiry) {
  auto seconds = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(
          expiry.time_since_epoch())
          .count());
  std::string value(kExpiryBytes, '\0');
  for (std::size_t i = 0; i < kExpiryBytes; ++i) {
    value[kExpiryBytes - 1 - i] = static_cast<char>(seconds >> (8 * i));
  }
  value.append(der);
  return value;
}

std::optional<system_clock::time_point> DecodeExpiry(const MDB_val& value) {
  if (value.mv_size < kExpiryBytes) return std::nullopt;
  const auto* bytes = static_cast<const unsigned char*>(value.mv_data);
  std::uint64_t seconds = 0;
  for (std::size_t i = 0; i < kExpiryBytes; ++i) {
    seconds = (seconds << 8) | bytes[i];
  }
  return system_clock::time_point(
      std::chrono::seconds(static_cast<std::int64_t>(seconds)));
}

Result<std::shared_ptr<SessionCache::Environment>> OpenEnvironment(
    const std::filesystem::path& path, std::size_t map_size) {
  auto environment = std::make_shared<SessionCache::Environment>();
  const std::string where = "TLS session cache " + path.string();
  int rc = mdb_env_create(&environment->env);
  if (rc == 0) rc = mdb_env_set_mapsize(environment->env, map_size);
  // MDB_NOTLS: read transactions are not tied to a thread, so handshakes
  // on any thread of a pool may use them.
  if (rc == 0) {
    rc = mdb_env_open(environment->env, path.c_str(),
                      MDB_NOSUBDIR | MDB_NOTLS | MDB_NOSYNC, 0600);
  }
  if (rc != 0) {
    return PermanentError(where +
                          ": opening the LMDB file failed: " + LmdbText(rc) +
                          "; check that the directory is writable, or set "
                          "smtpd_tls_session_cache_database empty to turn "
                          "the cache off");
  }

  // Reader slots left behind by processes that died would otherwise pin
  // old pages forever.
  int stale_readers = 0;
  mdb_reader_check(environment->env, &stale_readers);

  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(environment->env, nullptr, 0, &txn);
  if (rc == 0) rc = mdb_dbi_open(txn, nullptr, 0, &environment->dbi);
  if (rc == 0) {
    rc = mdb_txn_commit(txn);
  } else if (txn != nullptr) {
    mdb_txn_abort(txn);
  }
  if (rc != 0) {
    return PermanentError(where +
                          ": opening the database failed: " + LmdbText(rc));
  }
  return environment;
}

}  // namespace

Result<std::shared_ptr<SessionCache>> SessionCache::Open(
    const std::filesystem::path& path, Clock clock, std::size_t map_size) {
  if (path.has_parent_path()) {
    if (Status status = fs::CreateDirectories(path.parent_path(), 0700);
        !status) {
      return status.error();
    }
  }
  std::error_code error;
  std::string key = std::filesystem::weakly_canonical(path, error).string();
  if (error) key = path.string();

  std::lock_guard lock(registry_mutex);
  std::shared_ptr<Environment> environment = Registry()[key].lock();
  if (!environment) {
    Result<std::shared_ptr<Environment>> opened =
        OpenEnvironment(path, map_size);
    if (!opened) return opened.error();
    environment = *opened;
    Registry()[key] = environment;
  }
  return std::shared_ptr<SessionCache>(
      new SessionCache(std::move(environment), path, std::move(clock)));
}

SessionCache::SessionCache(std::shared_ptr<Environment> environment,
                           std::filesystem::path path, Clock clock)
    : environment_(std::move(environment)),
      path_(std::move(path)),
      clock_(std::move(clock)) {}

SessionCache::~SessionCache() {
  std::lock_guard lock(registry_mutex);
  // Close the environment here, under the lock, so that a concurrent Open()
  // of the same path never sees a half-closed one.
  environment_.reset();
}

Status SessionCache::StoreOnce(std::string_view id, std::string_view value) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(environment_->env, nullptr, 0, &txn);
  if (rc != 0) return TemporaryError(LmdbText(rc));
  MDB_val key = Value(id);
  MDB_val data = Value(value);
  rc = mdb_put(txn, environment_->dbi, &key, &data, 0);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return TemporaryError(LmdbText(rc));
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return TemporaryError(LmdbText(rc));
  return Status::Ok();
}

Status SessionCache::Store(std::string_view id, std::string_view der,
                           system_clock::time_point expiry) {
  if (id.empty() || id.size() > 511) {
    return PermanentError("invalid session id length " +
                          std::to_string(id.size()));
  }
  std::string value = EncodeEntry(der, expiry);
  if (++environment_->stores % kSweepInterval == 0) PurgeExpired();

  Status status = StoreOnce(id, value);
  if (!status && status.error().message == LmdbText(MDB_MAP_FULL)) {
    PurgeExpired();
    status = StoreOnce(id, value);
  }
  if (!status) {
    return TemporaryError("TLS session cache " + path_.string() +
                          ": store failed: " + status.error().message);
  }
  return status;
}

std::optional<std::string> SessionCache::Lookup(std::string_view id) {
  MDB_txn* txn = nullptr;
  if (mdb_txn_begin(environment_->env, nullptr, MDB_RDONLY, &txn) != 0) {
    return std::nullopt;
  }
  MDB_val key = Value(id);
  MDB_val data;
  std::optional<std::string> der;
  bool expired = false;
  if (mdb_get(txn, environment_->dbi, &key, &data) == 0) {
    std::optional<system_clock::time_point> expiry = DecodeExpiry(data);
    if (!expiry || *expiry <= clock_()) {
      expired = true;
    } else {
      der.emplace(static_cast<const char*>(data.mv_data) + kExpiryBytes,
                  data.mv_size - kExpiryBytes);
    }
  }
  mdb_txn_abort(txn);
  if (expired) Remove(id);
  return der;
}

std::optional<system_clock::time_point> SessionCache::ExpiryOf(
    std::string_view id) {
  MDB_txn* txn = nullptr;
  if (mdb_txn_begin(environment_->env, nullptr, MDB_RDONLY, &txn) != 0) {
    return std::nullopt;
  }
  MDB_val key = Value(id);
  MDB_val data;
  std::optional<system_clock::time_point> expiry;
  if (mdb_get(txn, environment_->dbi, &key, &data) == 0) {
    expiry = DecodeExpiry(data);
  }
  mdb_txn_abort(txn);
  return expiry;
}

void SessionCache::Remove(std::string_view id) {
  MDB_txn* txn = nullptr;
  if (mdb_txn_begin(environment_->env, nullptr, 0, &txn) != 0) return;
  MDB_val key = Value(id);
  if (mdb_del(txn, environment_->dbi, &key, nullptr) == 0) {
    mdb_txn_commit(txn);
  } else {
    mdb_txn_abort(txn);
  }
}

std::size_t SessionCache::PurgeExpired() {
  MDB_txn* txn = nullptr;
  if (mdb_txn_begin(environment_->env, nullptr, 0, &txn) != 0) return 0;
  MDB_cursor* cursor = nullptr;
  if (mdb_cursor_open(txn, environment_->dbi, &cursor) != 0) {
    mdb_txn_abort(txn);
    return 0;
  }
  const system_clock::time_point now = clock_();
  std::size_t deleted = 0;
  MDB_val key;
  MDB_val data;
  int rc = mdb_cursor_get(cursor, &key, &data, MDB_FIRST);
  while (rc == 0) {
    std::optional<system_clock::time_point> expiry = DecodeExpiry(data);
    if ((!expiry || *expiry <= now) && mdb_cursor_del(cursor, 0) == 0) {
      ++deleted;
      // After a delete the cursor already sits on the next entry.
      rc = mdb_cursor_get(cursor, &key, &data, MDB_GET_CURRENT);
    } else {
      rc = mdb_cursor_get(cursor, &key, &data, MDB_NEXT);
    }
  }
  mdb_cursor_close(cursor);
  if (mdb_txn_commit(txn) != 0) return 0;
  return deleted;
}

std::size_t SessionCache::size() {
  MDB_txn* txn = nullptr;
  if (mdb_txn_begin(environment_->env, nullptr, MDB_RDONLY, &txn) != 0) {
    return 0;
  }
  MDB_stat stat;
  std::size_t entries = 0;
  if (mdb_stat(txn, environment_->dbi, &stat) == 0) entries = stat.ms_entries;
  mdb_txn_abort(txn);
  return entries;
}

namespace {

int SessionCacheIndex() {
  static const int index =
      SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

SessionCache* CacheOf(SSL_CTX* context) {
  return static_cast<SessionCache*>(
      SSL_CTX_get_ex_data(context, SessionCacheIndex()));
}

std::string_view SessionId(const SSL_SESSION* session) {
  unsigned int length = 0;
  const unsigned char* id = SSL_SESSION_get_id(session, &length);
  return std::string_view(reinterpret_cast<const char*>(id), length);
}

// Returns 0 because the cache keeps a copy, not OpenSSL's reference.
int NewSessionCallback(SSL* ssl, SSL_SESSION* session) {
  SessionCache* cache = CacheOf(SSL_get_SSL_CTX(ssl));
  if (cache == nullptr) return 0;

  // With tickets on, a TLS 1.3 session lives entirely in its stateless
  // ticket and OpenSSL gives it a dummy id that no client ever presents.
  if (SSL_version(ssl) == TLS1_3_VERSION &&
      (SSL_get_options(ssl) & SSL_OP_NO_TICKET) == 0) {
    return 0;
  }
  cache->StoreSession(session);
  return 0;
}

SSL_SESSION* GetSessionCallback(SSL* ssl, const unsigned char* id, int length,
                                int* copy) {
  // The returned session is freshly decoded, so OpenSSL owns it outright.
  *copy = 0;
  SessionCache* cache = CacheOf(SSL_get_SSL_CTX(ssl));
  if (cache == nullptr || length <= 0) return nullptr;
  return cache->LookupSession(std::string_view(
      reinterpret_cast<const char*>(id), static_cast<std::size_t>(length)));
}

void RemoveSessionCallback(SSL_CTX* context, SSL_SESSION* session) {
  SessionCache* cache = CacheOf(context);
  if (cache == nullptr) return;
  std::string_view id = SessionId(session);
  if (!id.empty()) cache->Remove(id);
}

}  // namespace

void SessionCache::StoreSession(SSL_SESSION* session) {
  std::string_view id = SessionId(session);
  int length = i2d_SSL_SESSION(session, nullptr);
  if (id.empty() || length <= 0) return;
  std::string der(static_cast<std::size_t>(length), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_SSL_SESSION(session, &out);

  // The expiry follows the cache's clock, the one that Lookup() checks.
  auto expiry =
      clock_() + std::chrono::seconds(SSL_SESSION_get_timeout(session));
  Status status = Store(id, der, expiry);
  if (status) return;

  // A full or failing cache costs clients a full handshake, nothing more,
  // so one warning per 1000 failures is enough.
  std::uint64_t dropped = environment_->dropped++;
  if (dropped % 1000 == 0) {
    log::Warn("{} (dropped {} sessions so far)", status.error().message,
              dropped + 1);
  }
}

SSL_SESSION* SessionCache::LookupSession(std::string_view id) {
  std::optional<std::string> der = Lookup(id);
  if (!der) return nullptr;
  const auto* in = reinterpret_cast<const unsigned char*>(der->data());
  SSL_SESSION* session =
      d2i_SSL_SESSION(nullptr, &in, static_cast<long>(der->size()));
  if (session == nullptr) {
    // A corrupt entry would fail the same way on every later lookup.
    TakeOpenSslErrors();
    Remove(id);
  }
  return session;
}

void SessionCache::Install(SSL_CTX* context) {
  SSL_CTX_set_ex_data(context, SessionCacheIndex(), this);
  SSL_CTX_set_session_cache_mode(
      context, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
  SSL_CTX_sess_set_new_cb(context, NewSessionCallback);
  SSL_CTX_sess_set_get_cb(context, GetSessionCallback);
  SSL_CTX_sess_set_remove_cb(context, RemoveSessionCallback);
}

void SessionCache::Uninstall(SSL_CTX* context) {
  SSL_CTX_set_ex_data(context, SessionCacheIndex(), nullptr);
}

}  // namespace mailport::tls
