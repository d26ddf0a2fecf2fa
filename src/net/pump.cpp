#include "net/pump.hpp"

#include <exception>

#include "net/signal.hpp"

namespace porthole::net {

namespace {

struct Shared {
  explicit Shared(const Executor& ex) : other_done(ex) {}
  std::string error;
  std::uint64_t b_to_a = 0;
  bool b_to_a_done = false;
  Signal other_done;
};

Task<std::uint64_t> one_way(ByteStream& from, ByteStream& to, Shared& shared) {
  std::uint64_t total = 0;
  for (;;) {
    auto chunk = co_await from.read();
    if (!chunk) {
      if (shared.error.empty()) shared.error = chunk.error().message;
      from.abort(shared.error);
      to.abort(shared.error);
      co_return total;
    }
    if (chunk->empty()) {
      to.shutdown_write();
      co_return total;
    }
    auto w = co_await to.write(chunk->bytes());
    if (!w) {
      if (shared.error.empty()) shared.error = w.error().message;
      from.abort(shared.error);
      to.abort(shared.error);
      co_return total;
    }
    total += chunk->size();
  }
}

}  // namespace

// One direction runs in this coroutine, the other in one spawned coroutine (a parallel group
// would cost two spawned coroutines and its own state: memory every open connection holds).
// Both end: an error in either aborts both streams, which ends the other's read.
Task<PumpResult> pump(ByteStream& a, ByteStream& b) {
  auto ex = co_await asio::this_coro::executor;
  Shared shared(ex);
  asio::co_spawn(ex, one_way(b, a, shared), [&shared](const std::exception_ptr&, std::uint64_t n) {
    shared.b_to_a = n;
    shared.b_to_a_done = true;
    shared.other_done.notify();
  });
  const auto ab = co_await one_way(a, b, shared);
  while (!shared.b_to_a_done) co_await shared.other_done.wait();
  co_return PumpResult{ab, shared.b_to_a, std::move(shared.error)};
}

}  // namespace porthole::net
