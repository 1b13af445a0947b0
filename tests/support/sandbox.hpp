// Test helpers: a temporary directory removed at scope exit, and wait_for.
#pragma once

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

namespace hostless::test {

class Sandbox {
 public:
  Sandbox() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "hostless-test-XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    if (p == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = p;
  }
  ~Sandbox() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& rel) const { return path_ / rel; }

 private:
  std::filesystem::path path_;
};

// Polls `pred` until it returns true or `timeout` passes; returns its last
// answer. The poll interval grows from 5 ms to 200 ms.
inline bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto interval = std::chrono::milliseconds(5);
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(interval);
    interval = std::min(interval * 2, std::chrono::milliseconds(200));
  }
}

}  // namespace hostless::test
