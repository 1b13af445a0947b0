// Finding a home's daemon and calling its control API.
#pragma once

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "util/result.hpp"

namespace hostless::cli {

struct DaemonInfo {
  int pid = 0;
  std::string host;
  int port = 0;
  std::string token;
};

// Reads <home>/daemon.json and <home>/api-token; fails with "no daemon running
// for <home>; start one with `hostless daemon`" when there is none.
Result<DaemonInfo> find_daemon(const std::filesystem::path& home);

class ApiClient {
 public:
  explicit ApiClient(DaemonInfo info) : info_(std::move(info)) {}

  Result<nlohmann::json> get(const std::string& path, std::chrono::seconds timeout);
  Result<nlohmann::json> post(const std::string& path, const nlohmann::json& body,
                              std::chrono::seconds timeout);
  Result<std::string> get_raw(const std::string& path, std::chrono::seconds timeout);
  // Polls a job until it ends, drawing progress on stderr when it is a TTY.
  Result<nlohmann::json> wait_job(const std::string& id, bool show_progress);

 private:
  Result<std::string> request(const std::string& method, const std::string& path,
                              const std::string& body, std::chrono::seconds timeout);
  DaemonInfo info_;
};

// "1.5 MiB"
std::string human_bytes(double bytes);

}  // namespace hostless::cli
