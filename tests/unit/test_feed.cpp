#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "feed/feed.hpp"
#include "protocol/address.hpp"
#include "support/sandbox.hpp"

using hostless::feed::ArchivePage;
using hostless::feed::Feed;
using hostless::feed::Post;
namespace feed = hostless::feed;
using json = nlohmann::json;

namespace {

// The key 00 01 .. 1f (see test_address.cpp).
const std::string kAddr = "yyyoryarywdyqnyjbefoadeqbhebnrounoktcfaadrpbs8y7daxo";
constexpr std::uint64_t kT0 = 1796000000ull * 1000000;  // 2026-11-30, in microseconds

Post make_post(std::uint64_t n, std::string text = "") {
  Post p;
  p.id = feed::make_post_id(kT0 + n * 1000000, static_cast<std::uint32_t>(n * 7919));
  p.published = static_cast<std::int64_t>((kT0 + n * 1000000) / 1000000);
  p.text = text.empty() ? "post " + std::to_string(n) : text;
  return p;
}

Feed feed_with(std::uint64_t posts) {
  Feed f;
  f.profile.name = "alice";
  for (std::uint64_t n = 1; n <= posts; ++n) f.add(make_post(n));
  return f;
}

// A small XML well-formedness check: one root element, tags nest and close
// with their names, attribute values are quoted, and '&' starts a known
// entity or a character reference. Returns the error, "" when well-formed.
std::string xml_error(const std::string& x) {
  std::vector<std::string> open;
  bool had_root = false;
  auto entity_ok = [&](std::size_t i) {
    auto semi = x.find(';', i);
    if (semi == std::string::npos || semi - i > 10) return false;
    std::string e = x.substr(i + 1, semi - i - 1);
    if (e == "amp" || e == "lt" || e == "gt" || e == "quot" || e == "apos") return true;
    return e.size() > 1 && e[0] == '#';
  };
  for (std::size_t i = 0; i < x.size(); ++i) {
    char c = x[i];
    if (c == '&' && !entity_ok(i)) return "bad entity at " + std::to_string(i);
    if (c == '>' && open.empty() && had_root) return "text after the root";
    if (c != '<') continue;
    if (x.compare(i, 2, "<?") == 0) {
      i = x.find("?>", i);
      if (i == std::string::npos) return "unclosed <?";
      continue;
    }
    auto end = i + 1;
    char quote = 0;
    for (; end < x.size(); ++end) {
      if (quote) {
        if (x[end] == quote)
          quote = 0;
        else if (x[end] == '<')
          return "'<' in an attribute at " + std::to_string(end);
        else if (x[end] == '&' && !entity_ok(end))
          return "bad entity at " + std::to_string(end);
      } else if (x[end] == '"' || x[end] == '\'') {
        quote = x[end];
      } else if (x[end] == '<') {
        return "'<' inside a tag at " + std::to_string(end);
      } else if (x[end] == '>') {
        break;
      }
    }
    if (end >= x.size()) return "unclosed tag at " + std::to_string(i);
    std::string tag = x.substr(i + 1, end - i - 1);
    if (!tag.empty() && tag[0] == '/') {
      std::string name = tag.substr(1);
      if (open.empty() || open.back() != name) return "mismatched </" + name + ">";
      open.pop_back();
    } else if (!tag.empty() && tag.back() == '/') {
      if (open.empty()) return "empty root";
    } else {
      if (open.empty() && had_root) return "second root element";
      open.push_back(tag.substr(0, tag.find_first_of(" \t\n")));
      had_root = true;
    }
    i = end;
  }
  if (!open.empty()) return "unclosed <" + open.back() + ">";
  return had_root ? "" : "no root element";
}

}  // namespace

TEST_CASE("the XML check used below finds broken XML", "[feed]") {
  CHECK(xml_error("<a><b x=\"1\">t &amp; u</b></a>") == "");
  CHECK(xml_error("<a><b></a></b>") != "");
  CHECK(xml_error("<a>x < y</a>") != "");
  CHECK(xml_error("<a>x & y</a>") != "");
  CHECK(xml_error("<a x=\"<\"/>") != "");
  CHECK(xml_error("<a>") != "");
}

