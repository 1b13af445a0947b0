// Serving a site like a web server: <address>.localhost requests become
// lookups in the site's file list and reads of verified bytes.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/service.hpp"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace hostless {

struct SiteServingOptions {
  // How long a non-browser client waits for a cold site, and any client for
  // the next piece of a file, before the gateway gives up.
  std::chrono::milliseconds timeout{30000};
  // Let another site's page make the node fetch (and so seed) a site the user
  // never opened, by embedding or loading it. Off: such requests get 403.
  bool allow_embedded_sites = false;
};

void serve_site(SiteService& service, const SiteServingOptions& options, const std::string& address,
                const httplib::Request& req, httplib::Response& res);

// "/a b/c" -> "/a%20b/c": percent-encodes all but unreserved characters and '/'.
std::string encode_url_path(const std::string& path);

// Raw request-target bytes made fit for a Location header: controls, space,
// DEL and bytes >= 0x80 percent-encoded ("?a\rb" -> "?a%0Db"), everything else
// (escapes included) kept as sent. cpp-httplib passes such bytes through in a
// target, and set_redirect drops a Location with CR or LF.
std::string encode_raw_target(std::string_view raw);

}  // namespace hostless
