#include "gateway/server.hpp"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cstdlib>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "gateway/connections.hpp"
#include "gateway/dashboard.hpp"
#include "gateway/http_rules.hpp"
#include "gateway/site_serving.hpp"
#include "protocol/address.hpp"
#include "util/encoding.hpp"

namespace hostless {
using json = nlohmann::json;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Strips an optional ":port" from a Host value ("[::1]:8420" -> "[::1]").
std::string strip_port(const std::string& host) {
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    return close == std::string::npos ? host : host.substr(0, close + 1);
  }
  auto colon = host.rfind(':');
  if (colon == std::string::npos) return host;
  if (host.find(':') != colon) return host;  // bare IPv6 without brackets: invalid anyway
  return host.substr(0, colon);
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  // Bodies echo request bytes (a path, an address as typed) that need not be
  // UTF-8; dump() would throw on them, so they are replaced (U+FFFD).
  res.set_content(body.dump(2, ' ', false, json::error_handler_t::replace) + "\n",
                  "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, json{{"error", message}});
}

// A failure from the service: its kind picks the status (`fallback` when
// unclassified) and is named in the body for clients ("kind").
void send_error(httplib::Response& res, const Error& error, int fallback) {
  json body{{"error", error.message}};
  if (*kind_name(error.kind) != '\0') body["kind"] = kind_name(error.kind);
  send_json(res, http_status(error.kind, fallback), body);
}

bool token_matches(const std::string& given, const std::string& expected) {
  if (given.size() != expected.size() || expected.empty()) return false;
  return sodium_memcmp(given.data(), expected.data(), expected.size()) == 0;
}

// True when something already listens on host:port. cpp-httplib binds with
// SO_REUSEPORT, which would let a second daemon share a port in use, and a
// test bind would also trip over a restarted daemon's TIME_WAIT connections;
// a connection attempt asks the question we mean.
bool someone_listens(const std::string& host, int port) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  std::string target = host == "0.0.0.0" ? "127.0.0.1" : host == "::" ? "::1" : host;
  if (inet_pton(AF_INET, target.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, target.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    len = sizeof *v6;
  } else {
    return false;  // a host name: let the real bind decide
  }
  int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0;
  ::close(fd);
  return connected;
}

bool is_loopback_host(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host == "[::1]";
}

// A listening socket on [::1]:port (IPv6 only, no SO_REUSEPORT: nobody else
// can share it). `unavailable`: this host has no IPv6 loopback at all.
struct V6Listener {
  int fd = -1;
  bool unavailable = false;
  std::string error;
};

V6Listener listen_v6_loopback(int port) {
  V6Listener r;
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    r.unavailable = errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT;
    r.error = std::strerror(errno);
    return r;
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // a restart's TIME_WAIT
  ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(static_cast<std::uint16_t>(port));
  addr.sin6_addr = in6addr_loopback;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd, SOMAXCONN) != 0) {
    r.unavailable = errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT;
    r.error = std::strerror(errno);
    ::close(fd);
    return r;
  }
  r.fd = fd;
  return r;
}

// 128 random bits, hex.
std::string random_key() {
  std::uint8_t bytes[16];
  randombytes_buf(bytes, sizeof bytes);
  return to_hex(bytes);
}

constexpr auto kLoginCodeLifetime = std::chrono::minutes(2);

// What a dashboard session key may call: what the dashboard does (list,
// watch jobs, mirror and unmirror, follow and unfollow, block and unblock, parse an
// address, post to a feed this node publishes: named by its address, with no
// attachments). Publishing a folder,
// `get` into a folder, resolving, torrents and login codes need the API
// token, so a stolen session key cannot read or write the user's files.
bool dashboard_call(const std::string& method, const std::string& path) {
  if (method == "GET") {
    return path == "/api/v1/status" || path == "/api/v1/sites" || path == "/api/v1/address" ||
           path == "/api/v1/following" || path == "/api/v1/timeline" || path == "/api/v1/network" ||
           path == "/api/v1/names" || path.rfind("/api/v1/jobs/", 0) == 0;
  }
  return method == "POST" &&
         (path == "/api/v1/mirror" || path == "/api/v1/unmirror" || path == "/api/v1/follow" ||
          path == "/api/v1/unfollow" || path == "/api/v1/block" || path == "/api/v1/unblock" ||
          path == "/api/v1/post");
}

