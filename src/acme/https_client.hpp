// The ACME client's I/O: one HTTPS request per call, over Boost.Beast + OpenSSL, with the CA's
// certificate verified (system trust store, or --acme-ca FILE) against the URL's host name or
// IP address. Every exchange has one deadline; cancelling the awaiting coroutine cancels it.
#pragma once

#include <chrono>
#include <functional>
#include <vector>
#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "acme/flow.hpp"
#include "core/result.hpp"
#include "net/asio.hpp"

namespace porthole::acme {

struct Url {
  std::string host, port, target;  // host without brackets
};
// https://HOST[:PORT][/PATH]; anything else is an error.
Result<Url> parse_https_url(std::string_view url);

class HttpsClient {
 public:
  // `ca_file` empty: the system trust store.
  static Result<HttpsClient> create(net::Executor ex, const std::string& ca_file,
                                    std::chrono::seconds timeout = std::chrono::seconds(30));
  net::Task<Result<Response>> fetch(const Request& req);
  // Checks what the URL's host resolved to before any connection (the relay's policy fetches
  // refuse private destinations: relay/policy_fetch.cpp); the client then connects to exactly
  // the endpoints left in the list, never resolving again. An error ends the fetch.
  using AddressCheck =
      std::function<Result<void>(const std::string& host, std::vector<net::asio::ip::tcp::endpoint>& endpoints)>;
  void set_address_check(AddressCheck check) { check_ = std::move(check); }

 private:
  HttpsClient(net::Executor ex, std::shared_ptr<net::asio::ssl::context> ctx, std::chrono::seconds timeout)
      : ex_(std::move(ex)), ctx_(std::move(ctx)), timeout_(timeout) {}
  net::Executor ex_;
  std::shared_ptr<net::asio::ssl::context> ctx_;
  std::chrono::seconds timeout_;
  AddressCheck check_;
};

}  // namespace porthole::acme
