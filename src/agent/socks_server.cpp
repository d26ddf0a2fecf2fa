#include "agent/socks_server.hpp"
#include "agent/socks_udp.hpp"

#include <openssl/crypto.h>

#include <spdlog/spdlog.h>

#include "core/metrics.hpp"
#include "net/http_io.hpp"
#include "net/prefixed_stream.hpp"
#include "net/pump.hpp"
#include "net/tcp_stream.hpp"
#include "policy/dest_check.hpp"
#include "proto/http_proxy.hpp"
#include "proto/socks5.hpp"

namespace porthole::agent {

namespace asio = net::asio;
using namespace asio::experimental::awaitable_operators;
namespace s5 = proto::socks5;

namespace {

constexpr std::chrono::seconds kHandshakeTimeout{30};  // a client has this long to say where it goes
constexpr std::chrono::seconds kOpenTimeout{15};       // waiting for the session to the relay
constexpr std::chrono::seconds kExitTimeout{30};       // the exit's answer (resolve + connect)
constexpr std::size_t kMaxSocksBytes = 1024;            // greeting + auth + request fit in far less

metrics::Counter& requests(std::string_view result) {
  auto make = [](const char* r) -> metrics::Counter& {
    return metrics::counter(fmt::format("porthole_socks_requests_total{{result=\"{}\"}}", r),
                            "porthole socks requests, by result");
  };
  static auto& ok = make("ok");
  static auto& bad = make("bad_request");
  static auto& auth = make("auth_failed");
  static auto& refused = make("refused_by_exit");
  static auto& failed = make("failed");
  if (result == "ok") return ok;
  if (result == "bad_request") return bad;
  if (result == "auth_failed") return auth;
  if (result == "refused_by_exit") return refused;
  return failed;
}

// A deadline that aborts a stream when it passes (its pending read then fails), unless
// disarmed first. Safe to outlive: the handler touches nothing once disarmed.
class Deadline {
 public:
  Deadline(const net::asio::any_io_executor& ex, std::chrono::steady_clock::duration d, net::ByteStream& victim,
           std::string why)
      : timer_(ex, d), armed_(std::make_shared<bool>(true)) {
    timer_.async_wait([armed = armed_, &victim, why = std::move(why)](const net::error_code& ec) {
      if (!ec && *armed) {
        *armed = false;
        victim.abort(why);
      }
    });
  }
  ~Deadline() { disarm(); }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;
  void disarm() {
    *armed_ = false;
    timer_.cancel();
  }