// The key in a request's "Authorization: Bearer KEY" header ("" if none).
std::string bearer(const httplib::Request& req) {
  std::string auth = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  return auth.rfind(prefix, 0) == 0 ? auth.substr(prefix.size()) : "";
}

// The largest request body the control API takes: its JSON bodies are a few
// hundred bytes (a folder path, an address). Sites take none.
constexpr std::size_t kMaxApiBody = 16 << 10;

detail::ConnectionLimits connection_limits(int workers) {
  detail::ConnectionLimits limits;
  limits.workers = workers;
  limits.max_body = [](std::string_view host) {
    return route_host(std::string(host)).kind == HostKind::kControl ? kMaxApiBody : 0;
  };
  limits.body_buffer = kMaxApiBody;
  return limits;
}

}  // namespace

std::string Gateway::browser_port(const httplib::Request& req) const {
  std::string host = req.get_header_value("Host");
  if (auto colon = host.rfind(':'); colon != std::string::npos && host.back() != ']') {
    // The port the browser used (behind a port forward it is not ours), if
    // it is one: "localhost:@evil.example" must not redirect elsewhere.
    std::string given_port = host.substr(colon + 1);
    if (!given_port.empty() && given_port.size() <= 5 &&
        std::all_of(given_port.begin(), given_port.end(),
                    [](unsigned char c) { return std::isdigit(c); })) {
      return given_port;
    }
  }
  return std::to_string(port_);
}

HostRoute route_host(const std::string& host_header) {
  std::string host = lower(strip_port(host_header));
  if (!host.empty() && host.back() == '.') host.pop_back();
  if (host == "localhost" || host == "127.0.0.1" || host == "[::1]") {
    return {HostKind::kControl, ""};
  }
  const std::string suffix = ".localhost";
  if (host.size() == SiteAddress::kLength + suffix.size() &&
      host.compare(SiteAddress::kLength, suffix.size(), suffix) == 0) {
    auto addr = SiteAddress::parse(host.substr(0, SiteAddress::kLength));
    if (addr) return {HostKind::kSite, addr->str()};
  }
  if (host.size() > suffix.size() &&
      host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0) {
    std::string label = host.substr(0, host.size() - suffix.size());
    if (auto name = parse_site_name(label); name && *name == label) return {HostKind::kName, *name};
  }
  return {HostKind::kForeign, ""};
}

Gateway::Gateway(SiteService& service, GatewayOptions options)
    : service_(service),
      options_(std::move(options)),
      server_(std::make_unique<detail::GuardedServer>(connection_limits(options_.threads))) {}

Gateway::~Gateway() {
  stop();
}

void Gateway::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  if (server_) server_->stop_connections();
}

