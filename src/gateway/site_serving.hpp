// Serving a site like a web server: <address>.localhost requests become
// lookups in the site's file list and reads of verified bytes.
#pragma once

#include <chrono>
#include <string>

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
};

void serve_site(SiteService& service, const SiteServingOptions& options, const std::string& address,
                const httplib::Request& req, httplib::Response& res);

// "/a b/c" -> "/a%20b/c": percent-encodes all but unreserved characters and '/'.
std::string encode_url_path(const std::string& path);

}  // namespace hostless
