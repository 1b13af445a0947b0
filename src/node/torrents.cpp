// Torrents on the node: adding and removing them, announcing them at once,
// waiting on their states and pieces, and the node's counters.
#include "node/detail/impl.hpp"

namespace hostless {
namespace fs = std::filesystem;

void keep_active(lt::add_torrent_params& params) {
  params.flags &= ~lt::torrent_flags::auto_managed;
  params.flags &= ~lt::torrent_flags::paused;
}

Result<lt::torrent_handle> Node::add_torrent(lt::add_torrent_params params) {
  lt::error_code ec;
  keep_active(params);
  lt::torrent_handle h = impl_->session->add_torrent(std::move(params), ec);
  if (ec) return make_error("cannot add torrent: " + ec.message());
  // Tell the DHT at once rather than at the next announce round, so a new
  // version or visitor is findable right away.
  announce_now(h, false);
  // Save resume data right away so a crash after adding still restores it.
  impl_->post([this, h] {
    if (h.is_valid() && h.status({}).has_metadata) {
      {
        std::lock_guard lock(impl_->mutex);
        ++impl_->outstanding_resume;
      }
      h.save_resume_data(lt::torrent_handle::save_info_dict);
    }
  });
  return h;
}

void Node::remove_torrent(const lt::torrent_handle& handle, bool delete_files) {
  if (!handle.is_valid()) return;
  std::string key = ih_key(handle.info_hashes());
  std::error_code ec;
  fs::remove(impl_->resume_dir() / (key + ".resume"), ec);
  impl_->session->remove_torrent(handle,
                                 delete_files ? lt::session::delete_files : lt::remove_flags_t{});
}

void Node::announce_now(const lt::torrent_handle& handle, bool seed) {
  if (!handle.is_valid()) return;
  {
    // A budget of kAnnounceBurst at once, then kAnnouncesPerSecond: each is
    // a lookup of some 20-40 queries, libtorrent drops the DHT traffic over
    // its upload cap (8 KB/s by default), and each DHT node blocks one that
    // sends it more than 5 queries a second for 5 minutes, which on a small
    // network is every node (seen: a node following 8 feeds at a time, each
    // announced every 3 s, lost its whole routing table). Over budget the
    // announce is dropped: callers ask again (every 3 s while alone, every
    // seek), and libtorrent announces each new torrent once by itself.
    std::lock_guard lock(impl_->announce_mutex);
    const auto now = Clock::now();
    const double refill = std::chrono::duration<double>(now - impl_->announce_refilled).count();
    impl_->announce_refilled = now;
    impl_->announce_tokens =
        std::min(kAnnounceBurst, impl_->announce_tokens + refill * kAnnouncesPerSecond);
    if (impl_->announce_tokens < 1) return;
    impl_->announce_tokens -= 1;
  }
  // Port 0 and implied_port, as libtorrent's own announces: the DHT node
  // records the port the query came from.
  lt::dht::announce_flags_t flags = lt::dht::announce::implied_port;
  if (seed) flags |= lt::dht::announce::seed;
  impl_->session->dht_announce(key_hash(handle.info_hashes()), 0, flags);
}

lt::torrent_handle Node::find_torrent(const InfoHash& ih) const {
  lt::sha1_hash h(reinterpret_cast<const char*>(ih.bytes().data()));
  return impl_->session->find_torrent(h);
}

std::future<Status> Node::wait_torrent(const lt::torrent_handle& handle, TorrentCheck check,
                                       std::chrono::milliseconds timeout) {
  auto w = std::make_unique<Impl::TorrentWait>();
  w->handle = handle;
  w->check = std::move(check);
  w->deadline = Clock::now() + timeout;
  auto future = w->promise.get_future();
  std::lock_guard lock(impl_->mutex);
  if (impl_->cancelled) {
    w->promise.set_value(make_error(kShuttingDown, ErrorKind::kShuttingDown));
  } else {
    impl_->torrent_waits.push_back(std::move(w));
  }
  return future;
}

void Node::cancel_waits() {
  if (impl_->poller) impl_->poller->cancel();
  std::lock_guard lock(impl_->mutex);
  impl_->cancelled = true;
  for (auto& [k, g] : impl_->gets) {
    for (auto& w : g.waiters) w.set_value(make_error(kShuttingDown, ErrorKind::kShuttingDown));
  }
  impl_->gets.clear();
  for (auto& [k, p] : impl_->puts) {
    for (auto& w : p.waiters) w.set_value(make_error(kShuttingDown, ErrorKind::kShuttingDown));
  }
  impl_->puts.clear();
  for (auto& w : impl_->torrent_waits) {
    if (w) w->promise.set_value(make_error(kShuttingDown, ErrorKind::kShuttingDown));
  }
  impl_->torrent_waits.clear();
}

bool Node::flush_writes(const lt::torrent_handle& handle, std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  if (impl_->stopping || !handle.is_valid()) return false;
  const std::uint64_t ticket = ++impl_->last_flush;
  auto& queue = impl_->flushes[handle];
  // (Under the lock, so that tickets queue in the order libtorrent gets the
  // fences; flush_cache only posts to the network thread.)
  try {
    handle.flush_cache();
  } catch (const std::exception&) {  // removed meanwhile: nothing left to write
    if (queue.empty()) impl_->flushes.erase(handle);
    return false;
  }
  queue.push_back(ticket);
  impl_->flush_done.wait_for(lock, timeout,
                             [&] { return impl_->flushed.count(ticket) || impl_->stopping; });
  if (impl_->flushed.erase(ticket)) return true;
  // Its alert may still come, and is then dropped (or never comes, if the
  // torrent was removed meanwhile: its queue stays, a few bytes).
  impl_->flush_abandoned.insert(ticket);
  return false;
}

std::uint64_t Node::piece_events() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->piece_events;
}

void Node::wait_piece_event(std::uint64_t seen, std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  impl_->piece_done.wait_for(lock, timeout,
                             [&] { return impl_->piece_events != seen || impl_->stopping; });
}

void Node::every(std::chrono::milliseconds interval, std::function<void()> fn) {
  impl_->post([this, interval, fn = std::move(fn)]() mutable {
    impl_->periodics.push_back({interval, Clock::now() + interval, std::move(fn)});
  });
}

NodeStats Node::stats() const {
  NodeStats s;
  s.dht_nodes = impl_->dht_nodes;
  s.listen_port = impl_->listen_port;
  s.torrents = static_cast<int>(impl_->session->get_torrents().size());
  s.total_download = impl_->received;
  s.total_upload = impl_->sent;
  s.total_failed = impl_->received_failed;
  s.total_redundant = impl_->received_twice;
  s.requests_declined = impl_->requests_declined->load();
  s.dht_bytes_in = impl_->dht_in;
  s.dht_bytes_out = impl_->dht_out;
  return s;
}

std::map<InfoHash, lt::torrent_status> Node::statuses() const {
  auto all = impl_->session->get_torrent_status([](const lt::torrent_status&) { return true; });
  std::map<InfoHash, lt::torrent_status> by_hash;
  for (auto& st : all) {
    const lt::sha1_hash h = key_hash(st.info_hashes);
    InfoHash::Bytes bytes;
    std::memcpy(bytes.data(), h.data(), bytes.size());
    by_hash.emplace(InfoHash(bytes), std::move(st));
  }
  return by_hash;
}

const NodeOptions& Node::options() const {
  return impl_->options;
}

}  // namespace hostless