TEST_CASE("post ids sort by time and read back", "[feed]") {
  std::vector<std::uint64_t> times = {0,   1,       31,           32,           1000000,
                                      kT0, kT0 + 1, kT0 + 999999, (1ull << 63), ~0ull};
  std::string previous;
  for (auto t : times) {
    auto id = feed::make_post_id(t, 0xFFFFF);
    CAPTURE(t, id);
    CHECK(id.size() == 17);
    CHECK(feed::post_id_time(id) == t);
    CHECK(id > previous);
    CHECK(feed::make_post_id(t, 0) < id);  // the suffix only orders one microsecond
    previous = id;
  }
  CHECK(feed::make_post_id(kT0, 1) != feed::make_post_id(kT0, 2));
  for (const char* bad : {"", "001k1s68ca704f2j", "001k1s68ca704f2j8x", "001k1s68ca704f2ji",
                          "001K1S68CA704F2J8", "g01k1s68ca704f2j8"}) {
    CAPTURE(bad);
    CHECK_FALSE(feed::post_id_time(bad));
  }
}

TEST_CASE("post text: UTF-8 required, 1000 code points at most", "[feed]") {
  std::string e_acute;
  for (int i = 0; i < 1000; ++i) e_acute += "\xC3\xA9";  // 2000 bytes, 1000 code points
  CHECK(feed::check_text(e_acute));
  CHECK(feed::count_code_points(e_acute) == 1000);
  auto too_long = feed::check_text(e_acute + "x");
  REQUIRE_FALSE(too_long);
  CHECK(too_long.error().message == "the text is too long: 1001 characters, at most 1000");
  CHECK(feed::check_text("line one\n\tline two \xF0\x9F\x98\x80"));
  struct Bad {
    std::string text, message;
  };
  std::vector<Bad> bad = {
      {"x\xFF", "not valid UTF-8"},
      {"\xC0\xAF", "not valid UTF-8"},      // overlong '/'
      {"\xED\xA0\x80", "not valid UTF-8"},  // a surrogate
      {"", "empty"},
      {" \n\t ", "empty"},
      {"bell\x07", "control character"},
      {std::string("nul\0x", 5), "control character"},
  };
  for (const auto& b : bad) {
    CAPTURE(b.text);
    auto s = feed::check_text(b.text);
    REQUIRE_FALSE(s);
    CHECK_THAT(s.error().message, Catch::Contains(b.message));
  }
}

TEST_CASE("mentions are the addresses in the text, canonical and once", "[feed]") {
  std::string upper = kAddr;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto m =
      feed::find_mentions("hi " + kAddr + ", see hostless://" + kAddr + "/x and http://" + upper +
                          ".localhost:8420/ and " + kAddr.substr(1) + " (51 characters)");
  CHECK(m == std::vector<std::string>{kAddr});
  CHECK(feed::find_mentions("no addresses here").empty());
  CHECK(feed::find_mentions(kAddr + "a").empty());  // 53 characters: not an address
}

TEST_CASE("reply targets: an address or a post URL, canonical", "[feed]") {
  CHECK(*feed::parse_reply_to(kAddr) == "hostless://" + kAddr + "/");
  CHECK(*feed::parse_reply_to("hostless://" + kAddr + "/feed.json#001k1s68ca704f2j8") ==
        "hostless://" + kAddr + "/feed.json#001k1s68ca704f2j8");
  CHECK(*feed::parse_reply_to("hostless://" + kAddr + "#001k1s68ca704f2j8") ==
        "hostless://" + kAddr + "/feed.json#001k1s68ca704f2j8");
  CHECK_FALSE(feed::parse_reply_to("https://example.com/x"));
  CHECK_FALSE(feed::parse_reply_to("hostless://" + kAddr + "/feed.json#<script>"));
  CHECK_FALSE(feed::parse_reply_to("hostless://" + kAddr + "/feed.json#"));
}

