// How often kept sites are polled (sites/mirrors.cpp, poll_interval).
#include <catch2/catch.hpp>

#include "sites/sites.hpp"

using namespace std::chrono_literals;
using hostless::poll_interval;

TEST_CASE("a name that moved within the hour is polled every interval", "[polling]") {
  CHECK(poll_interval(0ms, 300'000ms) == 300'000ms);
  CHECK(poll_interval(59min, 300'000ms) == 300'000ms);
}

TEST_CASE("a quiet name is polled at an eighth of its quiet time, up to 12 intervals",
          "[polling]") {
  CHECK(poll_interval(4h, 300'000ms) == 30min);
  CHECK(poll_interval(8h, 300'000ms) == 60min);
  CHECK(poll_interval(24h * 30, 300'000ms) == 60min);
  // Never below the interval asked for.
  CHECK(poll_interval(2h, 1'800'000ms) == 30min);
  // Tests poll every second: after three quiet hours, every 12 s.
  CHECK(poll_interval(3h, 1000ms) == 12s);
}

TEST_CASE("due polls are started every thirtieth of the interval, 1 to 10 s", "[polling]") {
  using hostless::poll_tick;
  CHECK(poll_tick(300'000ms) == 10s);
  CHECK(poll_tick(60'000ms) == 2s);
  CHECK(poll_tick(1000ms) == 1s);
  CHECK(poll_tick(24h) == 10s);
}
