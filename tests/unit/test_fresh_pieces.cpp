// A seed's fresh-pieces-first rule (node/fresh_pieces.hpp).
#include <catch2/catch.hpp>

#include "node/fresh_pieces.hpp"

using hostless::FreshPieces;

namespace {
constexpr FreshPieces::Peer kA = 1, kB = 2, kC = 3;
}

TEST_CASE("a lone visitor is served every piece", "[fresh_pieces]") {
  FreshPieces f(4);
  for (int p : {2, 0, 3, 1}) CHECK(f.request(kA, p).serve);
  CHECK(f.fresh() == 0);
  // Asking again (a timed-out request, a deadline) is served too.
  CHECK(f.request(kA, 2).serve);
}

TEST_CASE("a piece being sent to one peer is turned down once for another", "[fresh_pieces]") {
  FreshPieces f(4);
  CHECK(f.request(kA, 1).serve);
  CHECK(f.fresh() == 3);
  const auto d = f.request(kB, 1);
  CHECK_FALSE(d.serve);
  CHECK(d.suggest == 0);  // a piece nobody has, to ask for instead
  // The next one turned down is suggested another piece.
  CHECK(f.request(kC, 1).suggest == 2);
  // Asked again, it is served: B may have no other way to get it.
  CHECK(f.request(kB, 1).serve);
  // The rest of a piece being sent to A is A's.
  CHECK(f.request(kA, 1).serve);
}

TEST_CASE("a piece a peer has is turned down while fresh pieces remain", "[fresh_pieces]") {
  FreshPieces f(3);
  f.has(kA, 0);
  CHECK(f.fresh() == 2);
  CHECK_FALSE(f.request(kB, 0).serve);
  CHECK(f.request(kB, 1).serve);
  CHECK(f.request(kC, 2).serve);
  CHECK(f.fresh() == 0);
  // Nothing is fresh any more: every request is served.
  CHECK(f.request(kC, 0).serve);
}

TEST_CASE("a have ends the sending, and a gone peer's pieces are fresh again", "[fresh_pieces]") {
  FreshPieces f(3);
  CHECK(f.request(kA, 0).serve);
  f.has(kA, 0);
  CHECK(f.fresh() == 2);
  f.gone(kA);
  CHECK(f.fresh() == 3);
  CHECK(f.request(kB, 0).serve);

  // A peer that is sent a piece and leaves before it has it frees it too.
  CHECK(f.request(kC, 1).serve);
  f.gone(kC);
  CHECK(f.request(kA, 1).serve);
}

TEST_CASE("a piece the seed will not send after all is fresh again", "[fresh_pieces]") {
  FreshPieces f(3);
  CHECK(f.request(kA, 0).serve);
  CHECK(f.request(kA, 1).serve);
  f.not_sending(kA, 0);  // libtorrent rejected it (a choked peer's request)
  CHECK(f.fresh() == 2);
  CHECK(f.request(kB, 0).serve);
  f.not_sending(kA);  // A was choked: its queue is gone
  CHECK(f.request(kC, 1).serve);
  f.not_sending(kA, 9);  // out of range: nothing
  CHECK(f.fresh() == 1);
}

TEST_CASE("while a seed is connected, or one left while others remain, nothing is fresh",
          "[fresh_pieces]") {
  FreshPieces f(2);
  f.has_all(kC);
  CHECK(f.fresh() == 0);
  CHECK(f.request(kA, 0).serve);
  CHECK(f.request(kB, 0).serve);
  f.gone(kC);
  // C is taken to serve the others still: A and B are connected.
  CHECK(f.fresh() == 0);

  // A visitor that completed (a have for each piece) counts the same.
  FreshPieces g(2);
  g.has(kA, 0);
  g.has(kA, 1);
  g.has(kB, 0);
  g.gone(kA);
  CHECK(g.fresh() == 0);
  g.gone(kB);
  // The swarm is over: the next one starts fresh.
  CHECK(g.fresh() == 2);
}

TEST_CASE("out-of-range pieces are left to libtorrent", "[fresh_pieces]") {
  FreshPieces f(2);
  CHECK(f.request(kA, -1).serve);
  CHECK(f.request(kA, 2).serve);
  f.has(kA, 7);
  CHECK(f.fresh() == 2);
}