TEST_CASE("attachment names keep only safe characters", "[feed]") {
  CHECK(feed::media_name("id", "cat.png") == "id-cat.png");
  CHECK(feed::media_name("id", "../../etc/passwd") == "id-_._.._etc_passwd");
  CHECK(feed::media_name("id", ".hidden") == "id-_hidden");
  CHECK(feed::media_name("id", "ünï <b>.jpg") == "id-__n____b_.jpg");
  CHECK(feed::media_name("id", "") == "id-file");
  CHECK(feed::media_name("id", std::string(200, 'a')).size() == 3 + 64);
  CHECK(feed::mime_type_for("x.PNG") == "image/png");
  CHECK(feed::mime_type_for("x") == "application/octet-stream");
}

TEST_CASE("RFC 3339 times write and read back", "[feed]") {
  CHECK(feed::format_rfc3339(0) == "1970-01-01T00:00:00Z");
  CHECK(feed::format_rfc3339(1796000000) == "2026-11-30T00:53:20Z");
  CHECK(feed::parse_rfc3339("2026-11-30T00:53:20Z") == 1796000000);
  CHECK(feed::parse_rfc3339("2026-11-30T01:53:20.125+01:00") == 1796000000);
  for (const char* bad : {"2026-12-01 01:33:20Z", "2026-12-01T01:33:20", "2026-13-01T01:33:20Z",
                          "2026-12-01T01:33:20Zx", ""}) {
    CAPTURE(bad);
    CHECK_FALSE(feed::parse_rfc3339(bad));
  }
}

TEST_CASE("text is escaped in index.html and feed.xml", "[feed]") {
  Feed f;
  f.profile.name = "<b>alice</b> & \"co\"";
  f.profile.bio = "<img src=x onerror=alert(1)>";
  f.add(make_post(1, "<script>alert('x')</script> & more"));
  auto html = feed::render_index_html(f);
  CHECK(html.find("<script>") == std::string::npos);
  CHECK(html.find("<b>alice") == std::string::npos);
  CHECK(html.find("<img src=x") == std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more") !=
        std::string::npos);
  auto atom = feed::render_atom(f);
  CHECK(atom.find("<script>") == std::string::npos);
  CHECK(xml_error(atom) == "");
}

TEST_CASE("feed.json is JSON Feed 1.1 with the hostless extension", "[feed]") {
  Feed f = feed_with(2);
  f.address = kAddr;
  Post reply = make_post(3, "answer to " + kAddr);
  reply.reply_to = "hostless://" + kAddr + "/feed.json#" + make_post(1).id;
  reply.mentions = feed::find_mentions(reply.text);
  reply.attachments.push_back({"media/x-cat.png", "image/png", 1234});
  f.add(reply);
  auto j = json::parse(feed::render_json_feed(f));
  CHECK(j["version"] == "https://jsonfeed.org/version/1.1");
  CHECK(j["title"] == "alice");
  CHECK(j["feed_url"] == "hostless://" + kAddr + "/feed.json");
  CHECK(j["_hostless"]["address"] == kAddr);
  CHECK(j["_hostless"]["archive_pages"] == 0);
  REQUIRE(j["items"].size() == 3);
  const auto& newest = j["items"][0];
  CHECK(newest["id"] == reply.id);
  CHECK(newest["content_text"] == reply.text);
  CHECK(newest["date_published"] == feed::format_rfc3339(reply.published));
  CHECK(newest["_hostless"]["reply_to"] == reply.reply_to);
  CHECK(newest["_hostless"]["mentions"] == json::array({kAddr}));
  CHECK(newest["attachments"][0]["url"] == "media/x-cat.png");
  CHECK(newest["attachments"][0]["size_in_bytes"] == 1234);
  CHECK_FALSE(j["items"][1].contains("_hostless"));  // no extension when nothing to say
  CHECK(j["items"][1]["id"] == make_post(2).id);
}

