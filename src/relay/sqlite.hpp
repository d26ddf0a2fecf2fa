// A small RAII layer over SQLite: one connection (Db) and prepared statements (Statement).
// Errors come back as Result; nothing throws.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace porthole::relay::sqlite {

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, sqlite3_stmt* st) : db_(db), st_(st) {}
  Statement(Statement&& o) noexcept;
  Statement& operator=(Statement&& o) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based. A failed bind is reported by the next step()/run().
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bind_blob(int index, std::span<const std::uint8_t> bytes);
  Statement& bind_null(int index);

  // One step: true when a row is available, false when done.
  Result<bool> step();
  // Steps to the end and resets (for INSERT/UPDATE/DELETE).
  Result<void> run();
  // Resets and clears bindings so the statement can be reused.
  void reset();

  bool is_null(int column) const;
  std::int64_t column_int(int column) const;
  std::string column_text(int column) const;
  std::vector<std::uint8_t> column_blob(int column) const;

 private:
  void note_bind(int rc);
  sqlite3* db_ = nullptr;
  sqlite3_stmt* st_ = nullptr;
  int bind_error_ = 0;
};

class Db {
 public:
  // Opens (and with `create`, creates) the database file. ":memory:" works too.
  static Result<Db> open(const std::string& path, bool create);
  Db() = default;
  Db(Db&& o) noexcept;
  Db& operator=(Db&& o) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  Result<void> exec(std::string_view sql);  // one or more statements, no parameters
  Result<Statement> prepare(std::string_view sql);
  std::int64_t changes() const;
  std::int64_t last_insert_rowid() const;
  std::string errmsg() const;
  sqlite3* handle() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

// Runs BEGIN IMMEDIATE ... COMMIT (ROLLBACK when not committed) around a scope.
class Transaction {
 public:
  explicit Transaction(Db& db) : db_(db) {}
  Result<void> begin() { return db_.exec("BEGIN IMMEDIATE"); }
  Result<void> commit();
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

 private:
  Db& db_;
  bool open_ = true;
};

}  // namespace porthole::relay::sqlite
