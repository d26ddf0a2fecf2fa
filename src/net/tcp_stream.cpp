#include "net/tcp_stream.hpp"

#include <vector>

#include "core/address.hpp"

namespace porthole::net {

using namespace asio::experimental::awaitable_operators;

void tune_socket(tcp::socket& s) {
  error_code ec;
  s.set_option(tcp::no_delay(true), ec);
  s.non_blocking(true, ec);
}

TcpStream::TcpStream(tcp::socket socket) : socket_(std::move(socket)) { tune_socket(socket_); }

TcpStream::~TcpStream() {
  error_code ec;
  socket_.close(ec);
}

Task<Result<Chunk>> read_chunk(tcp::socket& socket, bool& maybe_more) {
  for (;;) {
    // Wait first (unless the last read filled its buffer: then more is likely there), and
    // take a buffer only once bytes are there: idle sockets hold no buffer.
    if (!maybe_more) {
      auto [wait_ec] = co_await socket.async_wait(tcp::socket::wait_read, use_nothrow);
      if (wait_ec) co_return make_error("read: {}", wait_ec.message());
    }
    maybe_more = false;
    Chunk c = Chunk::take();
    error_code ec;
    auto spare = c.spare();
    const auto n = socket.read_some(asio::buffer(spare.data(), spare.size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
    if (ec == asio::error::eof) co_return Chunk{};
    if (ec) co_return make_error("read: {}", ec.message());
    c.commit(n);
    maybe_more = n == spare.size();
    co_return c;
  }
}

Task<Result<Chunk>> TcpStream::read() { return read_chunk(socket_, maybe_more_); }

Task<Result<void>> TcpStream::write(std::span<const std::uint8_t> bytes) {
  // Most writes fit in the socket buffer: try at once, and only wait (through the reactor,
  // which costs a scheduler round trip even when it completes at once) for what is left.
  error_code ec;
  const auto n = socket_.write_some(asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) co_return make_error("write: {}", ec.message());
  if (!ec) bytes = bytes.subspan(n);
  if (bytes.empty()) co_return Result<void>{};
  auto [wec, written] = co_await asio::async_write(socket_, asio::buffer(bytes.data(), bytes.size()), use_nothrow);
  if (wec) co_return make_error("write: {}", wec.message());
  co_return Result<void>{};
}

void TcpStream::shutdown_write() {
  error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
}

void TcpStream::abort(std::string_view) {
  error_code ec;
  if (socket_.is_open()) {
    socket_.set_option(asio::socket_base::linger(true, 0), ec);  // RST, so the peer sees the failure
    socket_.close(ec);
  }
}

Task<Result<tcp::socket>> dial(std::string host, std::uint16_t port, std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer deadline(ex, timeout);
  std::vector<tcp::endpoint> endpoints;
  error_code aec;
  if (const auto addr = asio::ip::make_address(host, aec); !aec) {
    endpoints.emplace_back(addr, port);  // an address needs no resolver (and no hop to its thread)
  } else {
    tcp::resolver resolver(ex);
    auto resolved = co_await (resolver.async_resolve(host, std::to_string(port), use_nothrow) ||
                              deadline.async_wait(use_nothrow));
    if (resolved.index() == 1) co_return make_error(Errc::timed_out, "resolving {} timed out", host);
    auto [rec, results] = std::get<0>(resolved);
    if (rec) co_return make_error(Errc::refused, "cannot resolve {}: {}", host, rec.message());
    for (const auto& r : results) endpoints.push_back(r.endpoint());
  }
  tcp::socket sock(ex);
  auto connected = co_await (asio::async_connect(sock, endpoints, use_nothrow) || deadline.async_wait(use_nothrow));
  if (connected.index() == 1) {
    co_return make_error(Errc::timed_out, "connecting to {} timed out after {} ms", format_host_port(host, port), timeout.count());
  }
  auto [cec, ep] = std::get<0>(connected);
  if (cec) co_return make_error(Errc::refused, "cannot connect to {}: {}", format_host_port(host, port), cec.message());
  co_return std::move(sock);  // TcpStream / TlsSocket tune it
}

std::string format_endpoint(const tcp::endpoint& ep) {
  auto addr = ep.address();
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
  return format_host_port(addr.to_string(), ep.port());
}

}  // namespace porthole::net
