// SiteVersion's lookups: on their own (no libtorrent), so the fuzz targets
// that drive the gateway over a fake SiteService share them.
#include "sites/service.hpp"

namespace hostless {

const ServedFile* SiteVersion::find(const std::string& path) const {
  auto it = files.find(path);
  return it == files.end() ? nullptr : &it->second;
}

bool SiteVersion::is_directory(const std::string& path) const {
  std::string prefix = path.empty() ? "" : path + "/";
  auto it = files.lower_bound(prefix);
  return it != files.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace hostless
