// inspect layer: the ngrok-style meters and percentiles, the byte-capped ring, the replay
// builder, the Host/Origin guards and the JSON shapes. No sockets.
#include <gtest/gtest.h>

#include "inspect/api.hpp"
#include "inspect/api_json.hpp"
#include "inspect/screen.hpp"
#include "inspect/stats.hpp"
#include "inspect/store.hpp"

namespace porthole::inspect {
namespace {

using namespace std::chrono_literals;

TEST(Meter, RatesFollowGoMetricsEwma) {
  Meter m;
  const auto t0 = Clock::time_point{} + 1h;
  m.mark(t0, 0);  // starts the clock
  for (int i = 0; i < 50; ++i) m.mark(t0 + 1s);
  // The first tick sets every rate to the instant rate: 50 events in 5 s = 10/s.
  EXPECT_DOUBLE_EQ(m.rate1(t0 + 5s), 10.0);
  EXPECT_DOUBLE_EQ(m.rate15(t0 + 5s), 10.0);
  // A quiet tick decays each by its alpha; the 1-minute rate falls fastest.
  const double r1 = m.rate1(t0 + 10s);
  EXPECT_NEAR(r1, 10.0 * std::exp(-5.0 / 60.0), 1e-9);
  EXPECT_GT(m.rate15(t0 + 10s), r1);
  EXPECT_EQ(m.count(), 50u);
  // Hours idle: every rate is 0.
  EXPECT_EQ(m.rate5(t0 + 10h), 0.0);
}

TEST(Timer, Percentiles) {
  Timer t;
  const auto now = Clock::time_point{} + 1h;
  EXPECT_EQ(t.percentile(0.5), 0.0);
  for (int i = 1; i <= 100; ++i) t.record(now, std::chrono::nanoseconds(i * 1000));
  EXPECT_NEAR(t.percentile(0.50), 50500, 1);
  EXPECT_NEAR(t.percentile(0.99), 99990, 1);
  EXPECT_EQ(t.meter().count(), 100u);
  // The reservoir keeps only the latest kSamples.
  for (std::size_t i = 0; i < Timer::kSamples; ++i) t.record(now, 7ns);
  EXPECT_EQ(t.percentile(0.99), 7.0);
}

ExchangePtr make(std::string id, std::string tunnel, std::size_t body) {
  auto e = std::make_shared<Exchange>();
  e->id = std::move(id);
  e->tunnel = std::move(tunnel);
  e->request.body.assign(body, 'x');
  e->request.body_size = body;
  return e;
}

TEST(Store, DropsOldestPastTheCap) {
  Store s(10000);
  int heard = 0;
  const int sub = s.subscribe([&](const ExchangePtr&) { ++heard; });
  for (int i = 0; i < 10; ++i) s.add(make("id" + std::to_string(i), i % 2 ? "a" : "b", 2000));
  EXPECT_LE(s.bytes(), 10000u);
  EXPECT_GT(s.evicted(), 0u);
  EXPECT_EQ(heard, 10);
  EXPECT_EQ(s.list().front()->id, "id9");  // newest first
  EXPECT_EQ(s.find("id0"), nullptr);
  EXPECT_NE(s.find("id9"), nullptr);
  for (const auto& e : s.list(0, "a")) EXPECT_EQ(e->tunnel, "a");
  EXPECT_EQ(s.list(1).size(), 1u);
  s.unsubscribe(sub);
  s.add(make("late", "a", 10));
  EXPECT_EQ(heard, 10);
  s.clear();
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(s.bytes(), 0u);
  // One exchange alone over the cap stays (its body is already bounded by the capture limit).
  s.add(make("big", "a", 20000));
  EXPECT_EQ(s.size(), 1u);
}

Exchange captured_post() {
  Exchange e;
  e.request.head = "POST /hook?a=1 HTTP/1.1\r\nHost: demo.localhost\r\nContent-Length: 5\r\nX-A: 1\r\n\r\n";
  e.request.body = "hello";
  e.request.body_size = 5;
  return e;
}

TEST(BuildReplay, AsCapturedOrEdited) {
  auto e = captured_post();
  auto same = build_replay(e, {});
  ASSERT_TRUE(same);
  EXPECT_EQ(*same, e.request.head + "hello");

  ReplayEdits ed;
  ed.method = "PUT";
  ed.uri = "/other";
  ed.body = "changed body";
  ed.headers = std::vector<proto::http1::Field>{{"X-B", "2"}, {"Content-Length", "999"}};
  auto out = build_replay(e, ed);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out, "PUT /other HTTP/1.1\r\nX-B: 2\r\nHost: demo.localhost\r\nContent-Length: 12\r\n\r\nchanged body");

  ReplayEdits bad;
  bad.uri = "no-slash and spaces";
  auto b = build_replay(e, bad);
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message.find("not valid HTTP/1.1"), std::string::npos);

  e.request.body_size = 50;  // truncated capture
  auto t = build_replay(e, {});
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find("cut at 5 of 50"), std::string::npos);
  ReplayEdits with_body;
  with_body.body = "";
  EXPECT_TRUE(build_replay(e, with_body));
}

