// Names of sites (sites/names.hpp): petnames and handles in one namespace,
// DNS names from TXT records cached for their TTL, and the clear errors.
#include <catch2/catch.hpp>

#include "protocol/keys.hpp"
#include "sites/names.hpp"
#include "sites/sites.hpp"
#include "store/catalog.hpp"
#include "support/sandbox.hpp"

using namespace hostless;
using namespace std::chrono_literals;

namespace {

SiteAddress new_address() {
  return SiteAddress(SecretKey::generate().public_key());
}

struct Fixture {
  test::Sandbox dir;
  std::unique_ptr<Catalog> catalog;
  std::chrono::steady_clock::time_point now{};
  int queries = 0;
  Result<TxtAnswer> answer = make_error("no record", ErrorKind::kNotFound);
  std::unique_ptr<SiteNames> names;

  Fixture() {
    auto c = Catalog::open(dir / "catalog.sqlite");
    REQUIRE(c);
    catalog = std::move(*c);
    names = std::make_unique<SiteNames>(
        *catalog,
        [this](const std::string& name) {
          ++queries;
          CHECK(name.rfind("_hostless.", 0) == 0);
          return answer;
        },
        [this] { return now; });
  }
  void follow(const SiteAddress& a, const std::string& handle) {
    auto r = catalog->update_site(a, [&](std::optional<SiteRecord>& rec) {
      rec = SiteRecord{};
      rec->address = a;
      rec->role = SiteRole::kFollowed;
      rec->handle = handle;
      return true;
    });
    REQUIRE(r);
  }
};

}  // namespace

TEST_CASE("site names: which labels are DNS names and which are petnames", "[names]") {
  CHECK(is_dns_name("example.org"));
  CHECK(is_dns_name("a-b.c9.example"));
  CHECK_FALSE(is_dns_name("example"));
  CHECK_FALSE(is_dns_name("-a.org"));
  CHECK_FALSE(is_dns_name("a-.org"));
  CHECK_FALSE(is_dns_name("a..org"));
  CHECK_FALSE(is_dns_name(".org"));
  CHECK_FALSE(is_dns_name("a_b.org"));
  CHECK_FALSE(is_dns_name("Example.org"));  // lower case only: parse_site_name lowers
  CHECK_FALSE(is_dns_name(std::string(64, 'a') + ".org"));
  CHECK(parse_site_name("Example.ORG.") == "example.org");
  CHECK(parse_site_name("@Alice") == "alice");
  CHECK(parse_site_name("my_blog") == "my_blog");
  CHECK_FALSE(parse_site_name("9lives"));
  CHECK_FALSE(parse_site_name(""));
  CHECK_FALSE(parse_site_name("a b"));
}

TEST_CASE("petnames: set, look up, clash, replace, remove", "[names]") {
  Fixture f;
  const SiteAddress a = new_address(), b = new_address();
  auto set = f.names->set("Blog", a.str(), false);
  REQUIRE(set);
  CHECK((*set)["name"] == "blog");
  auto found = f.names->lookup("blog");
  REQUIRE(found);
  CHECK(*found == a);
  // Again for the same site: fine. For another: refused unless forced.
  CHECK(f.names->set("blog", a.str(), false));
  auto clash = f.names->set("blog", b.str(), false);
  REQUIRE_FALSE(clash);
  CHECK(clash.error().message.find("--force") != std::string::npos);
  auto moved = f.names->set("blog", b.str(), true);
  REQUIRE(moved);
  CHECK((*moved)["replaced"] == a.str());
  CHECK(*f.names->lookup("blog") == b);
  auto removed = f.names->remove("blog");
  REQUIRE(removed);
  CHECK((*removed)["address"] == b.str());
  auto gone = f.names->lookup("blog");
  REQUIRE_FALSE(gone);
  CHECK(gone.error().kind == ErrorKind::kNotFound);
  CHECK(gone.error().message.find("hostless name set blog") != std::string::npos);
  CHECK(f.names->remove("blog").error().kind == ErrorKind::kNotFound);
  CHECK(f.names->set("9x", a.str(), false).error().kind == ErrorKind::kInvalid);
  CHECK(f.names->set("x", "not-an-address", false).error().kind == ErrorKind::kInvalid);
  CHECK(f.queries == 0);
}

TEST_CASE("petnames and followed feeds' handles share one namespace", "[names]") {
  Fixture f;
  const SiteAddress alice = new_address(), other = new_address();
  f.follow(alice, "alice");
  CHECK(*f.names->lookup("alice") == alice);
  // A handle is never moved by a petname, even forced.
  CHECK_FALSE(f.names->set("alice", other.str(), false));
  CHECK_FALSE(f.names->set("alice", other.str(), true));
  CHECK(f.names->check_free("alice", alice));
  CHECK_FALSE(f.names->check_free("alice", other));
  // A petname blocks the handle for another feed.
  REQUIRE(f.names->set("bob", other.str(), false));
  CHECK_FALSE(f.names->check_free("bob", alice));
  // A name that is both a petname and a handle of one site (a follow --as
  // of a site already so named): the petname cannot move away from the handle.
  const SiteAddress carol = new_address();
  REQUIRE(f.names->set("carol", carol.str(), false));
  f.follow(carol, "carol");
  auto moved = f.names->set("carol", other.str(), true);
  REQUIRE_FALSE(moved);
  CHECK_THAT(moved.error().message, Catch::Contains("the handle of a feed you follow"));
  CHECK(*f.names->lookup("carol") == carol);
  // `name rm` of a handle says how to free it.
  auto rm = f.names->remove("alice");
  REQUIRE_FALSE(rm);
  CHECK(rm.error().message.find("unfollow") != std::string::npos);
  auto list = f.names->list();
  REQUIRE(list);
  REQUIRE(list->size() == 4);  // alice (handle), bob (petname), carol (both)
  CHECK((*list)[0]["name"] == "alice");
  CHECK((*list)[0]["kind"] == "handle");
  CHECK((*list)[1]["kind"] == "petname");
}