TEST_CASE("feed.xml is well-formed Atom with an entry a post", "[feed]") {
  Feed f = feed_with(3);
  f.address = kAddr;
  auto atom = feed::render_atom(f);
  CHECK(xml_error(atom) == "");
  CHECK(atom.find("<feed xmlns=\"http://www.w3.org/2005/Atom\"") != std::string::npos);
  CHECK(atom.find("<id>hostless://" + kAddr + "/</id>") != std::string::npos);
  CHECK(atom.find("<id>hostless://" + kAddr + "/feed.json#" + make_post(3).id + "</id>") <
        atom.find("<id>hostless://" + kAddr + "/feed.json#" + make_post(1).id + "</id>"));
  CHECK(xml_error(feed::render_atom(Feed{})) == "");
}

TEST_CASE("feed.json keeps the newest 20; archive pages freeze at 50", "[feed]") {
  Feed f = feed_with(20 + 50 + 10);
  REQUIRE(f.recent.size() == 20);
  CHECK(f.recent.front().id == make_post(80).id);
  REQUIRE(f.pages.size() == 2);
  CHECK(f.pages[0].frozen);
  CHECK(f.pages[0].posts.size() == 50);
  CHECK(f.pages[0].posts.front().id == make_post(50).id);
  CHECK(f.pages[0].posts.back().id == make_post(1).id);
  CHECK_FALSE(f.pages[1].frozen);
  CHECK(f.pages[1].posts.size() == 10);

  const auto page1 = feed::render_archive_page(f.pages[0]);
  for (std::uint64_t n = 81; n <= 200; ++n) f.add(make_post(n));
  CHECK(feed::render_archive_page(f.pages[0]) == page1);  // the same bytes: a frozen root
  f.profile.name = "renamed";
  f.address = kAddr;
  CHECK(feed::render_archive_page(f.pages[0]) == page1);

  // A deletion is the one change a frozen page takes; it takes no new posts.
  REQUIRE(f.remove(make_post(7).id));
  CHECK(f.pages[0].frozen);
  CHECK(f.pages[0].posts.size() == 49);
  f.add(make_post(201));
  CHECK(f.pages[0].posts.size() == 49);
  CHECK_FALSE(f.contains(make_post(7).id));
  CHECK_FALSE(f.remove(make_post(7).id));
}

TEST_CASE("merging two devices' copies of a feed keeps every post once, in order", "[feed]") {
  // The laptop posted 1..30, the phone (from a copy made after 25) 26..28 and
  // 31, 32; the laptop went on to 29, 30.
  Feed laptop = feed_with(30);
  Feed phone = feed_with(25);
  for (std::uint64_t n : {26, 27, 28, 31, 32}) phone.add(make_post(n));
  const auto taken = laptop.merge(phone).taken;
  REQUIRE(taken.size() == 2);
  CHECK(taken[0].id == make_post(32).id);
  CHECK(taken[1].id == make_post(31).id);
  // The same as a feed that got all 32 in turn: the layout depends only on
  // the posts.
  const Feed all = feed_with(32);
  CHECK(feed::render(laptop) == feed::render(all));
  // Nothing new: nothing moves.
  const auto before = feed::render(laptop);
  CHECK_FALSE(laptop.merge(phone).changed());
  CHECK_FALSE(laptop.merge(all).changed());
  CHECK(feed::render(laptop) == before);
  // Each side's older posts fill the other's archive pages.
  Feed fresh = feed_with(0);
  fresh.add(make_post(99));
  CHECK(fresh.merge(all).taken.size() == 32);
  CHECK(fresh.recent.front().id == make_post(99).id);
  CHECK(fresh.pages.size() == 1);
  CHECK(fresh.pages[0].posts.size() == 13);
}

