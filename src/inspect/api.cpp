#include "inspect/api.hpp"

#include <charconv>

#include "core/metrics.hpp"
#include "inspect/api_json.hpp"

namespace porthole::inspect {

using json = nlohmann::ordered_json;

namespace {

metrics::Counter& refused(std::string_view why) {
  static auto& host = metrics::counter("porthole_inspect_refused_host_total",
                                       "Agent API requests refused for a foreign Host (DNS rebinding guard)");
  static auto& origin = metrics::counter("porthole_inspect_refused_origin_total",
                                         "Agent API writes refused for a foreign Origin or Sec-Fetch-Site");
  return why == "host" ? host : origin;
}
metrics::Counter& bad_requests() {
  static auto& c = metrics::counter("porthole_inspect_bad_requests_total", "Agent API requests with bad input");
  return c;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "host:port" / "[v6]:port" → (host, port); port "" when absent.
std::pair<std::string, std::string> split_authority(std::string_view a) {
  if (!a.empty() && a.front() == '[') {
    const auto close = a.find(']');
    if (close == std::string_view::npos) return {std::string(a), ""};
    auto rest = a.substr(close + 1);
    return {std::string(a.substr(0, close + 1)), rest.size() > 1 && rest[0] == ':' ? std::string(rest.substr(1)) : ""};
  }
  const auto colon = a.rfind(':');
  if (colon == std::string_view::npos) return {std::string(a), ""};
  return {std::string(a.substr(0, colon)), std::string(a.substr(colon + 1))};
}

bool is_our_authority(std::string_view authority, const ListenInfo& at) {
  auto [host, port] = split_authority(lower(authority));
  if (port.empty() ? at.port != 80 : port != std::to_string(at.port)) return false;
  if (host == "localhost" || host == "127.0.0.1" || host == "[::1]") return true;
  const auto bound = at.host.find(':') != std::string::npos ? "[" + lower(at.host) + "]" : lower(at.host);
  // A wildcard bind is not a name a browser can be tricked into: only literal names count.
  return !at.host.empty() && at.host != "0.0.0.0" && at.host != "::" && host == bound;
}

std::pair<std::string, std::string> split_target(std::string_view t) {
  const auto q = t.find('?');
  if (q == std::string_view::npos) return {std::string(t), ""};
  return {std::string(t.substr(0, q)), std::string(t.substr(q + 1))};
}

std::string query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    std::string v;
    auto raw = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        v += ' ';
      } else if (raw[i] == '%' && i + 2 < raw.size()) {
        int x = 0;
        std::from_chars(raw.data() + i + 1, raw.data() + i + 3, x, 16);
        v += static_cast<char>(x);
        i += 2;
      } else {
        v += raw[i];
      }
    }
    return v;
  }
  return {};
}

// Visitors' header bytes need not be UTF-8 (obs-text): shown with U+FFFD rather than throwing
// (the exact bytes are in `raw`).
Response json_ok(int status, const json& j) {
  return {status, "application/json", j.dump(-1, ' ', false, json::error_handler_t::replace), {}};
}
Response no_content() { return {204, "", "", {}}; }

// A JSON object body, or (ngrok's older clients: `curl -d id=...`) a form body.
Result<json> body_object(const Request& r) {
  if (r.body.empty()) return json::object();
  if (lower(r.content_type).starts_with("application/x-www-form-urlencoded")) {
    json j = json::object();
    std::string_view b = r.body;
    for (auto key : {"id", "tunnel_name", "name", "proto", "addr", "subdomain", "hostname"}) {
      auto v = query_param(b, key);
      if (!v.empty()) j[key] = v;
    }
    return j;
  }
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return make_error("the body is not valid JSON");
  if (!j.is_object()) return make_error("the body must be a JSON object");
  return j;
}

Result<std::string> string_field(const json& j, const char* key, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return make_error("missing field '{}'", key);
    return std::string();
  }
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<std::int64_t>());  // "addr": 8080
  return make_error("field '{}' must be a string", key);
}

Response bad(std::string_view msg) {
  bad_requests().inc();
  return json_error(400, 100, msg);
}

