// HTTP/1.x message framing (RFC 9112), sans-I/O and strict: one codec for the relay and the
// agent. It finds and parses message heads, tells how the body is framed, checks body framing
// while the raw body bytes are passed on unchanged, and writes heads back out. Anything
// ambiguous (the raw material of request smuggling) is an error, never a guess.
// No sockets, no allocation beyond the parsed head. See docs/http.md.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace porthole::proto::http1 {

struct Limits {
  std::size_t max_head = 32 * 1024;   // the whole head (start line + fields): 431 past it
  std::size_t max_field = 8 * 1024;   // one field line, CRLF not counted: 431 past it
  std::size_t max_fields = 256;       // number of field lines: 431 past it
  std::size_t max_chunk_line = 4096;  // chunk-size line incl. extensions, and one trailer line
  std::size_t max_trailers = 16 * 1024;
};

// One header field as received (name case kept; compare case-insensitively).
struct Field {
  std::string name;
  std::string value;  // leading/trailing SP/HTAB removed
};

// An ordered list of fields with case-insensitive look-ups.
struct Fields {
  std::vector<Field> list;

  const std::string* get(std::string_view name) const;  // the first one, or nullptr
  std::size_t count(std::string_view name) const;
  void add(std::string_view name, std::string_view value);
  void set(std::string_view name, std::string_view value);  // removes all, then adds
  void remove(std::string_view name);                       // every field of that name
  // True when a field `name` holds `token` in its comma-separated list (case-insensitive),
  // e.g. has_token("Connection", "upgrade").
  bool has_token(std::string_view name, std::string_view token) const;
};

enum class BodyKind {
  none,         // no body (GET without framing fields, HEAD responses, 1xx/204/304, ...)
  length,       // Content-Length bytes
  chunked,      // Transfer-Encoding: chunked (final coding)
  until_close,  // responses only: the body ends when the connection does
};

struct RequestHead {
  std::string method;
  std::string target;  // as sent (origin-form "/p?q", absolute-form "http://h/p", "*", ...)
  int minor = 1;       // HTTP/1.<minor>: 0 or 1
  Fields fields;
  // The authority the request is for: from the absolute-form target, else the Host field.
  // Lower-cased, without port and trailing dot (what routing compares).
  std::string host;
  std::string host_port;  // the port part of the authority, "" if none
  BodyKind body = BodyKind::none;
  std::uint64_t content_length = 0;  // for BodyKind::length
  bool keep_alive = true;            // by version and Connection (close / keep-alive)
  bool expect_continue = false;      // Expect: 100-continue
  bool upgrade = false;              // Connection: upgrade and an Upgrade field
};

struct ResponseHead {
  int status = 0;
  std::string reason;
  int minor = 1;
  Fields fields;
  BodyKind body = BodyKind::none;
  std::uint64_t content_length = 0;
  bool keep_alive = true;
};

struct ParseError {
  int status = 400;     // the answer to give: 400, 431, 501, 505 (for responses: always 502)
  std::string message;  // precise, for logs and the error page: "duplicate Content-Length"
};

enum class ParseStatus { incomplete, complete, error };

template <class Head>
struct Parsed {
  ParseStatus status = ParseStatus::incomplete;
  std::size_t head_size = 0;  // complete: bytes of the head, final CRLF included
  Head head;
  ParseError error;
};

// Looks for a complete request head at the start of `buf` (which may hold more: the body or
// the next request). `incomplete` means more bytes are needed and no limit is exceeded yet;
// a head that cannot fit the limits is an error (431) as soon as that is known.
// Rules (each an error with its own message): request-line `METHOD SP TARGET SP HTTP/1.x`
// with a token method, a target without CTLs/spaces in a form its method allows; exactly one
// valid Host for HTTP/1.1 (none allowed for 1.0 only); field names are tokens with no
// whitespace before the colon; values have no CTL but HTAB (obs-text allowed); no obs-fold;
// every line ends in CRLF (bare CR or LF is an error); Content-Length is one field of digits
// (no duplicates, no lists); Transfer-Encoding with Content-Length is an error, and so is a
// Transfer-Encoding whose final coding is not chunked (501 for an unknown coding) or that
// appears in an HTTP/1.0 request. Up to two empty lines before the request line are skipped.
// Details: max_head counts from the first byte of `buf` (skipped empty lines included) to the
// final CRLF; max_field is one field line without its CRLF; the request line has only
// max_head. Transfer-Encoding: 400 for an empty element, chunked twice, chunked not last or
// with parameters; 501 for `gzip, chunked` and other codings before a final chunked. Targets:
// origin-form, absolute-form (http/https, no userinfo, its authority is `host` even when Host
// differs), authority-form host:port for CONNECT only (it is `host` too), `*` for OPTIONS
// only; no '#'. Expect and Upgrade are ignored in HTTP/1.0 requests (RFC 9110 10.1.1, 7.8).
Parsed<RequestHead> parse_request(std::span<const std::uint8_t> buf, const Limits& limits = {});

