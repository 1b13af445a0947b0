// The v1-only twin of a site version, for BitTorrent clients that cannot
// read hybrid torrents (Debian 12's aria2 1.36 and Transmission 3.00 store
// BEP 47 pad files as real files, and do not know v2). The twin names the
// same folder and files with the same paths and piece size, without pad
// files, so its pieces span file boundaries and it has an info-hash of its
// own; a node seeds it from the files of the version it holds.
#pragma once

#include <filesystem>
#include <vector>

#include <libtorrent/fwd.hpp>

#include "util/result.hpp"

namespace hostless {

// Builds the twin of `hybrid` (a site version's torrent, see
// site_torrent.hpp) from its files under `save_path` (<save_path>/<name>/<path>,
// where libtorrent keeps them). Every file is read once: its v1 pieces are
// hashed as they pass, and its bytes must match its v2 root in `hybrid`, so a
// twin only ever describes the signed version's bytes. Deterministic: the
// same version gives the same bytes, and the same info-hash on every node.
// Fails if a file is missing, unreadable, a symbolic link, or differs.
Result<std::vector<char>> build_v1_twin(const lt::torrent_info& hybrid,
                                        const std::filesystem::path& save_path);

}  // namespace hostless
