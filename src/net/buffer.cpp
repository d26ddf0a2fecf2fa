#include "net/buffer.hpp"

#include <atomic>
#include <vector>

#include "core/metrics.hpp"

namespace porthole::net {
namespace {

// Per thread and size, kept for reuse at most: 1 MiB of large blocks, 256 KiB of small ones.
constexpr std::size_t kMaxPooled = 16;
constexpr std::size_t kMaxPooledSmall = 64;
std::atomic<std::size_t> g_allocated{0};

struct Pool {
  std::vector<std::uint8_t*> large, small;
  ~Pool() {
    for (auto* list : {&large, &small}) {
      for (auto* b : *list) {
        delete[] b;
        g_allocated.fetch_sub(1, std::memory_order_relaxed);
      }
    }
  }
};
thread_local Pool t_pool;

}  // namespace

Chunk Chunk::take(std::size_t hint) {
  const std::size_t capacity = hint <= kSmallChunkSize ? kSmallChunkSize : kChunkSize;
  auto& free = capacity == kChunkSize ? t_pool.large : t_pool.small;
  if (!free.empty()) {
    auto* b = free.back();
    free.pop_back();
    return Chunk(b, capacity);
  }
  g_allocated.fetch_add(1, std::memory_order_relaxed);
  return Chunk(new std::uint8_t[capacity], capacity);
}

void Chunk::release() {
  if (!block_) return;
  const bool large = capacity_ == kChunkSize;
  auto& free = large ? t_pool.large : t_pool.small;
  if (free.size() < (large ? kMaxPooled : kMaxPooledSmall)) {
    free.push_back(block_);
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
    capacity_ = o.capacity_;
    size_ = o.size_;
    offset_ = o.offset_;
    o.block_ = nullptr;
  }
  return *this;
}

std::size_t chunks_allocated() { return g_allocated.load(std::memory_order_relaxed); }

}  // namespace porthole::net
