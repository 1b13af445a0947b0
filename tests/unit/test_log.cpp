// The log sink: lines reach the sink set, whole, with their level; from many
// threads at once none is torn or lost.
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "util/log.hpp"

using namespace hostless;

TEST_CASE("log lines go to the sink whole, with their level", "[log]") {
  std::vector<std::pair<LogLevel, std::string>> got;
  set_log_sink([&](LogLevel level, const std::string& line) { got.emplace_back(level, line); });
  LogLine(LogLevel::kWarning) << "refusing seq " << 3 << " of " << std::string("x");
  log_message(LogLevel::kInfo, "plain");
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([t] {
        for (int i = 0; i < 100; ++i) LogLine(LogLevel::kDebug) << "t" << t << " line " << i;
      });
    }
    for (auto& th : threads) th.join();
  }
  set_log_sink(nullptr);
  REQUIRE(got.size() == 2 + 800);
  CHECK(got[0] == std::make_pair(LogLevel::kWarning, std::string("refusing seq 3 of x")));
  CHECK(got[1] == std::make_pair(LogLevel::kInfo, std::string("plain")));
  for (std::size_t i = 2; i < got.size(); ++i) {
    CHECK(got[i].first == LogLevel::kDebug);
    CHECK(got[i].second.rfind("t", 0) == 0);
    CHECK(got[i].second.find(" line ") != std::string::npos);
  }
}
