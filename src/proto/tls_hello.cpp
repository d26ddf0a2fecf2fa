#include "proto/tls_hello.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace porthole::proto::tls {

namespace {

constexpr std::uint8_t kHandshakeRecord = 22;
constexpr std::uint8_t kClientHello = 1;
constexpr std::size_t kMaxFragment = 16384;  // 2^14 (RFC 8446 5.1)

constexpr std::uint16_t kExtServerName = 0;
constexpr std::uint16_t kExtAlpn = 16;
constexpr std::uint16_t kExtSupportedVersions = 43;
constexpr std::uint16_t kExtEch = 0xfe0d;
constexpr std::uint16_t kExtRenegotiationInfo = 0xff01;
constexpr std::uint16_t kScsvRenegotiation = 0x00ff;

// GREASE (RFC 8701): 0x0a0a, 0x1a1a, ... 0xfafa; ignored wherever it appears.
bool is_grease(std::uint16_t v) { return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff); }

// A bounds-checked cursor over a span: every take fails (and stays failed) past the end.
class Cursor {
 public:
  explicit Cursor(std::span<const std::uint8_t> b) : b_(b) {}
  bool ok() const { return ok_; }
  bool empty() const { return pos_ >= b_.size(); }
  std::size_t left() const { return ok_ ? b_.size() - pos_ : 0; }
  std::uint32_t u8() { return take_int(1); }
  std::uint32_t u16() { return take_int(2); }
  std::uint32_t u24() { return take_int(3); }
  std::span<const std::uint8_t> bytes(std::size_t n) {
    if (!ok_ || n > b_.size() - pos_) {
      ok_ = false;
      return {};
    }
    auto s = b_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  // A vector with a length prefix of `width` bytes.
  Cursor sub(int width) {
    const auto n = take_int(width);
    return Cursor(bytes(n), ok_);
  }

 private:
  Cursor(std::span<const std::uint8_t> b, bool ok) : b_(b), ok_(ok) {}
  std::uint32_t take_int(int width) {
    auto s = bytes(static_cast<std::size_t>(width));
    std::uint32_t v = 0;
    for (auto byte : s) v = (v << 8) | byte;
    return v;
  }
  std::span<const std::uint8_t> b_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

// A DNS host name as SNI carries it (RFC 6066 3): letters, digits, '-', '_', '.'; lower-cased,
// the trailing dot dropped. Anything else (NUL, spaces, bytes over 0x7f) is malformed.
std::string check_host_name(std::span<const std::uint8_t> raw, std::string& why) {
  if (raw.empty() || raw.size() > 255) {
    why = fmt::format("server name of {} bytes", raw.size());
    return {};
  }
  std::string name;
  name.reserve(raw.size());
  for (auto c : raw) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.' || c == '_';
    if (!ok) {
      why = fmt::format("server name has byte 0x{:02x}", c);
      return {};
    }
    name.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : static_cast<char>(c));
  }
  if (name.back() == '.') name.pop_back();  // one trailing dot (the FQDN form) is the same name
  if (name.empty() || name.front() == '.' || name.back() == '.' || name.find("..") != std::string::npos) {
    why = "server name has an empty label";
    return {};
  }
  return name;
}

std::string parse_server_name(Cursor ext, ClientHello& out) {
  auto list = ext.sub(2);
  if (!ext.ok() || !ext.empty()) return "server_name extension length mismatch";
  if (list.empty()) return "empty server_name list";
  while (!list.empty()) {
    const auto type = list.u8();
    auto name = list.sub(2);
    if (!list.ok()) return "server_name entry overruns its list";
    if (type != 0) continue;  // only host_name (0) is defined; others are skipped
    if (out.has_sni) return "two host_name entries in server_name";  // RFC 6066: at most one
    std::string why;
    out.sni = check_host_name(name.bytes(name.left()), why);
    if (!why.empty()) return why;
    out.has_sni = true;
  }
  return {};
}

