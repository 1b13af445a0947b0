// Serving a site like a web server: <address>.localhost requests become
// lookups in the site's file list and reads of verified bytes.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "sites/service.hpp"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace hostless {

// One-time nonces for the "Open this site?" page's button, each for one
// address. A page of another origin can neither read one (the page is on the
// site's own origin and cannot be framed) nor spend one (the button is a POST
// the gateway takes only from the same origin). Thread-safe.
class OpenNonces {
 public:
  // A new nonce for `address`, valid for kLifetime; beyond kMax outstanding
  // the oldest are dropped.
  std::string issue(const std::string& address);
  // True, once, for a nonce issued for `address` and not expired.
  bool redeem(const std::string& address, const std::string& nonce);

  static constexpr std::chrono::minutes kLifetime{10};
  static constexpr std::size_t kMax = 1024;

 private:
  struct Entry {
    std::string address;
    std::chrono::steady_clock::time_point expires;
  };
  std::mutex mutex_;
  std::map<std::string, Entry> nonces_;
};

struct SiteServingOptions {
  // How long a non-browser client waits for a cold site, and any client for
  // the next piece of a file, before the gateway gives up.
  std::chrono::milliseconds timeout{30000};
  // Let another site's page load (image, script, frame, fetch) or open any
  // site, which makes the node fetch and seed it. Off: such loads get one
  // 403 whatever the node holds, and sites send Cross-Origin-Resource-Policy.
  bool allow_embedded_sites = false;
  // Where the "Open this site?" page's nonces live; null: the page has no
  // button (the visitor types the address instead).
  OpenNonces* nonces = nullptr;
};

// The path of the "Open it" button's POST on a site's own origin. Dotfiles
// are refused in site metadata, so no site file can have this path.
inline constexpr std::string_view kOpenPath = "/.hostless/open";

void serve_site(SiteService& service, const SiteServingOptions& options, const std::string& address,
                const httplib::Request& req, httplib::Response& res);

// <name>.localhost (`name` a petname, a followed feed's handle or a DNS
// name: sites/names.hpp): a redirect to the site's own origin,
// http://<address>.localhost:<port>, same path. The name is never an origin
// of its own: one site keeps one origin (its storage, its permissions)
// whatever its names, and a name given to another site later gets nothing of
// the first. `port` is the one the browser used.
void serve_name(SiteService& service, const SiteServingOptions& options, const std::string& name,
                const std::string& port, const httplib::Request& req, httplib::Response& res);

// "/a b/c" -> "/a%20b/c": percent-encodes all but unreserved characters and '/'.
std::string encode_url_path(const std::string& path);

// Raw request-target bytes made fit for a Location header: controls, space,
// DEL and bytes >= 0x80 percent-encoded ("?a\rb" -> "?a%0Db"), everything else
// (escapes included) kept as sent. cpp-httplib passes such bytes through in a
// target, and set_redirect drops a Location with CR or LF.
std::string encode_raw_target(std::string_view raw);

}  // namespace hostless
