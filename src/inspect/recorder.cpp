#include "inspect/recorder.hpp"

#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

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

bool Recorder::offer(Exchange e) { return offer(std::make_shared<const Exchange>(std::move(e))); }

bool Recorder::offer(ExchangePtr p) {
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
    if (persister_) persister_->insert(e);
    store_.add(std::move(e));
  }
}

Result<std::size_t> Recorder::attach_db(const std::string& path) {
  auto db = CaptureDb::open(path);
  if (!db) return db.error();
  std::size_t skipped = 0;
  auto loaded = db->load(limits_.memory, &skipped);
  if (!loaded) return make_error("{}: {}", path, loaded.error().message);
  if (skipped > 0) spdlog::warn("inspect db {}: {} damaged captures skipped", path, skipped);
  const auto n = loaded->size();
  for (auto& e : *loaded) {
    if (e.ws) {  // its messages count against the WebSocket budget like live ones
      std::lock_guard lock(mu_);
      ws_bytes_ += e.ws->bytes;
      e.ws->release = ws_releaser();
    }
    store_.add(std::make_shared<const Exchange>(std::move(e)));
  }
  persister_ = std::make_unique<Persister>(std::move(*db));
  store_.on_evict = [this](const ExchangePtr& e) { persister_->remove(e->id); };
  store_.on_clear = [this] { persister_->clear(); };
  return n;
}

bool Recorder::ws_reserve(std::size_t bytes) {
  std::lock_guard lock(mu_);
  if (ws_bytes_ + bytes > limits_.ws_total) return false;
  ws_bytes_ += bytes;
  return true;
}

std::function<void(std::size_t)> Recorder::ws_releaser() {
  return [weak = weak_from_this()](std::size_t bytes) {
    if (auto self = weak.lock()) self->ws_release(bytes);
  };
}

void Recorder::ws_release(std::size_t bytes) {
  std::lock_guard lock(mu_);
  ws_bytes_ -= std::min(bytes, ws_bytes_);
}

std::size_t Recorder::ws_bytes() const {
  std::lock_guard lock(mu_);
  return ws_bytes_;
}

void Recorder::ws_closed(const ExchangePtr& e) {
  if (persister_) persister_->save_ws(e);
}

}  // namespace porthole::inspect