TEST_CASE("DNS names: TXT hostless=<address>, cached for its TTL", "[names]") {
  Fixture f;
  const SiteAddress a = new_address(), b = new_address();
  f.answer = TxtAnswer{{"v=spf1 -all", "hostless=" + a.str()}, 300s};
  auto found = f.names->lookup("example.org");
  REQUIRE(found);
  CHECK(*found == a);
  CHECK(f.queries == 1);
  // Within the TTL the answer is the cached one, even if DNS changed.
  f.answer = TxtAnswer{{"hostless=" + b.str()}, 300s};
  f.now += 299s;
  CHECK(*f.names->lookup("example.org") == a);
  CHECK(f.queries == 1);
  f.now += 2s;
  CHECK(*f.names->lookup("example.org") == b);
  CHECK(f.queries == 2);
  // Any accepted address form after hostless=.
  f.answer = TxtAnswer{{"hostless=hostless://" + a.str() + "/"}, 0s};
  CHECK(*f.names->lookup("other.example") == a);
}

TEST_CASE("DNS names: missing, ambiguous and unreachable records", "[names]") {
  Fixture f;
  const SiteAddress a = new_address(), b = new_address();
  f.answer = make_error("none", ErrorKind::kNotFound);
  auto missing = f.names->lookup("example.org");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().kind == ErrorKind::kNotFound);
  CHECK(missing.error().message.find("_hostless.example.org") != std::string::npos);
  // A missing record is asked again only after kNegativeTtl.
  f.answer = TxtAnswer{{"hostless=" + a.str()}, 60s};
  CHECK_FALSE(f.names->lookup("example.org"));
  f.now += SiteNames::kNegativeTtl + 1s;
  CHECK(f.names->lookup("example.org"));
  // TXT records, none of them ours.
  f.answer = TxtAnswer{{"google-site-verification=x", "hostless=garbage"}, 60s};
  auto none = f.names->lookup("none.example");
  REQUIRE_FALSE(none);
  CHECK(none.error().kind == ErrorKind::kNotFound);
  // Two different sites: refused, not a guess.
  f.answer = TxtAnswer{{"hostless=" + a.str(), "hostless=" + b.str()}, 60s};
  auto two = f.names->lookup("two.example");
  REQUIRE_FALSE(two);
  CHECK(two.error().kind == ErrorKind::kInvalid);
  // A resolver that did not answer is not cached: the next visit asks again.
  f.answer = make_error("timeout", ErrorKind::kUnavailable);
  const int before = f.queries;
  CHECK(f.names->lookup("down.example").error().kind == ErrorKind::kUnavailable);
  CHECK(f.names->lookup("down.example").error().kind == ErrorKind::kUnavailable);
  CHECK(f.queries == before + 2);
}

TEST_CASE("web seeds on this machine or the LAN are told apart", "[names][web_seeds]") {
  for (const char* url :
       {"http://localhost/", "http://LOCALHOST:8080/x/", "http://a.localhost/",
        "http://127.0.0.1:80/", "http://10.1.2.3/", "http://192.168.1.1/", "http://172.16.0.1/",
        "http://169.254.1.1/", "http://100.64.0.1/", "http://0.0.0.0/", "http://[::1]:8080/",
        "http://[fe80::1]/", "http://[fd00::1]/", "http://[::ffff:127.0.0.1]/",
        "http://user@127.0.0.1/"}) {
    CAPTURE(url);
    CHECK(local_web_seed(url));
  }
  for (const char* url : {"https://example.org/site/", "http://172.32.0.1/", "http://8.8.8.8/",
                          "http://[2001:db8::1]/", "http://100.128.0.1/"}) {
    CAPTURE(url);
    CHECK_FALSE(local_web_seed(url));
  }
  auto checked =
      checked_web_seeds(std::vector<std::string>{"http://a.example/x", "http://a.example/x/"});
  REQUIRE(checked);
  CHECK(**checked == std::vector<std::string>{"http://a.example/x/"});
  CHECK_FALSE(checked_web_seeds(std::vector<std::string>{"ftp://a/"}));
  // Five URLs of 196 characters: each fine, together over BEP 44's 1000 bytes.
  std::vector<std::string> long_ones;
  for (char c : std::string("abcde")) long_ones.push_back("http://" + std::string(188, c) + "/");
  auto too_big = checked_web_seeds(long_ones);
  REQUIRE_FALSE(too_big);
  CHECK_THAT(too_big.error().message, Catch::Contains("over BEP 44"));
}
