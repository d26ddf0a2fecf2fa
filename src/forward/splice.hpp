// Copies bytes both ways between two connected TCP sockets at the speed of the kernel:
// splice(2) from the socket into a pipe and from the pipe into the other socket (the bytes never
// enter user space), or a buffered copy where splice cannot be used. Half-close goes both ways
// (EOF on one side becomes shutdown(SHUT_WR) on the other, the other direction keeps flowing);
// an error on either side resets both (SO_LINGER 0).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "net/asio.hpp"

namespace porthole::forward {

// Pipes are taken only while bytes are in flight and given back once drained, so an idle
// connection holds no pipe (and no buffer). One pool per thread; it keeps a few free pipes.
class PipePool {
 public:
  struct Pipe {
    int r = -1, w = -1;
  };
  ~PipePool();
  bool take(Pipe& p);  // false when no pipe can be made (EMFILE): the caller copies instead
  void give(Pipe& p);  // an empty pipe back to the pool (or closed)
  static PipePool& this_thread();

 private:
  std::vector<Pipe> free_;
};

struct RelayTotals {
  std::uint64_t a_to_b = 0, b_to_a = 0;
  bool reset = false;  // ended by an error (both sides were reset)
};

// Runs both directions until both ended; the sockets stay open (the caller closes them).
// `done` is called once, on the sockets' executor, when both directions are finished.
using RelayDone = std::function<void(const RelayTotals&)>;
void start_relay(std::shared_ptr<net::tcp::socket> a, std::shared_ptr<net::tcp::socket> b, RelayDone done);

// Resets a socket: SO_LINGER 0 then close, so the peer sees RST at once.
void reset_socket(net::tcp::socket& s);

}  // namespace porthole::forward