TEST(Guards, HostAndOrigin) {
  const ListenInfo at{"127.0.0.1", 4040};
  auto req = [](std::string method, std::string host, std::string origin = "", std::string site = "") {
    Request r;
    r.method = std::move(method);
    r.host = std::move(host);
    r.origin = std::move(origin);
    r.sec_fetch_site = std::move(site);
    return r;
  };
  for (const auto* ok : {"127.0.0.1:4040", "localhost:4040", "LOCALHOST:4040", "[::1]:4040"}) {
    EXPECT_EQ(check_host(req("GET", ok), at), "") << ok;
  }
  for (const auto* no : {"", "evil.com", "evil.com:4040", "127.0.0.1:4041", "localhost", "[::1]", "127.0.0.1.nip.io:4040"}) {
    EXPECT_NE(check_host(req("GET", no), at), "") << no;
  }
  const ListenInfo any{"0.0.0.0", 4040};
  EXPECT_NE(check_host(req("GET", "0.0.0.0:4040"), any), "");
  const ListenInfo named{"devbox.lan", 4040};
  EXPECT_EQ(check_host(req("GET", "devbox.lan:4040"), named), "");

  EXPECT_EQ(check_origin(req("GET", "", "http://evil.com", "cross-site"), at), "");  // reads are not writes
  EXPECT_EQ(check_origin(req("POST", "", ""), at), "");                              // curl, scripts
  EXPECT_EQ(check_origin(req("POST", "", "http://localhost:4040", "same-origin"), at), "");
  EXPECT_NE(check_origin(req("POST", "", "http://evil.com"), at), "");
  EXPECT_NE(check_origin(req("DELETE", "", "http://localhost:4041"), at), "");
  EXPECT_NE(check_origin(req("POST", "", "", "cross-site"), at), "");
  EXPECT_NE(check_origin(req("POST", "", "", "same-site"), at), "");
  EXPECT_NE(check_origin(req("POST", "", "null"), at), "");
}

TEST(Json, NgrokShapes) {
  TunnelInfo t;
  t.name = "web";
  t.proto = "http";
  t.public_url = "http://a.localhost:8080";
  t.addr = "http://127.0.0.1:3000";
  t.inspect = true;
  const auto j = tunnel_json(t);
  EXPECT_EQ(j.dump(),
            R"({"name":"web","uri":"/api/tunnels/web","public_url":"http://a.localhost:8080","proto":"http",)"
            R"("config":{"addr":"http://127.0.0.1:3000","inspect":true},"metrics":{"conns":{"count":0,"gauge":0,)"
            R"("rate1":0.0,"rate5":0.0,"rate15":0.0,"p50":0.0,"p90":0.0,"p95":0.0,"p99":0.0},"http":{"count":0,)"
            R"("rate1":0.0,"rate5":0.0,"rate15":0.0,"p50":0.0,"p90":0.0,"p95":0.0,"p99":0.0}}})");
  auto e = captured_post();
  e.id = "0123456789abcdef";
  e.method = "POST";
  e.uri = "/hook?a=1";
  e.request.headers = {{"X-A", "1"}, {"x-a", "2"}};
  e.start = std::chrono::system_clock::time_point{} + 1500ms;
  const auto x = exchange_json(e, true);
  EXPECT_EQ(x["start"], "1970-01-01T00:00:01.500000Z");
  EXPECT_EQ(x["request"]["headers"]["X-A"], (nlohmann::ordered_json{"1", "2"}));
  EXPECT_TRUE(x["response"].is_null());
  EXPECT_EQ(base64_decode(x["request"]["raw"].get<std::string>()).value(), e.request.head + "hello");
  EXPECT_FALSE(exchange_json(e, false)["request"].contains("raw"));
  for (const auto* s : {"", "a", "ab", "abc", "abcd", "\xff\x00z"}) {
    EXPECT_EQ(base64_decode(base64(s)).value(), s);
  }
  EXPECT_FALSE(base64_decode("abc"));
}

}  // namespace
}  // namespace porthole::inspect

namespace porthole::inspect {
namespace {

TEST(Screen, FieldsSizesAndSafety) {
  ScreenModel m;
  m.status.session = "reconnecting";
  m.status.reason = "relay gone";
  m.status.version = "0.1.0";
  m.status.relay = "r:7000";
  m.status.token_name = "0123456789abcdef";
  m.web_interface = "http://127.0.0.1:4040";
  TunnelInfo t;
  t.public_url = "http://a.localhost:8080";
  t.addr = "http://127.0.0.1:3000";
  t.conns.count = 7;
  m.tunnels = {t, t};
  for (int i = 0; i < 50; ++i) {
    auto e = std::make_shared<Exchange>();
    e->method = "GET";
    e->uri = "/evil\x1b[2J" + std::to_string(i);
    e->has_response = true;
    e->status = 200;
    e->reason = "OK";
    m.latest.push_back(e);
  }
  auto lines = render_screen(m, 100, 30);
  ASSERT_EQ(lines.size(), 30u);
  EXPECT_EQ(lines[2], "Session Status                reconnecting (relay gone)");
  EXPECT_EQ(lines[3], "Account                       token 0123456789abcdef");
  EXPECT_EQ(lines[7], "Web Interface                 http://127.0.0.1:4040");
  EXPECT_EQ(lines[8], "Forwarding                    http://a.localhost:8080 -> http://127.0.0.1:3000");
  EXPECT_EQ(lines[9], lines[8]);
  EXPECT_EQ(lines[12].substr(0, 33), "                              14 ");  // ttl summed
  for (const auto& l : lines) {
    EXPECT_LE(l.size(), 100u);
    EXPECT_EQ(l.find('\x1b'), std::string::npos);  // what visitors sent cannot drive the terminal
  }
  auto small = render_screen(m, 20, 5);
  EXPECT_EQ(small.size(), 5u);
  for (const auto& l : small) EXPECT_LE(l.size(), 20u);
  EXPECT_TRUE(render_screen(m, 0, 0).empty());
}

}  // namespace
}  // namespace porthole::inspect
