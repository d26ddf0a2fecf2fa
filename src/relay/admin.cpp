#include "relay/admin.hpp"

#include "acme/status_json.hpp"

#include <chrono>
#include <optional>

#include <spdlog/spdlog.h>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/address.hpp"
#include "net/api_server.hpp"
#include "net/listen.hpp"
#include "relay/admin_routes.hpp"
#include "relay/relay.hpp"

namespace porthole::relay {

namespace asio = net::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

http::response<http::string_body> to_http(admin::Response&& r) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
  res.set(http::field::server, "porthole");
  if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
  for (auto& [name, value] : r.headers) res.set(name, value);
  res.body() = std::move(r.body);
  return res;
}

}  // namespace

struct AdminServer::Impl : std::enable_shared_from_this<Impl>, admin::Backend, net::ApiHandler {
  Impl(asio::io_context& ctx, Relay& r) : io(ctx), relay(r) {}

  std::vector<AgentInfo> agents() const override { return relay.agents(); }
  std::vector<EndpointInfo> endpoints() const override { return relay.endpoints(); }
  bool kick(std::string_view id) override { return relay.kick(id); }
  Store& store() override { return relay.store(); }
  nlohmann::json certificates() const override {
    auto list = nlohmann::json::array();
    auto* m = relay.acme();
    if (m != nullptr) {
      for (const auto& s : m->status()) list.push_back(acme::to_json(s));
    }
    return {{"directory", m != nullptr ? nlohmann::json(m->directory()) : nlohmann::json(nullptr)}, {"certificates", list}};
  }
  bool renew_certificate(std::string_view name) override {
    return relay.acme() != nullptr && relay.acme()->renew_now(std::string(name));
  }
  std::int64_t uptime_s() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started)
        .count();
  }

  net::Task<std::optional<net::ApiResponse>> handle(net::ApiRequest& req, beast::tcp_stream&) override {
    admin::Request r{std::string(req.method_string()), std::string(req.target()),
                     std::string(req[http::field::authorization]), std::move(req.body())};
    auto resp = admin::handle(*this, r, require_auth);
    spdlog::debug("admin API: {} {} -> {}", r.method, r.target.substr(0, 200), resp.status);
    co_return to_http(std::move(resp));
  }
  net::ApiResponse error_page(int status, std::string message) override {
    return to_http(admin::error_response(status, message));
  }
  void count(std::string_view what) override {
    if (what != "malformed") admin::count_error(what);  // error_response counts those by status
  }

  asio::io_context& io;
  Relay& relay;
  std::shared_ptr<net::ApiServer> server;
  std::string host;
  bool require_auth = true;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

Result<std::unique_ptr<AdminServer>> AdminServer::start(asio::io_context& io, Relay& relay,
                                                        const std::string& address) {
  auto hp = parse_host_port(address, "127.0.0.1", /*allow_zero=*/true);
  if (!hp) return hp.error();
  auto acc = net::listen_tcp(io.get_executor(), hp->host, hp->port);
  if (!acc) return acc.error();
  auto impl = std::make_shared<Impl>(io, relay);
  impl->host = hp->host;
  impl->require_auth = !admin::auth_exempt(hp->host);
  if (impl->require_auth && relay.store().list_tokens().empty()) {
    spdlog::warn("the admin API on {} needs a relay token and there is none yet", format_host_port(*hp));
  }
  net::ApiServerOptions opts;
  opts.max_header = admin::kMaxHeader;
  opts.max_body = admin::kMaxBody;
  impl->server = net::ApiServer::start(io, std::move(*acc), opts, impl);
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(impl)));
}

AdminServer::AdminServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
AdminServer::~AdminServer() {
  impl_->server->stop();
}

const std::string& AdminServer::host() const {
  return impl_->host;
}
std::uint16_t AdminServer::port() const {
  return impl_->server->port();
}
bool AdminServer::requires_auth() const {
  return impl_->require_auth;
}
std::string AdminServer::url() const {
  return "http://" + format_host_port(impl_->host, impl_->server->port());
}

}  // namespace porthole::relay
