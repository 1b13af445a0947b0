// The node thread: libtorrent's alerts (DHT items and puts, torrents'
// states, pieces, listen and reachability reports) and the tasks other
// threads post to it.
#include "node/detail/impl.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <libtorrent/bencode.hpp>
#include <libtorrent/session_stats.hpp>
#include <libtorrent/write_resume_data.hpp>

#include "util/files.hpp"
#include "util/log.hpp"

namespace hostless {
namespace fs = std::filesystem;

namespace {

// True if `a` is an address of one of this machine's interfaces (so no NAT
// stands between this node and the DHT nodes that saw it).
bool is_own_address(const lt::address& a) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return false;
  bool own = false;
  for (ifaddrs* i = list; i != nullptr && !own; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    if (i->ifa_addr->sa_family == AF_INET && a.is_v4()) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      own = ntohl(in->sin_addr.s_addr) == a.to_v4().to_uint();
    } else if (i->ifa_addr->sa_family == AF_INET6 && a.is_v6()) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      own = std::memcmp(in6->sin6_addr.s6_addr, a.to_v6().to_bytes().data(), 16) == 0;
    }
  }
  freeifaddrs(list);
  return own;
}

}  // namespace

void Node::Impl::run() {
  auto next_save = Clock::now() + options.save_interval;
  auto next_rebootstrap = Clock::now() + std::chrono::seconds(5);
  next_updates = Clock::now();
  while (true) {
    std::deque<std::function<void()>> todo;
    {
      std::unique_lock lock(mutex);
      auto wait =
          std::clamp(std::chrono::ceil<std::chrono::milliseconds>(next_updates - Clock::now()),
                     std::chrono::milliseconds(1), kUpdateInterval);
      for (const auto& [key, g] : gets) {  // wake for the next lookup deadline or retry too
        auto next = g.best ? g.deadline : std::min(g.deadline, g.retry_at);
        auto left = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now());
        wait = std::clamp(left, std::chrono::milliseconds(1), wait);
      }
      wake.wait_for(lock, wait, [&] { return alerts_pending || !tasks.empty() || stopping; });
      if (stopping && tasks.empty()) break;
      alerts_pending = false;
      todo.swap(tasks);
    }
    for (auto& t : todo) t();
    std::vector<lt::alert*> alerts;
    session->pop_alerts(&alerts);
    for (lt::alert* a : alerts) {
      try {
        handle_alert(a);
      } catch (const std::exception& e) {
        LogLine(LogLevel::kError) << "error handling " << a->what() << ": " << e.what();
      }
    }
    check_deadlines();
    auto now = Clock::now();
    for (auto& p : periodics) {
      if (now >= p.next) {
        p.next = now + p.interval;
        try {
          p.fn();
        } catch (const std::exception& e) {
          LogLine(LogLevel::kError) << "periodic task failed: " << e.what();
        }
      }
    }
    if (now >= next_rebootstrap) {
      // A node that lost every contact (its bootstrap node restarted, say)
      // starts over from the configured nodes.
      next_rebootstrap = now + std::chrono::seconds(5);
      if (dht_nodes == 0) {
        for (const auto& ep : options.bootstrap) session->add_dht_node(ep);
      }
    }
    if (now >= next_save) {
      next_save = now + options.save_interval;
      request_resume_data(false);
      save_dht_state();
    }
    // Asked for on a clock, not on every pass: each answer is an alert that
    // wakes this loop, so asking on every pass kept the node and libtorrent's
    // thread busy answering each other (70% of a core per idle daemon).
    if (now >= next_updates) {
      next_updates = now + kUpdateInterval;
      session->post_torrent_updates();
      session->post_dht_stats();
      session->post_session_stats();
    }
  }
}

void Node::Impl::refuse_item(const PublicKey& key, const lt::dht_mutable_item_alert& m,
                             const std::string& why) {
  // A lookup sees the same item again on every refresh and from every node
  // holding it; one line per item is enough (and bounded: a flood of distinct
  // items can't grow this set without limit).
  std::string id(reinterpret_cast<const char*>(key.bytes().data()), key.bytes().size());
  id += std::to_string(m.seq) + ":";
  id.append(m.signature.data(), m.signature.size());
  if (refused_items.size() >= 10000) refused_items.clear();
  if (!refused_items.insert(std::move(id)).second) return;
  LogLine(LogLevel::kWarning) << "refusing a DHT item for " << SiteAddress(key).str() << " (seq "
                              << m.seq << "): " << why;
}