// The same for a response to a request with `request_method` (HEAD and CONNECT change the
// framing: RFC 9112 section 6.3). Errors here mean a broken origin: the status to answer is 502.
// Framing: HEAD, 1xx, 204, 304 and a 2xx to CONNECT have no body; else Transfer-Encoding with
// chunked last is chunked, other codings until_close; else Content-Length (0: none); else
// until_close (keep_alive is then false). Content-Length and Transfer-Encoding syntax is
// checked even when there is no body; Transfer-Encoding in an HTTP/1.0 response is an error.
// A missing SP after the status code is accepted (empty reason); no empty lines are skipped.
Parsed<ResponseHead> parse_response(std::span<const std::uint8_t> buf, std::string_view request_method,
                                    const Limits& limits = {});

// Checks the framing of a body whose raw bytes are forwarded unchanged.
class BodyFramer {
 public:
  BodyFramer() = default;
  BodyFramer(BodyKind kind, std::uint64_t content_length, const Limits& limits = {});

  struct Step {
    std::size_t consumed = 0;  // bytes at the front of `in` that belong to the body
    bool done = false;         // the body ended after `consumed` bytes
    std::optional<ParseError> error;
  };
  // Feeds the next bytes; the caller forwards in[0, consumed) and keeps the rest (the next
  // message) when done. Once done (or failed), feed() consumes nothing.
  // While the body is not done, everything fed is consumed (a partial chunk-size or trailer
  // line is kept inside, bounded by max_chunk_line). On an error, `consumed` covers the bytes
  // before the one that showed it: forward nothing more and close the connection. Errors carry
  // status 400 (a caller framing a response body answers 502 instead).
  // Chunked rules: chunk-size is 1 to 16 HEXDIGs (no sign, no whitespace before it),
  // optional extensions `;name[=token|quoted-string]` with BWS around ';' and '=', then CRLF;
  // chunk data is followed by exactly CRLF; after the `0` chunk, trailer field lines (header
  // field syntax, each ≤ max_chunk_line, all together ≤ max_trailers) and an empty line.
  Step feed(std::span<const std::uint8_t> in);
  // The connection ended: fine for until_close (the body is done), an error otherwise.
  std::optional<ParseError> at_eof();
  bool done() const { return state_ == State::done; }

 private:
  enum class State { size_line, data, data_cr, data_lf, trailer_line, length, until_close, done, failed };
  // Takes bytes of a size or trailer line from in[pos...]: true with `line` (CRLF removed) when
  // the line is complete, false when more bytes are needed or on an error (`error_` set).
  bool take_line(std::span<const std::uint8_t> in, std::size_t& pos, std::string_view& line);
  void on_size_line(std::string_view line);
  void on_trailer_line(std::string_view line);
  void fail(std::string message);

  State state_ = State::done;
  std::uint64_t remaining_ = 0;
  std::size_t trailer_bytes_ = 0;
  std::string line_;  // the part of a size or trailer line seen in earlier feeds (bounded)
  std::optional<ParseError> error_;
  Limits limits_;
};

// The head as bytes: start line, fields in order, empty line.
std::string serialize(const RequestHead& head);
std::string serialize(const ResponseHead& head);

// What the relay knows of a visitor, for the forwarding fields.
struct ForwardContext {
  std::string client_ip;       // the L4 address (or one a trusted PROXY header gave), no port
  std::string proto = "http";  // "http" or "https": X-Forwarded-Proto
  // The visitor's peer is a trusted proxy: its X-Forwarded-For/Proto/Host and Forwarded are
  // kept and extended; otherwise whatever a visitor sent in them is replaced.
  bool trusted_peer = false;
};

// Makes a visitor's request fit to forward: removes hop-by-hop fields (Connection,
// Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade unless this is an upgrade, and every field
// named in Connection, except the framing fields and Host, which a visitor can never strip),
// then sets X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host and Forwarded (RFC 7239),
// and for an upgrade `Connection: upgrade`. Added after the removal, so nothing listed in
// Connection removes them. An absolute-form target's authority replaces Host (RFC 9112
// 3.2.2); X-Forwarded-Host and Forwarded's host= are the Host value as forwarded (with port),
// left out when there is none. Several X-Forwarded-For or Forwarded fields from a trusted
// peer are joined into one.
void prepare_request(RequestHead& head, const ForwardContext& ctx);
// Removes the hop-by-hop fields of a response (keeps framing fields; keeps Upgrade and sets
// `Connection: upgrade` for a 101).
void prepare_response(ResponseHead& head);

// True when the client said it accepts text/html (Accept), so an error is worth a page.
bool accepts_html(const RequestHead& head);
// A complete error response (head and body) for people and scripts: a small HTML page when
// `html`, else one line of text. `close` adds `Connection: close`. Status line reason from the
// status code. Title and detail are escaped.
std::string error_response(int status, std::string_view title, std::string_view detail, bool html,
                           bool close);
// "Not Found" for 404, ... ("Unknown" for codes it does not know).
std::string_view reason_phrase(int status);

}  // namespace porthole::proto::http1
