#include "node/fresh_pieces.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include <libtorrent/bitfield.hpp>
#include <libtorrent/peer_connection_handle.hpp>
#include <libtorrent/peer_info.hpp>
#include <libtorrent/peer_request.hpp>

#include "node/detail/wire.hpp"

namespace hostless {

namespace {

constexpr FreshPieces::Peer kNobody = 0;

}  // namespace

FreshPieces::FreshPieces(int pieces)
    : holders_(static_cast<std::size_t>(pieces), 0),
      sending_(static_cast<std::size_t>(pieces), kNobody),
      fresh_(pieces) {}

FreshPieces::PeerState& FreshPieces::state(Peer peer) {
  auto [it, added] = peers_.try_emplace(peer);
  if (added) {
    it->second.has.assign(holders_.size(), false);
    it->second.declined.assign(holders_.size(), false);
  }
  return it->second;
}

bool FreshPieces::is_fresh(int piece) const {
  const auto i = static_cast<std::size_t>(piece);
  return seeds_ == 0 && !seed_left_ && holders_[i] == 0 && sending_[i] == kNobody;
}

void FreshPieces::recount() {
  fresh_ = 0;
  for (int p = 0; p < pieces(); ++p) fresh_ += is_fresh(p) ? 1 : 0;
}

template <class F>
void FreshPieces::update(int piece, F&& change) {
  const bool before = is_fresh(piece);
  change(static_cast<std::size_t>(piece));
  fresh_ += (is_fresh(piece) ? 1 : 0) - (before ? 1 : 0);
}

void FreshPieces::has(Peer peer, int piece) {
  if (piece < 0 || piece >= pieces()) return;
  PeerState& s = state(peer);
  const auto i = static_cast<std::size_t>(piece);
  if (s.has[i]) return;
  s.has[i] = true;
  ++s.count;
  update(piece, [&](std::size_t p) {
    ++holders_[p];
    if (sending_[p] == peer) sending_[p] = kNobody;
  });
}

void FreshPieces::has_all(Peer peer) {
  PeerState& s = state(peer);
  if (s.seed) return;
  s.seed = true;
  ++seeds_;
  recount();
}

void FreshPieces::gone(Peer peer) {
  if (auto it = peers_.find(peer); it != peers_.end()) {
    const PeerState& s = it->second;
    for (std::size_t i = 0; i < holders_.size(); ++i) {
      if (s.has[i]) --holders_[i];
    }
    if (s.seed || s.count == pieces()) seed_left_ = true;
    if (s.seed) --seeds_;
    peers_.erase(it);
  }
  not_sending(peer);
  if (peers_.empty()) seed_left_ = false;  // the swarm is over
  recount();
}

void FreshPieces::not_sending(Peer peer, int piece) {
  const int first = piece < 0 ? 0 : piece;
  const int end = piece < 0 ? pieces() : std::min(piece + 1, pieces());
  for (int p = first; p < end; ++p) {
    if (sending_[static_cast<std::size_t>(p)] == peer) {
      update(p, [&](std::size_t i) { sending_[i] = kNobody; });
    }
  }
}

int FreshPieces::next_fresh() {
  for (int k = 0; k < pieces(); ++k) {
    const int p = (cursor_ + k) % pieces();
    if (is_fresh(p)) {
      cursor_ = (p + 1) % pieces();
      return p;
    }
  }
  return -1;
}

FreshPieces::Decision FreshPieces::request(Peer peer, int piece) {
  if (piece < 0 || piece >= pieces()) return {};
  const auto i = static_cast<std::size_t>(piece);
  PeerState& s = state(peer);  // a peer that only asks is connected too (see gone())
  if (sending_[i] == peer) return {};
  if (is_fresh(piece)) {
    update(piece, [&](std::size_t p) { sending_[p] = peer; });
    return {};
  }
  if (fresh_ == 0 || s.declined[i]) return {};
  s.declined[i] = true;
  return {false, next_fresh()};
}

namespace {

struct Shared {
  std::shared_ptr<std::atomic<std::int64_t>> declined;  // the node's count
  std::unique_ptr<FreshPieces> pieces;
  bool seeding = false;
  FreshPieces::Peer next = kNobody + 1;
};

// BEP 6 message ids.
constexpr char kSuggestPiece = 13;
constexpr char kRejectRequest = 16;

class FreshPeer final : public lt::peer_plugin {
 public:
  FreshPeer(lt::peer_connection_handle pc, std::shared_ptr<Shared> shared)
      : pc_(std::move(pc)), shared_(std::move(shared)), id_(shared_->next++) {}
  ~FreshPeer() override { forget(); }

