#include "gateway/site_serving.hpp"

#include <httplib.h>
#include <sodium.h>

#include <algorithm>
#include <memory>

#include "util/encoding.hpp"

#include "gateway/errors.hpp"
#include "gateway/http_rules.hpp"
#include "protocol/address.hpp"

namespace hostless {
namespace {

constexpr std::size_t kChunk = 1 << 20;  // bytes read per call while streaming
// A browser asking for a page that is still arriving waits this long before
// it gets the progress page instead.
constexpr std::chrono::milliseconds kPageGrace{1500};

bool wants_html(const httplib::Request& req) {
  return req.get_header_value("Accept").find("text/html") != std::string::npos;
}

void common_headers(httplib::Response& res) {
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
}

void plain_page(httplib::Response& res, int status, const std::string& title,
                const std::string& text) {
  common_headers(res);
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  // Made by the gateway on a site's origin: it loads nothing, not even the
  // favicon, which the browser would ask this origin for as "same-origin".
  res.set_header("Content-Security-Policy",
                 "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
  res.set_content("<!doctype html><meta charset=utf-8><title>" + html_escape(title) +
                      "</title><h1>" + html_escape(title) + "</h1><p>" + html_escape(text) +
                      "</p>\n",
                  "text/html; charset=utf-8");
}

// What a browser sees while a site it has never visited is being fetched:
// it reloads itself every second until the site is there.
void progress_page(httplib::Response& res, const std::string& address, const std::string& stage,
                   int percent) {
  common_headers(res);
  res.status = 503;
  res.set_header("Retry-After", "1");
  res.set_header("Cache-Control", "no-store");
  std::string bar = percent >= 0 ? "<progress max=100 value=" + std::to_string(percent) +
                                       "></progress> " + std::to_string(percent) + "%"
                                 : "<progress></progress>";
  res.set_content(
      "<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=1>"
      "<meta name=viewport content='width=device-width'><title>Opening site…</title>"
      "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:15vh auto;"
      "padding:0 1em;color:#222}code{word-break:break-all;color:#555}"
      "progress{width:100%}</style>"
      "<h1>Opening site…</h1><p><code>" +
          html_escape(address) + "</code></p><p id=stage>" + html_escape(stage) + "</p>" + bar +
          "<p><small>hostless is fetching this site from the people who host it. "
          "This page turns into the site when it is ready.</small></p>\n",
      "text/html; charset=utf-8");
}

// Headers for a page that must never be framed: a frame would let another
// page dress a click on it up as something else.
void never_framed(httplib::Response& res) {
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Content-Security-Policy",
                 "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                 "frame-ancestors 'none'; base-uri 'none'");
  res.set_header("Cache-Control", "no-store");
}

// Another site's page loads this site (image, script, frame, fetch): one
// answer whatever the node holds, before anything is looked up, so the page
// learns nothing of which sites the user has opened and starts no lookup.
void refuse_embedded(httplib::Response& res) {
  common_headers(res);
  never_framed(res);
  res.status = 403;
  res.set_content("hostless: another site's page may not load this site\n",
                  "text/plain; charset=utf-8");
}

// Another site's page sends the visitor to a site not opened here before:
// one click on this page, on the site's own origin, opens it.
void open_page(httplib::Response& res, const SiteServingOptions& options,
               const std::string& address, const std::string& path) {
  common_headers(res);
  never_framed(res);
  res.status = 403;
  std::string button = "<p>To open it, type its address into the address bar.</p>";
  if (options.nonces) {
    std::string action = std::string(kOpenPath) + "?nonce=" + options.nonces->issue(address) +
                         "&path=" + encode_url_path(path);
    button = "<form method=post action=\"" + html_escape(action) +
             "\"><button type=submit>Open it</button></form>";
  }
  res.set_content(
      "<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>"
      "<title>Open this site?</title>"
      "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:15vh auto;"
      "padding:0 1em;color:#222}code{word-break:break-all;color:#555}"
      "button{font:inherit;padding:.4em 1.2em}</style>"
      "<h1>Open this site?</h1><p>Another page is sending you to <code>" +
          html_escape(address) +
          "</code>, a hostless site you have not opened on this computer.</p>"
          "<p>Opening it downloads the site from the people who host it and shares it with "
          "others while you keep it; they can see your IP address.</p>" +
          button + "\n",
      "text/html; charset=utf-8");
}

// POST kOpenPath?nonce=..&path=..: the "Open it" button. Starts the visit and
// sends the browser to the page it was going to.
void open_site(SiteService& service, const SiteServingOptions& options, const std::string& address,
               const httplib::Request& req, httplib::Response& res) {
  const std::string site = req.get_header_value("Sec-Fetch-Site");
  auto target = normalise_path(req.get_param_value("path"));
  if (!options.nonces || (!site.empty() && site != "same-origin") || !target ||
      !options.nonces->redeem(address, req.get_param_value("nonce"))) {
    never_framed(res);
    return plain_page(res, 403, "This link has expired",
                      "It was used already, is too old, or came from another page. Go back "
                      "and load the page again, or type the site's address.");
  }
  std::string path = target->path;
  if (target->trailing_slash) path = path.empty() ? "index.html" : path + "/index.html";
  (void)service.visit(address, path);
  std::string location = encode_url_path("/" + target->path);
  if (target->trailing_slash && !target->path.empty()) location += "/";
  common_headers(res);
  res.set_header("Cache-Control", "no-store");
  res.set_redirect(location, 303);
}

void send_file(SiteService& service, const SiteServingOptions& options, const httplib::Request& req,
               httplib::Response& res, const std::shared_ptr<const SiteVersion>& version,
               const std::string& path, const ServedFile& file, int status) {
  common_headers(res);
  res.set_header("ETag", file.etag);
  res.set_header("Cache-Control", "no-cache");  // versions change; the ETag revalidates
  res.set_header("Accept-Ranges", "bytes");
  std::string type(mime_type(path));
  // The Range and ETag rules apply to the file itself, not to a 404 page.
  std::uint64_t first = 0;
  std::uint64_t length = file.size;
  if (status == 200) {
    if (req.has_header("If-None-Match") &&
        etag_matches(req.get_header_value("If-None-Match"), file.etag)) {
      res.status = 304;
      return;
    }
    bool range_applies =
        !req.has_header("If-Range") || req.get_header_value("If-Range") == file.etag;
    RangeRequest range = range_applies && req.has_header("Range")
                             ? parse_range(req.get_header_value("Range"), file.size)
                             : RangeRequest{};
    if (range.kind == RangeKind::kUnsatisfiable) {
      res.status = 416;
      res.set_header("Content-Range", "bytes */" + std::to_string(file.size));
      return;
    }
    if (range.kind == RangeKind::kSatisfiable) {
      status = 206;
      first = range.range.first;
      length = range.range.last - range.range.first + 1;
      res.set_header("Content-Range", "bytes " + std::to_string(range.range.first) + "-" +
                                          std::to_string(range.range.last) + "/" +
                                          std::to_string(file.size));
    }
  }
  res.status = status;
  if (length == 0) {
    res.set_content("", type);
    return;
  }
  auto timeout = options.timeout;
  res.set_content_provider(length, type,
                           [&service, version, file, first, timeout](
                               std::size_t offset, std::size_t left, httplib::DataSink& sink) {
                             auto data = service.read(*version, file, first + offset,
                                                      std::min(left, kChunk), timeout);
                             if (!data || data->empty())
                               return false;  // closes the connection: never a short body
                             return sink.write(data->data(), data->size());
                           });
}

}  // namespace

std::string encode_raw_target(std::string_view raw) {
  return percent_encode_if(raw, [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}

std::string encode_url_path(const std::string& path) {
  return percent_encode_if(path, [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
  });
}

void serve_site(SiteService& service, const SiteServingOptions& options, const std::string& address,
                const httplib::Request& req, httplib::Response& res) {
  // The gateway answers Range itself (206/416, ETag, If-Range); cpp-httplib
  // would otherwise slice the body a second time. The Request is the server's
  // own non-const object, handed to handlers as const.
  const_cast<httplib::Request&>(req).ranges.clear();

  // Only other sites' pages need this: a hostless site that embeds others
  // needs --allow-embedded-sites, since each <address>.localhost is a site of
  // its own to the browser.
  if (!options.allow_embedded_sites) {
    res.set_header("Cross-Origin-Resource-Policy", "same-site");
  }
  if (req.method == "POST" && req.path == kOpenPath) {
    return open_site(service, options, address, req, res);
  }
  if (req.method != "GET" && req.method != "HEAD") {
    res.set_header("Allow", "GET, HEAD");
    return plain_page(res, 405, "Method not allowed", "Sites are read-only: use GET or HEAD.");
  }

  // No service workers: a worker answers for its origin without asking the
  // gateway, so it would outlive everything the node decides about the site
  // (a newer version, a block, a blocklist, the site being dropped). A
  // browser fetches a worker's script with `Service-Worker: script` (and
  // Sec-Fetch-Dest: serviceworker); refusing it makes register() reject.
  if (req.has_header("Service-Worker") ||
      req.get_header_value("Sec-Fetch-Dest") == "serviceworker") {
    return plain_page(res, 403, "Service workers are off",
                      "hostless sites cannot install service workers: the node serves every "
                      "request itself, so a site's updates and blocks always apply.");
  }

  // Drive-by seeding and history sniffing: another site's page must neither
  // make this node fetch (and so seed) a site, nor learn which sites the
  // user holds. Decided before visit(), which would start a fetch.
  FetchOrigin origin =
      fetch_origin(req.get_header_value("Sec-Fetch-Site"), req.get_header_value("Sec-Fetch-Mode"),
                   req.get_header_value("Sec-Fetch-Dest"), req.get_header_value("Sec-Fetch-User"));
  if (origin == FetchOrigin::kEmbedded && !options.allow_embedded_sites) {
    return refuse_embedded(res);
  }
  // A site not opened here: another site's page sending the visitor to it
  // gets "Open this site?", before its path is judged (any other answer is
  // a page on the site's origin). And since such a site has no page of its
  // own in the browser yet, a same-origin load of it that is not a
  // navigation (the favicon of one of the gateway's own pages, say) does
  // not open it either.
  const bool navigation = origin == FetchOrigin::kNavigation;
  const bool same_origin_load = req.get_header_value("Sec-Fetch-Site") == "same-origin" &&
                                req.get_header_value("Sec-Fetch-Mode") != "navigate";
  auto site_path = normalise_path(req.target);
  if (!options.allow_embedded_sites && (navigation || same_origin_load) &&
      !service.knows(address)) {
    if (!navigation) return refuse_embedded(res);
    return open_page(res, options, address,
                     site_path
                         ? "/" + site_path->path +
                               (site_path->trailing_slash && !site_path->path.empty() ? "/" : "")
                         : "/");
  }
  if (!site_path) return plain_page(res, 400, "Bad request", site_path.error().message);

  std::string path = site_path->path;
  if (site_path->trailing_slash) path = path.empty() ? "index.html" : path + "/index.html";
  const bool browser = wants_html(req);
  VisitState visit =
      browser ? service.visit(address, path) : service.wait_visit(address, path, options.timeout);
  if (!visit.ready()) {
    if (visit.stage == "failed") {
      return plain_page(res, http_status(visit.error_kind, 504), "This site could not be opened",
                        visit.error);
    }
    if (browser) return progress_page(res, address, visit.stage, -1);
    auto secs = std::to_string(options.timeout.count() / 1000);
    return plain_page(res, 504, "This site is not reachable yet",
                      "still " + visit.stage + " after " + secs + " s; try again later");
  }
  const auto& version = visit.version;

  const ServedFile* file = version->find(path);
  if (!file && !site_path->trailing_slash && version->is_directory(path)) {
    std::string location = encode_url_path("/" + site_path->path + "/");
    auto q = req.target.find('?');
    if (q != std::string::npos) location += encode_raw_target(req.target.substr(q));
    res.set_redirect(location, 301);
    common_headers(res);
    return;
  }
  if (!file) {
    if (const ServedFile* page = version->find("404.html")) {
      return send_file(service, options, req, res, version, "404.html", *page, 404);
    }
    return plain_page(res, 404, "Not found", "This site has no page at /" + site_path->path + ".");
  }

  // A browser opening a page that is not here yet gets the progress page
  // rather than a blank wait (assets and other clients stream instead).
  if (browser && req.method == "GET" && mime_type(path).rfind("text/html", 0) == 0 &&
      service.bytes_have(*version, *file) < file->size) {
    (void)service.read(*version, *file, 0, 1, kPageGrace);  // asks for it first
    std::uint64_t have = service.bytes_have(*version, *file);
    if (have < file->size) {
      return progress_page(res, address, "downloading",
                           static_cast<int>(100 * have / std::max<std::uint64_t>(file->size, 1)));
    }
  }
  send_file(service, options, req, res, version, path, *file, 200);
}

std::string OpenNonces::issue(const std::string& address) {
  std::uint8_t bytes[16];
  randombytes_buf(bytes, sizeof bytes);
  std::string nonce = to_hex(bytes);
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  std::erase_if(nonces_, [now](const auto& n) { return n.second.expires < now; });
  while (nonces_.size() >= kMax) {
    auto oldest = std::min_element(
        nonces_.begin(), nonces_.end(),
        [](const auto& a, const auto& b) { return a.second.expires < b.second.expires; });
    nonces_.erase(oldest);
  }
  nonces_[nonce] = Entry{address, now + kLifetime};
  return nonce;
}

bool OpenNonces::redeem(const std::string& address, const std::string& nonce) {
  std::lock_guard lock(mutex_);
  auto it = nonces_.find(nonce);
  if (it == nonces_.end()) return false;
  bool ok = it->second.address == address && it->second.expires >= std::chrono::steady_clock::now();
  nonces_.erase(it);
  return ok;
}

namespace {

// A request target as a path on the same host: "/" for anything else
// ("//evil.example/" would be another host's URL), escaped for a Location.
std::string same_site_target(const std::string& target) {
  std::size_t start = target.find_first_not_of('/');
  if (target.empty() || target.front() != '/') return "/";
  return "/" + encode_raw_target(start == std::string::npos ? "" : target.substr(start));
}

}  // namespace

void serve_name(SiteService& service, const SiteServingOptions& options, const std::string& name,
                const std::string& port, const httplib::Request& req, httplib::Response& res) {
  if (req.method != "GET" && req.method != "HEAD") {
    res.set_header("Allow", "GET, HEAD");
    return plain_page(res, 405, "Method not allowed", "Sites are read-only: use GET or HEAD.");
  }
  // Another site's page loading a name would make the node look it up (a DNS
  // query anyone on the path sees): refused as it is for addresses.
  FetchOrigin origin =
      fetch_origin(req.get_header_value("Sec-Fetch-Site"), req.get_header_value("Sec-Fetch-Mode"),
                   req.get_header_value("Sec-Fetch-Dest"), req.get_header_value("Sec-Fetch-User"));
  if (origin == FetchOrigin::kEmbedded && !options.allow_embedded_sites) {
    return refuse_embedded(res);
  }
  // Nor may it send the visitor there unasked: one click on the name's own
  // origin (a same-origin navigation) looks it up.
  if (origin == FetchOrigin::kNavigation && is_dns_name(name) && !options.allow_embedded_sites) {
    common_headers(res);
    never_framed(res);
    res.status = 403;
    res.set_content(
        "<!doctype html><meta charset=utf-8><title>Open this name?</title><h1>Open " +
            html_escape(name) +
            "?</h1><p>Another page is sending you to this DNS name. Opening it asks DNS "
            "which hostless site it names.</p><p><a href=\"" +
            html_escape(same_site_target(req.target)) + "\">Open it</a></p>\n",
        "text/html; charset=utf-8");
    return;
  }
  auto address = service.name_address(name);
  if (!address) {
    return plain_page(res, http_status(address.error().kind, 502), "This name opens no site",
                      address.error().message);
  }
  // A name may move to another site: the browser asks again every time.
  res.set_header("Cache-Control", "no-store");
  res.set_redirect("http://" + *address + ".localhost:" + port + same_site_target(req.target), 307);
}

}  // namespace hostless
