// Fuzzes the ClientHello reader: arbitrary bytes fed whole, byte by byte and split in two at a
// point the input chooses must give the same outcome (status, error, SNI, ALPN, record bytes);
// a hello it accepts names a valid host (lower case, no empty label) and never claims more
// record bytes than it was fed. The body parser is also run on the raw input.
#include <cstdint>
#include <span>
#include <string>

#include "proto/tls_hello.hpp"

namespace {

using namespace porthole::proto::tls;

void require(bool ok) {
  if (!ok) __builtin_trap();
}

struct Outcome {
  ClientHelloReader::Status status;
  HelloError error;
  std::string sni;
  std::vector<std::string> alpn;
  std::size_t record_bytes = 0;
  bool operator==(const Outcome&) const = default;
};

Outcome outcome(const ClientHelloReader& r) {
  Outcome o{r.status(), r.error(), {}, {}, 0};
  if (r.status() == ClientHelloReader::Status::done) {
    o.sni = r.hello().sni;
    o.alpn = r.hello().alpn;
    o.record_bytes = r.hello().record_bytes;
  }
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  const HelloLimits limits{.max_hello = 8192};

  ClientHelloReader whole(limits);
  whole.feed(in);
  const auto a = outcome(whole);

  ClientHelloReader bytewise(limits);
  for (std::size_t i = 0; i < size; ++i) bytewise.feed(in.subspan(i, 1));
  require(outcome(bytewise) == a);

  const std::size_t cut = size == 0 ? 0 : data[0] % (size + 1);
  ClientHelloReader split(limits);
  split.feed(in.first(cut));
  split.feed(in.subspan(cut));
  require(outcome(split) == a);

  if (a.status == ClientHelloReader::Status::done) {
    require(a.record_bytes <= size);
    for (char c : a.sni) require(!(c >= 'A' && c <= 'Z') && c != '\0');
    require(a.sni.empty() || (a.sni.front() != '.' && a.sni.back() != '.' && a.sni.find("..") == std::string::npos));
  }
  if (a.status == ClientHelloReader::Status::error) require(a.error != HelloError::none && !whole.message().empty());

  ClientHello h;
  (void)parse_client_hello_body(in, h);
  return 0;
}
