// hostless daemon: runs the node (libtorrent session) and the gateway
// (control API + sites) in one process until SIGINT/SIGTERM (SIGHUP saves
// its state and runs on).
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/context.hpp"
#include "gateway/server.hpp"
#include "node/node.hpp"
#include "sites/sites.hpp"
#include "store/catalog.hpp"
#include "store/home.hpp"
#include "util/encoding.hpp"

namespace hostless::cli {
namespace fs = std::filesystem;

namespace {

struct DaemonArgs {
  std::string gateway = "127.0.0.1:8420";
  std::string listen = "0.0.0.0:6881,[::]:6881";
  std::string bootstrap;
  bool lan = false;
  bool no_lsd = false;
  bool allow_embedded_sites = false;
  bool allow_root = false;
  bool allow_remote_gateway = false;
  int gateway_timeout_s = 30;
  int republish_interval_s = 1800;
  int dht_item_lifetime_s = 0;
  int upload_limit_kib = 0;
  int refresh_interval_s = 60;
  int mirror_interval_s = 300;
  int version_grace_s = 600;
  int cache_mib = 1024;
  int site_cache_mib = 256;
  int follow_max_mib = 64;
  int session_idle_s = 1800;
};

// Holds <home>/daemon.lock for the life of the process: one daemon per home.
Result<int> lock_home(const fs::path& home) {
  fs::path lock = home / "daemon.lock";
  int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return make_error("cannot open " + lock.string() + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    std::string who;
    std::ifstream in(home / "daemon.json");
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (!j.is_discarded() && j.contains("pid"))
      who = " (pid " + std::to_string(j.value("pid", 0)) + ")";
    return make_error("another daemon" + who + " is already running for " + home.string() +
                      "; stop it first, or use another --home");
  }
  return fd;
}

Result<std::string> ensure_token(const fs::path& home) {
  fs::path file = home / "api-token";
  std::error_code ec;
  if (fs::exists(file, ec)) {
    struct stat st {};
    if (::stat(file.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      return make_error("permissions of " + file.string() +
                        " are too open: other users could control this node; fix with `chmod "
                        "600 " +
                        file.string() + "`");
    }
    std::ifstream in(file);
    std::string token;
    std::getline(in, token);
    if (token.size() >= 32) return token;
  }
  std::uint8_t raw[32];
  randombytes_buf(raw, sizeof raw);
  std::string token = to_hex(raw);
  fs::path tmp = home / "api-token.tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error("cannot write " + file.string() + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);
  std::string line = token + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!ok) return make_error("cannot write " + file.string());
  fs::rename(tmp, file, ec);
  if (ec) return make_error("cannot write " + file.string() + ": " + ec.message());
  return token;
}

// Every torrent's files, peer connections and browser connections take file
// descriptors; a soft limit of 1024 is soon reached by a node with many sites
// or a page opening many connections. Raise it to the hard limit.
void raise_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int run_daemon(const Globals& g, const DaemonArgs& a) {
  // Every site's bytes come from strangers and every peer may talk to this
  // process: a bug here should cost one user's files, not the machine.
  if (::geteuid() == 0 && !a.allow_root) {
    return fail(
        "refusing to run as root: the daemon talks to strangers' peers and stores their "
        "files. Run it as an ordinary user (e.g. `sudo -u alice hostless daemon`), or pass "
        "--allow-root on a machine that has no other user (a container, a test VM)");
  }
  raise_file_limit();
  // What the daemon creates (token, catalog, session state, logs) is its
  // user's alone, whatever umask it was started with.
  ::umask(077);
  auto home = open_home(g);
  if (!home) return kExitFailure;
  if (auto s = check_home_private(*home, ::geteuid()); !s) return fail(s.error().message);
  auto gw = parse_endpoints(a.gateway);
  if (!gw || gw->size() != 1) {
    return fail("bad --gateway '" + a.gateway + "': expected HOST:PORT, e.g. 127.0.0.1:8420");
  }
  const std::string& gw_name = gw->front().first;
  const bool gw_loopback =
      gw_name.starts_with("127.") || gw_name == "localhost" || gw_name == "::1";
  if (!gw_loopback && !a.allow_remote_gateway) {
    return fail("--gateway " + a.gateway +
                " is not a loopback address: anyone who can reach it could browse through "
                "this node, make it fetch and seed sites, and try the API. Use 127.0.0.1:PORT, "
                "or add --allow-remote-gateway if that is what you want");
  }
  auto listen = parse_endpoints(a.listen);
  if (!listen) return fail("bad --listen: " + listen.error().message);
  NodeOptions nopt;
  nopt.home = *home;
  nopt.listen = format_endpoints(*listen);
  nopt.lan = a.lan;
  nopt.local_discovery = !a.no_lsd;
  nopt.dht_item_lifetime_s = a.dht_item_lifetime_s;
  nopt.upload_limit = a.upload_limit_kib * 1024;
  if (!a.bootstrap.empty()) {
    auto b = parse_endpoints(a.bootstrap);
    if (!b) return fail("bad --bootstrap: " + b.error().message);
    nopt.bootstrap = *b;
  }

  auto lock = lock_home(*home);
  if (!lock) return fail(lock.error().message);
  auto token = ensure_token(*home);
  if (!token) return fail(token.error().message);

  // Signals are taken synchronously by this thread (sigwait), so block them
  // before any other thread starts.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto catalog = Catalog::open(*home / "catalog.sqlite");
  if (!catalog) return fail(catalog.error().message);
  auto node = Node::start(nopt);
  if (!node) return fail(node.error().message);

  const auto& [gw_host, gw_port] = gw->front();
  SitesOptions sopt;
  sopt.local_web_seeds = a.lan;
  sopt.home = *home;
  sopt.gateway_base = "http://{address}.localhost:" + std::to_string(gw_port) + "/";
  sopt.resolve_timeout = std::chrono::seconds(a.gateway_timeout_s);
  sopt.republish_interval = std::chrono::seconds(std::max(1, a.republish_interval_s));
  sopt.refresh_interval = std::chrono::seconds(a.refresh_interval_s);
  sopt.mirror_interval = std::chrono::seconds(a.mirror_interval_s);
  sopt.version_grace = std::chrono::seconds(a.version_grace_s);
  sopt.visit_cache_bytes = static_cast<std::uint64_t>(a.cache_mib) << 20;
  sopt.visit_site_bytes = static_cast<std::uint64_t>(a.site_cache_mib) << 20;
  sopt.follow_max_bytes = static_cast<std::uint64_t>(a.follow_max_mib) << 20;
  auto sites = std::make_unique<SiteManager>(**node, **catalog, sopt);
  if (auto s = sites->start(); !s) return fail(s.error().message);

  GatewayOptions gopt;
  gopt.host = gw_host;
  gopt.port = gw_port;
  gopt.api_token = *token;
  gopt.timeout = std::chrono::seconds(a.gateway_timeout_s);
  gopt.allow_embedded_sites = a.allow_embedded_sites;
  gopt.session_idle = std::chrono::seconds(a.session_idle_s);
  Gateway gateway(*sites, gopt);
  if (auto s = gateway.start(); !s) return fail(s.error().message);
  if (!gateway.notice().empty()) std::cerr << "hostless: " << gateway.notice() << "\n";

  std::string api_host = gw_host == "0.0.0.0" ? "127.0.0.1" : gw_host == "::" ? "::1" : gw_host;
  nlohmann::json info = {{"pid", ::getpid()},
                         {"gateway", a.gateway},
                         {"api_host", api_host},
                         {"api_port", gw_port},
                         {"api", "http://" + api_host + ":" + std::to_string(gw_port) + "/api/v1/"},
                         {"listen_port", (*node)->stats().listen_port}};
  {
    fs::path tmp = *home / "daemon.json.tmp";
    std::ofstream(tmp) << info.dump(2) << "\n";
    std::error_code ec;
    fs::rename(tmp, *home / "daemon.json", ec);
  }
  std::cerr << "hostless daemon running (pid " << ::getpid() << ")\n"
            << "  home:    " << home->string() << "\n"
            << "  gateway: http://localhost:" << gw_port << "/\n"
            << "  peers:   port " << (*node)->stats().listen_port << "\n"
            << "Stop it with Ctrl-C.\n";

  // SIGHUP saves what a crash would lose (resume data, DHT state) and runs on:
  // for a backup, or before a shutdown the daemon will not see.
  int sig = 0;
  while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP) {
    (*node)->save_state();
    std::cerr << "hostless: saved resume data and DHT state (SIGHUP)\n";
  }
  std::cerr << "hostless: stopping (" << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ")\n";
  std::error_code ec;
  fs::remove(*home / "daemon.json", ec);
  sites->shutdown();
  gateway.stop();
  sites.reset();
  node->reset();  // saves resume data and the DHT state
  ::close(*lock);
  return kExitOk;
}

}  // namespace

