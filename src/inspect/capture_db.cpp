#include "inspect/capture_db.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <iterator>
#include <memory>
#include <utility>

#include <sqlite3.h>

namespace porthole::inspect {

namespace {

// kMigrations[v] takes the file from version v to v + 1. Never edit a released entry: add one.
constexpr std::string_view kMigrations[] = {
    // 0 → 1: the first schema.
    R"sql(
CREATE TABLE captures(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  tunnel TEXT NOT NULL,
  remote_addr TEXT NOT NULL,
  start_us INTEGER NOT NULL,
  duration_ns INTEGER NOT NULL,
  method TEXT NOT NULL,
  uri TEXT NOT NULL,
  minor INTEGER NOT NULL,
  has_response INTEGER NOT NULL,
  status INTEGER NOT NULL,
  reason TEXT NOT NULL,
  error TEXT NOT NULL,
  replay_of TEXT NOT NULL,
  upgraded INTEGER NOT NULL,
  req_head BLOB NOT NULL,
  req_fields BLOB NOT NULL,
  req_body BLOB NOT NULL,
  req_body_size INTEGER NOT NULL,
  req_chunked INTEGER NOT NULL,
  resp_head BLOB NOT NULL,
  resp_fields BLOB NOT NULL,
  resp_body BLOB NOT NULL,
  resp_body_size INTEGER NOT NULL,
  resp_chunked INTEGER NOT NULL,
  ws BLOB
);
PRAGMA user_version = 1;
)sql",
};
static_assert(static_cast<int>(std::size(kMigrations)) == kCaptureDbVersion);

struct Finalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, Finalize>;

Error db_error(sqlite3* db, std::string_view what) {
  return make_error("{}: {}", what, db != nullptr ? sqlite3_errmsg(db) : "out of memory");
}

Result<Stmt> prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &s, nullptr) != SQLITE_OK) {
    return db_error(db, "sqlite");
  }
  return Stmt(s);
}

Result<void> exec(sqlite3* db, const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string m = msg != nullptr ? msg : sqlite3_errmsg(db);
    sqlite3_free(msg);
    return make_error("{}", m);
  }
  return {};
}

void rollback(sqlite3* db) { sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr); }

Result<std::int64_t> scalar(sqlite3* db, const char* sql) {
  auto st = prepare(db, sql);
  if (!st) return st.error();
  const int rc = sqlite3_step(st->get());
  if (rc != SQLITE_ROW) return db_error(db, sql);
  return sqlite3_column_int64(st->get(), 0);
}

void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text64(s, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}
void bind_blob(sqlite3_stmt* s, int i, std::string_view v) {
  // A zero-length blob, not NULL (the columns are NOT NULL).
  sqlite3_bind_blob64(s, i, v.empty() ? "" : v.data(), v.size(), SQLITE_TRANSIENT);
}
std::string column(sqlite3_stmt* s, int i) {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(s, i));
  const auto n = static_cast<std::size_t>(sqlite3_column_bytes(s, i));
  return p == nullptr ? std::string() : std::string(p, n);
}

void put_u32(std::string& out, std::size_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_str(std::string& out, std::string_view s) {
  put_u32(out, s.size());
  out += s;
}

struct Reader {
  std::string_view in;
  bool ok = true;
  std::uint64_t num(int bytes) {
    if (in.size() < static_cast<std::size_t>(bytes)) {
      ok = false;
      return 0;
    }
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
    in.remove_prefix(static_cast<std::size_t>(bytes));
    return v;
  }
  std::string str() {
    const auto n = num(4);
    if (!ok || in.size() < n) {
      ok = false;
      return {};
    }
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
};

std::int64_t micros(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}
std::chrono::system_clock::time_point from_micros(std::int64_t us) {
  return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::microseconds(us)));
}

// Creates the directory (0700) and the file (0600) so captured bodies are the user's alone.
Result<void> create_private(const std::string& path) {
  const auto dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return make_error("creating {}: {}", dir.string(), ec.message());
    ::chmod(dir.c_str(), 0700);
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return make_error("opening {}: {}", path, std::strerror(errno));
  ::close(fd);
  return {};
}

