// Site names in the DHT: BEP 44 lookups of pointers (retried while the DHT
// forms, settled after the first valid answer), puts, polls and pushes, and
// the deadlines of lookups, puts and torrent waits.
#include "node/detail/impl.hpp"

#include <libtorrent/bdecode.hpp>
#include <libtorrent/entry.hpp>

namespace hostless {

void Node::Impl::finish_get(std::map<PublicKey, GetLookup>::iterator it) {
  GetLookup& g = it->second;
  for (auto& w : g.waiters) {
    if (g.best) {
      w.set_value(*g.best);
      continue;
    }
    const auto waited =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - g.started);
    std::string why = "no pointer found in the DHT after " + format_seconds(waited) + " (" +
                      std::to_string(g.lookups) + (g.lookups == 1 ? " lookup" : " lookups");
    if (dht_nodes == 0) {
      why +=
          "; this node has not joined the DHT yet: it knows no other node. Check its "
          "network, or give it a node to start from with --bootstrap HOST:PORT)";
    } else {
      why += " over " + std::to_string(dht_nodes) + " known DHT nodes)";
    }
    w.set_value(make_error(why, dht_nodes == 0 ? ErrorKind::kUnavailable : ErrorKind::kNotFound));
  }
  gets.erase(it);
}

void Node::Impl::check_deadlines() {
  if (poller) poller->check_deadlines();
  auto now = Clock::now();
  std::unique_lock lock(mutex);
  std::vector<PublicKey> again;
  for (auto it = gets.begin(); it != gets.end();) {
    GetLookup& g = it->second;
    if (now >= g.deadline) {
      finish_get(it++);
      continue;
    }
    // Nothing yet: look again when due (see GetLookup::retry_at), or at once
    // when the routing table that was empty at the last look has nodes now.
    if (!g.best && g.retry && (now >= g.retry_at || (g.nodes_at_start == 0 && dht_nodes > 0))) {
      g.retry_at = now + kMaxRetry;
      ++g.lookups;
      g.nodes_at_start = dht_nodes;
      again.push_back(it->first);
    }
    ++it;
  }
  for (auto it = puts.begin(); it != puts.end();) {
    if (now < it->second.deadline) {
      ++it;
      continue;
    }
    for (auto& w : it->second.waiters) {
      w.set_value(make_error("storing the pointer in the DHT timed out", ErrorKind::kUnavailable));
    }
    it = puts.erase(it);
  }
  // Waits to look at now: out of the list while they are looked at, since
  // status() waits for libtorrent's thread, which takes `mutex` to post an
  // alert (holding it here would deadlock).
  std::vector<std::unique_ptr<TorrentWait>> look;
  for (auto& w : torrent_waits) {
    if (w && !w->handle.is_valid()) {
      // Removed meanwhile (a refused or freed version): no update will come.
      w->promise.set_value(make_error("the torrent was removed"));
      w.reset();
      continue;
    }
    // One that sent no update lately, or one last look before giving up.
    if (w && (now >= w->deadline || now - w->checked >= kStaleWait)) look.push_back(std::move(w));
  }
  std::erase(torrent_waits, nullptr);
  lock.unlock();
  for (const auto& key : again) get_item(key);
  for (auto& w : look) {
    std::optional<Status> r;
    try {
      r = w->check(w->handle.status());
    } catch (const std::exception&) {
      r = make_error("the torrent was removed");  // between is_valid() and status()
    }
    w->checked = now;
    if (!r && now >= w->deadline) r = make_error("timed out", ErrorKind::kUnavailable);
    if (r) {
      w->promise.set_value(*r);
      w.reset();
    }
  }
  lock.lock();
  for (auto& w : look) {
    if (!w) continue;
    if (cancelled) {
      w->promise.set_value(make_error(kShuttingDown, ErrorKind::kShuttingDown));
    } else {
      torrent_waits.push_back(std::move(w));
    }
  }
}

