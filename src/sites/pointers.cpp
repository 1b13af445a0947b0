// A site's name in the DHT: storing signed pointers (and putting them again
// until a node takes them), resolving them with rollback protection.
#include "sites/sites.hpp"

#include <thread>

#include "util/encoding.hpp"
#include "util/log.hpp"

namespace hostless {
namespace fs = std::filesystem;
using json = nlohmann::json;

std::string torrent_magnet(const InfoHash& v1_ih, const std::string& name,
                           const std::vector<std::string>& web_seeds) {
  std::string magnet = "magnet:?xt=urn:btih:" + v1_ih.hex() + "&dn=" + percent_encode(name);
  for (const auto& url : web_seeds) magnet += "&ws=" + percent_encode(url);
  return magnet;
}

json pointer_json(const SignedPointer& p) {
  SiteAddress a(p.key);
  json j = {{"address", a.str()},
            {"seq", p.seq},
            {"info_hash", p.value.ih.hex()},
            {"magnet", a.magnet()},
            // A version's torrent is named after its site.
            {"torrent_magnet", torrent_magnet(p.value.ih, a.str(), p.value.web_seeds)}};
  if (!p.value.web_seeds.empty()) j["web_seeds"] = p.value.web_seeds;
  return j;
}

void SiteManager::republish_all() {
  auto sites = catalog_.sites();
  {
    std::lock_guard lock(catalog_error_mutex_);
    if (!sites) {
      // Said once per failure, and in `status`, since until it is fixed no
      // name this node keeps alive is put again and each fades from the DHT.
      if (catalog_error_ != sites.error().message) {
        LogLine(LogLevel::kError)
            << "cannot read the catalog to put the names it keeps alive again ("
            << sites.error().message << "); trying again every minute";
      }
      catalog_error_ = sites.error().message;
      republish_again_at_ = now_unix() + kCatalogRetry.count();
      return;
    }
    if (!catalog_error_.empty()) {
      LogLine(LogLevel::kInfo) << "the catalog reads again; putting the names it keeps alive";
    }
    catalog_error_.clear();
    republish_again_at_ = 0;
  }
  // Kept sites whose last poll, within this round, found their name on
  // enough nodes are not put again (BEP 44).
  std::set<std::string> well_held;
  {
    const auto since = std::chrono::steady_clock::now() - kWalkEvery * options_.republish_interval;
    std::lock_guard lock(mirrors_mutex_);
    for (const auto& [address, plan] : poll_plans_) {
      if (plan.well_held > since) well_held.insert(address);
    }
  }
  // Queue every pointer we keep alive; retry_failed_puts puts them and keeps
  // trying every few seconds until a DHT node accepts each one.
  std::lock_guard lock(retry_mutex_);
  for (const auto& s : *sites) {
    if (s.role == SiteRole::kVisited || s.role == SiteRole::kBlocked || !s.pointer ||
        well_held.count(s.address.str())) {
      continue;
    }
    unannounced_[s.pointer->key] = *s.pointer;
  }
}

void SiteManager::retry_failed_puts() {
  std::lock_guard lock(retry_mutex_);
  const auto now = std::chrono::steady_clock::now();
  for (auto it = retrying_.begin(); it != retrying_.end();) {
    if (it->second.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      ++it;
      continue;
    }
    auto r = it->second.get();
    const std::int64_t seq = retry_seq_[it->first];
    // Done only if no newer version was queued while this put was running.
    auto queued = unannounced_.find(it->first);
    if (r && queued != unannounced_.end() && queued->second.seq <= seq) {
      unannounced_.erase(queued);
    }
    NameState& n = names_[it->first];
    if (r && seq >= n.stored_seq) {
      n = NameState{seq, *r, now_unix(), ""};
    } else if (!r) {
      n.error = r.error().message;
    }
    it = retrying_.erase(it);
  }
  // A new pointer is put again 1, 3, 7, 15 and 31 minutes after publish
  // (gaps doubling from a minute) before the republish interval takes
  // over: on the simulated internet a name put once was found by fresh
  // nodes for the first minutes, then by fewer and fewer (new nodes joined
  // nearer its key, and lookups no longer reached the nodes holding it);
  // re-put every 60 s, every lookup found it.
  for (auto it = early_puts_.begin(); it != early_puts_.end();) {
    auto& [key, e] = *it;
    if (now < e.at) {
      ++it;
      continue;
    }
    auto& q = unannounced_[key];
    if (q.seq <= e.pointer.seq) q = e.pointer;
    next_put_.erase(key);
    if (e.step >= kEarlyPuts) {
      it = early_puts_.erase(it);
      continue;
    }
    e.at = now + std::chrono::minutes(1 << e.step);
    ++e.step;
    ++it;
  }
  // Nothing to put to while the routing table is empty; the first round
  // after it fills puts at once (this runs every second).
  if (node_.dht_nodes() == 0) return;
  for (const auto& [key, pointer] : unannounced_) {
    if (retrying_.count(key)) continue;
    auto& next = next_put_[key];
    if (now < next) continue;
    next = now + kPutRetry;
    retry_seq_[key] = pointer.seq;
    retrying_[key] = node_.put_pointer(pointer, kPutTimeout);
  }
}

SiteManager::NamePut SiteManager::store_name(const SignedPointer& pointer) {
  using Clock = std::chrono::steady_clock;
  using std::chrono::milliseconds;
  const auto started = Clock::now();
  // A daemon that has just started needs a second or two to join the DHT: a
  // put before that reaches no one. So within kJoinWait of its start, wait
  // for the routing table first (later, an empty one means the node is
  // offline, and the put is left to the retries); then put again, with a
  // growing pause, while no node accepts it.
  const auto join_by = created_ + kJoinWait;
  // A put is sent only once the lookup before it ends, and that waits out
  // every node that does not answer. Behind a NAT without hairpinning, one
  // of them is this node's own public address: 15 s (seen on the network
  // simulator). So publish waits kPublishWait, then leaves the put running
  // and `sites` tells when it is stored.
  const auto give_up = started + kPublishWait;
  auto pause = milliseconds(500);
  int attempts = 0;
  NamePut out{make_error("no attempt"), false};
  while (!stopping_) {
    const auto now = Clock::now();
    if (node_.dht_nodes() > 0) {
      ++attempts;
      auto put = node_.put_pointer(pointer, kPutTimeout);
      if (put.wait_until(give_up) != std::future_status::ready) {
        std::lock_guard lock(retry_mutex_);
        auto& q = unannounced_[pointer.key];
        if (q.seq <= pointer.seq) q = pointer;
        if (!retrying_.count(pointer.key)) {
          retry_seq_[pointer.key] = pointer.seq;
          retrying_[pointer.key] = std::move(put);
        }
        out.storing = true;
        return out;
      }
      out.put = put.get();
      if (out.put) break;
    } else if (now >= join_by) {
      break;
    }
    if (Clock::now() + pause >= give_up) break;
    for (auto until = Clock::now() + pause; Clock::now() < until && !stopping_;) {
      std::this_thread::sleep_for(milliseconds(50));
      if (attempts == 0 && node_.dht_nodes() > 0) break;  // joined: put at once
    }
    pause = std::min(pause * 2, milliseconds(4000));
  }
  const auto waited =
      format_seconds(std::chrono::duration_cast<milliseconds>(Clock::now() - started));
  if (!out.put && attempts == 0) {
    out.put = make_error("this node has not joined the DHT: it knew no other node after " + waited +
                         "; check its network, or give it a node to start from with --bootstrap");
  } else if (!out.put) {
    out.put = make_error(out.put.error().message + " (" + std::to_string(attempts) +
                         (attempts == 1 ? " attempt in " : " attempts in ") + waited + ")");
  }
  note_name_put(pointer, out.put);
  return out;
}

void SiteManager::put_early_again(const SignedPointer& pointer) {
  std::lock_guard lock(retry_mutex_);
  early_puts_[pointer.key] = {pointer, std::chrono::steady_clock::now() + std::chrono::minutes(1),
                              1};
}

void SiteManager::note_name_put(const SignedPointer& pointer, const Result<int>& put) {
  std::lock_guard lock(retry_mutex_);
  NameState& n = names_[pointer.key];
  if (put) {
    if (pointer.seq >= n.stored_seq) n = NameState{pointer.seq, *put, now_unix(), ""};
    if (auto q = unannounced_.find(pointer.key);
        q != unannounced_.end() && q->second.seq <= pointer.seq && !retrying_.count(pointer.key)) {
      unannounced_.erase(q);
    }
  } else {
    n.error = put.error().message;
    // Kept until a node takes it: retry_failed_puts tries again.
    auto& q = unannounced_[pointer.key];
    if (q.seq <= pointer.seq) q = pointer;
  }
}

Result<SignedPointer> SiteManager::resolve_pointer(const SiteAddress& address,
                                                   std::chrono::milliseconds timeout,
                                                   std::chrono::milliseconds settle) {
  // A node whose routing table is still empty well after it started is
  // offline or alone: a lookup of a site it knows gets a short time (its
  // bootstrap nodes may still answer, so it is still made), then the pointer
  // it knows is the answer (`get` and `resolve` of its own sites waited 30 s
  // for nothing).
  if (node_.dht_nodes() == 0 && std::chrono::steady_clock::now() - started_ > kAloneAfter &&
      known_pointer(address)) {
    timeout = std::min(timeout, std::chrono::milliseconds(kAloneLookup));
    settle = std::min(settle, timeout);
  }
  auto found = node_.get_pointer(address.key(), timeout, settle).get();
  if (found) {
    // Rollback protection: never go below the highest seq seen.
    auto kept = catalog_.observe_pointer(*found);
    if (kept && kept->seq > found->seq) {
      bool first = false;
      {
        std::lock_guard lock(refused_mutex_);
        if (refused_pointers_.size() >= 10000) refused_pointers_.clear();
        first = refused_pointers_.emplace(found->key, found->seq).second;
      }
      if (first) {
        LogLine(LogLevel::kWarning)
            << "refusing seq " << found->seq << " of " << address.str()
            << ": this node has seen seq " << kept->seq
            << " (an older pointer, stale or replayed, never moves a site back)";
      }
    }
    return kept;
  }
  if (auto known = known_pointer(address)) return *known;
  return make_error(address.str() + ": " + found.error().message +
                        ". The site is unknown, or no node holding its name is reachable",
                    found.error().kind);
}

std::optional<SignedPointer> SiteManager::known_pointer(const SiteAddress& address) {
  auto known = catalog_.site(address);
  if (known && *known && (*known)->pointer) return *(*known)->pointer;
  return std::nullopt;
}

Result<json> SiteManager::resolve(const std::string& address, std::chrono::milliseconds timeout) {
  auto addr = SiteAddress::parse(address);
  if (!addr) return addr.error();
  auto p = resolve_pointer(*addr, timeout);
  if (!p) return p.error();
  return pointer_json(*p);
}

}  // namespace hostless