Status Gateway::start() {
  server_->set_tcp_nodelay(true);
  server_->set_keep_alive_max_count(1000);
  server_->set_keep_alive_timeout(10);
  server_->set_read_timeout(30, 0);
  server_->set_payload_max_length(kMaxApiBody);
  install_routes();
  const std::string port = std::to_string(options_.port);
  // Browsers try [::1] first for localhost and *.localhost: a loopback
  // gateway that left [::1]:port free would let any local user's server there
  // receive the dashboard's sign-in link and every site's origin. So it holds
  // both loopback addresses, and refuses to start when either is taken.
  const bool loopback = is_loopback_host(options_.host);
  const bool with_v6 = loopback || options_.host == "0.0.0.0";
  const std::string v4_host = loopback ? "127.0.0.1" : options_.host;
  V6Listener v6;
  if (with_v6) {
    if (someone_listens("::1", options_.port)) {
      return make_error("cannot listen on [::1]:" + port +
                        " for the gateway: another program listens there, and browsers try "
                        "[::1] first for localhost, so it would get your dashboard and sites; "
                        "stop it, or pick another port with --gateway 127.0.0.1:PORT");
    }
    v6 = listen_v6_loopback(options_.port);
    if (v6.fd < 0 && !v6.unavailable) {
      return make_error("cannot listen on [::1]:" + port + " for the gateway (" + v6.error +
                        "); browsers try [::1] first for localhost, so the gateway needs it: "
                        "free it, or pick another port with --gateway 127.0.0.1:PORT");
    }
    if (v6.fd < 0) {
      notice_ = "this host has no IPv6 loopback ([::1]: " + v6.error +
                "); the gateway listens on 127.0.0.1 only, which is all a browser here can reach";
    }
  }
  if (someone_listens(v4_host, options_.port) || !server_->bind_to_port(v4_host, options_.port)) {
    if (v6.fd >= 0) ::close(v6.fd);
    return make_error("cannot listen on " + v4_host + ":" + port +
                      " for the gateway (port in use?); pick another with --gateway HOST:PORT");
  }
  port_ = options_.port;
  if (v6.fd >= 0) server_->add_listener(v6.fd);
  server_->start_connections();
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return {};
}

