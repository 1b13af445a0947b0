#include "store/home.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace hostless {
namespace fs = std::filesystem;

Result<fs::path> resolve_home(const std::optional<std::string>& flag, GetEnv getenv_fn) {
  if (getenv_fn == nullptr) getenv_fn = [](const char* n) -> const char* { return std::getenv(n); };
  auto nonempty = [&](const char* name) -> std::optional<std::string> {
    const char* v = getenv_fn(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
  fs::path home;
  if (flag && !flag->empty()) {
    home = *flag;
  } else if (auto v = nonempty("HOSTLESS_HOME")) {
    home = *v;
  } else if (auto v = nonempty("XDG_DATA_HOME")) {
    home = fs::path(*v) / "hostless";
  } else if (auto v = nonempty("HOME")) {
    home = fs::path(*v) / ".local" / "share" / "hostless";
  } else {
    return make_error("cannot find a home directory: set --home DIR or $HOSTLESS_HOME");
  }
  std::error_code ec;
  fs::path abs = fs::absolute(home, ec);
  if (ec) return make_error("bad home directory " + home.string() + ": " + ec.message());
  return abs.lexically_normal();
}

Status ensure_home(const fs::path& home) {
  std::error_code ec;
  bool created = fs::create_directories(home, ec);
  if (ec) return make_error("cannot create home " + home.string() + ": " + ec.message());
  if (created) ::chmod(home.c_str(), 0700);
  if (!fs::is_directory(home, ec)) return make_error(home.string() + " is not a directory");
  return {};
}

Status check_home_private(const fs::path& home, uid_t uid) {
  struct stat st {};
  if (::stat(home.c_str(), &st) != 0) {
    return make_error("cannot read " + home.string() + ": " + std::strerror(errno));
  }
  if (st.st_uid != uid) {
    return make_error(home.string() + " belongs to user " + std::to_string(st.st_uid) +
                      ", not to this user (" + std::to_string(uid) +
                      "): the daemon keeps its keys and token there; use a home of your own "
                      "(--home DIR), or chown it to yourself and chmod 700 " +
                      home.string());
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return make_error(home.string() + " is writable by other users (mode " + mode +
                      "), who could replace the daemon's keys and token; make it private: "
                      "chmod 700 " +
                      home.string());
  }
  return {};
}

}  // namespace hostless
