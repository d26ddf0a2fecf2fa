// Unix stream sockets as local addresses (`porthole tcp unix:/run/app.sock`, `connect --listen
// unix:/path`, core/address.hpp). A connected unix socket is carried in a tcp::socket (its
// descriptor assigned): TcpStream, pump and LocalPool read and write it with recv/send, which do
// not care about the family. Never ask such a socket for its endpoints (they are not IP); the
// TCP_NODELAY of tune_socket fails quietly on it.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/local/stream_protocol.hpp>

#include "core/address.hpp"
#include "net/asio.hpp"

namespace porthole::net {

using unix_stream = asio::local::stream_protocol;

// Connects to the unix socket at `path` within `timeout`. Errors keep the shape of a refused
// TCP service (Errc::refused: a missing socket file, nobody listening, no permission;
// Errc::timed_out) and name the address ("unix:/run/app.sock: no such socket file").
Task<Result<tcp::socket>> dial_unix(std::string path, std::chrono::milliseconds timeout);

// A local service's address: a unix socket (is_unix_address) or HOST:PORT (net::dial).
Task<Result<tcp::socket>> dial_local(const HostPort& at, std::chrono::milliseconds timeout);

// A listening unix socket at `path`, its file made 0600 (the umask 0177 around bind). An
// existing socket file nobody listens on (a stale one) is replaced; one that answers, or any
// other kind of file, is refused. unlink_socket removes the file (at exit).
Result<std::unique_ptr<unix_stream::acceptor>> listen_unix(const Executor& ex, const std::string& path);
void unlink_socket(const std::string& path);

// The accepted unix connection as a tcp::socket (see above).
tcp::socket as_tcp_socket(unix_stream::socket s);

}  // namespace porthole::net