TEST_CASE("following.json is written sorted and read back strictly", "[feed]") {
  hostless::PublicKey::Bytes key{};
  key.fill(7);
  const std::string other = hostless::SiteAddress(hostless::PublicKey(key)).str();
  const std::string text =
      feed::render_following({{other, "bob"}, {kAddr, "alice"}, {other, "dup"}});
  auto back = feed::parse_following(text);
  REQUIRE(back);
  REQUIRE(back->size() == 2);
  CHECK((*back)[0].address == std::min(other, kAddr));
  CHECK(feed::render_following({}) == "[]\n");
  // Entries without a canonical address are skipped; bad petnames dropped.
  auto lax = feed::parse_following(R"([{"address": ")" + kAddr +
                                   R"(", "petname": "<b>x</b>"}, {"address": "nope"}, 7])");
  REQUIRE(lax);
  REQUIRE(lax->size() == 1);
  CHECK(lax->front().petname.empty());
  CHECK_FALSE(feed::parse_following("{}"));
  CHECK_FALSE(feed::parse_following("not json"));
  CHECK_FALSE(feed::parse_following(std::string(feed::kMaxFollowingBytes + 1, ' ')));
}

TEST_CASE("a merge applies the other device's deletions and keeps its own", "[feed]") {
  // Both hold 1..10; the laptop deletes 3 and the phone deletes 7.
  Feed laptop = feed_with(10);
  Feed phone = feed_with(10);
  REQUIRE(laptop.remove(make_post(3).id));
  REQUIRE(phone.remove(make_post(7).id));
  const auto m = laptop.merge(phone);
  REQUIRE(m.dropped.size() == 1);
  CHECK(m.dropped[0].id == make_post(7).id);
  CHECK(m.taken.empty());  // 3 is not taken back
  CHECK_FALSE(laptop.contains(make_post(3).id));
  CHECK_FALSE(laptop.contains(make_post(7).id));
  CHECK(laptop.deleted == std::vector<std::string>{make_post(3).id, make_post(7).id});
  // The other way round gives the same feed.
  phone.merge(laptop);
  CHECK(feed::render(phone) == feed::render(laptop));
  // Deletions survive a save and load; an id that is not one is refused.
  hostless::test::Sandbox box;
  REQUIRE(feed::initialize(box.path(), "me"));
  REQUIRE(feed::save(box.path(), laptop));
  auto back = feed::load(box.path());
  REQUIRE(back);
  CHECK(back->deleted == laptop.deleted);
  // Only the newest kMaxDeleted ids are remembered.
  Feed many = feed_with(0);
  for (std::uint64_t n = 1; n <= feed::kMaxDeleted + 5; ++n) {
    many.add(make_post(n));
    REQUIRE(many.remove(make_post(n).id));
  }
  CHECK(many.deleted.size() == feed::kMaxDeleted);
  CHECK(many.deleted.front() == make_post(6).id);
}

TEST_CASE("blocklist.json is written sorted and read back strictly", "[feed]") {
  hostless::PublicKey::Bytes key{};
  key.fill(9);
  const std::string other = hostless::SiteAddress(hostless::PublicKey(key)).str();
  const std::string text = feed::render_blocklist({{other, "spam"}, {kAddr, ""}});
  auto back = feed::parse_blocklist(text);
  REQUIRE(back);
  REQUIRE(back->size() == 2);
  CHECK((*back)[0].address == std::min(other, kAddr));
  CHECK(feed::parse_blocklist(feed::render_blocklist({}))->empty());
  // Entries without a canonical address are skipped; a reason with control
  // characters or over the limit is dropped.
  const std::string long_reason(feed::kMaxReasonCodePoints + 1, 'x');
  auto lax =
      feed::parse_blocklist(R"({"hostless_blocklist": 1, "blocked": [{"address": ")" + kAddr +
                            R"(", "reason": "\u001b[2J"}, {"address": ")" + other +
                            R"(", "reason": ")" + long_reason + R"("}, {"address": "nope"}, 7]})");
  INFO((lax ? std::string() : lax.error().message));
  REQUIRE(lax);
  REQUIRE(lax->size() == 2);
  CHECK(lax->front().reason.empty());
  CHECK(lax->back().reason.empty());
  CHECK_FALSE(feed::parse_blocklist("[]"));
  CHECK_FALSE(feed::parse_blocklist(R"({"blocked": []})"));
  CHECK_FALSE(feed::parse_blocklist(R"({"hostless_blocklist": 2, "blocked": []})"));
  CHECK_FALSE(feed::parse_blocklist("not json"));
  CHECK_FALSE(feed::parse_blocklist(std::string(feed::kMaxBlocklistBytes + 1, ' ')));
}

