// Remembers credentials that were verified, so a visitor who sends the same one again (a basic-
// auth password, a bearer token) is not checked at full cost on every request. Entries are keyed
// by a keyed SHA-256 of the credential (the key is random per process: neither the credential
// nor a digest usable elsewhere is kept), hold what the verification found, and are bounded
// (the least recently used is forgotten first). Only successes are cached; a failure is checked
// in full every time. Pure: no I/O; a mutex because policies may be shared between threads.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace porthole::policy {

using CredentialDigest = std::array<std::uint8_t, 32>;

// SHA-256(key || credential) with a per-process random key; fast (the digest is fetched once
// and its context reused), since it runs on every request that carries a credential.
CredentialDigest credential_digest(std::string_view credential);

template <class Value>
class CredentialCache {
 public:
  explicit CredentialCache(std::size_t capacity) : capacity_(capacity) {}

  std::optional<Value> find(const CredentialDigest& k) {
    std::lock_guard lock(mu_);
    const auto it = map_.find(key_text(k));
    if (it == map_.end()) return std::nullopt;
    order_.splice(order_.begin(), order_, it->second.lru);
    return it->second.value;
  }
  void put(const CredentialDigest& k, Value v) {
    std::lock_guard lock(mu_);
    auto text = key_text(k);
    if (const auto it = map_.find(text); it != map_.end()) {
      it->second.value = std::move(v);
      order_.splice(order_.begin(), order_, it->second.lru);
      return;
    }
    if (map_.size() >= capacity_ && !order_.empty()) {
      map_.erase(order_.back());
      order_.pop_back();
    }
    order_.push_front(text);
    map_.emplace(std::move(text), Entry{std::move(v), order_.begin()});
  }
  void erase(const CredentialDigest& k) {
    std::lock_guard lock(mu_);
    const auto it = map_.find(key_text(k));
    if (it == map_.end()) return;
    order_.erase(it->second.lru);
    map_.erase(it);
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return map_.size();
  }

 private:
  static std::string key_text(const CredentialDigest& k) { return {reinterpret_cast<const char*>(k.data()), k.size()}; }
  struct Entry {
    Value value;
    std::list<std::string>::iterator lru;
  };
  std::size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> map_;
  std::list<std::string> order_;  // front = most recently used
};

}  // namespace porthole::policy
