// Starting and stopping the node: the libtorrent session's settings, its
// extensions and peer policy, saved DHT state and resume data.
#include "node/detail/impl.hpp"
#include "node/fresh_pieces.hpp"

#include <algorithm>
#include <fstream>

#include <libtorrent/bdecode.hpp>
#include <libtorrent/bencode.hpp>
#include <libtorrent/entry.hpp>
#include <libtorrent/extensions.hpp>
#include <libtorrent/extensions/ut_metadata.hpp>
#include <libtorrent/extensions/ut_pex.hpp>
#include <libtorrent/ip_filter.hpp>
#include <libtorrent/peer_connection.hpp>
#include <libtorrent/peer_connection_handle.hpp>
#include <libtorrent/peer_info.hpp>
#include <libtorrent/read_resume_data.hpp>
#include <libtorrent/session_params.hpp>
#include <libtorrent/session_stats.hpp>
#include <libtorrent/settings_pack.hpp>
#include <libtorrent/write_resume_data.hpp>

#include "util/files.hpp"
#include "util/log.hpp"

namespace hostless {
namespace fs = std::filesystem;

namespace {

// With close_redundant_connections, libtorrent drops a connection neither end
// wants anything from. That is right between two whole copies of a site: a
// node mirroring hundreds of sites otherwise keeps an idle connection per
// site to each other seed, and at libtorrent's connections_limit (200) it
// could connect to no one (seen: a mirror stuck at 200 sites, each new one
// waiting minutes for an idle connection to time out). But a visited site
// wants only what was asked for, so between two assets of a page it is
// "finished" too, and dropping its seeds then left the next asset nowhere to
// come from. So a connection is redundant here only when both ends hold the
// whole site.
//
// It also turns Nagle's algorithm off on TCP peer connections, which
// libtorrent 2.0 leaves on: a 17-byte piece request then waited for the
// ACK of the one before (Linux delays ACKs by up to 40 ms), and each asset
// of a page being visited took 30-80 ms over loopback where uTP took 1-5.
// (Runs on libtorrent's network thread, like all plugins.)
class PeerPolicy final : public lt::torrent_plugin {
 public:
  std::shared_ptr<lt::peer_plugin> new_connection(const lt::peer_connection_handle& pc) override {
    return std::make_shared<Peer>(pc, seeding_);
  }
  void on_state(lt::torrent_status::state_t s) override {
    *seeding_ = s == lt::torrent_status::seeding;
  }

 private:
  class Peer final : public lt::peer_plugin {
   public:
    Peer(lt::peer_connection_handle pc, std::shared_ptr<bool> seeding)
        : pc_(std::move(pc)), seeding_(std::move(seeding)) {
      no_delay();  // an incoming connection is connected by now
    }
    void on_connected() override { no_delay(); }
    bool can_disconnect(const lt::error_code& ec) override {
      const bool redundant = ec == lt::errors::torrent_finished ||
                             ec == lt::errors::upload_upload_connection ||
                             ec == lt::errors::uninteresting_upload_peer;
      return !redundant || (*seeding_ && pc_.is_seed());
    }

   private:
    // UBSan's vptr check of this call would need libtorrent's type info for
    // peer_connection, which the shared library does not export.
    __attribute__((no_sanitize("vptr"))) void no_delay() {
      if (auto connection = pc_.native_handle()) {
        lt::error_code ignored;  // (uTP has no such option: a no-op)
        connection->get_socket().set_option(lt::tcp::no_delay(true), ignored);
      }
    }

    lt::peer_connection_handle pc_;
    std::shared_ptr<bool> seeding_;
  };

  std::shared_ptr<bool> seeding_ = std::make_shared<bool>(false);
};

}  // namespace

std::string format_endpoints(const std::vector<std::pair<std::string, int>>& endpoints) {
  std::string out;
  for (const auto& [host, port] : endpoints) {
    if (!out.empty()) out += ",";
    out += (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
           std::to_string(port);
  }
  return out;
}

Result<std::vector<std::pair<std::string, int>>> parse_endpoints(const std::string& text) {
  std::vector<std::pair<std::string, int>> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? text.size() + 1 : comma + 1;
    if (item.empty()) continue;
    std::size_t colon = item.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == item.size()) {
      return make_error("bad endpoint '" + item + "': expected HOST:PORT", ErrorKind::kInvalid);
    }
    std::string host = item.substr(0, colon);
    if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    int port = 0;
    for (char c : item.substr(colon + 1)) {
      if (c < '0' || c > '9' || port > 65535) {
        return make_error("bad port in '" + item + "': expected a number 1-65535");
      }
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) return make_error("bad port in '" + item + "': 1-65535");
    out.emplace_back(host, port);
  }
  if (out.empty()) return make_error("no endpoints given: expected HOST:PORT[,HOST:PORT...]");
  return out;
}

