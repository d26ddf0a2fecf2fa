// A sans-I/O reader of a TLS ClientHello (RFC 8446 4.1.2, RFC 5246 7.4.1.2) for the relay's
// https listener: it is fed the first bytes of a visitor connection and says which server name
// (SNI, RFC 6066) and ALPN protocols (RFC 7301) the client asks for, so the connection can be
// routed before any TLS is spoken. It decrypts nothing and keeps the bytes it was fed
// untouched (the caller keeps them too: they are replayed to OpenSSL or to the agent).
//
// Records are read one by one (a ClientHello may be split over several records, and a record
// over several reads); the handshake message is parsed once, when it is whole. Work is linear
// in the bytes fed, so a client that sends a byte at a time costs nothing extra.
// Every rejection has a reason (a counter label) and a message for the log.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace porthole::proto::tls {

enum class HelloError {
  none,
  not_tls,           // the first byte is not a TLS handshake record (plain HTTP, garbage)
  sslv2,             // an SSL 2.0 compatible ClientHello (RFC 6176: never accepted)
  bad_version,       // a record version other than 3.x
  record_overflow,   // a record longer than 2^14 bytes (RFC 8446 5.1)
  not_handshake,     // a non-handshake record (alert, change_cipher_spec, data) inside the hello
  not_client_hello,  // the first handshake message is not a ClientHello
  too_large,         // the ClientHello is longer than the limit
  malformed,         // a length or field that does not fit, a duplicate extension, a bad name
};

// The counter label of `e` ("not_tls", "sslv2", ...).
std::string_view hello_error_name(HelloError e);

struct ClientHello {
  std::uint16_t legacy_version = 0;            // ClientHello.legacy_version (0x0303 for TLS 1.2/1.3)
  std::string sni;                             // the host_name, lower case, no trailing dot; "" when none
  bool has_sni = false;                        // a server_name extension with a host_name was sent
  std::vector<std::string> alpn;               // offered protocols, in the client's order
  std::vector<std::uint16_t> versions;         // supported_versions (TLS 1.3 clients), GREASE left out
  bool has_ech = false;                        // encrypted_client_hello (0xfe0d): sni is the outer, public name
  bool has_renegotiation_info = false;         // renegotiation_info (0xff01) or the SCSV
  std::size_t record_bytes = 0;                // bytes of the records that carried the hello
};

struct HelloLimits {
  std::size_t max_hello = 64 * 1024;  // handshake message bytes (post-quantum key shares are ~1.2 KiB)
};

class ClientHelloReader {
 public:
  explicit ClientHelloReader(HelloLimits limits = {}) : limits_(limits) {}

  enum class Status { need_more, done, error };
  // Feeds the next bytes of the connection. Bytes after the record that completes the hello
  // are ignored (they belong to the TLS session); feeding after `done` or `error` changes
  // nothing.
  Status feed(std::span<const std::uint8_t> bytes);

  Status status() const { return status_; }
  const ClientHello& hello() const { return hello_; }  // valid when done
  HelloError error() const { return error_; }
  const std::string& message() const { return message_; }

 private:
  Status fail(HelloError e, std::string message);
  Status parse_message();

  HelloLimits limits_;
  Status status_ = Status::need_more;
  HelloError error_ = HelloError::none;
  std::string message_;
  std::uint8_t header_[5]{};        // the record header being read
  std::size_t header_have_ = 0;
  std::size_t record_left_ = 0;     // fragment bytes of the current record still to come
  bool first_record_ = true;
  std::vector<std::uint8_t> msg_;   // handshake message bytes gathered so far
  std::size_t consumed_ = 0;        // record bytes taken so far
  ClientHello hello_;
};

// Parses the body of a ClientHello handshake message (after its 4-byte header) into `out`;
// an empty string on success, else why it is malformed. Exposed for the unit tests and the
// fuzzer.
std::string parse_client_hello_body(std::span<const std::uint8_t> body, ClientHello& out);

// The bytes of a fatal TLS alert record (level 2) with `description`, e.g. 112
// unrecognized_name, 50 decode_error, 22 record_overflow, 70 protocol_version.
std::vector<std::uint8_t> fatal_alert(std::uint8_t description);

inline constexpr std::uint8_t kAlertUnrecognizedName = 112;
inline constexpr std::uint8_t kAlertDecodeError = 50;
inline constexpr std::uint8_t kAlertRecordOverflow = 22;
inline constexpr std::uint8_t kAlertProtocolVersion = 70;
inline constexpr std::uint8_t kAlertUnexpectedMessage = 10;
inline constexpr std::uint8_t kAlertHandshakeFailure = 40;

// The alert that answers `e` (0: close without one, e.g. SSLv2 or bytes that are not TLS).
std::uint8_t alert_for(HelloError e);

}  // namespace porthole::proto::tls