void add_daemon_command(CLI::App& app, const Globals& g, int& result) {
  auto args = std::make_shared<DaemonArgs>();
  auto* cmd = app.add_subcommand("daemon", "Run the node: DHT, swarms and the gateway");
  cmd->add_option("--gateway", args->gateway, "Gateway and API address HOST:PORT")
      ->capture_default_str();
  cmd->add_option("--listen", args->listen, "BitTorrent listen address(es) HOST:PORT[,...]")
      ->capture_default_str();
  cmd->add_option("--bootstrap", args->bootstrap, "DHT bootstrap nodes HOST:PORT[,...]");
  cmd->add_flag("--lan", args->lan,
                "No public bootstrap nodes, no UPnP/NAT-PMP; DHT rules relaxed for many nodes "
                "on one IP (LANs and tests)");
  cmd->add_flag("--no-lsd", args->no_lsd, "Disable local service discovery (multicast)");
  cmd->add_flag("--allow-embedded-sites", args->allow_embedded_sites,
                "Let any page load a site (image, script, frame) or send you to one you never "
                "opened without asking, which makes this node fetch and seed it and tells the "
                "page which sites you hold; off by default");
  cmd->add_flag("--allow-root", args->allow_root,
                "Run even as root (containers and test machines); refused otherwise");
  cmd->add_flag("--allow-remote-gateway", args->allow_remote_gateway,
                "Let --gateway listen on an address other hosts can reach (127.0.0.1 and ::1 "
                "need no flag); refused otherwise");
  cmd->add_option("--session-idle", args->session_idle_s,
                  "Seconds a dashboard sign-in lasts without use")
      ->check(CLI::Range(1, 30 * 86400))
      ->capture_default_str();
  cmd->add_option("--gateway-timeout", args->gateway_timeout_s,
                  "Seconds to wait for a name or content before giving up")
      ->capture_default_str();
  cmd->add_option("--republish-interval", args->republish_interval_s,
                  "Seconds between re-puts of published pointers (BEP 44 items expire)")
      ->capture_default_str();
  cmd->add_option("--dht-item-lifetime", args->dht_item_lifetime_s,
                  "Seconds this node keeps DHT items for others (0: libtorrent default)");
  cmd->add_option("--refresh-interval", args->refresh_interval_s,
                  "Seconds before a visit looks a visited site's name up again")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  cmd->add_option("--mirror-interval", args->mirror_interval_s,
                  "Seconds between a mirror's checks for a newer version of each site")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  cmd->add_option("--version-grace", args->version_grace_s,
                  "Seconds a replaced version stays seeded before its data is freed")
      ->check(CLI::Range(0, 30 * 86400))
      ->capture_default_str();
  cmd->add_option("--cache-size", args->cache_mib,
                  "MiB of disk that visited sites share; least recently visited go first "
                  "(published, mirrored and followed sites never)")
      ->check(CLI::Range(0, 16 << 20))
      ->capture_default_str();
  cmd->add_option("--site-cache-size", args->site_cache_mib,
                  "MiB above which a visited site is fetched only as it is read")
      ->check(CLI::Range(0, 16 << 20))
      ->capture_default_str();
  cmd->add_option("--follow-max-mib", args->follow_max_mib,
                  "MiB above which a followed feed's new version is refused (mirrors take any "
                  "size)")
      ->check(CLI::Range(1, 16 << 20))
      ->capture_default_str();
  cmd->add_option("--upload-limit", args->upload_limit_kib,
                  "Upload cap in KiB/s for all peers, local ones too (0: none)")
      ->check(CLI::Range(0, 2000000))
      ->capture_default_str();
  cmd->footer(
      "Examples:\n"
      "  hostless daemon\n"
      "  hostless --home /tmp/n2 daemon --lan --listen 127.0.0.1:7002 --gateway "
      "127.0.0.1:8422 --bootstrap 127.0.0.1:7001");
  cmd->callback([&g, &result, args] { result = run_daemon(g, *args); });
}

}  // namespace hostless::cli
