#include "app/sample_app.hpp"

#include <deque>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "net/http_io.hpp"
#include "net/listen.hpp"
#include "net/tcp_stream.hpp"

namespace porthole::app {

namespace asio = net::asio;
namespace http1 = proto::http1;

namespace {

constexpr std::size_t kMaxBody = 1024 * 1024;

// Collects a request body (up to kMaxBody; more fails the copy).
class Collect final : public net::ByteStream {
 public:
  net::Task<Result<net::Chunk>> read() override { co_return make_error("write-only"); }
  net::Task<Result<void>> write(std::span<const std::uint8_t> b) override {
    if (data.size() + b.size() > kMaxBody) co_return make_error("body over 1 MiB");
    data.append(reinterpret_cast<const char*>(b.data()), b.size());
    co_return Result<void>{};
  }
  void shutdown_write() override {}
  void abort(std::string_view) override {}
  std::string data;
};

struct App {
  std::uint64_t requests = 0;
  std::deque<nlohmann::json> webhooks;  // the last 20, newest last
  std::uint64_t webhook_count = 0;
};

constexpr const char* kPage = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>porthole demo</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}
code,pre{background:#f3f4f6;padding:.1rem .3rem;border-radius:4px}button{font:inherit;padding:.4rem .9rem}</style>
</head><body>
<h1>Hello from porthole</h1>
<p>This page is served by a sample app on a private port, reached through the relay and the agent
(request #{n}).</p>
<h2>Send a test webhook</h2>
<p>The app receives webhooks on <code>POST /webhook</code>. Send one, then open the inspector to see
it and replay it.</p>
<p><button type="button" id="send">Send a webhook</button> <span id="result" role="status"></span></p>
<p>Webhooks received so far: <strong id="count">{count}</strong>.</p>
<script>
document.getElementById('send').addEventListener('click', async () => {
  const r = await fetch('/webhook', {method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({event: 'demo.ping', sent_at: new Date().toISOString()})});
  const j = await r.json();
  document.getElementById('result').textContent = 'received as webhook #' + j.webhook;
  document.getElementById('count').textContent = j.webhook;
});
</script>
</body></html>
)";

std::string respond(int status, std::string_view ctype, std::string_view body) {
  return fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}", status,
                     http1::reason_phrase(status), ctype, body.size(), body);
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (auto p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
  return s;
}

net::Task<void> serve(net::tcp::socket sock, std::shared_ptr<App> app) {
  net::TcpStream s(std::move(sock));
  net::MessageReader rd(s);
  auto r = co_await rd.read_request(http1::Limits{});
  if (r.status != net::HeadStatus::ok) {
    if (r.status == net::HeadStatus::bad) {
      const auto resp = respond(r.bad.status, "text/plain", r.bad.message + "\n");
      co_await s.write(net::bytes_of(resp));
    }
    s.shutdown_write();
    co_return;
  }
  const auto& head = r.head;
  const auto n = ++app->requests;
  Collect body;
  http1::BodyFramer framer(head.body, head.content_length);
  auto copied = co_await rd.copy_body(framer, body);
  std::string resp;
  const std::string path = head.target.substr(0, head.target.find('?'));
  if (!copied) {
    resp = respond(400, "text/plain", "bad body: " + copied.error().message + "\n");
  } else if (path == "/webhook" && head.method == "POST") {
    ++app->webhook_count;
    nlohmann::json hook = {{"webhook", app->webhook_count}, {"bytes", body.data.size()}};
    if (const auto* ct = head.fields.get("Content-Type")) hook["content_type"] = *ct;
    auto parsed = nlohmann::json::parse(body.data, nullptr, false);
    hook["json"] = parsed.is_discarded() ? nlohmann::json(nullptr) : parsed;
    app->webhooks.push_back(hook);
    if (app->webhooks.size() > 20) app->webhooks.pop_front();
    resp = respond(200, "application/json", nlohmann::json{{"received", true}, {"webhook", app->webhook_count},
                                                           {"bytes", body.data.size()}}
                                                .dump() +
                                                "\n");
  } else if (path == "/webhooks" && head.method == "GET") {
    resp = respond(200, "application/json",
                   nlohmann::json{{"count", app->webhook_count}, {"last", app->webhooks}}.dump() + "\n");
  } else if (path == "/" && (head.method == "GET" || head.method == "HEAD")) {
    auto page = replace_all(replace_all(kPage, "{n}", std::to_string(n)), "{count}", std::to_string(app->webhook_count));
    resp = respond(200, "text/html; charset=utf-8", page);
    if (head.method == "HEAD") resp.resize(resp.find("\r\n\r\n") + 4);
  } else {
    resp = respond(404, "text/plain", "not found: try / or POST /webhook\n");
  }
  co_await s.write(net::bytes_of(resp));
  s.shutdown_write();
}

net::Task<void> accept_loop(std::shared_ptr<net::tcp::acceptor> acc) {
  auto app = std::make_shared<App>();
  for (;;) {
    auto [ec, s] = co_await acc->async_accept(net::use_nothrow);
    if (ec == asio::error::operation_aborted) break;
    if (ec) continue;
    asio::co_spawn(acc->get_executor(), serve(std::move(s), app), asio::detached);
  }
}

}  // namespace

Result<std::uint16_t> start_sample_app(asio::io_context& io) {
  auto acc = net::listen_tcp(io.get_executor(), "127.0.0.1", 0);
  if (!acc) return acc.error();
  std::shared_ptr<net::tcp::acceptor> shared = std::move(*acc);
  net::error_code ec;
  const auto port = shared->local_endpoint(ec).port();
  asio::co_spawn(io, accept_loop(shared), asio::detached);
  return port;
}

}  // namespace porthole::app