std::future<Result<SignedPointer>> Node::get_pointer(const PublicKey& key,
                                                     std::chrono::milliseconds timeout,
                                                     std::chrono::milliseconds settle,
                                                     bool retry_empty) {
  std::promise<Result<SignedPointer>> promise;
  auto future = promise.get_future();
  bool start = false;
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->cancelled) {
      promise.set_value(make_error(kShuttingDown, ErrorKind::kShuttingDown));
      return future;
    }
    auto [it, inserted] = impl_->gets.try_emplace(key);
    auto deadline = Clock::now() + timeout;
    if (inserted) {
      it->second.started = Clock::now();
      it->second.deadline = deadline;
      it->second.settle = settle;
      it->second.nodes_at_start = impl_->dht_nodes;
      it->second.retry_at = it->second.started + Impl::kMaxRetry;
      it->second.retry = retry_empty;
      start = true;
    } else {
      it->second.retry = it->second.retry || retry_empty;
      it->second.deadline = std::max(it->second.deadline, deadline);
      if (settle.count() > 0 && (it->second.settle.count() == 0 || settle < it->second.settle)) {
        it->second.settle = settle;
      }
      if (it->second.best && settle.count() > 0) {
        it->second.deadline = std::min(it->second.deadline, Clock::now() + settle);
      }
    }
    it->second.waiters.push_back(std::move(promise));
  }
  if (start) impl_->get_item(key);
  return future;
}

std::future<PointerPoll> Node::poll_pointer(const PublicKey& key, std::int64_t seq,
                                            std::chrono::milliseconds timeout, bool walk) {
  return impl_->poller->poll(key, seq, timeout, walk);
}

std::future<Result<int>> Node::put_pointer(const SignedPointer& pointer,
                                           std::chrono::milliseconds timeout) {
  std::promise<Result<int>> promise;
  auto future = promise.get_future();
  std::shared_ptr<std::atomic<std::int64_t>> found_seq;
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->cancelled) {
      promise.set_value(make_error(kShuttingDown, ErrorKind::kShuttingDown));
      return future;
    }
    auto& req = impl_->puts[{pointer.key, pointer.seq}];
    req.pointer = pointer;
    req.deadline = Clock::now() + timeout;
    req.waiters.push_back(std::move(promise));
    found_seq = req.found_seq;
  }
  std::array<char, 32> k;
  std::memcpy(k.data(), pointer.key.bytes().data(), k.size());
  std::string value = pointer.value.encode();
  SignedPointer sp = pointer;
  // Runs on libtorrent's DHT thread with the highest item the lookup found.
  // Whatever this leaves in place is what libtorrent puts, so it always puts
  // our own signed item (libtorrent cannot sign with libsodium keys): left
  // alone, a newer item found would be re-put in our name, whatever its value
  // (a forged-names test saw a validly signed but invalid seq 15 spread this
  // way). Nodes holding a newer seq refuse ours (BEP 44), so nothing newer is
  // overwritten; the put then fails and says what the DHT holds.
  impl_->session->dht_put_item(
      k,
      [sp, value, found_seq](lt::entry& v, std::array<char, 64>& sig, std::int64_t& seq,
                             std::string const&) {
        if (v.type() != lt::entry::undefined_t) found_seq->store(seq);
        v = lt::bdecode(value);
        std::memcpy(sig.data(), sp.signature.data(), sig.size());
        seq = sp.seq;
      },
      std::string());
  return future;
}

void Node::push_pointer(const InfoHash& ih, const SignedPointer& pointer, std::string info) {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->cancelled || impl_->stopping) return;
  }
  if (info.empty()) {
    // The new version's metadata, if this node has it, goes first.
    if (auto h = find_torrent(pointer.value.ih); h.is_valid()) {
      if (auto ti = h.torrent_file(); ti && ti->info_section().size() > 0) {
        const auto section = ti->info_section();
        info.assign(section.data(), static_cast<std::size_t>(section.size()));
      }
    }
  }
  impl_->push->push(ih, pointer, std::move(info));
}

void Node::keep_push_peers(const InfoHash& ih) {
  impl_->push->keep(ih);
}

std::vector<std::pair<std::string, int>> Node::push_peers(const InfoHash& ih) {
  return impl_->push->peers(ih);
}

void Node::on_pushed_pointer(std::function<void(const PushedPointer&)> fn) {
  std::lock_guard lock(impl_->mutex);
  impl_->on_pushed = std::move(fn);
}

int Node::dht_nodes() const {
  return impl_->dht_nodes;
}

Reachability Node::reachability() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->reach;
}

}  // namespace hostless
