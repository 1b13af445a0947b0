// Where a node keeps its state.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

#include "util/result.hpp"

namespace hostless {

// Resolves <home>: the explicit --home value if given, else $HOSTLESS_HOME,
// else $XDG_DATA_HOME/hostless, else $HOME/.local/share/hostless.
// `getenv` is injectable for tests.
using GetEnv = const char* (*)(const char*);
Result<std::filesystem::path> resolve_home(const std::optional<std::string>& flag,
                                           GetEnv getenv_fn = nullptr);

// Creates <home> (mode 0700) if missing.
Status ensure_home(const std::filesystem::path& home);

// Checks that <home> is the daemon's own: a directory owned by `uid` and
// writable by nobody else (another user who could write there could swap the
// token, keys or store for their own). The error says what to run to fix it.
Status check_home_private(const std::filesystem::path& home, uid_t uid);

}  // namespace hostless