std::string parse_alpn(Cursor ext, ClientHello& out) {
  auto list = ext.sub(2);
  if (!ext.ok() || !ext.empty()) return "ALPN extension length mismatch";
  if (list.empty()) return "empty ALPN list";
  while (!list.empty()) {
    auto p = list.sub(1);
    if (!list.ok()) return "ALPN entry overruns its list";
    if (p.empty()) return "empty ALPN protocol name";  // RFC 7301 3.1
    auto b = p.bytes(p.left());
    out.alpn.emplace_back(reinterpret_cast<const char*>(b.data()), b.size());
  }
  return {};
}

std::string parse_versions(Cursor ext, ClientHello& out) {
  auto list = ext.sub(1);
  if (!ext.ok() || !ext.empty() || list.left() < 2 || list.left() % 2 != 0) return "bad supported_versions extension";
  while (!list.empty()) {
    const auto v = static_cast<std::uint16_t>(list.u16());
    if (!is_grease(v)) out.versions.push_back(v);
  }
  return {};
}

std::string parse_extensions(Cursor exts, ClientHello& out) {
  std::vector<std::uint16_t> seen;
  while (!exts.empty()) {
    const auto type = static_cast<std::uint16_t>(exts.u16());
    auto body = exts.sub(2);
    if (!exts.ok()) return "extension overruns the extensions block";
    if (std::find(seen.begin(), seen.end(), type) != seen.end()) {
      return fmt::format("duplicate extension {}", type);  // RFC 8446 4.2
    }
    seen.push_back(type);
    std::string why;
    switch (type) {
      case kExtServerName: why = parse_server_name(body, out); break;
      case kExtAlpn: why = parse_alpn(body, out); break;
      case kExtSupportedVersions: why = parse_versions(body, out); break;
      case kExtEch: out.has_ech = true; break;
      case kExtRenegotiationInfo: out.has_renegotiation_info = true; break;
      default: break;  // GREASE and every other extension: skipped by length
    }
    if (!why.empty()) return why;
  }
  return {};
}

}  // namespace

std::string_view hello_error_name(HelloError e) {
  switch (e) {
    case HelloError::none: return "none";
    case HelloError::not_tls: return "not_tls";
    case HelloError::sslv2: return "sslv2";
    case HelloError::bad_version: return "bad_version";
    case HelloError::record_overflow: return "record_overflow";
    case HelloError::not_handshake: return "not_handshake";
    case HelloError::not_client_hello: return "not_client_hello";
    case HelloError::too_large: return "too_large";
    case HelloError::malformed: return "malformed";
  }
  return "unknown";
}

std::uint8_t alert_for(HelloError e) {
  switch (e) {
    case HelloError::record_overflow: return kAlertRecordOverflow;
    case HelloError::bad_version: return kAlertProtocolVersion;
    case HelloError::not_handshake:
    case HelloError::not_client_hello: return kAlertUnexpectedMessage;
    case HelloError::too_large:
    case HelloError::malformed: return kAlertDecodeError;
    default: return 0;  // not TLS at all (or SSLv2): an alert would mean nothing to it
  }
}

std::vector<std::uint8_t> fatal_alert(std::uint8_t description) {
  return {21, 3, 3, 0, 2, 2, description};
}

std::string parse_client_hello_body(std::span<const std::uint8_t> body, ClientHello& out) {
  Cursor c(body);
  out.legacy_version = static_cast<std::uint16_t>(c.u16());
  c.bytes(32);  // random
  auto session_id = c.sub(1);
  if (!c.ok()) return "ClientHello too short";
  if (session_id.left() > 32) return "session id longer than 32 bytes";
  if ((out.legacy_version >> 8) != 3) return fmt::format("ClientHello version 0x{:04x}", out.legacy_version);
  auto suites = c.sub(2);
  if (!c.ok() || suites.left() < 2 || suites.left() % 2 != 0) return "bad cipher_suites";
  while (!suites.empty()) {
    if (suites.u16() == kScsvRenegotiation) out.has_renegotiation_info = true;
  }
  auto compression = c.sub(1);
  if (!c.ok() || compression.empty()) return "bad compression_methods";
  if (c.empty()) return {};  // no extensions block (an old client): no SNI, no ALPN
  auto exts = c.sub(2);
  if (!c.ok()) return "extensions block overruns the ClientHello";
  if (!c.empty()) return "bytes after the extensions block";
  return parse_extensions(exts, out);
}

