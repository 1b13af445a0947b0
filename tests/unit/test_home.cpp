#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "store/home.hpp"
#include "support/sandbox.hpp"

using namespace hostless;

namespace {
// A fake environment for resolve_home, selected per test.
const char* env_all(const char* n) {
  if (std::strcmp(n, "HOSTLESS_HOME") == 0) return "/env/hostless";
  if (std::strcmp(n, "XDG_DATA_HOME") == 0) return "/xdg";
  if (std::strcmp(n, "HOME") == 0) return "/home/u";
  return nullptr;
}
const char* env_xdg(const char* n) {
  if (std::strcmp(n, "HOSTLESS_HOME") == 0) return "";
  if (std::strcmp(n, "XDG_DATA_HOME") == 0) return "/xdg";
  if (std::strcmp(n, "HOME") == 0) return "/home/u";
  return nullptr;
}
const char* env_home(const char* n) {
  if (std::strcmp(n, "HOME") == 0) return "/home/u";
  return nullptr;
}
const char* env_none(const char*) {
  return nullptr;
}
}  // namespace

TEST_CASE("--home wins over the environment", "[home]") {
  CHECK(*resolve_home(std::string("/flag/home"), env_all) == "/flag/home");
}

TEST_CASE("$HOSTLESS_HOME comes next", "[home]") {
  CHECK(*resolve_home(std::nullopt, env_all) == "/env/hostless");
}

TEST_CASE("then $XDG_DATA_HOME/hostless, ignoring empty variables", "[home]") {
  CHECK(*resolve_home(std::nullopt, env_xdg) == "/xdg/hostless");
}

TEST_CASE("then ~/.local/share/hostless", "[home]") {
  CHECK(*resolve_home(std::nullopt, env_home) == "/home/u/.local/share/hostless");
}

TEST_CASE("no environment at all is a clear error", "[home]") {
  auto r = resolve_home(std::nullopt, env_none);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("--home"));
}

TEST_CASE("a relative --home is made absolute", "[home]") {
  auto r = resolve_home(std::string("rel/dir"), env_none);
  REQUIRE(r);
  CHECK(r->is_absolute());
}

TEST_CASE("a home other users can write to, or not the daemon's own, is refused", "[home]") {
  test::Sandbox box;
  const uid_t me = ::geteuid();
  const struct {
    mode_t mode;
    uid_t daemon;          // the user checking the home (the sandbox is ours)
    const char* fragment;  // empty: accepted
  } cases[] = {
      {0700, me, ""},
      {0755, me, ""},
      {0750, me, ""},
      {0770, me, "chmod 700 "},
      {0702, me, "chmod 700 "},
      {0777, me, "mode 0777"},
      {0700, me + 1, "belongs to user"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.mode, c.daemon);
    REQUIRE(::chmod(box.path().c_str(), c.mode) == 0);
    const Status s = check_home_private(box.path(), c.daemon);
    if (*c.fragment == '\0') {
      CHECK(s.ok());
    } else {
      REQUIRE_FALSE(s.ok());
      CHECK_THAT(s.error().message, Catch::Contains(c.fragment));
    }
  }
}