Result<void> migrate(sqlite3* db, const std::string& path) {
  auto app = scalar(db, "PRAGMA application_id");
  if (!app && sqlite3_errcode(db) == SQLITE_BUSY) {
    return make_error("{} is in use by another process (locked): give each agent its own --inspect-db", path);
  }
  if (!app) return make_error("{} is not an SQLite database ({})", path, app.error().message);
  auto tables = scalar(db, "SELECT count(*) FROM sqlite_master");
  if (!tables) return make_error("{} is not an SQLite database ({})", path, tables.error().message);
  auto version = scalar(db, "PRAGMA user_version");
  if (!version) return version.error();
  if (*app != kCaptureDbApplicationId && (*app != 0 || *tables != 0)) {
    return make_error("{} is another program's SQLite database (application_id {:#x}, {} schema objects), not "
                      "porthole's captures: give --inspect-db a file of its own",
                      path, *app, *tables);
  }
  if (*version > kCaptureDbVersion) {
    return make_error("{}: capture schema version {} is newer than this porthole understands ({})", path, *version,
                      kCaptureDbVersion);
  }
  if (*version == kCaptureDbVersion) return {};
  if (auto r = exec(db, "BEGIN IMMEDIATE"); !r) return r;
  for (auto v = *version; v < kCaptureDbVersion; ++v) {
    if (auto r = exec(db, std::string(kMigrations[v]).c_str()); !r) {
      rollback(db);
      return make_error("{}: upgrading the capture schema from {} to {}: {}", path, v, v + 1, r.error().message);
    }
  }
  if (auto r = exec(db, "PRAGMA application_id = 1346917449"); !r) {  // kCaptureDbApplicationId
    rollback(db);
    return r;
  }
  return exec(db, "COMMIT");
}

constexpr std::string_view kColumns =
    "id, tunnel, remote_addr, start_us, duration_ns, method, uri, minor, has_response, status, reason, error, "
    "replay_of, upgraded, req_head, req_fields, req_body, req_body_size, req_chunked, resp_head, resp_fields, "
    "resp_body, resp_body_size, resp_chunked, ws";

Result<Exchange> decode_row(sqlite3_stmt* s) {
  Exchange e;
  int c = 1;  // column 0 is seq
  e.id = column(s, c++);
  e.tunnel = column(s, c++);
  e.remote_addr = column(s, c++);
  e.start = from_micros(sqlite3_column_int64(s, c++));
  e.duration = std::chrono::nanoseconds(sqlite3_column_int64(s, c++));
  e.method = column(s, c++);
  e.uri = column(s, c++);
  e.minor = sqlite3_column_int(s, c++);
  e.has_response = sqlite3_column_int(s, c++) != 0;
  e.status = sqlite3_column_int(s, c++);
  e.reason = column(s, c++);
  e.error = column(s, c++);
  e.replay_of = column(s, c++);
  e.upgraded = sqlite3_column_int(s, c++) != 0;
  for (auto* m : {&e.request, &e.response}) {
    m->head = column(s, c++);
    auto fields = decode_fields(column(s, c++));
    if (!fields) return fields.error();
    m->headers = std::move(*fields);
    m->body = column(s, c++);
    m->body_size = static_cast<std::uint64_t>(sqlite3_column_int64(s, c++));
    m->chunked = sqlite3_column_int(s, c++) != 0;
  }
  if (sqlite3_column_type(s, c) != SQLITE_NULL) {
    e.ws = std::make_shared<WsLog>();
    if (auto r = decode_ws(column(s, c), *e.ws); !r) return r.error();
    e.ws->closed = true;  // whatever it was, that connection is gone
  }
  return e;
}