ClientHelloReader::Status ClientHelloReader::fail(HelloError e, std::string message) {
  status_ = Status::error;
  error_ = e;
  message_ = std::move(message);
  return status_;
}

ClientHelloReader::Status ClientHelloReader::parse_message() {
  ClientHello h;
  const auto body = std::span<const std::uint8_t>(msg_).subspan(4);
  if (auto why = parse_client_hello_body(body, h); !why.empty()) {
    return fail(HelloError::malformed, "malformed ClientHello: " + why);
  }
  h.record_bytes = consumed_;
  hello_ = std::move(h);
  status_ = Status::done;
  return status_;
}

ClientHelloReader::Status ClientHelloReader::feed(std::span<const std::uint8_t> bytes) {
  std::size_t i = 0;
  while (status_ == Status::need_more && i < bytes.size()) {
    if (record_left_ == 0) {
      // A record header, possibly over several feeds.
      header_[header_have_++] = bytes[i++];
      ++consumed_;
      if (header_have_ == 1 && header_[0] != kHandshakeRecord && (header_[0] & 0x80) == 0) {
        if (first_record_) return fail(HelloError::not_tls, "not a TLS handshake (is it plain HTTP?)");
        return fail(HelloError::not_handshake, fmt::format("record type {} inside the ClientHello", header_[0]));
      }
      if (header_have_ == 3 && (header_[0] & 0x80) != 0) {
        // SSL 2.0 record: 2-byte length with the high bit set, then the message type.
        if (first_record_ && header_[2] == kClientHello) {
          return fail(HelloError::sslv2, "an SSL 2.0 ClientHello (not supported)");
        }
        return fail(first_record_ ? HelloError::not_tls : HelloError::not_handshake, "not a TLS handshake");
      }
      if (header_have_ < 5) continue;
      header_have_ = 0;
      if (header_[1] != 3) {
        return fail(HelloError::bad_version, fmt::format("record version {}.{}", header_[1], header_[2]));
      }
      record_left_ = (std::size_t{header_[3]} << 8) | header_[4];
      if (record_left_ > kMaxFragment) {
        return fail(HelloError::record_overflow, fmt::format("record of {} bytes (the limit is 16384)", record_left_));
      }
      if (record_left_ == 0) return fail(HelloError::malformed, "empty handshake record");
      first_record_ = false;
      continue;
    }
    // Fragment bytes of the current record.
    const auto n = std::min(record_left_, bytes.size() - i);
    msg_.insert(msg_.end(), bytes.begin() + static_cast<std::ptrdiff_t>(i),
                bytes.begin() + static_cast<std::ptrdiff_t>(i + n));
    i += n;
    record_left_ -= n;
    consumed_ += n;
    if (msg_.size() >= 1 && msg_[0] != kClientHello) {
      return fail(HelloError::not_client_hello, fmt::format("handshake message type {} before a ClientHello", msg_[0]));
    }
    if (msg_.size() < 4) continue;
    const std::size_t len = (std::size_t{msg_[1]} << 16) | (std::size_t{msg_[2]} << 8) | msg_[3];
    if (len > limits_.max_hello) {
      return fail(HelloError::too_large, fmt::format("ClientHello of {} bytes (the limit is {})", len, limits_.max_hello));
    }
    if (msg_.size() < 4 + len) continue;
    if (record_left_ > 0 || msg_.size() > 4 + len) {
      // The rest of this record would be a second handshake message: not before our answer.
      return fail(HelloError::malformed, "bytes after the ClientHello in its record");
    }
    msg_.resize(4 + len);
    return parse_message();
  }
  return status_;
}

}  // namespace porthole::proto::tls
