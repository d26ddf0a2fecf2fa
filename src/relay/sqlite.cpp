#include "relay/sqlite.hpp"

#include <utility>

#include <sqlite3.h>

namespace porthole::relay::sqlite {

Statement::Statement(Statement&& o) noexcept
    : db_(std::exchange(o.db_, nullptr)), st_(std::exchange(o.st_, nullptr)), bind_error_(o.bind_error_) {}

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(st_);
    db_ = std::exchange(o.db_, nullptr);
    st_ = std::exchange(o.st_, nullptr);
    bind_error_ = o.bind_error_;
  }
  return *this;
}

Statement::~Statement() {
  sqlite3_finalize(st_);
}

void Statement::note_bind(int rc) {
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
}

Statement& Statement::bind(int index, std::int64_t value) {
  note_bind(sqlite3_bind_int64(st_, index, value));
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  note_bind(sqlite3_bind_text64(st_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

Statement& Statement::bind_blob(int index, std::span<const std::uint8_t> bytes) {
  note_bind(sqlite3_bind_blob64(st_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT));
  return *this;
}

Statement& Statement::bind_null(int index) {
  note_bind(sqlite3_bind_null(st_, index));
  return *this;
}

Result<bool> Statement::step() {
  if (bind_error_ != 0) {
    int rc = std::exchange(bind_error_, 0);
    return make_error("sqlite bind: {}", sqlite3_errstr(rc));
  }
  int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return make_error("sqlite: {}", sqlite3_errmsg(db_));
}

Result<void> Statement::run() {
  Result<bool> r = false;
  do {
    r = step();
  } while (r && *r);
  reset();
  if (!r) return r.error();
  return {};
}

void Statement::reset() {
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
  bind_error_ = 0;
}

bool Statement::is_null(int column) const {
  return sqlite3_column_type(st_, column) == SQLITE_NULL;
}

std::int64_t Statement::column_int(int column) const {
  return sqlite3_column_int64(st_, column);
}

std::string Statement::column_text(int column) const {
  const unsigned char* p = sqlite3_column_text(st_, column);
  int n = sqlite3_column_bytes(st_, column);
  return p == nullptr ? std::string()
                      : std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

std::vector<std::uint8_t> Statement::column_blob(int column) const {
  const void* p = sqlite3_column_blob(st_, column);
  int n = sqlite3_column_bytes(st_, column);
  if (p == nullptr || n <= 0) return {};
  const auto* b = static_cast<const std::uint8_t*>(p);
  return std::vector<std::uint8_t>(b, b + n);
}

Result<Db> Db::open(const std::string& path, bool create) {
  Db db;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db.db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db.db_ != nullptr ? sqlite3_errmsg(db.db_) : sqlite3_errstr(rc);
    return make_error("cannot open database {}: {}", path, msg);
  }
  sqlite3_extended_result_codes(db.db_, 1);
  sqlite3_busy_timeout(db.db_, 5000);  // `porthole token` may run while the relay writes
  return db;
}

Db::Db(Db&& o) noexcept : db_(std::exchange(o.db_, nullptr)) {}

Db& Db::operator=(Db&& o) noexcept {
  if (this != &o) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(o.db_, nullptr);
  }
  return *this;
}

Db::~Db() {
  sqlite3_close_v2(db_);
}

Result<void> Db::exec(std::string_view sql) {
  char* err = nullptr;
  std::string s(sql);
  if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err != nullptr ? err : errmsg();
    sqlite3_free(err);
    return make_error("sqlite: {}", msg);
  }
  return {};
}

Result<Statement> Db::prepare(std::string_view sql) {
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &st,
                              nullptr);
  if (rc != SQLITE_OK) return make_error("sqlite prepare: {} in: {}", errmsg(), sql);
  return Statement(db_, st);
}

std::int64_t Db::changes() const {
  return sqlite3_changes64(db_);
}

std::int64_t Db::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_);
}

std::string Db::errmsg() const {
  return db_ != nullptr ? sqlite3_errmsg(db_) : "no database";
}

Result<void> Transaction::commit() {
  auto r = db_.exec("COMMIT");
  if (r) open_ = false;
  return r;
}

Transaction::~Transaction() {
  if (open_) (void)db_.exec("ROLLBACK");
}

}  // namespace porthole::relay::sqlite