Result<void> insert(sqlite3* db, sqlite3_stmt* s, const Exchange& e) {
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  int c = 1;
  bind_text(s, c++, e.id);
  bind_text(s, c++, e.tunnel);
  bind_text(s, c++, e.remote_addr);
  sqlite3_bind_int64(s, c++, micros(e.start));
  sqlite3_bind_int64(s, c++, e.duration.count());
  bind_blob(s, c++, e.method);  // visitor bytes: blobs, so nothing is re-encoded
  bind_blob(s, c++, e.uri);
  sqlite3_bind_int(s, c++, e.minor);
  sqlite3_bind_int(s, c++, e.has_response ? 1 : 0);
  sqlite3_bind_int(s, c++, e.status);
  bind_blob(s, c++, e.reason);
  bind_blob(s, c++, e.error);
  bind_text(s, c++, e.replay_of);
  sqlite3_bind_int(s, c++, e.upgraded ? 1 : 0);
  for (const auto* m : {&e.request, &e.response}) {
    bind_blob(s, c++, m->head);
    bind_blob(s, c++, encode_fields(m->headers));
    bind_blob(s, c++, m->body);
    sqlite3_bind_int64(s, c++, static_cast<std::int64_t>(m->body_size));
    sqlite3_bind_int(s, c++, m->chunked ? 1 : 0);
  }
  if (e.ws) {
    bind_blob(s, c, encode_ws(*e.ws));
  } else {
    sqlite3_bind_null(s, c);
  }
  const int rc = sqlite3_step(s);
  if (rc != SQLITE_DONE) return db_error(db, "saving a capture");
  return {};
}

}  // namespace

std::string encode_fields(const std::vector<proto::http1::Field>& fields) {
  std::string out;
  for (const auto& f : fields) {
    put_str(out, f.name);
    put_str(out, f.value);
  }
  return out;
}

Result<std::vector<proto::http1::Field>> decode_fields(std::string_view blob) {
  std::vector<proto::http1::Field> out;
  Reader r{blob};
  while (r.ok && !r.in.empty()) {
    proto::http1::Field f;
    f.name = r.str();
    f.value = r.str();
    if (r.ok) out.push_back(std::move(f));
  }
  if (!r.ok) return make_error("a capture's header fields are damaged");
  return out;
}

std::string encode_ws(const WsLog& log) {
  std::lock_guard lock(log.mu);
  std::string out;
  put_u64(out, log.dropped);
  put_u64(out, log.bad_client);
  put_u64(out, log.bad_server);
  put_str(out, log.error);
  put_u32(out, log.messages.size());
  for (const auto& m : log.messages) {
    out += static_cast<char>((m.from_client ? 1 : 0) | (m.compressed ? 2 : 0));
    out += static_cast<char>(m.opcode);
    put_u64(out, static_cast<std::uint64_t>(micros(m.time)));
    put_u64(out, m.size);
    put_u32(out, static_cast<std::size_t>(m.close_code));
    put_str(out, m.payload);
  }
  return out;
}

Result<void> decode_ws(std::string_view blob, WsLog& log) {
  Reader r{blob};
  log.dropped = r.num(8);
  log.bad_client = r.num(8);
  log.bad_server = r.num(8);
  log.error = r.str();
  const auto n = r.num(4);
  log.bytes = 0;
  for (std::uint64_t i = 0; r.ok && i < n; ++i) {
    WsMessage m;
    const auto flags = r.num(1);
    m.from_client = (flags & 1) != 0;
    m.compressed = (flags & 2) != 0;
    m.opcode = static_cast<std::uint8_t>(r.num(1));
    m.time = from_micros(static_cast<std::int64_t>(r.num(8)));
    m.size = r.num(8);
    m.close_code = static_cast<int>(r.num(4));
    m.payload = r.str();
    if (!r.ok) break;
    log.bytes += sizeof(WsMessage) + m.payload.size();
    log.messages.push_back(std::move(m));
  }
  if (!r.ok || !r.in.empty()) return make_error("a capture's WebSocket messages are damaged");
  return {};
}

CaptureDb::CaptureDb(CaptureDb&& o) noexcept : db_(std::exchange(o.db_, nullptr)), path_(std::move(o.path_)) {}

CaptureDb& CaptureDb::operator=(CaptureDb&& o) noexcept {
  if (this != &o) {
    sqlite3_close(db_);
    db_ = std::exchange(o.db_, nullptr);
    path_ = std::move(o.path_);
  }
  return *this;
}

CaptureDb::~CaptureDb() { sqlite3_close(db_); }

