#include "proto/messages.hpp"

#include <nlohmann/json.hpp>

namespace porthole::proto {
namespace {

using json = nlohmann::json;
constexpr std::size_t kMaxString = 1024;
constexpr std::size_t kMaxPolicy = 60 * 1024;  // a Bind's policy document (the frame limit is 64 KiB)
constexpr std::size_t kMaxPem = 32 * 1024;  // a CA bundle (bind's mtls_ca)

// Reads fields of one JSON object; the first problem is kept and named.
class Reader {
 public:
  explicit Reader(const json& j) : j_(j) {}
  std::string str(const char* key, bool required = true, std::size_t max = kMaxString) {
    auto it = j_.find(key);
    if (it == j_.end()) {
      if (required) fail(std::string("missing field '") + key + "'");
      return {};
    }
    if (!it->is_string()) return fail(std::string("field '") + key + "' must be a string"), std::string();
    const auto& s = it->get_ref<const std::string&>();
    if (s.size() > max) return fail(std::string("field '") + key + "' is too long"), std::string();
    return s;
  }
  std::optional<std::int64_t> integer(const char* key, std::int64_t lo, std::int64_t hi, bool required) {
    auto it = j_.find(key);
    if (it == j_.end()) {
      if (required) fail(std::string("missing field '") + key + "'");
      return std::nullopt;
    }
    if (!it->is_number_integer()) return fail(std::string("field '") + key + "' must be an integer"), std::nullopt;
    auto v = it->get<std::int64_t>();
    if (v < lo || v > hi) return fail(fmt::format("field '{}' = {} is out of range {}..{}", key, v, lo, hi)), std::nullopt;
    return v;
  }
  bool boolean(const char* key, bool required = true) {
    auto it = j_.find(key);
    if (it == j_.end() && !required) return false;
    if (it == j_.end() || !it->is_boolean()) return fail(std::string("field '") + key + "' must be a boolean"), false;
    return it->get<bool>();
  }
  void fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
  }
  const std::string& error() const { return error_; }