void Gateway::install_routes() {
  auto& s = *server_;
  // Every request goes through the Host check first.
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    HostRoute route = route_host(req.get_header_value("Host"));
    if (route.kind == HostKind::kForeign) {
      res.status = 403;
      res.set_content(
          "hostless refuses this Host: only localhost, 127.0.0.1, [::1] and "
          "<address>.localhost are served (DNS rebinding protection)\n",
          "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (route.kind == HostKind::kSite) {
      serve_site(service_,
                 SiteServingOptions{options_.timeout, options_.allow_embedded_sites, &nonces_},
                 route.address, req, res);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (route.kind == HostKind::kName) {
      serve_name(service_, SiteServingOptions{options_.timeout, options_.allow_embedded_sites},
                 route.address, browser_port(req), req, res);
      return httplib::Server::HandlerResponse::Handled;
    }
    // Several ranges of one dashboard file would be answered as a multipart
    // body by cpp-httplib, as large as the ranges asked for (a 6 KB
    // "bytes=0-,0-,..." made 17 MB): the whole file instead.
    if (req.ranges.size() > 1) const_cast<httplib::Request&>(req).ranges.clear();
    if (req.path.rfind("/api/", 0) == 0 && req.path != "/api/v1/session") {
      Caller who = caller(bearer(req));
      if (who == Caller::kNobody) {
        send_error(res, 401, "missing or wrong API token (see <home>/api-token)");
        return httplib::Server::HandlerResponse::Handled;
      }
      if (who == Caller::kSession && !dashboard_call(req.method, req.path)) {
        send_error(res, 403,
                   "a dashboard session cannot do this; use the hostless command (it reads "
                   "<home>/api-token)");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Every answer of the bare host (API, dashboard, redirects, errors) and
  // every refusal: never sniffed into HTML, never framed, loading nothing.
  // (Sites set their own.)
  s.set_post_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (route_host(req.get_header_value("Host")).kind == HostKind::kSite) return;
    if (!res.has_header("X-Content-Type-Options")) {
      res.set_header("X-Content-Type-Options", "nosniff");
    }
    if (!res.has_header("Content-Security-Policy")) {
      res.set_header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
    }
  });

  s.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = std::string("internal error: ") + e.what();
        } catch (...) {
        }
        send_error(res, 500, what);
      });

  install_dashboard();

  // /s/<address>/<path>: the same site in its own origin, <address>.localhost.
  s.Get(R"(/s/([^/]+)(/.*)?)", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string given = req.matches[1];
    auto address = SiteAddress::parse(given);
    if (!address) {
      res.status = 400;
      res.set_content(address.error().message + "\n", "text/plain; charset=utf-8");
      return;
    }
    const std::string port = browser_port(req);
    // The rest of the raw target (still percent-encoded, query included).
    std::string rest = req.target.substr(std::min(req.target.size(), 3 + given.size()));
    if (rest.empty() || rest.front() != '/') rest = "/" + rest;
    res.set_redirect("http://" + address->str() + ".localhost:" + port + encode_raw_target(rest),
                     302);
  });

  s.Get("/api/v1/status", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, service_.status());
  });
  s.Get("/api/v1/sites", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, service_.sites());
  });

  // The body as a JSON object whose `fields`, where present, are strings (so
  // value(field, "") cannot throw); else a 400 and nullopt.
  auto parse_body = [](const httplib::Request& req, httplib::Response& res,
                       std::initializer_list<const char*> fields) -> std::optional<json> {
    auto body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      send_error(res, 400, "the request body must be a JSON object");
      return std::nullopt;
    }
    for (const char* field : fields) {
      if (body.contains(field) && !body[field].is_string()) {
        send_error(res, 400, std::string("\"") + field + "\" must be a string");
        return std::nullopt;
      }
    }
    return body;
  };

  s.Post("/api/v1/publish", [this, parse_body](const httplib::Request& req,
                                               httplib::Response& res) {
    auto body = parse_body(req, res, {"folder", "key"});
    if (!body) return;
    WebSeedsChange web_seeds;
    if (body->contains("web_seeds")) {
      const json& ws = (*body)["web_seeds"];
      if (!ws.is_array() ||
          !std::all_of(ws.begin(), ws.end(), [](const json& u) { return u.is_string(); })) {
        return send_error(res, 400, "\"web_seeds\" must be a list of URLs");
      }
      web_seeds = ws.get<std::vector<std::string>>();
    }
    auto id = service_.start_publish(body->value("folder", ""), body->value("key", ""), web_seeds);
    if (!id) return send_error(res, id.error(), 400);
    send_json(res, 202, json{{"job", *id}});
  });
  s.Post("/api/v1/get", [this, parse_body](const httplib::Request& req, httplib::Response& res) {
    auto body = parse_body(req, res, {"address", "outdir", "info_hash"});
    if (!body) return;
    auto id = service_.start_get(body->value("address", ""), body->value("outdir", ""),
                                 body->value("info_hash", ""));
    if (!id) return send_error(res, id.error(), 400);
    send_json(res, 202, json{{"job", *id}});
  });
  s.Post("/api/v1/export", [this, parse_body](const httplib::Request& req, httplib::Response& res) {
    auto body = parse_body(req, res, {"address", "outdir"});
    if (!body) return;
    auto id = service_.start_export(body->value("address", ""), body->value("outdir", ""));
    if (!id) return send_error(res, id.error(), 400);
    send_json(res, 202, json{{"job", *id}});
  });
  s.Post("/api/v1/mirror", [this, parse_body](const httplib::Request& req, httplib::Response& res) {
    auto body = parse_body(req, res, {"address"});
    if (!body) return;
    auto id = service_.start_mirror(body->value("address", ""));
    if (!id) return send_error(res, id.error(), 400);
    send_json(res, 202, json{{"job", *id}});
  });
  s.Post("/api/v1/unmirror",
         [this, parse_body](const httplib::Request& req, httplib::Response& res) {
           auto body = parse_body(req, res, {"address"});
           if (!body) return;
           auto r = service_.unmirror(body->value("address", ""));
           if (!r) return send_error(res, r.error(), 400);
           send_json(res, 200, *r);
         });
  s.Post("/api/v1/follow", [this, parse_body](const httplib::Request& req, httplib::Response& res) {
    auto body = parse_body(req, res, {"address", "handle"});
    if (!body) return;
    if (body->contains("media") && !(*body)["media"].is_boolean()) {
      return send_error(res, 400, "\"media\" must be true or false");
    }
    auto id = service_.start_follow(body->value("address", ""), body->value("handle", ""),
                                    body->value("media", false));
    if (!id) return send_error(res, id.error(), 400);
    send_json(res, 202, json{{"job", *id}});
  });
  s.Post("/api/v1/post", [this, parse_body](const httplib::Request& req, httplib::Response& res) {
    auto body = parse_body(req, res, {"folder", "address", "key", "text", "delete", "reply_to"});
    if (!body) return;
    PostRequest r;
    r.folder = body->value("folder", "");
    r.address = body->value("address", "");
    r.key_name = body->value("key", "");
    r.text = body->value("text", "");
    r.delete_id = body->value("delete", "");
    r.reply_to = body->value("reply_to", "");
    if (body->contains("attach")) {
      const json& attach = (*body)["attach"];
      if (!attach.is_array() ||
          !std::all_of(attach.begin(), attach.end(), [](const json& a) { return a.is_string(); })) {
        return send_error(res, 400, "\"attach\" must be a list of file paths");
      }
      r.attach = attach.get<std::vector<std::string>>();
    }
    // Only the file token names a folder, a key or files to attach: a
    // dashboard session must not read the user's files into a public site.
    if (caller(bearer(req)) != Caller::kToken &&
        (!r.folder.empty() || !r.key_name.empty() || !r.attach.empty())) {
      return send_error(res, 403,
                        "a dashboard session posts to a feed by its address, without "
                        "attachments; use `hostless post DIR` for those");
    }
    auto id = service_.start_post(r);
    if (!id) return send_error(res, id.error(), 400);
    send_json(res, 202, json{{"job", *id}});
  });
  s.Get("/api/v1/names", [this](const httplib::Request&, httplib::Response& res) {
    auto r = service_.names();
    if (!r) return send_error(res, r.error(), 500);
    send_json(res, 200, *r);
  });
  s.Post("/api/v1/names/set",
         [this, parse_body](const httplib::Request& req, httplib::Response& res) {
           auto body = parse_body(req, res, {"name", "address"});
           if (!body) return;
           if (body->contains("force") && !(*body)["force"].is_boolean()) {
             return send_error(res, 400, "\"force\" must be true or false");
           }
           auto r = service_.set_name(body->value("name", ""), body->value("address", ""),
                                      body->value("force", false));
           if (!r) return send_error(res, r.error(), 400);
           send_json(res, 200, *r);
         });
  s.Post("/api/v1/names/lookup",
         [this, parse_body](const httplib::Request& req, httplib::Response& res) {
           auto body = parse_body(req, res, {"name"});
           if (!body) return;
           auto name = parse_site_name(body->value("name", ""));
           if (!name) return send_error(res, 400, "not a name: " + body->value("name", ""));
           auto r = service_.name_address(*name);
           if (!r) return send_error(res, r.error(), 404);
           send_json(res, 200, json{{"name", *name}, {"address", *r}});
         });
  s.Post("/api/v1/names/remove",
         [this, parse_body](const httplib::Request& req, httplib::Response& res) {
           auto body = parse_body(req, res, {"name"});
           if (!body) return;
           auto r = service_.remove_name(body->value("name", ""));
           if (!r) return send_error(res, r.error(), 400);
           send_json(res, 200, *r);
         });
  s.Post("/api/v1/unfollow",
         [this, parse_body](const httplib::Request& req, httplib::Response& res) {
           auto body = parse_body(req, res, {"feed"});
           if (!body) return;
           auto r = service_.unfollow(body->value("feed", ""));
           if (!r) return send_error(res, r.error(), 400);
           send_json(res, 200, *r);
         });
  for (const bool blocking : {true, false}) {
    s.Post(blocking ? "/api/v1/block" : "/api/v1/unblock",
           [this, parse_body, blocking](const httplib::Request& req, httplib::Response& res) {
             auto body = parse_body(req, res, {"address"});
             if (!body) return;
             const std::string address = body->value("address", "");
             auto r = blocking ? service_.block(address) : service_.unblock(address);
             if (!r) return send_error(res, r.error(), 400);
             send_json(res, 200, *r);
           });
  }
  s.Post("/api/v1/subscribe",
         [this, parse_body](const httplib::Request& req, httplib::Response& res) {
           auto body = parse_body(req, res, {"address"});
           if (!body) return;
           auto id = service_.start_subscribe(body->value("address", ""));
           if (!id) return send_error(res, id.error(), 400);
           send_json(res, 202, json{{"job", *id}});
         });
  s.Post("/api/v1/unsubscribe",
         [this, parse_body](const httplib::Request& req, httplib::Response& res) {
           auto body = parse_body(req, res, {"address"});
           if (!body) return;
           auto r = service_.unsubscribe(body->value("address", ""));
           if (!r) return send_error(res, r.error(), 400);
           send_json(res, 200, *r);
         });
  s.Get("/api/v1/blocklists", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, service_.blocklists());
  });
  s.Get("/api/v1/network", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, service_.network());
  });
  s.Get("/api/v1/following", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, service_.following());
  });
  s.Get("/api/v1/timeline", [this](const httplib::Request& req, httplib::Response& res) {
    std::size_t limit = 50;
    if (req.has_param("limit")) {
      const std::string v = req.get_param_value("limit");
      char* end = nullptr;
      const unsigned long n = std::strtoul(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 1 || n > 1000) {
        return send_error(res, 400, "limit must be a number from 1 to 1000");
      }
      limit = n;
    }
    send_json(res, 200, service_.timeline(limit));
  });
  s.Get(R"(/api/v1/jobs/([A-Za-z0-9_-]+))",
        [this](const httplib::Request& req, httplib::Response& res) {
          auto j = service_.job(req.matches[1]);
          if (!j) return send_error(res, 404, "no such job");
          send_json(res, 200, *j);
        });
  s.Get("/api/v1/resolve", [this](const httplib::Request& req, httplib::Response& res) {
    auto timeout = options_.timeout;
    if (req.has_param("timeout_ms")) {
      auto ms = parse_timeout_ms(req.get_param_value("timeout_ms"));
      if (!ms) return send_error(res, ms.error(), 400);
      timeout = std::chrono::milliseconds(*ms);
    }
    auto r = service_.resolve(req.get_param_value("address"), timeout);
    if (!r) return send_error(res, r.error(), 404);
    send_json(res, 200, *r);
  });
  s.Get("/api/v1/address", [this](const httplib::Request& req, httplib::Response& res) {
    auto parsed = parse_address_and_path(req.get_param_value("q"));
    if (!parsed) return send_error(res, parsed.error(), 400);
    std::string port = std::to_string(port_);
    send_json(
        res, 200,
        json{{"address", parsed->address.str()},
             {"path", parsed->path},
             {"url", "http://" + parsed->address.str() + ".localhost:" + port + parsed->path}});
  });
  s.Get("/api/v1/torrent", [this](const httplib::Request& req, httplib::Response& res) {
    // form=v1: the v1 twin; format=json: {"info_hash", "magnet"} instead of
    // the bytes.
    const std::string form = req.get_param_value("form");
    if (form != "" && form != "hybrid" && form != "v1") {
      return send_error(res, 400, "form must be hybrid or v1");
    }
    auto r = service_.torrent(req.get_param_value("address"),
                              form == "v1" ? TorrentForm::kV1 : TorrentForm::kHybrid);
    if (!r) return send_error(res, r.error(), 404);
    if (req.get_param_value("format") == "json") {
      return send_json(res, 200, json{{"info_hash", r->info_hash}, {"magnet", r->magnet}});
    }
    res.set_content(r->bytes, "application/x-bittorrent");
  });
}

