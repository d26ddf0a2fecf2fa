// inspect layer, persistence and WebSocket capture: the CaptureDb round trip (every field, the
// bytes exactly), the cap applied on load, foreign / corrupt / newer files refused, the
// Persister's ordering and its bounded queue, a Recorder restarted on the same file, and the
// WsTap's per-connection and total caps. Files in a temporary directory; no sockets.
#include <gtest/gtest.h>

#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "inspect/capture_db.hpp"
#include "inspect/persister.hpp"
#include "inspect/recorder.hpp"
#include "inspect/ws_tap.hpp"

namespace porthole::inspect {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("porthole-capdb-" + std::to_string(::getpid()) + "-" + std::to_string(n_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
  static inline int n_ = 0;
};

Exchange sample(int i, std::size_t body = 100) {
  Exchange e;
  e.id = "00000000" + std::to_string(10000000 + i);
  e.tunnel = "web";
  e.remote_addr = "203.0.113.7";
  e.start = std::chrono::system_clock::time_point(std::chrono::microseconds(1'700'000'000'123'456LL + i));
  e.duration = std::chrono::nanoseconds(1234567 + i);
  e.method = "POST";
  e.uri = "/hook?i=" + std::to_string(i);
  e.request.head = "POST " + e.uri + " HTTP/1.1\r\nHost: a\r\nX-Bin: \xff\x01\r\n\r\n";
  e.request.headers = {{"Host", "a"}, {"X-Bin", "\xff\x01"}};
  e.request.body = std::string(body, static_cast<char>('a' + i % 26));
  e.request.body.push_back('\0');
  e.request.body_size = e.request.body.size() + 5;  // truncated
  e.has_response = true;
  e.status = 201;
  e.reason = "Created";
  e.response.head = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n";
  e.response.headers = {{"Transfer-Encoding", "chunked"}};
  e.response.body = "2\r\nok\r\n0\r\n\r\n";
  e.response.body_size = e.response.body.size();
  e.response.chunked = true;
  e.replay_of = i % 2 ? "abcdef0123456789" : "";
  return e;
}

void expect_same(const Exchange& a, const Exchange& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.tunnel, b.tunnel);
  EXPECT_EQ(a.remote_addr, b.remote_addr);
  EXPECT_EQ(a.start, b.start);
  EXPECT_EQ(a.duration, b.duration);
  EXPECT_EQ(a.method, b.method);
  EXPECT_EQ(a.uri, b.uri);
  EXPECT_EQ(a.minor, b.minor);
  EXPECT_EQ(a.has_response, b.has_response);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.replay_of, b.replay_of);
  EXPECT_EQ(a.upgraded, b.upgraded);
  for (auto [x, y] : {std::pair{&a.request, &b.request}, {&a.response, &b.response}}) {
    EXPECT_EQ(x->head, y->head);
    ASSERT_EQ(x->headers.size(), y->headers.size());
    for (std::size_t i = 0; i < x->headers.size(); ++i) {
      EXPECT_EQ(x->headers[i].name, y->headers[i].name);
      EXPECT_EQ(x->headers[i].value, y->headers[i].value);
    }
    EXPECT_EQ(x->body, y->body);
    EXPECT_EQ(x->body_size, y->body_size);
    EXPECT_EQ(x->chunked, y->chunked);
  }
}

TEST(CaptureDb, RoundTripEveryField) {
  TempDir dir;
  const auto path = dir.file("sub/captures.db");
  {
    auto db = CaptureDb::open(path);
    ASSERT_TRUE(db) << db.error().message;
    std::vector<CaptureDb::Op> ops;
    for (int i = 0; i < 3; ++i) ops.push_back({CaptureDb::Op::insert, std::make_shared<const Exchange>(sample(i)), {}});
    ASSERT_TRUE(db->apply(ops));
    EXPECT_EQ(*db->count(), 3);
  }
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);  // bodies are the user's alone
  ASSERT_EQ(::stat(dir.file("sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto db = CaptureDb::open(path);
  ASSERT_TRUE(db) << db.error().message;
  auto loaded = db->load(1 << 30);
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_EQ(loaded->size(), 3u);
  for (int i = 0; i < 3; ++i) expect_same((*loaded)[static_cast<std::size_t>(i)], sample(i));  // oldest first
}

TEST(CaptureDb, LoadKeepsTheNewestUnderTheCapAndDeletesTheRest) {
  TempDir dir;
  auto db = CaptureDb::open(dir.file("c.db"));
  ASSERT_TRUE(db);
  std::vector<CaptureDb::Op> ops;
  for (int i = 0; i < 10; ++i) ops.push_back({CaptureDb::Op::insert, std::make_shared<const Exchange>(sample(i, 1000)), {}});
  ASSERT_TRUE(db->apply(ops));
  auto all = db->load(1 << 30);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 10u);
  const auto one = all->front().memory();  // as decoded (capacities differ from the originals)
  auto loaded = db->load(one * 4 + one / 2);
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 4u);
  EXPECT_EQ(loaded->front().id, sample(6).id);
  EXPECT_EQ(loaded->back().id, sample(9).id);
  EXPECT_EQ(*db->count(), 4);
  // A cap smaller than one capture still keeps the newest.
  auto tiny = db->load(1);
  ASSERT_TRUE(tiny);
  ASSERT_EQ(tiny->size(), 1u);
  EXPECT_EQ(tiny->front().id, sample(9).id);
}

TEST(CaptureDb, RemoveClearAndWsUpdateInOrder) {
  TempDir dir;
  auto db = CaptureDb::open(dir.file("c.db"));
  ASSERT_TRUE(db);
  auto e0 = std::make_shared<const Exchange>(sample(0));
  auto e1 = std::make_shared<const Exchange>(sample(1));
  ASSERT_TRUE(db->apply({{CaptureDb::Op::insert, e0, {}}, {CaptureDb::Op::clear, nullptr, {}},
                         {CaptureDb::Op::insert, e1, {}}, {CaptureDb::Op::insert, e0, {}},
                         {CaptureDb::Op::remove, nullptr, e1->id}}));
  auto loaded = db->load(1 << 30);
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ(loaded->front().id, e0->id);
  // WebSocket messages written when the connection ends come back with the exchange.
  Exchange w = sample(2);
  w.upgraded = true;
  w.ws = std::make_shared<WsLog>();
  auto wp = std::make_shared<const Exchange>(std::move(w));
  ASSERT_TRUE(db->apply({{CaptureDb::Op::insert, wp, {}}}));
  wp->ws->messages.push_back({true, std::chrono::system_clock::time_point(std::chrono::microseconds(5)), 1, 70000,
                              std::string("hi\0\xff", 4), false, 0});
  wp->ws->messages.push_back({false, {}, 8, 2, "\x03\xe8", false, 1000});
  wp->ws->dropped = 3;
  wp->ws->error = "from the visitor: reserved opcode 3";
  ASSERT_TRUE(db->apply({{CaptureDb::Op::ws, wp, {}}}));
  loaded = db->load(1 << 30);
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 2u);
  const auto& back = loaded->back();
  ASSERT_TRUE(back.ws);
  ASSERT_EQ(back.ws->messages.size(), 2u);
  EXPECT_TRUE(back.ws->messages[0].from_client);
  EXPECT_EQ(back.ws->messages[0].payload, std::string("hi\0\xff", 4));
  EXPECT_EQ(back.ws->messages[0].size, 70000u);
  EXPECT_EQ(back.ws->messages[0].time, wp->ws->messages[0].time);
  EXPECT_EQ(back.ws->messages[1].close_code, 1000);
  EXPECT_EQ(back.ws->dropped, 3u);
  EXPECT_EQ(back.ws->error, wp->ws->error);
  EXPECT_TRUE(back.ws->closed);
}

TEST(CaptureDb, RefusesForeignCorruptAndNewerFiles) {
  TempDir dir;
  {  // not a database at all
    std::ofstream(dir.file("junk.db")) << std::string(4096, 'J');
    auto db = CaptureDb::open(dir.file("junk.db"));
    ASSERT_FALSE(db);
    EXPECT_NE(db.error().message.find("not an SQLite database"), std::string::npos) << db.error().message;
  }
  {  // another program's SQLite file: refused and left as it was
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(dir.file("other.db").c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, "CREATE TABLE tokens(x); INSERT INTO tokens VALUES(1)", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
    auto db = CaptureDb::open(dir.file("other.db"));
    ASSERT_FALSE(db);
    EXPECT_NE(db.error().message.find("another program's SQLite database"), std::string::npos) << db.error().message;
    ASSERT_EQ(sqlite3_open(dir.file("other.db").c_str(), &raw), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(raw, "SELECT count(*) FROM sqlite_master", -1, &st, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(st, 0), 1);  // nothing added
    sqlite3_finalize(st);
    sqlite3_close(raw);
  }
  {  // ours, from a newer porthole
    { ASSERT_TRUE(CaptureDb::open(dir.file("new.db"))); }
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(dir.file("new.db").c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(raw);
    auto db = CaptureDb::open(dir.file("new.db"));
    ASSERT_FALSE(db);
    EXPECT_NE(db.error().message.find("newer"), std::string::npos) << db.error().message;
  }
  {  // a second agent on a file in use
    auto first = CaptureDb::open(dir.file("busy.db"));
    ASSERT_TRUE(first);
    ASSERT_TRUE(first->apply({{CaptureDb::Op::insert, std::make_shared<const Exchange>(sample(0)), {}}}));
    auto second = CaptureDb::open(dir.file("busy.db"));
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().message.find("in use by another process"), std::string::npos)
        << second.error().message;
  }
}

TEST(CaptureDb, DamagedRowIsSkippedAndDeleted) {
  TempDir dir;
  {
    auto db = CaptureDb::open(dir.file("c.db"));
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->apply({{CaptureDb::Op::insert, std::make_shared<const Exchange>(sample(0)), {}},
                           {CaptureDb::Op::insert, std::make_shared<const Exchange>(sample(1)), {}}}));
  }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(dir.file("c.db").c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "UPDATE captures SET req_fields = x'ffffff' WHERE seq = 1", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  auto db = CaptureDb::open(dir.file("c.db"));
  ASSERT_TRUE(db);
  std::size_t skipped = 0;
  auto loaded = db->load(1 << 30, &skipped);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(skipped, 1u);
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ(*db->count(), 1);
}

TEST(Persister, WritesInOrderAndBoundsItsQueue) {
  TempDir dir;
  {
    auto db = CaptureDb::open(dir.file("c.db"));
    ASSERT_TRUE(db);
    Persister p(std::move(*db), Persister::Limits{.entries = 1000, .bytes = 64 * 1024 * 1024});
    for (int i = 0; i < 200; ++i) p.insert(std::make_shared<const Exchange>(sample(i)));
    for (int i = 0; i < 100; ++i) p.remove(sample(i).id);
    p.flush();
    EXPECT_EQ(p.written() + p.dropped(), 200u);
    EXPECT_EQ(p.errors(), 0u);
  }
  auto db = CaptureDb::open(dir.file("c.db"));
  ASSERT_TRUE(db);
  auto loaded = db->load(1 << 30);
  ASSERT_TRUE(loaded);
  ASSERT_FALSE(loaded->empty());
  for (const auto& e : *loaded) EXPECT_GE(e.uri, "/hook?i=");  // only the later ones remain
  EXPECT_LE(loaded->size(), 100u);
  EXPECT_EQ(loaded->back().id, sample(199).id);
  {
    // A queue of one entry: a burst drops (and counts) rather than waits.
    auto db2 = CaptureDb::open(dir.file("d.db"));
    ASSERT_TRUE(db2);
    Persister p(std::move(*db2), Persister::Limits{.entries = 1, .bytes = 1 << 20});
    for (int i = 0; i < 500; ++i) p.insert(std::make_shared<const Exchange>(sample(i)));
    p.flush();
    EXPECT_EQ(p.written() + p.dropped(), 500u);
    EXPECT_GT(p.dropped(), 0u);
  }
}

TEST(Recorder, RestartOnTheSameFileKeepsTheRing) {
  TempDir dir;
  const auto path = dir.file("c.db");
  CaptureLimits limits;
  limits.memory = sample(0, 2000).memory() * 5 + 10;
  std::vector<std::string> ids;
  {
    net::asio::io_context io;
    auto rec = std::make_shared<Recorder>(io.get_executor(), limits);
    auto n = rec->attach_db(path);
    ASSERT_TRUE(n) << n.error().message;
    EXPECT_EQ(*n, 0u);
    for (int i = 0; i < 8; ++i) {
      auto e = sample(i, 2000);
      e.id = rec->next_id();
      rec->offer(std::move(e));
      io.run();
      io.restart();
    }
    for (const auto& e : rec->store().list()) ids.push_back(e->id);
    EXPECT_GE(ids.size(), 4u);  // the cap holds about five (memory() counts capacities)
    EXPECT_LE(ids.size(), 5u);
    rec->persister()->flush();
  }
  {
    net::asio::io_context io;
    auto rec = std::make_shared<Recorder>(io.get_executor(), limits);
    auto n = rec->attach_db(path);
    ASSERT_TRUE(n) << n.error().message;
    EXPECT_EQ(*n, ids.size());
    std::vector<std::string> again;
    for (const auto& e : rec->store().list()) again.push_back(e->id);
    EXPECT_EQ(again, ids);  // newest first, the same ones
    rec->store().clear();
    rec->persister()->flush();
  }
  net::asio::io_context io;
  auto rec = std::make_shared<Recorder>(io.get_executor(), limits);
  auto n = rec->attach_db(path);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);  // DELETE /api/requests/http reached the file
}

std::string server_frame(std::uint8_t b0, std::string_view payload) {
  std::string f(1, static_cast<char>(b0));
  f += static_cast<char>(payload.size());
  f += payload;
  return f;
}

TEST(WsTap, KeepsMessagesUnderBothCaps) {
  net::asio::io_context io;
  CaptureLimits limits;
  limits.ws.preview = 4;
  limits.ws.per_connection = 3;
  limits.ws_total = 2 * (sizeof(WsMessage) + 4) + 1;
  auto rec = std::make_shared<Recorder>(io.get_executor(), limits);
  struct Null final : net::ByteStream {
    net::Task<Result<net::Chunk>> read() override { co_return net::Chunk{}; }
    net::Task<Result<void>> write(std::span<const std::uint8_t>) override { co_return Result<void>{}; }
    void shutdown_write() override {}
    void abort(std::string_view) override {}
  } null;
  {
    auto log = std::make_shared<WsLog>();
    log->release = rec->ws_releaser();
    WsTap tap(null, *rec, log, false);
    std::string in;
    for (int i = 0; i < 5; ++i) in += server_frame(0x81, "message" + std::to_string(i));
    tap.observe(net::bytes_of(in));
    {
      std::lock_guard lock(log->mu);
      ASSERT_EQ(log->messages.size(), 2u);  // the total budget holds two
      EXPECT_EQ(log->messages[0].payload, "mess");
      EXPECT_EQ(log->messages[0].size, 8u);
      EXPECT_FALSE(log->messages[0].from_client);
      EXPECT_EQ(log->dropped, 3u);
    }
    EXPECT_EQ(rec->ws_bytes(), 2 * (sizeof(WsMessage) + 4));
    // Bad framing stops that direction and says why.
    tap.observe(net::bytes_of(server_frame(0x83, "x")));
    std::lock_guard lock(log->mu);
    EXPECT_EQ(log->bad_server, 1u);
    EXPECT_NE(log->error.find("reserved opcode 3"), std::string::npos) << log->error;
  }
  EXPECT_EQ(rec->ws_bytes(), 0u);  // the log released its budget
  limits.ws_total = 1 << 20;
  auto rec2 = std::make_shared<Recorder>(io.get_executor(), limits);
  auto log = std::make_shared<WsLog>();
  WsTap tap(null, *rec2, log, false);
  std::string in;
  for (int i = 0; i < 5; ++i) in += server_frame(0x82, "b");
  tap.observe(net::bytes_of(in));
  std::lock_guard lock(log->mu);
  EXPECT_EQ(log->messages.size(), 3u);  // the per-connection cap
  EXPECT_EQ(log->dropped, 2u);
}

}  // namespace
}  // namespace porthole::inspect