void Node::Impl::handle_alert(lt::alert* a) {
  if (poller && poller->on_alert(a)) return;
  if (debug_log && (lt::alert_cast<lt::peer_disconnected_alert>(a) ||
                    lt::alert_cast<lt::peer_connect_alert>(a) ||
                    lt::alert_cast<lt::metadata_received_alert>(a))) {
    LogLine(LogLevel::kDebug) << "[peer] " << a->message();
  }
  if (debug_log && (a->category() & (lt::alert_category::dht_log | lt::alert_category::dht)) &&
      !lt::alert_cast<lt::dht_pkt_alert>(a)) {
    LogLine(LogLevel::kDebug) << "[dht] " << a->message();
  }
  // A torrent that got its metadata or all it wanted, or changed state, is
  // one a torrent wait may be waiting on: its status is asked for now, not at
  // the next tick (up to 250 ms more for each stage of a cold visit). These
  // come from the swarm, not from asking, so they cannot make the loop spin.
  if (lt::alert_cast<lt::metadata_received_alert>(a) ||
      lt::alert_cast<lt::torrent_finished_alert>(a) || lt::alert_cast<lt::state_changed_alert>(a)) {
    next_updates = Clock::now();
  }
  if (auto* m = lt::alert_cast<lt::dht_mutable_item_alert>(a)) {
    PublicKey::Bytes kb;
    std::memcpy(kb.data(), m->key.data(), kb.size());
    PublicKey key(kb);
    std::lock_guard lock(mutex);
    auto it = gets.find(key);
    if (it == gets.end()) return;
    if (m->salt.empty() && m->item.type() != lt::entry::undefined_t) {
      std::string value;
      lt::bencode(std::back_inserter(value), m->item);
      auto pv = PointerValue::decode(value);
      if (!pv) {
        refuse_item(key, *m, pv.error().message);
      } else {
        SignedPointer sp;
        sp.key = key;
        sp.seq = m->seq;
        sp.value = *pv;
        std::memcpy(sp.signature.data(), m->signature.data(), sp.signature.size());
        // libtorrent verified the signature over the bytes it received;
        // verify again over our canonical re-encoding so what we keep is
        // exactly what we can re-put and check later.
        const bool valid = sp.verify();
        if (!valid) {
          refuse_item(key, *m,
                      "its signature does not cover the canonical encoding of its value "
                      "(non-canonical bencoding)");
        }
        if (valid && (!it->second.best || sp.seq > it->second.best->seq)) {
          if (!it->second.best && it->second.settle.count() > 0) {
            // An answer is in hand: take what else arrives within the settle
            // time rather than waiting for unresponsive nodes to time out.
            it->second.deadline = std::min(it->second.deadline, Clock::now() + it->second.settle);
          }
          it->second.best = sp;
        }
      }
    }
    if (m->authoritative) {
      if (!it->second.best && it->second.retry && Clock::now() < it->second.deadline) {
        // Nothing found yet: look again after a pause instead of giving up
        // with most of the caller's time left.
        GetLookup& g = it->second;
        g.retry_at = std::min(g.retry_at, Clock::now() + g.backoff);
        g.backoff = std::min(g.backoff * 2, kMaxRetry);
        return;
      }
      finish_get(it);
    }
    return;
  }
  if (auto* p = lt::alert_cast<lt::dht_put_alert>(a)) {
    PublicKey::Bytes kb;
    std::memcpy(kb.data(), p->public_key.data(), kb.size());
    std::lock_guard lock(mutex);
    auto it = puts.find({PublicKey(kb), p->seq});
    if (it == puts.end()) return;
    const std::int64_t found = it->second.found_seq->load();
    for (auto& w : it->second.waiters) {
      if (p->num_success > 0) {
        w.set_value(p->num_success);
      } else if (found > p->seq) {
        w.set_value(make_error(
            "the DHT holds seq " + std::to_string(found) + " of this name, newer than seq " +
                std::to_string(p->seq) +
                " signed here, and nodes keep the highest seq (was it published from another "
                "device with the same key?)",
            ErrorKind::kRefused));
      } else {
        w.set_value(
            make_error("no DHT node accepted the pointer (is the node connected to "
                       "the DHT? check `hostless status`)",
                       ErrorKind::kUnavailable));
      }
    }
    puts.erase(it);
    return;
  }
  // A peer that sends data failing the hash check: libtorrent drops the
  // piece and bans a peer that was its only source (or that keeps failing).
  // Said once per event, so a corrupt or malicious swarm shows in the log.
  if (auto* f = lt::alert_cast<lt::hash_failed_alert>(a)) {
    LogLine(LogLevel::kWarning) << f->torrent_name() << ": piece "
                                << static_cast<int>(f->piece_index)
                                << " failed its hash check; it is downloaded again";
    return;
  }
  if (auto* r = lt::alert_cast<lt::dht_get_peers_reply_alert>(a)) {
    // Only announce_now() asks: each peer found is a tracker's word.
    // (find_torrent waits for libtorrent's thread: safe here, outside the
    // node mutex its alert notification takes.)
    lt::torrent_handle h = session->find_torrent(r->info_hash);
    if (!h.is_valid()) return;
    for (const auto& ep : r->peers()) h.connect_peer(ep, lt::peer_info::tracker);
    return;
  }
  if (auto* b = lt::alert_cast<lt::peer_ban_alert>(a)) {
    LogLine(LogLevel::kWarning) << b->torrent_name() << ": banned peer " << b->endpoint
                                << " (it sent data that failed the hash check)";
    return;
  }
  if (auto* c = lt::alert_cast<lt::cache_flushed_alert>(a)) {
    {
      std::lock_guard lock(mutex);
      auto it = flushes.find(c->handle);
      if (it == flushes.end()) return;
      const std::uint64_t ticket = it->second.front();
      it->second.pop_front();
      if (it->second.empty()) flushes.erase(it);
      if (!flush_abandoned.erase(ticket)) flushed.insert(ticket);
    }
    flush_done.notify_all();
    return;
  }
  if (lt::alert_cast<lt::piece_finished_alert>(a)) {
    {
      std::lock_guard lock(mutex);
      ++piece_events;
    }
    piece_done.notify_all();
    return;
  }
  if (auto* s = lt::alert_cast<lt::session_stats_alert>(a)) {
    static const int kReceived = lt::find_metric_idx("net.recv_payload_bytes");
    static const int kSent = lt::find_metric_idx("net.sent_payload_bytes");
    static const int kFailed = lt::find_metric_idx("net.recv_failed_bytes");
    static const int kTwice = lt::find_metric_idx("net.recv_redundant_bytes");
    static const int kDhtIn = lt::find_metric_idx("dht.dht_bytes_in");
    static const int kDhtOut = lt::find_metric_idx("dht.dht_bytes_out");
    const auto c = s->counters();
    const auto at = [&](int i) { return i >= 0 ? c[i] : std::int64_t(0); };
    received = at(kReceived);
    sent = at(kSent);
    received_failed = at(kFailed);
    received_twice = at(kTwice);
    dht_in = at(kDhtIn);
    dht_out = at(kDhtOut);
    return;
  }
  if (auto* s = lt::alert_cast<lt::dht_stats_alert>(a)) {
    int n = 0;
    for (const auto& b : s->routing_table) n += b.num_nodes;
    dht_nodes = n;
    return;
  }
  if (lt::alert_cast<lt::incoming_connection_alert>(a)) {
    std::lock_guard lock(mutex);
    ++reach.incoming_connections;
    reach.last_incoming = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    return;
  }
  if (auto* m = lt::alert_cast<lt::portmap_alert>(a)) {
    std::lock_guard lock(mutex);
    reach.port_mapping =
        std::string(m->map_transport == lt::portmap_transport::upnp ? "UPnP" : "NAT-PMP") +
        ": external port " + std::to_string(m->external_port) +
        (m->map_protocol == lt::portmap_protocol::tcp ? "/TCP" : "/UDP");
    reach.mapping_error.clear();
    return;
  }
  if (auto* m = lt::alert_cast<lt::portmap_error_alert>(a)) {
    std::lock_guard lock(mutex);
    reach.mapping_error =
        std::string(m->map_transport == lt::portmap_transport::upnp ? "UPnP" : "NAT-PMP") + ": " +
        m->error.message();
    return;
  }
  if (auto* e = lt::alert_cast<lt::external_ip_alert>(a)) {
    std::lock_guard lock(mutex);
    reach.external_address = e->external_address.to_string();
    reach.behind_nat = !is_own_address(e->external_address);
    return;
  }
  if (auto* l = lt::alert_cast<lt::listen_succeeded_alert>(a)) {
    if (l->socket_type == lt::socket_type_t::tcp) listen_port = l->port;
    return;
  }
  if (auto* r = lt::alert_cast<lt::save_resume_data_alert>(a)) {
    auto buf = lt::write_resume_data_buf(r->params);
    std::error_code ec;
    fs::create_directories(resume_dir(), ec);
    write_file_atomic(resume_dir() / (ih_key(r->params.info_hashes) + ".resume"),
                      std::string_view(buf.data(), buf.size()));
    std::lock_guard lock(mutex);
    --outstanding_resume;
    resume_done.notify_all();
    return;
  }
  if (lt::alert_cast<lt::save_resume_data_failed_alert>(a)) {
    std::lock_guard lock(mutex);
    --outstanding_resume;
    resume_done.notify_all();
    return;
  }
  if (auto* u = lt::alert_cast<lt::state_update_alert>(a)) {
    std::lock_guard lock(mutex);
    for (auto& w : torrent_waits) {
      if (!w) continue;
      for (const auto& st : u->status) {
        if (st.handle != w->handle) continue;
        w->checked = Clock::now();
        if (auto r = w->check(st)) {
          w->promise.set_value(*r);
          w.reset();
        }
        break;
      }
    }
    std::erase(torrent_waits, nullptr);
    return;
  }
}

}  // namespace hostless