TEST_CASE("a feed folder saves and loads back the same", "[feed]") {
  hostless::test::Sandbox box;
  Feed f = feed_with(75);
  f.address = kAddr;
  f.profile.bio = "bio with ünïcode";
  f.pages[0].posts[3].reply_to = "hostless://" + kAddr + "/";
  f.pages[0].posts[3].attachments.push_back({"media/a-b.txt", "text/plain", 3});
  REQUIRE(feed::save(box.path(), f));
  auto back = feed::load(box.path());
  REQUIRE(back);
  CHECK(back->profile.name == f.profile.name);
  CHECK(back->profile.bio == f.profile.bio);
  CHECK(back->address == f.address);
  CHECK(back->recent == f.recent);
  REQUIRE(back->pages.size() == f.pages.size());
  for (std::size_t i = 0; i < f.pages.size(); ++i) {
    CHECK(back->pages[i].frozen == f.pages[i].frozen);
    CHECK(back->pages[i].posts == f.pages[i].posts);
  }
  CHECK(feed::render(*back) == feed::render(f));
}

TEST_CASE("load says when a folder is not a feed or a file is broken", "[feed]") {
  hostless::test::Sandbox box;
  auto r = feed::load(box.path());
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("is not a feed folder (no profile.json)"));
  REQUIRE(feed::save(box.path(), feed_with(1)));
  REQUIRE(feed::load(box.path()));
  std::ofstream(box / "feed.json") << "{\"items\": [";
  r = feed::load(box.path());
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("feed.json is not valid JSON"));
  std::ofstream(box / "feed.json") << "{\"version\": \"https://jsonfeed.org/version/1.1\"}";
  r = feed::load(box.path());
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("no \"_hostless\" object"));
}

TEST_CASE("a followed feed's feed.json is held to the rules hostless writes by", "[feed]") {
  Feed f;
  f.address = kAddr;
  f.add(make_post(1, "<script>alert(1)</script> is just text"));
  Post with_file = make_post(2, "a picture");
  with_file.attachments.push_back(
      {"media/" + feed::media_name(with_file.id, "cat.png"), "image/png", 3});
  f.add(with_file);
  const std::string good = feed::render_json_feed(f);
  auto posts = feed::parse_recent_posts(good);
  REQUIRE(posts);
  REQUIRE(posts->size() == 2);
  CHECK((*posts)[1].text == "<script>alert(1)</script> is just text");

  const auto refused = [](const std::string& text, const std::string& why) {
    auto r = feed::parse_recent_posts(text);
    REQUIRE(!r);
    INFO(r.error().message);
    CHECK(r.error().message.find(why) != std::string::npos);
  };
  refused("not json", "not valid JSON");
  refused(R"({"items": []})", "not a hostless feed");
  refused(std::string(feed::kMaxFeedJsonBytes + 1, ' '), "KiB");
  json doc = json::parse(good);
  json escape = doc;
  escape["items"][0]["content_text"] = "\x1b[31mred";
  refused(escape.dump(), "control");
  json outside = doc;
  outside["items"][0]["attachments"] = json::array({{{"url", "../../etc/passwd"}}});
  refused(outside.dump(), "media/");
  json script_url = doc;
  script_url["items"][0]["attachments"] = json::array({{{"url", "javascript:alert(1)"}}});
  refused(script_url.dump(), "media/");
  json reply = doc;
  reply["items"][0]["_hostless"]["reply_to"] = "https://example.org/";
  refused(reply.dump(), "reply_to");
}
