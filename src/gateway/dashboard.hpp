// The dashboard's files (src/gateway/dashboard/), compiled into the binary so
// it works offline and fetches nothing from elsewhere; and what its sign-in
// sessions may call (dashboard.cpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace httplib {
struct Request;
}  // namespace httplib

namespace hostless {

struct EmbeddedFile {
  std::string_view path;  // URL path on the bare host, e.g. "/dashboard.js"
  std::string_view content_type;
  std::string_view body;
};

const std::vector<EmbeddedFile>& dashboard_files();

namespace detail {

// What a dashboard session key may call: what the dashboard does (list,
// watch jobs, mirror and unmirror, follow and unfollow, block and unblock, parse an
// address, post to a feed this node publishes: named by its address, with no
// attachments). Publishing a folder,
// `get` into a folder, resolving, torrents and login codes need the API
// token, so a stolen session key cannot read or write the user's files.
bool dashboard_call(const std::string& method, const std::string& path);

// The key in a request's "Authorization: Bearer KEY" header ("" if none).
std::string bearer(const httplib::Request& req);

}  // namespace detail

}  // namespace hostless
