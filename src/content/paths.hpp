// Site paths: what a file path in a site may be, what a site's list of paths
// may be, and the canonical order of a site's files.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace hostless {

// What a site may hold. The same rules apply to what this node publishes and
// to a version another node's metadata describes, so a version is accepted
// exactly when hostless could have published it.
constexpr std::size_t kMaxSiteFiles = 100000;
// Path components of one file below the site's folder ("a/b/c.html": 3).
constexpr std::size_t kMaxPathDepth = 64;
// Bytes of one file's path below the site's folder, and of one component
// (libtorrent cuts longer components to 240 bytes when it loads a torrent).
constexpr std::size_t kMaxSitePathBytes = 1024;
constexpr std::size_t kMaxComponentBytes = 240;

// Why `path` (relative, '/'-separated) cannot name a file in a site, or
// nullopt if it can: empty, absolute, a backslash, NUL or invalid UTF-8,
// longer or deeper than the limits above, or an empty, ".", ".." or hidden
// (".x") component, or one longer than kMaxComponentBytes.
std::optional<std::string> path_problem(std::string_view path);

// The canonical file order: path component by path component, bytewise,
// which is the order of BEP 52's "file tree" dictionaries and of libtorrent's
// file_storage::canonicalize().
bool canonical_less_path(std::string_view a, std::string_view b);

// The error for a site of `count` files, more than kMaxSiteFiles.
Error too_many_files(std::size_t count);

// The rules for a site's list of file paths (relative, '/'-separated): what
// build_site_torrent builds and check_site_metadata accepts. Refuses more
// than kMaxSiteFiles paths, any path_problem, a path given twice, a path that
// is also a directory of other paths, and two paths (or a path and a
// directory) equal once letter case and Unicode forms are folded.
Status check_site_paths(std::vector<std::string_view> paths);

}  // namespace hostless