 private:
  const json& j_;
  std::string error_;
};

template <class T>
Result<Control> finish(Reader& r, std::string_view type, T value) {
  if (!r.error().empty()) return make_error("bad '{}' message: {}", type, r.error());
  return Control{std::move(value)};
}

Result<Control> decode_by_type(std::string_view type, Reader& r) {
  if (type == "hello") {
    Hello m;
    m.version = static_cast<int>(r.integer("version", 0, 1 << 20, true).value_or(0));
    m.agent = r.str("agent", false);
    m.token_id = r.str("token_id");
    m.proof = r.str("proof");
    m.relay_host = r.str("relay_host", false);
    if (auto role = r.str("role", false); !role.empty()) m.role = role;
    if (m.role != "agent" && m.role != "connect") r.fail("field 'role' must be \"agent\" or \"connect\"");
    return finish(r, type, m);
  }
  if (type == "welcome") {
    Welcome m{r.str("session_id"), r.str("relay_version", false), r.str("observed_addr", false)};
    return finish(r, type, m);
  }
  if (type == "bind") {
    Bind m;
    m.tunnel = r.str("tunnel");
    m.proto = r.str("proto");
    if (auto p = r.integer("remote_port", 1, 65535, false)) m.remote_port = static_cast<std::uint16_t>(*p);
    m.local = r.str("local", false);
    m.subdomain = r.str("subdomain", false);
    m.hostname = r.str("hostname", false);
    m.pool = r.str("pool", false);
    m.private_name = r.str("private", false);
    if (m.proto == "private" && m.private_name.empty()) r.fail("field 'private' is missing or empty");
    m.policy = r.str("policy", false, kMaxPolicy);
    m.terminate_at = r.str("terminate_at", false);
    m.redirect_https = r.boolean("redirect_https", false);
    m.hsts = r.str("hsts", false);
    m.mtls_ca = r.str("mtls_ca", false, kMaxPem);
    if (!m.terminate_at.empty() && m.terminate_at != "relay" && m.terminate_at != "agent") {
      r.fail("field 'terminate_at' must be \"relay\" or \"agent\"");
    }
    if (m.hsts.find_first_of("\r\n") != std::string::npos) r.fail("field 'hsts' has a line break");
    if (m.tunnel.empty()) r.fail("field 'tunnel' is empty");
    if (!m.pool.empty() && m.pool != "round-robin" && m.pool != "least-conn") r.fail("field 'pool' is unknown");
    return finish(r, type, m);
  }
  if (type == "bound") return finish(r, type, Bound{r.str("tunnel"), r.str("public_url")});
  if (type == "bind_error") return finish(r, type, BindError{r.str("tunnel"), r.str("message")});
  if (type == "unbind") return finish(r, type, Unbind{r.str("tunnel")});
  if (type == "health") {
    Health m;
    m.tunnel = r.str("tunnel");
    m.healthy = r.boolean("healthy");
    m.detail = r.str("detail", false);
    return finish(r, type, m);
  }
  if (type == "taken_over") return finish(r, type, TakenOver{r.str("tunnel"), r.str("public_url"), r.str("by", false)});
  if (type == "probe") {
    Probe m;
    m.port = static_cast<std::uint16_t>(r.integer("port", 1, 65535, true).value_or(0));
    return finish(r, type, m);
  }
  if (type == "probe_result") {
    ProbeResult m;
    m.observed_ip = r.str("observed_ip");
    m.reachable = r.boolean("reachable");
    m.detail = r.str("detail", false);
    return finish(r, type, m);
  }
  if (type == "fatal") return finish(r, type, Fatal{r.str("code"), r.str("message")});
  return make_error("unknown control message type '{}'", type);
}

struct Encoder {
  json operator()(const Hello& m) const {
    return {{"type", "hello"}, {"version", m.version}, {"agent", m.agent}, {"token_id", m.token_id}, {"proof", m.proof},
            {"relay_host", m.relay_host}, {"role", m.role}};
  }
  json operator()(const Welcome& m) const {
    return {{"type", "welcome"}, {"session_id", m.session_id}, {"relay_version", m.relay_version},
            {"observed_addr", m.observed_addr}};
  }
  json operator()(const Bind& m) const {
    json j = {{"type", "bind"}, {"tunnel", m.tunnel}, {"proto", m.proto}, {"local", m.local}};
    if (m.remote_port) j["remote_port"] = *m.remote_port;
    if (!m.subdomain.empty()) j["subdomain"] = m.subdomain;
    if (!m.hostname.empty()) j["hostname"] = m.hostname;
    if (!m.pool.empty()) j["pool"] = m.pool;
    if (!m.private_name.empty()) j["private"] = m.private_name;
    if (!m.policy.empty()) j["policy"] = m.policy;
    if (!m.terminate_at.empty()) j["terminate_at"] = m.terminate_at;
    if (m.redirect_https) j["redirect_https"] = true;
    if (!m.hsts.empty()) j["hsts"] = m.hsts;
    if (!m.mtls_ca.empty()) j["mtls_ca"] = m.mtls_ca;
    return j;
  }
  json operator()(const Bound& m) const { return {{"type", "bound"}, {"tunnel", m.tunnel}, {"public_url", m.public_url}}; }
  json operator()(const BindError& m) const {
    return {{"type", "bind_error"}, {"tunnel", m.tunnel}, {"message", m.message}};
  }
  json operator()(const Unbind& m) const { return {{"type", "unbind"}, {"tunnel", m.tunnel}}; }
  json operator()(const Health& m) const {
    return {{"type", "health"}, {"tunnel", m.tunnel}, {"healthy", m.healthy}, {"detail", m.detail}};
  }
  json operator()(const TakenOver& m) const {
    return {{"type", "taken_over"}, {"tunnel", m.tunnel}, {"public_url", m.public_url}, {"by", m.by}};
  }
  json operator()(const Probe& m) const { return {{"type", "probe"}, {"port", m.port}}; }
  json operator()(const ProbeResult& m) const {
    return {{"type", "probe_result"}, {"observed_ip", m.observed_ip}, {"reachable", m.reachable}, {"detail", m.detail}};
  }
  json operator()(const Fatal& m) const { return {{"type", "fatal"}, {"code", m.code}, {"message", m.message}}; }
};

Result<json> parse_object(std::string_view text) {
  auto j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return make_error("malformed JSON");
  if (!j.is_object()) return make_error("expected a JSON object");
  return j;
}

}  // namespace

std::string encode(const Control& message) { return std::visit(Encoder{}, message).dump(); }

Result<Control> decode_control(std::string_view text) {
  auto j = parse_object(text);
  if (!j) return make_error("control message: {}", j.error().message);
  Reader r(*j);
  auto type = r.str("type");
  if (!r.error().empty()) return make_error("control message: {}", r.error());
  return decode_by_type(type, r);
}

std::string encode(const OpenMeta& meta) {
  json j{{"tunnel", meta.tunnel}, {"visitor", meta.visitor}};
  if (!meta.kind.empty()) j["kind"] = meta.kind;
  if (!meta.dest.empty()) j["dest"] = meta.dest;
  if (!meta.target.empty()) j["target"] = meta.target;
  if (!meta.transport.empty()) j["transport"] = meta.transport;
  return j.dump();
}

Result<OpenMeta> decode_open(std::string_view text) {
  auto j = parse_object(text);
  if (!j) return make_error("OPEN metadata: {}", j.error().message);
  Reader r(*j);
  OpenMeta m{r.str("tunnel"), r.str("visitor", false), r.str("kind", false), r.str("dest", false),
             r.str("target", false), r.str("transport", false)};
  if (!r.error().empty()) return make_error("OPEN metadata: {}", r.error());
  return m;
}

}  // namespace porthole::proto
