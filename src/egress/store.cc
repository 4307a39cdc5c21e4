#include "egress/store.h"

#include <fmt/format.h>

namespace mailport::egress {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS requests (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  source TEXT NOT NULL,
  destinations TEXT NOT NULL,
  reason TEXT NOT NULL,
  domain TEXT NOT NULL,
  daily_volume INTEGER NOT NULL,
  requester TEXT NOT NULL,
  ticket TEXT NOT NULL,
  state TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  decided_by TEXT NOT NULL DEFAULT '',
  decided_at INTEGER NOT NULL DEFAULT 0,
  comment TEXT NOT NULL DEFAULT '',
  expires_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS requests_state ON requests(state);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  request_id INTEGER NOT NULL REFERENCES requests(id),
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  event TEXT NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  comment TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql";

constexpr const char* kRequestColumns =
    "id, source, destinations, reason, domain, daily_volume, requester, "
    "ticket, state, created_at, decided_by, decided_at, comment, expires_at";

// Finalizes a prepared statement when it goes out of scope.
class Statement {
 public:
  Statement(sqlite3* database, const std::string& sql) : database_(database) {
    result_ =
        sqlite3_prepare_v2(database, sql.c_str(), -1, &statement_, nullptr);
  }
  ~Statement() { sqlite3_finalize(statement_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return result_ == SQLITE_OK; }
  sqlite3_stmt* get() { return statement_; }
  void Bind(int index, std::int64_t value) {
    sqlite3_bind_int64(statement_, index, value);
  }
  void Bind(int index, const std::string& value) {
    sqlite3_bind_text(statement_, index, value.data(),
                      static_cast<int>(value.size()), SQLITE_TRANSIENT);
  }
  int Step() { return sqlite3_step(statement_); }
  std::string Text(int column) {
    auto* text = sqlite3_column_text(statement_, column);
    return text ? reinterpret_cast<const char*>(text) : "";
  }
  std::int64_t Integer(int column) {
    return sqlite3_column_int64(statement_, column);
  }
  Error Failure(std::string_view what) const {
    return TemporaryError(
        fmt::format("database {} failed: {}", what, sqlite3_errmsg(database_)));
  }

 private:
  sqlite3* database_;
  sqlite3_stmt* statement_ = nullptr;
  int result_;
};

std::string JoinPrefixes(const std::vector<Prefix>& prefixes) {
  std::string text;
  for (const Prefix& prefix : prefixes) {
    if (!text.empty()) text += ',';
    text += prefix.ToString();
  }
  return text;
}

Request ReadRequest(Statement& statement) {
  Request request;
  request.id = statement.Integer(0);
  // Insert() writes only validated prefixes.  A row edited by hand that no
  // longer parses keeps a zero prefix rather than stopping egressd.
  if (auto source = ParsePrefix(statement.Text(1))) request.source = *source;
  if (auto destinations = ParsePrefixList(statement.Text(2))) {
    request.destinations = *destinations;
  }
  request.reason = statement.Text(3);
  request.domain = statement.Text(4);
  request.daily_volume = statement.Integer(5);
  request.requester = statement.Text(6);
  request.ticket = statement.Text(7);
  request.state = ParseState(statement.Text(8)).value_or(State::kDenied);
  request.created_at = statement.Integer(9);
  request.decided_by = statement.Text(10);
  request.decided_at = statement.Integer(11);
  request.comment = statement.Text(12);
  request.expires_at = statement.Integer(13);
  return request;
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const std::filesystem::path& path) {
  sqlite3* database = nullptr;
  int result = sqlite3_open_v2(
      path.c_str(), &database,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
      nullptr);
  if (result != SQLITE_OK) {
    std::string message = database ? sqlite3_errmsg(database) : "out of memory";
    sqlite3_close(database);
    return PermanentError(
        fmt::format("cannot open database {}: {}", path.string(), message));
  }
  std::unique_ptr<Store> store(new Store(database));
  sqlite3_busy_timeout(database, 5000);
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                          "PRAGMA foreign_keys=ON", kSchema}) {
    if (Status status = store->Execute(sql); !status) {
      return PermanentError(fmt::format("cannot initialize database {}: {}",
                                        path.string(), status.error().message));
    }
  }
  return store;
}

Store::~Store() { sqlite3_close(database_); }

Status Store::Execute(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(database_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errmsg(database_);
    sqlite3_free(message);
    return TemporaryError(fmt::format("database error: {}", text));
  }
  return Status::Ok();
}

Result<Request> Store::Insert(const ValidatedRequest& validated,
                              const NewRequest& fields,
                              const std::string& ticket, std::int64_t now) {
  if (Status status = Execute("BEGIN IMMEDIATE"); !status) {
    return status.error();
  }
  Statement insert(database_,
                   "INSERT INTO requests (source, destinations, reason, "
                   "domain, daily_volume, requester, ticket, state, "
                   "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)");
  insert.Bind(1, validated.source.ToString());
  insert.Bind(2, JoinPrefixes(validated.destinations));
  insert.Bind(3, fields.reason);
  insert.Bind(4, fields.domain);
  insert.Bind(5, fields.daily_volume);
  insert.Bind(6, fields.requester);
  insert.Bind(7, ticket);
  insert.Bind(8, now);
  if (!insert.ok() || insert.Step() != SQLITE_DONE) {
    Error error = insert.Failure("insert");
    (void)Execute("ROLLBACK");
    return error;
  }
  std::int64_t id = sqlite3_last_insert_rowid(database_);

  Statement audit(database_,
                  "INSERT INTO audit (request_id, at, actor, event, "
                  "from_state, to_state, comment) VALUES (?, ?, ?, 'request', "
                  "'', 'pending', ?)");
  audit.Bind(1, id);
  audit.Bind(2, now);
  audit.Bind(3, fields.requester);
  audit.Bind(4, fields.reason);
  if (!audit.ok() || audit.Step() != SQLITE_DONE) {
    Error error = audit.Failure("audit insert");
    (void)Execute("ROLLBACK");
    return error;
  }
  if (Status status = Execute("COMMIT"); !status) {
    (void)Execute("ROLLBACK");
    return status.error();
  }
  return Get(id);
}

Result<Request> Store::Get(std::int64_t id) {
  Statement select(
      database_,
      fmt::format("SELECT {} FROM requests WHERE id = ?", kRequestColumns));
  if (!select.ok()) return select.Failure("query");
  select.Bind(1, id);
  int result = select.Step();
  if (result == SQLITE_ROW) return ReadRequest(select);
  if (result == SQLITE_DONE) {
    return PermanentError(fmt::format("request {} not found", id));
  }
  return select.Failure("query");
}

Result<std::vector<Request>> Store::List(std::optional<State> state) {
  std::string sql = fmt::format("SELECT {} FROM requests", kRequestColumns);
  if (state) sql += " WHERE state = ?";
  sql += " ORDER BY id";
  Statement select(database_, sql);
  if (!select.ok()) return select.Failure("query");
  if (state) select.Bind(1, std::string(StateName(*state)));
  std::vector<Request> requests;
  int result;
  while ((result = select.Step()) == SQLITE_ROW) {
    requests.push_back(ReadRequest(select));
  }
  if (result != SQLITE_DONE) return select.Failure("query");
  return requests;
}

Result<Request> Store::Transition(std::int64_t id, Action action,
                                  const std::string& actor,
                                  const std::string& comment,
                                  std::int64_t expires_at, std::int64_t now) {
  if (Status status = Execute("BEGIN IMMEDIATE"); !status) {
    return status.error();
  }
  auto request = TransitionLocked(id, action, actor, comment, expires_at, now);
  if (!request) {
    (void)Execute("ROLLBACK");
    return request.error();
  }
  if (Status status = Execute("COMMIT"); !status) {
    (void)Execute("ROLLBACK");
    return status.error();
  }
  return request;
}

Result<Request> Store::TransitionLocked(std::int64_t id, Action action,
                                        const std::string& actor,
                                        const std::string& comment,
                                        std::int64_t expires_at,
                                        std::int64_t now) {
  auto request = Get(id);
  if (!request) return request.error();
  auto next = NextState(request->state, action);
  if (!next) {
    return PermanentError(
        fmt::format("request {}: {}", id, next.error().message));
  }

  // Expiry is the system's own transition: it keeps the decision fields of
  // the approval so that "who approved" stays visible.
  bool is_decision = action != Action::kExpire;
  Statement update(
      database_,
      is_decision ? "UPDATE requests SET state = ?, decided_by = ?, "
                    "decided_at = ?, comment = ?, expires_at = ? WHERE id = ?"
                  : "UPDATE requests SET state = ? WHERE id = ?");
  update.Bind(1, std::string(StateName(*next)));
  if (is_decision) {
    update.Bind(2, actor);
    update.Bind(3, now);
    update.Bind(4, comment);
    update.Bind(5,
                action == Action::kApprove ? expires_at : request->expires_at);
    update.Bind(6, id);
  } else {
    update.Bind(2, id);
  }
  if (!update.ok() || update.Step() != SQLITE_DONE) {
    return update.Failure("update");
  }

  Statement audit(
      database_,
      "INSERT INTO audit (request_id, at, actor, event, "
      "from_state, to_state, comment) VALUES (?, ?, ?, ?, ?, ?, ?)");
  audit.Bind(1, id);
  audit.Bind(2, now);
  audit.Bind(3, actor);
  audit.Bind(4, std::string(ActionName(action)));
  audit.Bind(5, std::string(StateName(request->state)));
  audit.Bind(6, std::string(StateName(*next)));
  std::string audit_comment = comment;
  if (action == Action::kApprove && expires_at != 0) {
    audit_comment += fmt::format("{}until {}", comment.empty() ? "" : "; ",
                                 FormatTime(expires_at));
  }
  audit.Bind(7, audit_comment);
  if (!audit.ok() || audit.Step() != SQLITE_DONE) {
    return audit.Failure("audit insert");
  }
  return Get(id);
}

Result<std::vector<Request>> Store::ExpireDue(std::int64_t now) {
  auto approved = List(State::kApproved);
  if (!approved) return approved.error();
  std::vector<Request> expired;
  for (const Request& request : *approved) {
    if (request.expires_at == 0 || request.expires_at > now) continue;
    auto result = Transition(request.id, Action::kExpire, "egressd",
                             "expiry time reached", 0, now);
    if (!result) return result.error();
    expired.push_back(*result);
  }
  return expired;
}

Result<std::vector<AuditEntry>> Store::Audit(std::int64_t request_id) {
  std::string sql =
      "SELECT id, request_id, at, actor, event, from_state, to_state, comment "
      "FROM audit";
  if (request_id != 0) sql += " WHERE request_id = ?";
  sql += " ORDER BY id";
  Statement select(database_, sql);
  if (!select.ok()) return select.Failure("query");
  if (request_id != 0) select.Bind(1, request_id);
  std::vector<AuditEntry> entries;
  int result;
  while ((result = select.Step()) == SQLITE_ROW) {
    entries.push_back({select.Integer(0), select.Integer(1), select.Integer(2),
                       select.Text(3), select.Text(4), select.Text(5),
                       select.Text(6), select.Text(7)});
  }
  if (result != SQLITE_DONE) return select.Failure("query");
  return entries;
}

}  // namespace mailport::egress