void Node::Impl::save_dht_state() {
  lt::session_params params = session->session_state(lt::session::save_dht_state);
  auto buf = lt::write_session_params_buf(params, lt::session::save_dht_state);
  write_file_atomic(session_file(), std::string_view(buf.data(), buf.size()));
}

void Node::Impl::request_resume_data(bool all) {
  for (const auto& h : session->get_torrents()) {
    if (!h.is_valid()) continue;
    lt::torrent_status st = h.status({});
    if (!st.has_metadata) continue;
    if (!all && !h.need_save_resume_data()) continue;
    {
      std::lock_guard lock(mutex);
      ++outstanding_resume;
    }
    h.save_resume_data(lt::torrent_handle::save_info_dict);
  }
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Node>> Node::start(NodeOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  const NodeOptions& o = impl->options;

  lt::session_params params;
  if (auto buf = read_file(impl->session_file())) {
    try {
      params = lt::read_session_params(*buf, lt::session::save_dht_state);
    } catch (const std::exception&) {
      params = lt::session_params();  // a damaged state file only costs a re-bootstrap
    }
  }
  lt::settings_pack& s = params.settings;
  s.set_str(lt::settings_pack::user_agent, "hostless/0.1.0");
  s.set_str(lt::settings_pack::peer_fingerprint, "-HL0010-");
  s.set_str(lt::settings_pack::listen_interfaces, o.listen);
  // A port in use is an error the user must see, not a silent random port.
  s.set_bool(lt::settings_pack::listen_system_port_fallback, false);
  s.set_int(lt::settings_pack::max_retry_port_bind, 0);
  s.set_bool(lt::settings_pack::enable_dht, true);
  s.set_bool(lt::settings_pack::enable_lsd, o.local_discovery);
  s.set_bool(lt::settings_pack::enable_upnp, !o.lan);
  s.set_bool(lt::settings_pack::enable_natpmp, !o.lan);
  s.set_int(lt::settings_pack::alert_mask,
            lt::alert_category::error | lt::alert_category::status | lt::alert_category::storage |
                lt::alert_category::dht | lt::alert_category::dht_operation |
                lt::alert_category::port_mapping | lt::alert_category::piece_progress |
                lt::alert_category::peer |
                (impl->debug_log ? lt::alert_category::connect : lt::alert_category_t{}));
  s.set_int(lt::settings_pack::alert_queue_size, 10000);
  // Outgoing connections over TCP: libtorrent's uTP spends a system call and
  // its congestion control on every 1.4 KB packet, and on this machine moved
  // 256 MiB in 26 s where TCP took 2.7 s (two plain sessions over loopback).
  // Incoming uTP is still accepted, for peers that offer nothing else. The
  // simulated internet agrees (200 nodes, ~100 ms RTT, 20/2 Mbit/s home
  // lines; docs/benchmarks.md "internet"): with outgoing uTP, 16 visitors of
  // a publisher took 341 s instead of 31 (uTP's delay-based congestion
  // control yields to the queue of each visitor's uplink, so visitors barely
  // serve each other) and a whole page 1.54 s instead of 1.17; it won only
  // for one visitor over a lossy path (1.37x the bound against 2.27x), and no
  // hole punching (BEP 55) came of it behind a plain NAT.
  s.set_bool(lt::settings_pack::enable_outgoing_utp, false);
  // Deeper send and disk-write queues than libtorrent's defaults (500 KiB and
  // 1 MiB), as in its high-performance seed preset: a fast peer is not left
  // waiting between two refills (256 MiB over loopback: 2.8 s, now 2.1 s).
  s.set_int(lt::settings_pack::send_buffer_watermark, 4 << 20);
  s.set_int(lt::settings_pack::send_buffer_low_watermark, 1 << 20);
  s.set_int(lt::settings_pack::max_queued_disk_bytes, 8 << 20);
  // Seed-to-seed connections are closed; PeerPolicy (added below) keeps
  // those of a visited site that holds only part of it.
  s.set_bool(lt::settings_pack::close_redundant_connections, true);
  // A visitor whose only peer dropped it (seen right after a visit's metadata
  // arrives) must reconnect while a reader waits, not a minute later.
  s.set_int(lt::settings_pack::min_reconnect_time, 2);
  std::string bootstrap = format_endpoints(o.bootstrap);
  if (o.lan) {
    // Explicit nodes only, added with add_dht_node below: libtorrent never puts
    // a "router" (dht_bootstrap_nodes) into its routing table, which on a
    // small network leaves nodes that know nobody but the router.
    s.set_str(lt::settings_pack::dht_bootstrap_nodes, "");
    s.set_bool(lt::settings_pack::dht_restrict_routing_ips, false);
    s.set_bool(lt::settings_pack::dht_restrict_search_ips, false);
    s.set_bool(lt::settings_pack::dht_ignore_dark_internet, false);
    s.set_bool(lt::settings_pack::dht_prefer_verified_node_ids, false);
    s.set_bool(lt::settings_pack::allow_multiple_connections_per_ip, true);
    // Peers on a LAN or one machine: no need to wait between DHT announces.
    s.set_int(lt::settings_pack::min_announce_interval, 5);
    s.set_int(lt::settings_pack::dht_announce_interval, 5);
    // Every node shares one IP here: libtorrent's per-IP query limit (5/s, then
    // a 5-minute block) would soon make nodes ignore each other, which shows
    // as puts no node accepts and lookups that find nothing.
    s.set_int(lt::settings_pack::dht_block_ratelimit, 1000000);
    s.set_int(lt::settings_pack::dht_block_timeout, 0);
    // libtorrent caps DHT traffic at 8 KB/s and drops what is over: with
    // every torrent announced every 5 s (above), a node holding a few dozen
    // sites spent it all on announces, and its puts and lookups were lost
    // (seen: mirrors of the 18th site on found no name).
    s.set_int(lt::settings_pack::dht_upload_rate_limit, 4 << 20);
    // A LAN's DHT is a handful of nodes, so each stores what the public DHT
    // would spread over thousands. At libtorrent's defaults (700 items, 2000
    // torrents per node), a LAN with more sites than that would have each
    // new put evict another site's pointer.
    s.set_int(lt::settings_pack::dht_max_dht_items, 100000);
    s.set_int(lt::settings_pack::dht_max_torrents, 100000);
    // No smart_ban plugin: it pins a block that failed the hash check on the
    // first peer it finds with the sender's IP address, and with several
    // peers on one IP (allowed above) that can be an honest one, banned once
    // the piece passes (seen: the publisher banned after a corrupt peer on
    // 127.0.0.1). libtorrent itself still bans a peer that was a failed
    // piece's only source or keeps failing (peer_ban_alert).
    params.extensions.clear();
  } else if (!bootstrap.empty()) {
    std::string defaults = s.get_str(lt::settings_pack::dht_bootstrap_nodes);
    s.set_str(lt::settings_pack::dht_bootstrap_nodes, bootstrap + "," + defaults);
  }
  if (o.dht_item_lifetime_s > 0) {
    s.set_int(lt::settings_pack::dht_item_lifetime, o.dht_item_lifetime_s);
  }
  if (o.upload_limit > 0) s.set_int(lt::settings_pack::upload_rate_limit, o.upload_limit);

  try {
    impl->session = std::make_unique<lt::session>(std::move(params));
    if (o.lan) {
      impl->session->add_extension(&lt::create_ut_metadata_plugin);
      impl->session->add_extension(&lt::create_ut_pex_plugin);
    }
    impl->session->add_extension([](const lt::torrent_handle&, lt::client_data_t) {
      return std::make_shared<PeerPolicy>();
    });
    impl->session->add_extension(
        [declined = impl->requests_declined](const lt::torrent_handle&, lt::client_data_t) {
          return fresh_pieces_plugin(declined);
        });
    // Pushed pointers go from libtorrent's thread to the node thread's tasks.
    Impl* raw = impl.get();
    impl->push = std::make_unique<PushExtension>([raw](PushedPointer p) {
      raw->post([raw, p = std::move(p)] {
        std::function<void(const PushedPointer&)> fn;
        {
          std::lock_guard lock(raw->mutex);
          fn = raw->on_pushed;
        }
        if (fn) fn(p);
      });
    });
    impl->push->attach(*impl->session);
    impl->poller = std::make_unique<ItemPoller>(*impl->session);
  } catch (const std::exception& e) {
    return make_error(std::string("cannot start the BitTorrent session: ") + e.what());
  }
  for (const auto& ep : o.bootstrap) impl->session->add_dht_node(ep);
  if (o.upload_limit > 0) {
    // libtorrent exempts local peers from the session's rate limits (they go
    // in the local peer class only); a limit the user sets covers everyone.
    lt::ip_filter everyone;
    const auto global = std::uint32_t(1)
                        << static_cast<std::uint32_t>(lt::session::global_peer_class_id);
    everyone.add_rule(lt::make_address("0.0.0.0"), lt::make_address("255.255.255.255"), global);
    everyone.add_rule(lt::make_address("::"),
                      lt::make_address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), global);
    impl->session->set_peer_class_filter(everyone);
  }

  // Wait for the listen sockets: a port in use must be an error at start-up,
  // not a silent node that nobody can reach.
  auto deadline = Clock::now() + std::chrono::seconds(10);
  std::string listen_error;
  bool listening = false;
  while (!listening && listen_error.empty() && Clock::now() < deadline) {
    impl->session->wait_for_alert(std::chrono::milliseconds(200));
    std::vector<lt::alert*> alerts;
    impl->session->pop_alerts(&alerts);
    for (lt::alert* a : alerts) {
      if (auto* l = lt::alert_cast<lt::listen_succeeded_alert>(a)) {
        if (l->socket_type == lt::socket_type_t::tcp) {
          impl->listen_port = l->port;
          listening = true;
        }
      } else if (auto* f = lt::alert_cast<lt::listen_failed_alert>(a)) {
        if (f->socket_type == lt::socket_type_t::tcp && listen_error.empty()) {
          listen_error = "cannot listen for peers on " + f->address.to_string() + ":" +
                         std::to_string(f->port) + ": " + f->error.message() +
                         "; pick another port with --listen HOST:PORT";
        }
      }
    }
  }
  if (!listening) {
    if (listen_error.empty()) listen_error = "the BitTorrent session did not start listening";
    return make_error(listen_error);
  }

  // Re-add every torrent saved by an earlier run, from its resume data, so
  // complete data is not re-checked.
  std::error_code ec;
  if (fs::is_directory(impl->resume_dir(), ec)) {
    for (const auto& e : fs::directory_iterator(impl->resume_dir(), ec)) {
      if (e.path().extension() != ".resume") continue;
      auto buf = read_file(e.path());
      if (!buf) continue;
      lt::error_code lec;
      lt::add_torrent_params atp = lt::read_resume_data(*buf, lec);
      if (lec) {
        LogLine(LogLevel::kWarning)
            << "ignoring damaged resume file " << e.path() << ": " << lec.message();
        continue;
      }
      keep_active(atp);
      // A version saved before its start (sites' start_version) would never
      // download; it starts again without reusing held files.
      atp.flags &= ~lt::torrent_flags::upload_mode;
      impl->session->add_torrent(std::move(atp), lec);
      if (lec) {
        LogLine(LogLevel::kError) << "cannot restore " << e.path() << ": " << lec.message();
      }
    }
  }

  Impl* raw = impl.get();
  impl->session->set_alert_notify([raw] {
    // Called from libtorrent's thread: only flag and wake, never block.
    {
      std::lock_guard lock(raw->mutex);
      raw->alerts_pending = true;
    }
    raw->wake.notify_all();
  });
  impl->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

Node::~Node() {
  save_state();
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  impl_->flush_done.notify_all();
  impl_->thread.join();
  impl_->session->set_alert_notify([] {});
  cancel_waits();
  impl_->session.reset();
}

void Node::save_state() {
  std::promise<void> requested;
  impl_->post([this, &requested] {
    impl_->request_resume_data(false);
    impl_->save_dht_state();
    requested.set_value();
  });
  requested.get_future().wait();
  std::unique_lock lock(impl_->mutex);
  impl_->resume_done.wait_for(lock, std::chrono::seconds(10),
                              [&] { return impl_->outstanding_resume <= 0; });
}

}  // namespace hostless
