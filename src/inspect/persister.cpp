#include "inspect/persister.hpp"

#include <spdlog/spdlog.h>

#include "core/metrics.hpp"

namespace porthole::inspect {

namespace {
metrics::Counter& written_total() {
  static auto& c = metrics::counter("porthole_inspect_db_written_total", "Captures written to --inspect-db");
  return c;
}
metrics::Counter& dropped_total() {
  static auto& c = metrics::counter("porthole_inspect_db_dropped_total",
                                    "Captures not written to --inspect-db because its queue was full");
  return c;
}
metrics::Counter& errors_total() {
  static auto& c = metrics::counter("porthole_inspect_db_errors_total", "Failed --inspect-db write transactions");
  return c;
}
}  // namespace

Persister::Persister(CaptureDb db, Limits limits) : db_(std::move(db)), limits_(limits), path_(db_.path()) {
  written_total();
  dropped_total();
  errors_total();
  thread_ = std::thread([this] { run(); });
}

Persister::~Persister() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Persister::push(CaptureDb::Op op, std::size_t bytes) {
  {
    std::lock_guard lock(mu_);
    if (op.kind == CaptureDb::Op::insert &&
        (queue_.size() >= limits_.entries || queue_bytes_ + bytes > limits_.bytes)) {
      ++dropped_;
      dropped_total().inc();
      return;
    }
    queue_.push_back(std::move(op));
    queue_bytes_ += bytes;
    ++pushed_;
  }
  wake_.notify_one();
}

void Persister::insert(ExchangePtr e) {
  const auto bytes = e->memory();
  push({CaptureDb::Op::insert, std::move(e), {}}, bytes);
}
void Persister::remove(std::string id) { push({CaptureDb::Op::remove, nullptr, std::move(id)}, 64); }
void Persister::clear() { push({CaptureDb::Op::clear, nullptr, {}}, 0); }
void Persister::save_ws(ExchangePtr e) { push({CaptureDb::Op::ws, std::move(e), {}}, 64); }

void Persister::flush() {
  std::unique_lock lock(mu_);
  const auto target = pushed_;
  done_.wait(lock, [&] { return applied_ >= target; });
}

std::uint64_t Persister::written() const {
  std::lock_guard lock(mu_);
  return written_;
}
std::uint64_t Persister::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}
std::uint64_t Persister::errors() const {
  std::lock_guard lock(mu_);
  return errors_;
}

void Persister::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty() && stop_) return;
    // Everything pending is one transaction: under load the queue fills while the previous
    // batch commits, so batches grow with the rate and commits stay few.
    std::vector<CaptureDb::Op> batch(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
    queue_.clear();
    queue_bytes_ = 0;
    lock.unlock();
    std::uint64_t inserts = 0;
    for (const auto& op : batch) inserts += op.kind == CaptureDb::Op::insert ? 1 : 0;
    auto r = db_.apply(batch);
    if (!r) spdlog::warn("inspect db {}: {} ({} captures not saved)", path_, r.error().message, inserts);
    batch.clear();  // the exchanges are released off the lock
    lock.lock();
    if (r) {
      written_ += inserts;
      written_total().inc(inserts);
    } else {
      ++errors_;
      errors_total().inc();
    }
    applied_ = pushed_ - queue_.size();
    done_.notify_all();
  }
}

}  // namespace porthole::inspect
