// Writes captures to the CaptureDb off the agent's loop: the Recorder hands over inserts,
// evictions and clears (never waits), a writer thread applies whatever has accumulated as one
// transaction. The queue is bounded (entries and bytes): past it inserts are dropped and
// counted — persistence, like capture, never slows the tunnel.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>

#include "inspect/capture_db.hpp"

namespace porthole::inspect {

class Persister {
 public:
  struct Limits {
    std::size_t entries = 4096;
    std::size_t bytes = 32 * 1024 * 1024;
  };
  Persister(CaptureDb db, Limits limits);
  explicit Persister(CaptureDb db) : Persister(std::move(db), Limits{}) {}
  ~Persister();  // writes what is pending, then stops
  Persister(const Persister&) = delete;
  Persister& operator=(const Persister&) = delete;

  void insert(ExchangePtr e);  // false-free: a full queue drops and counts
  void remove(std::string id);
  void clear();
  void save_ws(ExchangePtr e);  // an upgraded connection ended: its messages
  // Waits until everything handed over so far is written (tests, shutdown).
  void flush();

  std::uint64_t written() const;
  std::uint64_t dropped() const;
  std::uint64_t errors() const;
  const std::string& path() const { return path_; }

 private:
  void push(CaptureDb::Op op, std::size_t bytes);
  void run();

  CaptureDb db_;
  Limits limits_;
  std::string path_;
  mutable std::mutex mu_;
  std::condition_variable wake_, done_;
  std::deque<CaptureDb::Op> queue_;
  std::size_t queue_bytes_ = 0;
  std::uint64_t pushed_ = 0, applied_ = 0;  // ops, for flush()
  std::uint64_t written_ = 0, dropped_ = 0, errors_ = 0;
  bool stop_ = false;
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace porthole::inspect
