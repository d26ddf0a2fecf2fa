// Keep-alive connections from the agent to one local service: idle connections are kept (at
// most `max_idle`, each at most `idle_timeout`) and handed out again, after a non-blocking peek
// shows the service has not closed them meanwhile. With `Upstream::tls` (--upstream https) each
// new connection is a TLS session (handshake within 5 s, the certificate verified unless
// `insecure`); idle TLS connections are checked the same way, on their socket.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "core/address.hpp"
#include "net/byte_stream.hpp"

namespace porthole::agent {

class LocalPool {
 public:
  struct Upstream {
    bool tls = false;       // the service speaks https
    bool insecure = false;  // do not verify its certificate
  };

  explicit LocalPool(HostPort target, std::size_t max_idle = 128,
                     std::chrono::seconds idle_timeout = std::chrono::seconds(30))
      : LocalPool(std::move(target), Upstream{}, max_idle, idle_timeout) {}
  LocalPool(HostPort target, Upstream upstream, std::size_t max_idle = 128,
            std::chrono::seconds idle_timeout = std::chrono::seconds(30))
      : target_(std::move(target)), upstream_(upstream), max_idle_(max_idle), idle_timeout_(idle_timeout) {}

  // A pooled connection (`reused` true) or a new one (a TcpStream, or a TlsStream after its
  // handshake); dial and handshake errors keep their code (Errc::refused, Errc::timed_out) and
  // name the address. `preamble` (a PROXY protocol header) is written first on a new
  // connection, before any TLS, and a pooled one is reused only for the same preamble: a
  // connection that announced one visitor never carries another's requests.
  net::Task<Result<std::unique_ptr<net::ByteStream>>> acquire(bool& reused, std::string preamble = {});
  // Gives a connection back for reuse (its last response was complete and keep-alive), with
  // the preamble it was opened with.
  void release(std::unique_ptr<net::ByteStream> conn, std::string preamble = {});

  const HostPort& target() const { return target_; }
  const Upstream& upstream() const { return upstream_; }
  std::uint64_t dials() const { return dials_; }
  std::size_t idle() const { return idle_.size(); }

 private:
  struct Idle {
    std::unique_ptr<net::ByteStream> conn;
    std::chrono::steady_clock::time_point since;
    std::string preamble = {};
  };
  net::Task<Result<std::unique_ptr<net::ByteStream>>> connect_tls(net::tcp::socket sock);

  HostPort target_;
  Upstream upstream_;
  std::size_t max_idle_;
  std::chrono::seconds idle_timeout_;
  std::deque<Idle> idle_;  // most recently used at the back
  std::uint64_t dials_ = 0;
  std::shared_ptr<boost::asio::ssl::context> tls_ctx_;  // made at the first TLS dial
};

}  // namespace porthole::agent
