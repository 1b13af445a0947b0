// The gateway's server: where it listens, and which Host gets what (sites,
// names, the bare host's dashboard and control API, refusals).
#include "gateway/server.hpp"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "gateway/connections.hpp"
#include "gateway/dashboard.hpp"
#include "gateway/errors.hpp"
#include "gateway/http_rules.hpp"
#include "gateway/site_serving.hpp"
#include "protocol/address.hpp"

namespace hostless {

namespace {

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
  std::string host = ascii_lower(strip_port(host_header));
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
      Caller who = caller(detail::bearer(req));
      if (who == Caller::kNobody) {
        send_error(res, 401, "missing or wrong API token (see <home>/api-token)");
        return httplib::Server::HandlerResponse::Handled;
      }
      if (who == Caller::kSession && !detail::dashboard_call(req.method, req.path)) {
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

  install_api();
}

}  // namespace hostless
