// The dashboard's files (src/gateway/dashboard/), compiled into the binary so
// it works offline and fetches nothing from elsewhere.
#pragma once

#include <string_view>
#include <vector>

namespace hostless {

struct EmbeddedFile {
  std::string_view path;  // URL path on the bare host, e.g. "/dashboard.js"
  std::string_view content_type;
  std::string_view body;
};

const std::vector<EmbeddedFile>& dashboard_files();

}  // namespace hostless
