#include "agent/replay.hpp"

#include "agent/http_serve.hpp"
#include "proto/http1.hpp"

namespace porthole::agent {

namespace {

// The relay's side of a replayed exchange: reads give the request, then end of stream; writes
// keep the first bytes of the response (enough for its status line) and count the rest.
class ReplayStream final : public net::ByteStream {
 public:
  explicit ReplayStream(std::string request) : in_(std::move(request)) {}

  net::Task<Result<net::Chunk>> read() override {
    if (aborted_) co_return make_error(Errc::closed, "replay aborted");
    net::Chunk c;
    if (pos_ >= in_.size()) co_return c;  // end of the request
    c = net::Chunk::take(in_.size() - pos_);
    const auto n = std::min(c.spare().size(), in_.size() - pos_);
    std::copy_n(in_.data() + pos_, n, c.spare().data());
    c.commit(n);
    pos_ += n;
    co_return c;
  }
  net::Task<Result<void>> write(std::span<const std::uint8_t> b) override {
    if (aborted_) co_return make_error(Errc::closed, "replay aborted");
    const auto room = kKeep > out_.size() ? kKeep - out_.size() : 0;
    out_.append(reinterpret_cast<const char*>(b.data()), std::min(room, b.size()));
    co_return Result<void>{};
  }
  void shutdown_write() override {}
  void abort(std::string_view) override { aborted_ = true; }

  const std::string& response_start() const { return out_; }
  static constexpr std::size_t kKeep = 64 * 1024;

 private:
  std::string in_;
  std::size_t pos_ = 0;
  std::string out_;
  bool aborted_ = false;
};

}  // namespace

net::Task<Result<int>> replay_http(std::shared_ptr<TunnelState> tunnel, std::string request, std::string replay_of) {
  const auto parsed = proto::http1::parse_request(net::bytes_of(request));
  if (parsed.status != proto::http1::ParseStatus::complete) {
    co_return make_error(Errc::protocol, "the request to replay does not parse");
  }
  const auto method = parsed.head.method;
  ReplayStream stream(std::move(request));
  std::optional<Error> failed;
  const ResetFn reset = [&failed](Error e) { failed = std::move(e); };
  const proto::OpenMeta no_visitor{tunnel->config.name, {}, "http"};  // the agent's own request
  co_await serve_http_on(stream, reset, *tunnel, no_visitor, replay_of);
  if (failed) co_return *failed;
  auto r = proto::http1::parse_response(net::bytes_of(stream.response_start()), method);
  if (r.status != proto::http1::ParseStatus::complete) {
    co_return make_error(Errc::protocol, "no complete response from the local service");
  }
  co_return r.head.status;
}

}  // namespace porthole::agent
