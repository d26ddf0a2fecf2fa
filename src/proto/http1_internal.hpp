// Pieces of the HTTP/1.x codec shared by its source files (src/proto/http1_*.cpp); not part of
// the interface: include proto/http1.hpp.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "proto/http1.hpp"

namespace porthole::proto::http1::detail {

bool is_tchar(unsigned char c);
bool is_token(std::string_view s);
bool iequals(std::string_view a, std::string_view b);  // ASCII case-insensitive
std::string_view trim_ows(std::string_view s);         // SP and HTAB at both ends

// Checks one field line (CRLF removed) and splits it into its name and OWS-trimmed value.
// Returns the error (a string literal), or nullptr when the line is valid.
const char* split_field_line(std::string_view line, std::string_view& name, std::string_view& value);

// Checks an authority (`host[:port]`: a reg-name of letters, digits, '-', '_' and '.', which
// covers IPv4 addresses, or an [IPv6] literal) and gives the host lower-cased, without trailing
// dot and brackets, and the port digits ("" when none). Returns the error, or nullptr.
const char* parse_authority(std::string_view authority, std::string& host, std::string& port);

// Calls f(element) for every element of a comma-separated list, OWS trimmed (empty ones too).
template <class F>
void for_each_element(std::string_view list, F&& f) {
  for (;;) {
    const auto comma = list.find(',');
    f(trim_ows(list.substr(0, comma)));
    if (comma == std::string_view::npos) return;
    list.remove_prefix(comma + 1);
  }
}

// An error while parsing a head: status 0 means none.
struct HeadError {
  int status = 0;
  std::string message;
  explicit operator bool() const { return status != 0; }
};

// Where a head is in a buffer, found by scan_head: every line ends in CRLF, the limits hold.
struct HeadScan {
  ParseStatus status = ParseStatus::incomplete;
  std::size_t start = 0;   // the start line (after the empty lines skipped before a request)
  std::size_t end = 0;     // complete: just past the empty line
  std::size_t fields = 0;  // field lines
  HeadError error;
};
HeadScan scan_head(std::string_view buf, const Limits& limits, bool request);

// The line at `pos` of a head scan_head found complete, without its CRLF; moves pos past it.
std::string_view next_line(std::string_view head, std::size_t& pos);

// Parses the `count` field lines from `pos` and derives host, framing and connection state.
HeadError parse_request_fields(std::string_view head, std::size_t pos, std::size_t count, RequestHead& h);
HeadError parse_response_fields(std::string_view head, std::size_t pos, std::size_t count,
                                std::string_view request_method, ResponseHead& h);

}  // namespace porthole::proto::http1::detail
