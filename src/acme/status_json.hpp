// The admin API's view of ACME (GET /api/certificates, docs/admin-api.md).
#pragma once

#include <nlohmann/json.hpp>

#include "acme/manager.hpp"

namespace porthole::acme {

// {"host","state","step","not_before","not_after","renew_at","next_attempt","failures","error",
//  "problem":{"type","detail","status","subproblems":[{"type","detail","identifier"}]}}; times
// are RFC 3339 UTC strings, null when unknown.
nlohmann::json to_json(const CertificateStatus& s);

}  // namespace porthole::acme
