// Pooled 64 KiB buffers for the data path. A Chunk is taken only while bytes flow and given
// back when the bytes are written, so idle connections hold no buffer memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace porthole::net {

inline constexpr std::size_t kChunkSize = 64 * 1024;
// Blocks for small amounts (a keystroke, a 1-byte echo): an idle-ish connection with a few
// bytes waiting holds 4 KiB, not 64.
inline constexpr std::size_t kSmallChunkSize = 4 * 1024;

class Chunk {
 public:
  Chunk() = default;
  // A block from this thread's pool (or a new one): a small block when `hint` bytes fit.
  static Chunk take(std::size_t hint = kChunkSize);
  ~Chunk();
  Chunk(Chunk&& o) noexcept : block_(o.block_), capacity_(o.capacity_), size_(o.size_), offset_(o.offset_) {
    o.block_ = nullptr;
  }
  Chunk& operator=(Chunk&& o) noexcept;
  Chunk(const Chunk&) = delete;
  Chunk& operator=(const Chunk&) = delete;

  bool empty() const { return size_ == offset_; }
  std::size_t size() const { return size_ - offset_; }
  std::span<const std::uint8_t> bytes() const { return {block_ + offset_, size_ - offset_}; }
  // Writable space after the data.
  std::span<std::uint8_t> spare() { return {block_ + size_, block_ ? capacity_ - size_ : 0}; }
  void commit(std::size_t n) { size_ += n; }    // n bytes of spare() now hold data
  void consume(std::size_t n) { offset_ += n; }  // drop n bytes from the front
  bool has_block() const { return block_ != nullptr; }

 private:
  Chunk(std::uint8_t* b, std::size_t capacity) : block_(b), capacity_(capacity) {}
  void release();
  std::uint8_t* block_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t size_ = 0;
  std::size_t offset_ = 0;
};

// Blocks currently allocated (in use or pooled), for metrics and tests.
std::size_t chunks_allocated();

}  // namespace porthole::net
