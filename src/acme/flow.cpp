#include "acme/flow.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace porthole::acme {

namespace {

using nlohmann::json;

Action send(Request r) {
  Action a;
  a.kind = Action::Kind::send;
  a.request = std::move(r);
  return a;
}

}  // namespace

Flow::Flow(FlowSettings settings, Key account_key, std::string account_url, std::vector<std::string> names,
           Key certificate_key)
    : settings_(std::move(settings)),
      account_key_(std::move(account_key)),
      cert_key_(std::move(certificate_key)),
      account_url_(std::move(account_url)),
      names_(std::move(names)) {}

std::string_view Flow::step() const {
  switch (stage_) {
    case Stage::directory:
    case Stage::nonce:
      return "directory";
    case Stage::account:
      return "account";
    case Stage::new_order:
    case Stage::poll_order:
      return "order";
    case Stage::authz:
    case Stage::poll_authz:
      return "authorization";
    case Stage::challenge:
      return "challenge";
    case Stage::finalize:
    case Stage::poll_finalized:
      return "finalize";
    case Stage::certificate:
    case Stage::finished:
      return "certificate";
  }
  return "order";
}

Action Flow::start() {
  stage_ = Stage::directory;
  return send(Request{"GET", settings_.directory_url, {}, {}});
}

Action Flow::send_signed(Stage stage, std::string url, std::optional<std::string> payload, bool use_jwk) {
  pending_ = Pending{std::move(url), std::move(payload), use_jwk, stage};
  bad_nonce_ = 0;
  return resend();
}

Action Flow::resend() {
  if (nonce_.empty()) {
    stage_ = Stage::nonce;
    return send(Request{"HEAD", directory_.new_nonce, {}, {}});
  }
  stage_ = pending_.stage;
  const std::string kid = pending_.use_jwk ? std::string() : account_url_;
  auto jws = sign_jws(account_key_, kid, nonce_, pending_.url, pending_.payload);
  nonce_.clear();  // a nonce is good for one request
  if (!jws) return fail("cannot sign the request: " + jws.error().message);
  Request r{"POST", pending_.url, std::move(*jws), {}};
  if (stage_ == Stage::certificate) r.accept = "application/pem-certificate-chain";
  return send(std::move(r));
}

Action Flow::fail(std::string message, std::optional<Problem> problem, std::optional<std::chrono::seconds> retry_after) {
  Action a;
  a.kind = Action::Kind::failed;
  a.failure = Failure{std::move(message), std::move(problem), retry_after};
  stage_ = Stage::finished;
  return withdraw_current(std::move(a));
}

Action Flow::withdraw_current(Action a) {
  if (serving_) {
    const auto kind = serving_->kind == Effect::Kind::serve_http01 ? Effect::Kind::withdraw_http01
                                                                    : Effect::Kind::withdraw_tls_alpn01;
    a.effects.push_back(Effect{kind, serving_->key, {}});
    serving_.reset();
  }
  return a;
}

Action Flow::on_transport_error(const std::string& message) {
  return fail(fmt::format("{} {}: {}", step(), host(), message));
}

Action Flow::on_timer() { return send_signed(pending_.stage, pending_.url, std::nullopt); }

Action Flow::on_response(const Response& r, std::time_t now) {
  if (!r.replay_nonce.empty()) nonce_ = r.replay_nonce;
  if (stage_ == Stage::finished) return fail("response after the flow ended");
  if (r.status >= 400) return handle_error(r, now);
  return handle(r, now);
}

Action Flow::handle_error(const Response& r, std::time_t now) {
  auto parsed = parse_problem(r.body);
  auto retry = parse_retry_after(r.retry_after, now);
  const auto where = std::string(step());
  if (!parsed) {
    return fail(fmt::format("{} {}: HTTP {} from the CA ({})", where, host(), r.status, parsed.error().message),
                std::nullopt, retry);
  }
  auto& p = *parsed;
  if (p.status == 0) p.status = r.status;
  if (stage_ != Stage::directory && p.is("badNonce") && bad_nonce_ < settings_.max_bad_nonce) {
    ++bad_nonce_;
    ++bad_nonce_total_;  // RFC 8555 6.5: retry with the nonce this response carried (or a fresh one)
    return resend();
  }
  if (p.is("accountDoesNotExist") && !account_retried_ && !pending_.use_jwk) {
    account_retried_ = true;  // the CA forgot the account (or it is another CA): create it again
    account_url_.clear();
    return after_account();
  }
  return fail(fmt::format("{} {}: {}", where, host(), p.summary()), p, retry);
}

Action Flow::after_account() {
  if (account_url_.empty()) {
    json payload{{"termsOfServiceAgreed", true}};
    if (!settings_.email.empty()) payload["contact"] = json::array({"mailto:" + settings_.email});
    return send_signed(Stage::account, directory_.new_account, payload.dump(), /*use_jwk=*/true);
  }
  json ids = json::array();
  for (const auto& n : names_) ids.push_back({{"type", "dns"}, {"value", n}});
  return send_signed(Stage::new_order, directory_.new_order, json{{"identifiers", ids}}.dump());
}

