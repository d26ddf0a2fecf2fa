// The certificates of the relay's https listener, by host name (docs/tls.md):
//   1. installed ones (install(): an issued certificate, e.g. from ACME) for an exact name;
//   2. files: `[[certificate]]` blocks of relay.toml (host pattern, cert, key) and the
//      --cert/--key pair (its names from the certificate's subjectAltName), reloaded when a
//      file changes (mtime, checked at most once a second; an unreadable or mismatched pair
//      keeps the old context and is logged and counted);
//   3. for names under the relay's --domain (`localhost` by default) with neither, a leaf
//      certificate signed by the relay's local CA (net::LocalCa, made once in the data dir).
// Exact names win over wildcards (`*.example.test` covers one label), a longer wildcard over a
// shorter one, an installed certificate over a file for the same pattern. A name nothing covers
// has no certificate: the listener answers unrecognized_name, never another host's certificate.
//
// TLS-ALPN-01 (RFC 8737): set_alpn_challenge() keeps a challenge certificate for a name; a
// ClientHello for it that offers exactly `acme-tls/1` is served that certificate with ALPN
// acme-tls/1 and closed after the handshake.
//
// All methods may be called from any thread (a mutex; handshakes are not the data path).
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "net/tls_server.hpp"

namespace porthole::relay {

class CertStore {
 public:
  struct Options {
    std::string data_dir;
    std::string domain = "localhost";
    std::vector<config::CertificateConfig> files;  // host "" = the certificate's own names
  };
  // Loads every file (errors name the file) and the local CA (created the first time).
  static Result<std::shared_ptr<CertStore>> create(const Options& options);

  // The context that terminates TLS for `host` (normalized), or nullptr when none covers it.
  net::SslCtxPtr context_for(const std::string& host);
  // The TLS-ALPN-01 challenge context for `host`, or nullptr.
  net::SslCtxPtr challenge_for(const std::string& host);

  // An issued certificate for exactly `host` (a wildcard pattern is allowed): replaces an
  // earlier installed one, and wins over files for that pattern.
  Result<void> install(const std::string& host, const std::string& chain_pem, const std::string& key_pem);
  Result<void> set_alpn_challenge(const std::string& host, const std::string& cert_pem, const std::string& key_pem);
  void clear_alpn_challenge(const std::string& host);

  // Re-reads the files whose mtime changed; returns how many pairs were reloaded.
  std::size_t reload_changed();

  const net::LocalCa& ca() const { return *ca_; }
  // What covers `host`, for logs and tests: "installed", "file:PATH", "local-ca" or "".
  std::string source_of(const std::string& host);

 private:
  struct FileEntry {
    std::string cert_file, key_file;
    std::filesystem::file_time_type cert_mtime{}, key_mtime{};
    net::SslCtxPtr ctx;
    std::vector<std::string> patterns;
  };
  CertStore() = default;
  Result<void> load_file(FileEntry& e);
  void index_files();
  void maybe_reload();
  // Under mu_: the best context for host and where it comes from.
  net::SslCtxPtr lookup(const std::string& host, std::string* source);

  std::mutex mu_;
  std::shared_ptr<net::LocalCa> ca_;
  std::string domain_;
  std::vector<FileEntry> files_;
  std::map<std::string, std::size_t> file_patterns_;  // pattern → files_ index (first block wins)
  std::map<std::string, net::SslCtxPtr> installed_;   // pattern → context
  std::map<std::string, net::SslCtxPtr> challenges_;  // exact host → acme-tls/1 context
  std::map<std::string, net::SslCtxPtr> minted_;      // local-CA leaves, by host
  std::chrono::steady_clock::time_point last_check_{};
};

}  // namespace porthole::relay
