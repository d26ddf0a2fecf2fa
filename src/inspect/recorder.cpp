#include "inspect/recorder.hpp"

#include <random>

#include <fmt/format.h>

#include "core/metrics.hpp"

namespace porthole::inspect {

namespace {
metrics::Counter& dropped_total() {
  static auto& c = metrics::counter("porthole_inspect_dropped_total",
                                    "Captured exchanges dropped because the capture queue was full");
  return c;
}
metrics::Counter& captured_total() {
  static auto& c = metrics::counter("porthole_inspect_captured_total", "HTTP exchanges captured");
  return c;
}
}  // namespace

Recorder::Recorder(net::Executor ex, CaptureLimits limits)
    : ex_(std::move(ex)), limits_(limits), store_(limits.memory), prefix_(std::random_device{}()) {
  // Registered at once, so /metrics shows them at 0 before the first capture.
  dropped_total();
  captured_total();
}

std::string Recorder::next_id() { return fmt::format("{:08x}{:08x}", prefix_, static_cast<std::uint32_t>(++seq_)); }

bool Recorder::offer(Exchange e) {
  auto p = std::make_shared<const Exchange>(std::move(e));
  const auto size = p->memory();
  bool post = false;
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= limits_.queue_entries || queue_bytes_ + size > limits_.queue_bytes) {
      ++dropped_;
      dropped_total().inc();
      return false;
    }
    queue_.push_back(std::move(p));
    queue_bytes_ += size;
    if (!drain_posted_) drain_posted_ = post = true;
  }
  if (post) net::asio::post(ex_, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->drain();
    });
  return true;
}

void Recorder::drain() {
  std::deque<ExchangePtr> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(queue_);
    queue_bytes_ = 0;
    drain_posted_ = false;
  }
  for (auto& e : batch) {
    ++captured_;
    captured_total().inc();
    store_.add(std::move(e));
  }
}

}  // namespace porthole::inspect