  bool on_handshake(lt::span<const char> reserved) override {
    fast_ = reserved.size() >= 8 && (reserved[7] & 0x04) != 0;
    return true;
  }
  bool on_bitfield(const lt::bitfield& bits) override {
    if (FreshPieces* f = pieces()) {
      for (int p = 0; p < bits.size(); ++p) {
        if (bits.get_bit(p)) f->has(id_, p);
      }
    }
    return false;
  }
  bool on_have_all() override {
    if (FreshPieces* f = pieces()) f->has_all(id_);
    return false;
  }
  bool on_have(lt::piece_index_t piece) override {
    if (FreshPieces* f = pieces()) f->has(id_, static_cast<int>(piece));
    return false;
  }
  void on_disconnect(const lt::error_code&) override { forget(); }
  void sent_choke() override {
    if (shared_->pieces) shared_->pieces->not_sending(id_);
  }
  void sent_reject_request(const lt::peer_request& r) override {
    if (shared_->pieces) shared_->pieces->not_sending(id_, static_cast<int>(r.piece));
  }

  bool on_request(const lt::peer_request& r) override {
    if (!fast_ || !shared_->seeding) return false;
    FreshPieces* f = pieces();
    if (!f) return false;
    const FreshPieces::Decision d = f->request(id_, static_cast<int>(r.piece));
    if (d.serve) return false;
    ++*shared_->declined;
    std::string msg;
    wire::append_u32(msg, 13);
    msg += kRejectRequest;
    wire::append_u32(msg, static_cast<std::uint32_t>(static_cast<int>(r.piece)));
    wire::append_u32(msg, static_cast<std::uint32_t>(r.start));
    wire::append_u32(msg, static_cast<std::uint32_t>(r.length));
    if (d.suggest >= 0) {
      wire::append_u32(msg, 5);
      msg += kSuggestPiece;
      wire::append_u32(msg, static_cast<std::uint32_t>(d.suggest));
    }
    wire::append_flush_padding(msg);
    pc_.send_buffer(msg.data(), static_cast<int>(msg.size()));
    return true;
  }

 private:
  FreshPieces* pieces() {
    if (!shared_->pieces) {
      lt::peer_info info;
      pc_.get_peer_info(info);  // sized to the torrent's pieces once it has metadata
      if (info.pieces.size() > 0)
        shared_->pieces = std::make_unique<FreshPieces>(info.pieces.size());
    }
    return shared_->pieces.get();
  }
  void forget() {
    if (gone_) return;
    gone_ = true;
    if (shared_->pieces) shared_->pieces->gone(id_);
  }

  lt::peer_connection_handle pc_;
  std::shared_ptr<Shared> shared_;
  FreshPieces::Peer id_;
  bool fast_ = false;
  bool gone_ = false;
};

class FreshTorrent final : public lt::torrent_plugin {
 public:
  explicit FreshTorrent(std::shared_ptr<std::atomic<std::int64_t>> declined) {
    shared_->declined = std::move(declined);
  }
  std::shared_ptr<lt::peer_plugin> new_connection(const lt::peer_connection_handle& pc) override {
    return std::make_shared<FreshPeer>(pc, shared_);
  }
  void on_state(lt::torrent_status::state_t s) override {
    shared_->seeding = s == lt::torrent_status::seeding;
  }

 private:
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
};

}  // namespace

std::shared_ptr<lt::torrent_plugin> fresh_pieces_plugin(
    std::shared_ptr<std::atomic<std::int64_t>> declined) {
  return std::make_shared<FreshTorrent>(std::move(declined));
}

}  // namespace hostless
