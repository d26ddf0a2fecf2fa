// Rendering of doctor's Report: a ✓/✗/!/– checklist with a fix under each problem, ending with
// one recommendation line; or JSON.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "diag/facts.hpp"

namespace porthole::diag {

std::string render_report_text(const Report& r, const Facts& f);
nlohmann::json report_to_json(const Report& r, const Facts& f);

}  // namespace porthole::diag
