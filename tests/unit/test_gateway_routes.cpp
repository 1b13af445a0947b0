#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "gateway/server.hpp"
#include "gateway/site_serving.hpp"

using hostless::HostKind;
using hostless::route_host;

namespace {
const std::string kAddr = "37eoxihnf8zee8nkti75rm3rysi6ergrkouiwf49tsk9ps3ahmoo";
}

TEST_CASE("route_host sends each Host to its kind", "[gateway]") {
  struct Case {
    std::string host;
    HostKind kind;
  };
  std::vector<Case> cases = {
      {"localhost", HostKind::kControl},
      {"localhost:8420", HostKind::kControl},
      {"LOCALHOST:8420", HostKind::kControl},
      {"localhost.:8420", HostKind::kControl},
      {"127.0.0.1:8420", HostKind::kControl},
      {"[::1]:8420", HostKind::kControl},
      {"[::1]", HostKind::kControl},
      {kAddr + ".localhost:8420", HostKind::kSite},
      {kAddr + ".localhost", HostKind::kSite},
      {"37EOXIHNF8ZEE8NKTI75RM3RYSI6ERGRKOUIWF49TSK9PS3AHMOO.localhost", HostKind::kSite},
      {kAddr + ".localhost.:1", HostKind::kSite},
      // Anything else is refused: DNS rebinding, look-alikes, other forms.
      {"", HostKind::kForeign},
      {"evil.example", HostKind::kForeign},
      {"localhost.evil.example", HostKind::kForeign},
      {"127.0.0.2", HostKind::kForeign},
      {"192.168.1.10:8420", HostKind::kForeign},
      {kAddr.substr(1) + ".localhost", HostKind::kForeign},
      {kAddr + ".localhost.evil.example", HostKind::kForeign},
      {kAddr + "x.localhost", HostKind::kForeign},
      {"-abc.localhost", HostKind::kForeign},
      {"a_b.example.localhost", HostKind::kForeign},
      {"@abc.localhost", HostKind::kForeign},
      {"a b.localhost", HostKind::kForeign},
      {".localhost", HostKind::kForeign},
      // Names (sites/names.hpp): petnames, handles and DNS names.
      {"abc.localhost", HostKind::kName},
      {"My_Blog.localhost:8420", HostKind::kName},
      {"Example.ORG.localhost", HostKind::kName},
      {"x." + kAddr + ".localhost", HostKind::kName},
      {"[::2]:8420", HostKind::kForeign},
  };
  for (const auto& c : cases) {
    INFO(c.host);
    auto r = route_host(c.host);
    CHECK(r.kind == c.kind);
    if (c.kind == HostKind::kSite) CHECK(r.address == kAddr);
  }
}

TEST_CASE("encode_url_path keeps '/' and unreserved characters", "[gateway]") {
  CHECK(hostless::encode_url_path("/docs/") == "/docs/");
  CHECK(hostless::encode_url_path("/a b/caf\xc3\xa9?#%") == "/a%20b/caf%C3%A9%3F%23%25");
  CHECK(hostless::encode_url_path("/-._~") == "/-._~");
}
