// What content/'s files share inside content/: not API.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hostless {

// A printable rendering of a path for error messages: UTF-8 kept when the
// part shown is valid UTF-8 (messages travel as JSON), else escaped
// (paths.cpp).
std::string shown(std::string_view s);

// Whether `piece_size` is one hash_files and build_site_torrent take: a power
// of two in [kMinPieceSize, kMaxPieceSize] (hashing.cpp).
bool valid_piece_size(std::uint64_t piece_size);

}  // namespace hostless
