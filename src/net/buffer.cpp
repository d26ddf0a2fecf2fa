#include "net/buffer.hpp"

#include <atomic>
#include <vector>

#include "core/metrics.hpp"

namespace porthole::net {
namespace {

constexpr std::size_t kMaxPooled = 64;  // per thread: 4 MiB kept for reuse at most
std::atomic<std::size_t> g_allocated{0};

struct Pool {
  std::vector<std::uint8_t*> free;
  ~Pool() {
    for (auto* b : free) {
      delete[] b;
      g_allocated.fetch_sub(1, std::memory_order_relaxed);
    }
  }
};
thread_local Pool t_pool;

}  // namespace

Chunk Chunk::take() {
  if (!t_pool.free.empty()) {
    auto* b = t_pool.free.back();
    t_pool.free.pop_back();
    return Chunk(b);
  }
  g_allocated.fetch_add(1, std::memory_order_relaxed);
  return Chunk(new std::uint8_t[kChunkSize]);
}

void Chunk::release() {
  if (!block_) return;
  if (t_pool.free.size() < kMaxPooled) {
    t_pool.free.push_back(block_);
  } else {
    delete[] block_;
    g_allocated.fetch_sub(1, std::memory_order_relaxed);
  }
  block_ = nullptr;
  size_ = offset_ = 0;
}

Chunk::~Chunk() { release(); }

Chunk& Chunk::operator=(Chunk&& o) noexcept {
  if (this != &o) {
    release();
    block_ = o.block_;
    size_ = o.size_;
    offset_ = o.offset_;
    o.block_ = nullptr;
  }
  return *this;
}

std::size_t chunks_allocated() { return g_allocated.load(std::memory_order_relaxed); }

}  // namespace porthole::net