Gateway::Caller Gateway::caller(const std::string& bearer) {
  if (token_matches(bearer, options_.api_token)) return Caller::kToken;
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(auth_mutex_);
  std::erase_if(sessions_, [&](const auto& s) { return now - s.second > options_.session_idle; });
  for (auto& [key, last_used] : sessions_) {
    if (token_matches(bearer, key)) {
      last_used = now;
      return Caller::kSession;
    }
  }
  return Caller::kNobody;
}

void Gateway::install_dashboard() {
  auto& s = *server_;
  for (const auto& file : dashboard_files()) {
    s.Get(std::string(file.path), [file](const httplib::Request&, httplib::Response& res) {
      // Only its own files, never framed (no clickjacking of its buttons by a
      // site), nothing cached, no referrer.
      res.set_header("Content-Security-Policy",
                     "default-src 'none'; script-src 'self'; style-src 'self'; "
                     "connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                     "base-uri 'none'; form-action 'none'");
      res.set_header("X-Frame-Options", "DENY");
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Referrer-Policy", "no-referrer");
      res.set_header("Cache-Control", "no-store");
      res.set_content(std::string(file.body), std::string(file.content_type));
    });
  }

  // A one-time code for `hostless dashboard` (the API token is required).
  s.Post("/api/v1/login-codes", [this](const httplib::Request&, httplib::Response& res) {
    std::string code = random_key();
    {
      std::lock_guard lock(auth_mutex_);
      auto now = std::chrono::steady_clock::now();
      std::erase_if(login_codes_, [now](const auto& c) { return c.second < now; });
      login_codes_[code] = now + kLoginCodeLifetime;
    }
    send_json(res, 201,
              json{{"code", code},
                   {"url", "http://localhost:" + std::to_string(port_) + "/#login=" + code},
                   {"expires_in", std::chrono::seconds(kLoginCodeLifetime).count()}});
  });
  // The dashboard trades the code for a session key (no token needed: the
  // code is the credential, and it works once).
  s.Post("/api/v1/session", [this](const httplib::Request& req, httplib::Response& res) {
    // Only the dashboard's own page trades a code: a form or a no-cors POST
    // from another page (which could spend the user's code) sends another
    // Origin, Sec-Fetch-Site or Content-Type.
    std::string origin = lower(req.get_header_value("Origin"));
    std::string site = req.get_header_value("Sec-Fetch-Site");
    if ((!origin.empty() && origin != "http://" + lower(req.get_header_value("Host"))) ||
        (!site.empty() && site != "same-origin")) {
      return send_error(res, 403, "sign in from the dashboard's own page");
    }
    if (lower(req.get_header_value("Content-Type")).rfind("application/json", 0) != 0) {
      return send_error(res, 415, "the body must be JSON (Content-Type: application/json)");
    }
    auto body = json::parse(req.body, nullptr, false);
    std::string code = body.is_object() && body.contains("code") && body["code"].is_string()
                           ? body["code"].get<std::string>()
                           : "";
    std::string key;
    {
      std::lock_guard lock(auth_mutex_);
      auto it = login_codes_.find(code);
      auto now = std::chrono::steady_clock::now();
      if (it != login_codes_.end() && it->second >= now) {
        key = random_key();
        std::erase_if(sessions_,
                      [&](const auto& s) { return now - s.second > options_.session_idle; });
        while (sessions_.size() >= kMaxSessions) {
          sessions_.erase(
              std::min_element(sessions_.begin(), sessions_.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; }));
        }
        sessions_[key] = now;
      }
      if (it != login_codes_.end()) login_codes_.erase(it);
    }
    if (key.empty()) {
      return send_error(res, 403,
                        "this login code is unknown, used or expired: run `hostless dashboard` "
                        "again");
    }
    send_json(res, 201, json{{"token", key}});
  });
}

}  // namespace hostless
