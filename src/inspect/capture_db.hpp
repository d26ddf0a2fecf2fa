// Captured exchanges on disk (--inspect-db FILE): one SQLite file holding what the ring holds, so
// the captures survive an agent restart. Synchronous and single-threaded: the Persister runs it
// on its writer thread (after load(), which runs once at start-up, before that thread).
// Schema versions with migrations (PRAGMA user_version), like the relay's store; the file is
// marked with an application_id so a foreign SQLite file is refused, never altered.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "inspect/exchange.hpp"

struct sqlite3;

namespace porthole::inspect {

// 1: captures (one row per exchange; heads, fields and bodies as they were kept in memory).
inline constexpr int kCaptureDbVersion = 1;
inline constexpr std::int32_t kCaptureDbApplicationId = 0x50485449;  // "PHTI"

class CaptureDb {
 public:
  // Opens (creating it, mode 0600, and its directory, 0700, when missing) and migrates. Errors:
  // not a database, another program's database, a newer schema, locked by another agent.
  static Result<CaptureDb> open(const std::string& path);
  CaptureDb() = default;
  CaptureDb(CaptureDb&& o) noexcept;
  CaptureDb& operator=(CaptureDb&& o) noexcept;
  CaptureDb(const CaptureDb&) = delete;
  CaptureDb& operator=(const CaptureDb&) = delete;
  ~CaptureDb();

  // The newest captures whose memory() sums to at most `max_bytes` (the newest one always),
  // oldest first; older rows are deleted. A row that cannot be decoded is skipped and deleted
  // (counted in `skipped`).
  Result<std::vector<Exchange>> load(std::size_t max_bytes, std::size_t* skipped = nullptr);

  struct Op {
    enum Kind { insert, remove, clear, ws } kind = insert;
    ExchangePtr exchange;  // insert, ws (its WebSocket messages are written)
    std::string id;        // remove
  };
  // Applies the ops in order, in one transaction.
  Result<void> apply(const std::vector<Op>& ops);
  Result<std::int64_t> count();

  const std::string& path() const { return path_; }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

// The encodings of the blob columns (exposed for tests): header fields as length-prefixed
// name/value pairs, WebSocket messages likewise.
std::string encode_fields(const std::vector<proto::http1::Field>& fields);
Result<std::vector<proto::http1::Field>> decode_fields(std::string_view blob);
std::string encode_ws(const WsLog& log);
Result<void> decode_ws(std::string_view blob, WsLog& into);

}  // namespace porthole::inspect