net::Task<Response> start_tunnel(Backend& b, const Request& r) {
  auto j = body_object(r);
  if (!j) co_return bad(j.error().message);
  TunnelSpec spec;
  for (auto [key, into, required] : {std::tuple{"name", &spec.name, true}, {"proto", &spec.proto, false},
                                     {"addr", &spec.addr, true}, {"subdomain", &spec.subdomain, false},
                                     {"hostname", &spec.hostname, false}, {"host_header", &spec.host_header, false}}) {
    auto v = string_field(*j, key, required);
    if (!v) co_return bad(v.error().message);
    if (!v->empty()) *into = *v;
  }
  if (auto it = j->find("inspect"); it != j->end() && it->is_boolean()) spec.inspect = it->get<bool>();
  // The by-value argument is built before the co_await (GCC 12: no temporaries with
  // destructors inside a co_await's arguments).
  auto task = b.start_tunnel(std::move(spec));
  auto t = co_await std::move(task);
  if (!t) {
    const auto code = t.error().code;
    if (code == Errc::protocol) co_return bad(t.error().message);
    co_return json_error(code == Errc::conflict ? 409 : 502, code == Errc::conflict ? 103 : 104, t.error().message);
  }
  co_return json_ok(201, tunnel_json(*t));
}

Result<ReplayEdits> replay_edits(const json& j) {
  ReplayEdits e;
  for (auto [key, into] : {std::pair{"method", &e.method}, {"uri", &e.uri}, {"body", &e.body}}) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_string()) return make_error("field '{}' must be a string", key);
    *into = it->get<std::string>();
  }
  if (auto it = j.find("body_base64"); it != j.end() && it->is_string()) {
    auto d = base64_decode(it->get<std::string>());
    if (!d) return make_error("body_base64: {}", d.error().message);
    e.body = std::move(*d);
  }
  if (auto it = j.find("headers"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return make_error("field 'headers' must be an object of name -> [values]");
    std::vector<proto::http1::Field> fields;
    for (const auto& [name, values] : it->items()) {
      if (values.is_string()) {
        fields.push_back({name, values.get<std::string>()});
        continue;
      }
      if (!values.is_array()) return make_error("headers.{}: a string or a list of strings", name);
      for (const auto& v : values) {
        if (!v.is_string()) return make_error("headers.{}: a string or a list of strings", name);
        fields.push_back({name, v.get<std::string>()});
      }
    }
    e.headers = std::move(fields);
  }
  return e;
}

net::Task<Response> replay(Backend& b, Recorder& rec, const Request& r) {
  auto j = body_object(r);
  if (!j) co_return bad(j.error().message);
  auto id = string_field(*j, "id", true);
  if (!id) co_return bad(id.error().message);
  auto tunnel = string_field(*j, "tunnel_name", false);
  if (!tunnel) co_return bad(tunnel.error().message);
  if (tunnel->empty()) tunnel = string_field(*j, "tunnelName", false);  // the ngrok npm client's spelling
  if (!tunnel) co_return bad(tunnel.error().message);
  auto e = rec.store().find(*id);
  if (!e) co_return json_error(404, 404, "no captured request " + *id);
  auto edits = replay_edits(*j);
  if (!edits) co_return bad(edits.error().message);
  auto bytes = build_replay(*e, *edits);
  if (!bytes) co_return bad(bytes.error().message);
  const auto target = tunnel->empty() ? e->tunnel : *tunnel;
  auto task = b.replay(target, std::move(*bytes), e->id);
  auto status = co_await std::move(task);
  if (!status) {
    const auto code = status.error().code;
    co_return json_error(code == Errc::no_such_tunnel ? 404 : 502, 105, status.error().message);
  }
  co_return no_content();
}

}  // namespace

Response json_error(int status, int error_code, std::string_view msg) {
  return json_ok(status, json{{"error_code", error_code}, {"status_code", status}, {"msg", msg},
                              {"details", {{"err", msg}}}});
}

std::string check_host(const Request& r, const ListenInfo& at) {
  if (is_our_authority(r.host, at)) return {};
  refused("host").inc();
  return "Host '" + r.host.substr(0, 200) +
         "' is not this agent's API address (refused against DNS rebinding: use localhost or 127.0.0.1)";
}