 private:
  asio::steady_timer timer_;
  std::shared_ptr<bool> armed_;
};

// Reads more bytes into `buf`; false on end or error (a passed deadline aborts the read).
net::Task<bool> read_more(net::TcpStream& local, std::vector<std::uint8_t>& buf) {
  auto chunk = co_await local.read();
  if (!chunk || chunk->empty()) co_return false;
  auto b = chunk->bytes();
  buf.insert(buf.end(), b.begin(), b.end());
  co_return true;
}

// Runs `parse` on `buf` until it has a whole message (done or error), reading more as needed;
// nullopt when the client went away or sent more than kMaxSocksBytes without one.
template <class Result>
net::Task<std::optional<Result>> parse_whole(net::TcpStream& local, std::vector<std::uint8_t>& buf,
                                             Result (*parse)(std::span<const std::uint8_t>)) {
  for (;;) {
    auto r = parse(buf);
    if (r.status != s5::Status::need_more) co_return r;
    if (buf.size() > kMaxSocksBytes) co_return std::nullopt;
    const bool more = co_await read_more(local, buf);
    if (!more) co_return std::nullopt;
  }
}

bool same_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool credentials_match(const SocksSettings& s, std::string_view user, std::string_view pass) {
  if (!s.user) return true;
  const bool ok_user = same_secret(user, s.user->first);
  const bool ok_pass = same_secret(pass, s.user->second);
  return ok_user && ok_pass;
}

// The exit's answer to a new stream: nullopt (connected; `rest` holds bytes that followed the
// 0x00) or the error it reset the stream with.
struct ExitAnswer {
  std::optional<Error> error;
  std::vector<std::uint8_t> rest;
};

net::Task<ExitAnswer> await_exit(session::MuxStream& stream) {
  ExitAnswer a;
  auto ex = co_await asio::this_coro::executor;
  Deadline deadline(ex, kExitTimeout, stream, "the exit did not answer in time");
  auto chunk = co_await stream.read();
  deadline.disarm();
  if (!chunk) {
    a.error = chunk.error();
    co_return a;
  }
  if (chunk->empty() || chunk->bytes()[0] != 0x00) {
    a.error = make_error(Errc::protocol, "the exit's answer is not the connected byte");
    co_return a;
  }
  auto b = chunk->bytes().subspan(1);
  a.rest.assign(b.begin(), b.end());
  co_return a;
}

std::uint8_t socks_reply_for(const Error& e) {
  switch (e.code) {
    case Errc::forbidden: return s5::kNotAllowed;
    case Errc::refused: return s5::kConnectionRefused;
    case Errc::timed_out: return s5::kHostUnreachable;
    case Errc::cancelled:
    case Errc::generic: return s5::kHostUnreachable;  // the exit could not resolve the name
    case Errc::no_such_tunnel: return s5::kNetworkUnreachable;
    default: return s5::kGeneralFailure;
  }
}

int http_status_for(const Error& e) {
  switch (e.code) {
    case Errc::forbidden: return 403;
    case Errc::timed_out: return 504;
    default: return 502;
  }
}

// Opens the stream to the exit, sends `first` (early data), waits for the exit's answer.
struct Opened {
  std::shared_ptr<session::MuxStream> stream;
  std::vector<std::uint8_t> rest;
  std::optional<Error> error;
};

net::Task<Opened> open_via_exit(Connector& c, const SocksSettings& s, const std::string& target,
                                std::span<const std::uint8_t> first, std::string transport = {}) {
  Opened o;
  auto st = co_await c.open(s.via, kOpenTimeout, target, std::move(transport));
  if (!st) {
    o.error = st.error();
    co_return o;
  }
  o.stream = *st;
  if (!first.empty()) {
    auto w = co_await o.stream->write(first);
    if (!w) {
      // A reset arrives as the read error below; keep going to report it.
    }
  }
  auto a = co_await await_exit(*o.stream);
  o.error = std::move(a.error);
  o.rest = std::move(a.rest);
  co_return o;
}

void log_refusal(const SocksSettings& s, std::string_view peer, const std::string& target, const Error& e) {
  if (e.code == Errc::forbidden) {
    requests("refused_by_exit").inc();
    spdlog::warn("socks {}: {} refused by exit {}: {}", peer, target, s.via, e.message);
  } else {
    requests("failed").inc();
    spdlog::info("socks {}: {} through exit {}: {}", peer, target, s.via, e.message);
  }
}

net::Task<void> finish(net::ByteStream& local, session::MuxStream& stream, std::string_view peer, const std::string& target) {
  requests("ok").inc();
  auto r = co_await net::pump(local, stream);
  spdlog::debug("socks {}: {} done: {} bytes out, {} back {}", peer, target, r.a_to_b, r.b_to_a, r.error);
}

// UDP ASSOCIATE: the association's socket first (its address is the reply's BND), then the
// stream to the exit (transport "udp"), whose answer (0x00 or a RESET) decides the reply.
net::Task<void> serve_udp_associate(Connector& c, const SocksSettings& s, net::TcpStream& local, const s5::Request& req,
                                    const std::string& peer) {
  net::error_code ec1, ec2;
  const auto here = local.socket().local_endpoint(ec1);
  const auto there = local.socket().remote_endpoint(ec2);
  auto ex = co_await asio::this_coro::executor;
  auto assoc = SocksUdpAssociation::create(ex, here, there, req.port, peer);
  if (!assoc || ec1 || ec2) {
    requests("failed").inc();
    spdlog::warn("socks {}: UDP ASSOCIATE refused: {}", peer, assoc ? "the connection is gone" : assoc.error().message);
    const auto rep = s5::encode_reply(s5::kGeneralFailure);
    co_await local.write(rep);
    co_return;
  }
  const std::string target = "udp";  // for logs
  const std::string no_target;      // named: no temporaries in co_await arguments (GCC 12)
  std::string transport = "udp";
  const std::span<const std::uint8_t> no_data;
  auto o = co_await open_via_exit(c, s, no_target, no_data, std::move(transport));
  if (o.error) {
    log_refusal(s, peer, target, *o.error);
    const auto rep = s5::encode_reply(socks_reply_for(*o.error));
    co_await local.write(rep);
    co_return;
  }
  const auto bound = (*assoc)->bound();
  std::vector<std::uint8_t> ip;
  if (bound.address().is_v4()) {
    const auto b = bound.address().to_v4().to_bytes();
    ip.assign(b.begin(), b.end());
  } else {
    const auto b = bound.address().to_v6().to_bytes();
    ip.assign(b.begin(), b.end());
  }
  const auto reply = s5::encode_reply(s5::kSucceeded, ip, bound.port());
  auto w = co_await local.write(reply);
  if (!w) {
    o.stream->reset(make_error(Errc::cancelled, "the socks client went away"));
    co_return;
  }
  requests("ok").inc();
  co_await (*assoc)->run(local, o.stream);
}

net::Task<void> serve_socks5(Connector& c, const SocksSettings& s, net::TcpStream& local, std::vector<std::uint8_t>& buf,
                             Deadline& deadline, const std::string& peer) {
  auto send = [&local](std::span<const std::uint8_t> bytes) -> net::Task<bool> {
    auto w = co_await local.write(bytes);
    co_return w.ok();
  };
  auto bad = [&](std::string_view what, const std::string& why) {
    requests("bad_request").inc();
    spdlog::info("socks {}: bad {}: {}", peer, what, why);
  };
  // Greeting.
  auto whole_greeting = co_await parse_whole(local, buf, s5::parse_greeting);
  if (!whole_greeting) co_return;
  const auto& g = *whole_greeting;
  if (g.status == s5::Status::error) {
    bad("greeting", g.error);
    if (g.send_no_acceptable) {
      const auto no = s5::encode_method(s5::kMethodNoAcceptable);
      co_await send(no);
    }
    co_return;
  }
  buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(g.consumed));
  const std::uint8_t method = s.user ? s5::kMethodUserPass : s5::kMethodNone;
  if (!g.greeting.offers(method)) {
    requests("auth_failed").inc();
    spdlog::warn("socks {}: no acceptable authentication method ({} needed)", peer,
                 s.user ? "username/password" : "none");
    const auto no = s5::encode_method(s5::kMethodNoAcceptable);
    co_await send(no);
    co_return;
  }
  const auto chosen = s5::encode_method(method);
  const bool sent = co_await send(chosen);
  if (!sent) co_return;
  if (s.user) {
    auto whole_auth = co_await parse_whole(local, buf, s5::parse_userpass);
    if (!whole_auth) co_return;
    const auto& a = *whole_auth;
    const bool ok = a.status == s5::Status::done && credentials_match(s, a.user, a.password);
    if (!ok) {
      requests("auth_failed").inc();
      spdlog::warn("socks {}: authentication failed{}{}", peer, a.error.empty() ? "" : ": ", a.error);
      const auto no = s5::encode_auth_status(false);
      co_await send(no);
      co_return;
    }
    buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(a.consumed));
    const auto yes = s5::encode_auth_status(true);
    const bool sent_ok = co_await send(yes);
    if (!sent_ok) co_return;
  }
  auto whole_request = co_await parse_whole(local, buf, s5::parse_request);
  if (!whole_request) co_return;
  const auto& q = *whole_request;
  if (q.status == s5::Status::error) {
    bad("request", q.error);
    const auto rep = s5::encode_reply(q.reply);
    co_await send(rep);
    co_return;
  }
  if (q.request.command == s5::kCmdUdpAssociate) {
    deadline.disarm();
    co_await serve_udp_associate(c, s, local, q.request, peer);
    co_return;
  }
  if (q.request.command != s5::kCmdConnect) {
    bad("request", "BIND is not supported");
    const auto rep = s5::encode_reply(s5::kCommandNotSupported);
    co_await send(rep);
    co_return;
  }
  deadline.disarm();
  const auto target = policy::join_dest(q.request.host, q.request.port);
  std::span<const std::uint8_t> early(buf.data() + q.consumed, buf.size() - q.consumed);
  auto o = co_await open_via_exit(c, s, target, early);
  if (o.error) {
    log_refusal(s, peer, target, *o.error);
    const auto rep = s5::encode_reply(socks_reply_for(*o.error));
    co_await send(rep);
    co_return;
  }
  auto reply = s5::encode_reply(s5::kSucceeded);
  reply.insert(reply.end(), o.rest.begin(), o.rest.end());
  const bool replied = co_await send(reply);
  if (!replied) {
    o.stream->reset(make_error(Errc::cancelled, "the socks client went away"));
    co_return;
  }
  co_await finish(local, *o.stream, peer, target);
}

