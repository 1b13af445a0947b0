// Checking a site version's metadata received from another node before
// anything of it is used.
#pragma once

#include <libtorrent/fwd.hpp>

#include "util/result.hpp"

namespace hostless {

// Checks the metadata of a site version from another node before anything of
// it is used: the info dictionary as its info-hash covers it (libtorrent has
// already rewritten unsafe paths in ti.files(), so the raw one is what tells
// a hostile torrent from a sound one). Refuses what build_site_torrent would
// refuse to build, with the same limits, and symbolic links (hostless sites
// have none), and anything libtorrent would store under another path than
// the metadata names. Costs one more decode of the info dictionary (bounded:
// libtorrent decoded it within its own limits first). The error says what is
// wrong, for the visitor and the log.
Status check_site_metadata(const lt::torrent_info& ti);

}  // namespace hostless
