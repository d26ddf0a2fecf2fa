// Common Asio aliases for the I/O layers (net, session, relay, agent).
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

namespace porthole::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;
using error_code = boost::system::error_code;
using Executor = asio::any_io_executor;
template <class T>
using Task = asio::awaitable<T>;

// Completion token that returns (error_code, ...) tuples instead of throwing.
inline constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

}  // namespace porthole::net