Action Flow::handle(const Response& r, std::time_t now) {
  switch (stage_) {
    case Stage::directory: {
      auto d = parse_directory(r.body);
      if (!d) return fail(fmt::format("directory {}: {}", settings_.directory_url, d.error().message));
      directory_ = std::move(*d);
      return after_account();
    }
    case Stage::nonce:
      if (nonce_.empty()) return fail("newNonce: the CA sent no Replay-Nonce");
      return resend();
    case Stage::account:
      if (r.location.empty()) return fail("newAccount: the CA sent no account URL (Location)");
      account_url_ = r.location;
      return after_account();
    case Stage::new_order: {
      auto o = parse_order(r.body);
      if (!o) return fail(fmt::format("order {}: {}", host(), o.error().message));
      if (r.location.empty()) return fail(fmt::format("order {}: the CA sent no order URL (Location)", host()));
      order_url_ = r.location;
      order_ = std::move(*o);
      if (order_.status == "invalid") return fail(fmt::format("order {}: invalid", host()), order_.error);
      authz_index_ = 0;
      return next_authorization();
    }
    case Stage::authz:
    case Stage::poll_authz: {
      auto a = parse_authorization(r.body);
      if (!a) return fail(fmt::format("authorization {}: {}", host(), a.error().message));
      return on_authorization(*a, now, r);
    }
    case Stage::challenge: {
      auto c = parse_challenge(r.body);
      if (!c) return fail(fmt::format("challenge {}: {}", host(), c.error().message));
      if (c->status == "invalid") return fail(fmt::format("challenge {}: invalid", host()), c->error);
      return poll(Stage::poll_authz, order_.authorizations[authz_index_], r, now);
    }
    case Stage::poll_order:
    case Stage::finalize:
    case Stage::poll_finalized: {
      auto o = parse_order(r.body);
      if (!o) return fail(fmt::format("order {}: {}", host(), o.error().message));
      return on_order(*o, r, now);
    }
    case Stage::certificate: {
      auto chain = split_pem_chain(r.body);
      if (!chain) return fail(fmt::format("certificate {}: {}", host(), chain.error().message));
      stage_ = Stage::finished;
      Action a;
      a.kind = Action::Kind::done;
      for (const auto& c : *chain) a.chain_pem += c;
      return a;
    }
    case Stage::finished:
      break;
  }
  return fail("unexpected response");
}

Action Flow::next_authorization() {
  if (authz_index_ >= order_.authorizations.size()) {
    if (order_.status == "ready") return finalize();
    return send_signed(Stage::poll_order, order_url_, std::nullopt);
  }
  return send_signed(Stage::authz, order_.authorizations[authz_index_], std::nullopt);
}

Action Flow::on_authorization(const Authorization& a, std::time_t now, const Response& r) {
  const auto name = a.identifier.empty() ? host() : a.identifier;
  if (a.status == "valid") {
    ++authz_index_;
    auto next = next_authorization();
    return withdraw_current(std::move(next));
  }
  if (a.status != "pending") {
    return fail(fmt::format("authorization {}: {}", name, a.status), a.error);
  }
  if (stage_ == Stage::poll_authz) return poll(Stage::poll_authz, order_.authorizations[authz_index_], r, now);
  // First look at a pending authorization: answer the challenge of our type.
  auto it = std::find_if(a.challenges.begin(), a.challenges.end(),
                         [&](const Challenge& c) { return c.type == settings_.challenge; });
  if (it == a.challenges.end()) return fail(fmt::format("authorization {}: the CA offers no {} challenge", name, settings_.challenge));
  if (!valid_token(it->token)) return fail(fmt::format("authorization {}: the challenge token is not base64url", name));
  if (it->url.rfind("https://", 0) != 0) return fail(fmt::format("authorization {}: the challenge URL is not https", name));
  const auto authz = key_authorization(it->token, account_key_);
  Effect e = settings_.challenge == "tls-alpn-01" ? Effect{Effect::Kind::serve_tls_alpn01, name, authz}
                                                  : Effect{Effect::Kind::serve_http01, it->token, authz};
  serving_ = e;
  challenge_url_ = it->url;
  auto out = send_signed(Stage::challenge, it->url, std::string("{}"));
  out.effects.insert(out.effects.begin(), e);
  return out;
}

Action Flow::on_order(const Order& o, const Response& r, std::time_t now) {
  if (o.status == "invalid") return fail(fmt::format("order {}: invalid", host()), o.error);
  if (o.status == "valid") {
    if (o.certificate.empty()) return fail(fmt::format("order {}: valid but without a certificate URL", host()));
    return send_signed(Stage::certificate, o.certificate, std::nullopt);
  }
  const bool finalized = stage_ == Stage::finalize || stage_ == Stage::poll_finalized;
  if (o.status == "ready" && !finalized) {
    order_.finalize = o.finalize.empty() ? order_.finalize : o.finalize;
    return finalize();
  }
  return poll(finalized ? Stage::poll_finalized : Stage::poll_order, order_url_, r, now);
}

Action Flow::finalize() {
  if (order_.finalize.empty()) return fail(fmt::format("order {}: no finalize URL", host()));
  auto csr = make_csr(cert_key_, names_);
  if (!csr) return fail(fmt::format("finalize {}: {}", host(), csr.error().message));
  return send_signed(Stage::finalize, order_.finalize, json{{"csr", *csr}}.dump());
}

Action Flow::poll(Stage stage, const std::string& url, const Response& r, std::time_t now) {
  if (++polls_ > settings_.max_polls) {
    return fail(fmt::format("{} {}: still not done after {} polls", step(), host(), settings_.max_polls));
  }
  auto delay = std::min(settings_.poll_max, settings_.poll_min * (1 + polls_ / 4));
  if (auto ra = parse_retry_after(r.retry_after, now)) delay = std::min(*ra, std::chrono::seconds(3600));
  pending_ = Pending{url, std::nullopt, false, stage};
  stage_ = stage;
  Action a;
  a.kind = Action::Kind::wait;
  a.delay = delay;
  return a;
}

}  // namespace porthole::acme
