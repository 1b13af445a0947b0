// The log: one line per event, "hostless: <message>" on stderr unless a sink
// is set. The node, sites and store layers write here, never to std::cerr,
// so the host (the daemon, a test) decides where lines go and which levels
// it keeps. Thread-safe: lines from several threads never interleave.
#pragma once

#include <functional>
#include <sstream>
#include <string>

namespace hostless {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

using LogSink = std::function<void(LogLevel, const std::string& message)>;

// Replaces the sink (nullptr: stderr again). Call before other threads log.
void set_log_sink(LogSink sink);
void log_message(LogLevel level, const std::string& message);

// A line built with <<, written when the statement ends:
//   LogLine(LogLevel::kWarning) << "refusing seq " << seq;
class LogLine {
 public:
  explicit LogLine(LogLevel level) : level_(level) {}
  ~LogLine() { log_message(level_, out_.str()); }
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  template <class T>
  LogLine& operator<<(const T& value) {
    out_ << value;
    return *this;
  }

 private:
  LogLevel level_;
  std::ostringstream out_;
};

}  // namespace hostless
