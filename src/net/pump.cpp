#include "net/pump.hpp"

namespace porthole::net {

using namespace asio::experimental::awaitable_operators;

namespace {

struct Shared {
  std::string error;
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

Task<PumpResult> pump(ByteStream& a, ByteStream& b) {
  Shared shared;
  auto [ab, ba] = co_await (one_way(a, b, shared) && one_way(b, a, shared));
  co_return PumpResult{ab, ba, std::move(shared.error)};
}

}  // namespace porthole::net