std::string check_origin(const Request& r, const ListenInfo& at) {
  if (r.method == "GET" || r.method == "HEAD" || r.method == "OPTIONS") return {};
  if (!r.sec_fetch_site.empty() && r.sec_fetch_site != "same-origin" && r.sec_fetch_site != "none") {
    refused("origin").inc();
    return "cross-site write refused (Sec-Fetch-Site: " + r.sec_fetch_site.substr(0, 50) + ")";
  }
  if (!r.origin.empty()) {
    const std::string_view o = r.origin;
    if (!o.starts_with("http://") || !is_our_authority(o.substr(7), at)) {
      refused("origin").inc();
      return "cross-origin write refused (Origin: " + r.origin.substr(0, 200) + ")";
    }
  }
  return {};
}

net::Task<Response> handle(Backend& b, Recorder* rec, const ListenInfo& at, const Request& r) {
  if (auto why = check_host(r, at); !why.empty()) co_return json_error(403, 403, why);
  if (auto why = check_origin(r, at); !why.empty()) co_return json_error(403, 403, why);
  auto [path, query] = split_target(r.target);
  if (path.size() > 1 && path.back() == '/') path.pop_back();
  const auto& m = r.method;
  if (path == "/api") co_return json_ok(200, json{{"tunnels", "/api/tunnels"}, {"requests", "/api/requests/http"},
                                                  {"status", "/api/status"}});
  if (path == "/api/tunnels") {
    if (m == "GET") {
      json list = json::array();
      for (const auto& t : b.tunnels()) list.push_back(tunnel_json(t));
      co_return json_ok(200, json{{"tunnels", std::move(list)}, {"uri", "/api/tunnels"}});
    }
    if (m == "POST") co_return co_await start_tunnel(b, r);
    co_return json_error(405, 405, "GET or POST");
  }
  if (path.starts_with("/api/tunnels/")) {
    const auto name = query_param("n=" + path.substr(13), "n");  // percent-decoded
    if (m == "GET") {
      for (const auto& t : b.tunnels()) {
        if (t.name == name) co_return json_ok(200, tunnel_json(t));
      }
      co_return json_error(404, 404, "no tunnel named " + name);
    }
    if (m == "DELETE") {
      auto s = b.stop_tunnel(name);
      if (!s) co_return json_error(404, 404, s.error().message);
      co_return no_content();
    }
    co_return json_error(405, 405, "GET or DELETE");
  }
  if (path == "/favicon.ico" && m == "GET") co_return no_content();  // browsers ask; the page has none
  if (path == "/api/status" && m == "GET") co_return json_ok(200, status_json(b.status(), rec));
  if (path == "/metrics" && m == "GET") co_return Response{200, "text/plain; version=0.0.4", metrics::render_prometheus(), {}};
  if (path.starts_with("/api/requests/http")) {
    if (rec == nullptr) co_return json_error(404, 404, "capture is off (--inspect off)");
    if (path == "/api/requests/http") {
      if (m == "GET") {
        std::size_t limit = 0;
        if (auto l = query_param(query, "limit"); !l.empty()) {
          auto [p, ec] = std::from_chars(l.data(), l.data() + l.size(), limit);
          if (ec != std::errc() || p != l.data() + l.size()) co_return bad("limit: a number");
        }
        json list = json::array();
        for (const auto& e : rec->store().list(limit, query_param(query, "tunnel_name"))) {
          list.push_back(exchange_json(*e, true));
        }
        co_return json_ok(200, json{{"uri", "/api/requests/http"}, {"requests", std::move(list)}});
      }
      if (m == "POST") co_return co_await replay(b, *rec, r);
      if (m == "DELETE") {
        rec->store().clear();
        co_return no_content();
      }
      co_return json_error(405, 405, "GET, POST or DELETE");
    }
    if (path.starts_with("/api/requests/http/") && m == "GET") {
      auto e = rec->store().find(path.substr(19));
      if (!e) co_return json_error(404, 404, "no captured request " + path.substr(19));
      co_return json_ok(200, exchange_json(*e, true));
    }
  }
  co_return json_error(404, 404, "no such resource: " + path.substr(0, 200));
}

}  // namespace porthole::inspect
