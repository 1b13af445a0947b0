// Whole-file reads and crash-safe whole-file writes for the node's state files.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace hostless {

// The file's bytes; nullopt when it cannot be opened.
std::optional<std::string> read_file(const std::filesystem::path& p);
// The file's bytes, or nullopt when it is missing, unreadable or larger than
// `max` (not read then): for files from other nodes.
std::optional<std::string> read_file_capped(const std::filesystem::path& p, std::size_t max);

// Writes `data` to `p` through a temporary file and rename, so a crash leaves
// either the old or the new file, created with permissions `mode` (less the
// umask). False on any failure.
bool write_file_atomic(const std::filesystem::path& p, std::string_view data, unsigned mode = 0666);

}  // namespace hostless