// The exit stream of a keep-alive client connection's absolute-form requests: reused while
// the next request is for the same HOST:PORT and the origin keeps its connection.
struct Upstream {
  std::string target;
  std::shared_ptr<session::MuxStream> stream;
  std::unique_ptr<net::PrefixedStream> in;  // the exit's bytes that came with its answer, then the stream
  std::unique_ptr<net::MessageReader> reader;
  void drop() {
    if (stream) stream->abort("the proxy client connection moved on");
    reader.reset();
    in.reset();
    stream.reset();
    target.clear();
  }
};

constexpr std::chrono::seconds kKeepAliveIdle{60};  // between requests of a client connection

net::Task<void> serve_http(Connector& c, const SocksSettings& s, net::TcpStream& local, std::vector<std::uint8_t>& buf,
                           Deadline& deadline, const std::string& peer) {
  namespace http1 = proto::http1;
  auto ex = co_await asio::this_coro::executor;
  // What was read while sniffing the protocol comes first; the reader keeps what follows a
  // head (a body, the next request, a CONNECT's early tunnel bytes).
  net::PrefixedStream client(local, buf);
  net::MessageReader creader(client);
  auto answer = [&local](int status, std::string_view detail) -> net::Task<void> {
    const auto text = proto::http_proxy::response(status, detail);
    const auto bytes = net::bytes_of(text);
    co_await local.write(bytes);
    local.shutdown_write();
  };
  Upstream up;
  const std::function<void()> no_progress;  // named: no temporaries in co_await arguments (GCC 12)
  const http1::Limits limits;
  for (bool first = true;; first = false) {
    std::optional<Deadline> idle;
    if (!first) idle.emplace(ex, kKeepAliveIdle, local, "idle between requests");
    auto h = co_await creader.read_request(limits);
    if (idle) idle->disarm();
    if (h.status == net::HeadStatus::eof || h.status == net::HeadStatus::failed) break;
    if (h.status == net::HeadStatus::bad) {
      requests("bad_request").inc();
      spdlog::info("socks {}: bad HTTP proxy request: {}", peer, h.bad.message);
      co_await answer(h.bad.status, h.bad.message);
      break;
    }
    auto p = proto::http_proxy::from_head(std::move(h.head), 0);
    if (p.status == http1::ParseStatus::error) {
      requests("bad_request").inc();
      spdlog::info("socks {}: bad HTTP proxy request: {}", peer, p.error);
      co_await answer(p.error_status, p.error);
      break;
    }
    if (s.user && !proto::http_proxy::basic_matches(p.request.proxy_authorization, s.user->first, s.user->second)) {
      requests("auth_failed").inc();
      spdlog::warn("socks {}: HTTP proxy authentication {}", peer,
                   p.request.proxy_authorization.empty() ? "missing" : "failed");
      const std::string_view detail = "proxy authentication required";
      co_await answer(407, detail);
      break;
    }
    deadline.disarm();
    const auto target = policy::join_dest(p.request.host, p.request.port);
    if (p.request.tunnel) {
      // CONNECT (also after plain requests): the rest of the connection is the tunnel's.
      up.drop();
      const auto early = creader.buffered();
      auto o = co_await open_via_exit(c, s, target, early);
      if (o.error) {
        log_refusal(s, peer, target, *o.error);
        const int status = http_status_for(*o.error);
        const std::string_view detail = o.error->message;
        co_await answer(status, detail);
        break;
      }
      std::vector<std::uint8_t> out(proto::http_proxy::kConnectEstablished.begin(),
                                    proto::http_proxy::kConnectEstablished.end());
      out.insert(out.end(), o.rest.begin(), o.rest.end());
      auto w = co_await local.write(out);
      if (!w) {
        o.stream->reset(make_error(Errc::cancelled, "the client went away"));
        break;
      }
      co_await finish(client, *o.stream, peer, target);
      co_return;
    }
    const auto head = net::bytes_of(p.request.forward_head);
    bool sent = false;
    bool reused = false;
    if (up.stream && up.target == target) {
      auto w = co_await up.stream->write(head);
      sent = w.ok();
      reused = sent;
    }
    if (!sent) {
      up.drop();
      auto o = co_await open_via_exit(c, s, target, head);
      if (o.error) {
        log_refusal(s, peer, target, *o.error);
        const int status = http_status_for(*o.error);
        const std::string_view detail = o.error->message;
        co_await answer(status, detail);
        break;
      }
      requests("ok").inc();
      up.target = target;
      up.stream = o.stream;
      up.in = std::make_unique<net::PrefixedStream>(*o.stream, o.rest);
      up.reader = std::make_unique<net::MessageReader>(*up.in);
    }
    if (p.request.body != http1::BodyKind::none) {
      http1::BodyFramer framer(p.request.body, p.request.content_length);
      auto b = co_await creader.copy_body(framer, *up.stream, no_progress);
      if (!b) {
        spdlog::info("socks {}: request body to {}: {}", peer, target, b.error().message);
        up.drop();
        if (b.error().code == Errc::protocol) co_await answer(400, b.error().message);
        break;
      }
    }
    // The response: interim ones (100, 103) pass, then the final one with its body.
    bool done = false, keep = false;
    for (;;) {
      auto r = co_await up.reader->read_response(p.request.method, limits);
      if (r.status != net::HeadStatus::ok) {
        const bool gone = r.status == net::HeadStatus::eof;
        if ((gone || r.status == net::HeadStatus::failed) && reused && p.request.body == http1::BodyKind::none) {
          // The origin closed its idle connection (the exit ended the stream) as the request
          // went out: once more, on a fresh stream.
          spdlog::debug("socks {}: {} closed the kept connection; asking again", peer, target);
          up.drop();
          auto o = co_await open_via_exit(c, s, target, head);
          if (o.error) {
            log_refusal(s, peer, target, *o.error);
            const int status = http_status_for(*o.error);
            const std::string_view detail = o.error->message;
            co_await answer(status, detail);
            done = true;
            break;
          }
          reused = false;
          up.target = target;
          up.stream = o.stream;
          up.in = std::make_unique<net::PrefixedStream>(*o.stream, o.rest);
          up.reader = std::make_unique<net::MessageReader>(*up.in);
          continue;
        }
        const std::string why = r.status == net::HeadStatus::bad ? r.bad.message
                                : gone                           ? std::string("the origin closed the connection")
                                                                 : r.failed.message;
        spdlog::info("socks {}: no response from {}: {}", peer, target, why);
        up.drop();
        co_await answer(502, why);
        done = true;
        break;
      }
      auto& rh = r.head;
      if (rh.status >= 100 && rh.status < 200 && rh.status != 101) {
        http1::prepare_response(rh);
        const auto interim = http1::serialize(rh);
        const auto ib = net::bytes_of(interim);
        auto w = co_await local.write(ib);
        if (!w) {
          done = true;
          break;
        }
        continue;
      }
      if (rh.status == 101) {  // an upgrade (WebSocket): raw bytes both ways from here
        http1::prepare_response(rh);
        const auto text = http1::serialize(rh);
        std::vector<std::uint8_t> out(text.begin(), text.end());
        const auto more = up.reader->buffered();
        out.insert(out.end(), more.begin(), more.end());
        const auto early = creader.buffered();
        if (!early.empty()) (void)co_await up.stream->write(early);
        auto w = co_await local.write(out);
        if (w) co_await finish(client, *up.stream, peer, target);
        up.stream.reset();
        co_return;
      }
      keep = rh.keep_alive && rh.body != http1::BodyKind::until_close;
      const bool client_keep = p.request.keep_alive && rh.body != http1::BodyKind::until_close;
      http1::prepare_response(rh);
      if (!client_keep) rh.fields.set("Connection", "close");
      const auto text = http1::serialize(rh);
      http1::BodyFramer framer(rh.body, rh.content_length);
      const auto head_bytes = net::bytes_of(text);
      auto b = co_await up.reader->copy_body(framer, local, no_progress, head_bytes);
      if (!b) {
        spdlog::info("socks {}: response body from {}: {}", peer, target, b.error().message);
        up.drop();
        local.abort("response failed");  // a cut body must not look whole
        done = true;
        break;
      }
      if (!client_keep) {
        local.shutdown_write();
        done = true;
      }
      break;
    }
    if (!keep) up.drop();
    if (done) break;
  }
  up.drop();
}

}  // namespace

net::Task<void> serve_socks_client(Connector& c, const SocksSettings& s, net::tcp::socket sock) {
  net::error_code ec;
  const auto peer = net::format_endpoint(sock.remote_endpoint(ec));
  net::TcpStream local(std::move(sock));
  auto ex = co_await asio::this_coro::executor;
  Deadline deadline(ex, kHandshakeTimeout, local, "handshake timed out");
  std::vector<std::uint8_t> buf;
  const bool got = co_await read_more(local, buf);
  if (!got) co_return;
  const auto first = buf[0];
  if (first == s5::kVersion) {
    co_await serve_socks5(c, s, local, buf, deadline, peer);
  } else if ((first >= 'A' && first <= 'Z') || (first >= 'a' && first <= 'z')) {
    co_await serve_http(c, s, local, buf, deadline, peer);
  } else {
    requests("bad_request").inc();
    spdlog::info("socks {}: neither SOCKS5 nor HTTP (first byte {:#04x}); closing", peer, first);
  }
}

}  // namespace porthole::agent
