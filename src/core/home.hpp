// Where a node keeps its state.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "core/result.hpp"

namespace hostless {

// Resolves <home>: the explicit --home value if given, else $HOSTLESS_HOME,
// else $XDG_DATA_HOME/hostless, else $HOME/.local/share/hostless.
// `getenv` is injectable for tests.
using GetEnv = const char* (*)(const char*);
Result<std::filesystem::path> resolve_home(const std::optional<std::string>& flag,
                                           GetEnv getenv_fn = nullptr);

// Creates <home> (mode 0700) if missing.
Status ensure_home(const std::filesystem::path& home);

}  // namespace hostless
