#include "util/log.hpp"

#include <iostream>
#include <mutex>
#include <utility>

namespace hostless {

namespace {

std::mutex& sink_mutex() {
  static std::mutex m;
  return m;
}

LogSink& sink() {
  static LogSink s;
  return s;
}

}  // namespace

void set_log_sink(LogSink s) {
  std::lock_guard lock(sink_mutex());
  sink() = std::move(s);
}

void log_message(LogLevel level, const std::string& message) {
  std::lock_guard lock(sink_mutex());
  if (sink()) return sink()(level, message);
  // Debug lines (HOSTLESS_DEBUG_* tracing) carry their own "[tag]" prefix.
  std::cerr << (level == LogLevel::kDebug ? "" : "hostless: ") << message << '\n';
}

}  // namespace hostless
