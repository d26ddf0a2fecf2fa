// Reading the parts of a request that conditions and actions look at: a header, a cookie, a
// query parameter (match.cpp). Pure; case-insensitive header names, the first match wins.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "policy/policy.hpp"

namespace porthole::policy {

const HeaderRef* find_header(const Input& in, std::string_view name);
// The value of cookie `name` (the first one), from every Cookie header.
std::optional<std::string_view> find_cookie(const Input& in, std::string_view name);
// The first value of query parameter `name` of an origin-form target (decoded: %XX and '+'),
// or nullopt; a fragment is cut off.
std::optional<std::string> query_param(std::string_view target, std::string_view name);
std::string url_decode(std::string_view s);

}  // namespace porthole::policy