Result<CaptureDb> CaptureDb::open(const std::string& path) {
  if (path.empty()) return make_error("--inspect-db: an empty path");
  if (auto r = create_private(path); !r) return r.error();
  CaptureDb out;
  out.path_ = path;
  const int rc = sqlite3_open_v2(path.c_str(), &out.db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) return make_error("opening {}: {}", path, out.db_ ? sqlite3_errmsg(out.db_) : sqlite3_errstr(rc));
  sqlite3_busy_timeout(out.db_, 200);
  // One agent per file: the first write takes the lock and keeps it (a second agent on the
  // same file gets "database is locked" and runs without persistence).
  if (auto r = exec(out.db_, "PRAGMA locking_mode = EXCLUSIVE"); !r) return r.error();
  if (auto r = migrate(out.db_, path); !r) return r.error();
  if (auto r = exec(out.db_, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL"); !r) {
    return make_error("{}: {}", path, r.error().message);
  }
  return out;
}

Result<std::vector<Exchange>> CaptureDb::load(std::size_t max_bytes, std::size_t* skipped) {
  auto st = prepare(db_, "SELECT seq, " + std::string(kColumns) + " FROM captures ORDER BY seq DESC");
  if (!st) return st.error();
  std::vector<Exchange> newest_first;
  std::vector<std::int64_t> bad;
  std::int64_t keep_from = 0;  // the oldest seq kept
  std::size_t bytes = 0;
  std::size_t n_skipped = 0;
  for (;;) {
    const int rc = sqlite3_step(st->get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return db_error(db_, "reading captures");
    const auto seq = sqlite3_column_int64(st->get(), 0);
    auto e = decode_row(st->get());
    if (!e) {
      bad.push_back(seq);
      ++n_skipped;
      continue;
    }
    const auto size = e->memory();
    if (!newest_first.empty() && bytes + size > max_bytes) break;
    bytes += size;
    keep_from = seq;
    newest_first.push_back(std::move(*e));
  }
  st->reset();
  if (auto r = exec(db_, "BEGIN IMMEDIATE"); !r) return r.error();
  auto del = prepare(db_, "DELETE FROM captures WHERE seq < ?1");
  if (!del) return del.error();
  sqlite3_bind_int64(del->get(), 1, keep_from);
  sqlite3_step(del->get());
  auto del_one = prepare(db_, "DELETE FROM captures WHERE seq = ?1");
  if (!del_one) return del_one.error();
  for (auto seq : bad) {
    sqlite3_reset(del_one->get());
    sqlite3_bind_int64(del_one->get(), 1, seq);
    sqlite3_step(del_one->get());
  }
  if (auto r = exec(db_, "COMMIT"); !r) return r.error();
  if (skipped != nullptr) *skipped = n_skipped;
  return std::vector<Exchange>(std::make_move_iterator(newest_first.rbegin()),
                               std::make_move_iterator(newest_first.rend()));
}

Result<void> CaptureDb::apply(const std::vector<Op>& ops) {
  auto ins = prepare(db_, "INSERT OR REPLACE INTO captures(" + std::string(kColumns) +
                              ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,"
                              "?22,?23,?24,?25)");
  if (!ins) return ins.error();
  auto del = prepare(db_, "DELETE FROM captures WHERE id = ?1");
  if (!del) return del.error();
  auto ws = prepare(db_, "UPDATE captures SET ws = ?2 WHERE id = ?1");
  if (!ws) return ws.error();
  if (auto r = exec(db_, "BEGIN IMMEDIATE"); !r) return r;
  auto fail = [&](Error e) -> Result<void> {
    rollback(db_);
    return e;
  };
  for (const auto& op : ops) {
    switch (op.kind) {
      case Op::insert:
        if (auto r = insert(db_, ins->get(), *op.exchange); !r) return fail(r.error());
        break;
      case Op::remove:
        sqlite3_reset(del->get());
        bind_text(del->get(), 1, op.id);
        if (sqlite3_step(del->get()) != SQLITE_DONE) return fail(db_error(db_, "deleting a capture"));
        break;
      case Op::clear:
        if (auto r = exec(db_, "DELETE FROM captures"); !r) return fail(r.error());
        break;
      case Op::ws:
        if (!op.exchange->ws) break;
        sqlite3_reset(ws->get());
        bind_text(ws->get(), 1, op.exchange->id);
        bind_blob(ws->get(), 2, encode_ws(*op.exchange->ws));
        if (sqlite3_step(ws->get()) != SQLITE_DONE) return fail(db_error(db_, "saving WebSocket messages"));
        break;
    }
  }
  if (auto r = exec(db_, "COMMIT"); !r) return fail(r.error());
  return {};
}

Result<std::int64_t> CaptureDb::count() { return scalar(db_, "SELECT count(*) FROM captures"); }

}  // namespace porthole::inspect
