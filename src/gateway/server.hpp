// The gateway: one HTTP server on 127.0.0.1:<port> that serves sites by Host
// (<address>.localhost), and on the bare host (localhost, 127.0.0.1, [::1])
// the dashboard and the control API under /api/v1/. Any other Host is refused
// (DNS rebinding). Depends on the node only through SiteService.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "gateway/site_serving.hpp"
#include "sites/service.hpp"
#include "util/result.hpp"

namespace httplib {
struct Request;
}  // namespace httplib

namespace hostless {
namespace detail {
class GuardedServer;
}

struct GatewayOptions {
  std::string host = "127.0.0.1";
  int port = 8420;
  std::string api_token;  // the bearer token every /api/v1/ call must carry
  std::chrono::milliseconds timeout{30000};
  // See SiteServingOptions::allow_embedded_sites.
  bool allow_embedded_sites = false;
  // A dashboard session key unused this long is forgotten (signed out).
  std::chrono::seconds session_idle{1800};
  // Worker threads. A connection holds one only while a request is under way
  // (a whole head arrived); idle keep-alive and slow connections wait in one
  // epoll thread (gateway/connections.hpp). A streaming response holds its
  // worker until done.
  int threads = 64;
};

// What kind of request a Host header names.
// kName: <name>.localhost, a name of a site (sites/names.hpp), not an address.
enum class HostKind { kControl, kSite, kName, kForeign };
struct HostRoute {
  HostKind kind = HostKind::kForeign;
  std::string address;  // for kSite: the 52-character address; kName: the name
};
HostRoute route_host(const std::string& host_header);

// Thread-safety: start(), stop() and the destructor are called from one
// thread (the daemon's). Requests are served on the gateway's own threads (an
// epoll reader and a pool of workers, connections.hpp), which call the SiteService
// concurrently; stop() returns once they have all ended, so the service may
// be destroyed after it.
class Gateway {
 public:
  Gateway(SiteService& service, GatewayOptions options);
  ~Gateway();
  // Binds and starts serving on a background thread; fails clearly when the
  // port is taken. A loopback host (127.0.0.1, localhost, ::1) and 0.0.0.0
  // listen on [::1] as well, and either address being taken is a failure; a
  // host without IPv6 loopback at all gets IPv4 only and a notice().
  Status start();
  void stop();
  int port() const { return port_; }
  // After start(): something the user should know about how it listens, or "".
  const std::string& notice() const { return notice_; }

 private:
  // Host routing and the redirect /s/<address>/ (server.cpp), then the
  // dashboard's and the API's routes, in that order.
  void install_routes();
  // The control API under /api/v1/ (api.cpp).
  void install_api();
  // The port the browser used to reach the gateway (its Host header's, when
  // that is a port number), for redirects.
  std::string browser_port(const httplib::Request& req) const;
  // The dashboard's files and its sign-in (dashboard.cpp).
  void install_dashboard();
  enum class Caller { kNobody, kToken, kSession };
  // Who holds `bearer`: the API token, a live dashboard session key (its
  // idle time starts again), or nobody.
  Caller caller(const std::string& bearer);
  SiteService& service_;
  GatewayOptions options_;
  std::unique_ptr<detail::GuardedServer> server_;
  std::thread thread_;
  int port_ = 0;
  std::string notice_;
  OpenNonces nonces_;  // the "Open this site?" page's buttons

  // Dashboard sign-in: `hostless dashboard` gets a one-time code (API token
  // required); the page trades it for a session key, which can do only what
  // the dashboard does, lapses after session_idle unused, and is forgotten on
  // restart. At most kMaxSessions live; a new one pushes out the least
  // recently used.
  static constexpr std::size_t kMaxSessions = 16;
  std::mutex auth_mutex_;
  std::map<std::string, std::chrono::steady_clock::time_point> login_codes_;  // -> expiry
  std::map<std::string, std::chrono::steady_clock::time_point> sessions_;     // -> last use
};

}  // namespace hostless
