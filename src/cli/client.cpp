#include "cli/client.hpp"
#include "util/encoding.hpp"

#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <thread>

namespace hostless::cli {
namespace fs = std::filesystem;
using json = nlohmann::json;

Result<DaemonInfo> find_daemon(const fs::path& home) {
  auto none = [&] {
    return make_error("no daemon running for " + home.string() +
                      "; start one with `hostless daemon --home " + home.string() + "`");
  };
  std::ifstream in(home / "daemon.json");
  if (!in) return none();
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) return none();
  DaemonInfo info;
  info.pid = j.value("pid", 0);
  info.host = j.value("api_host", "127.0.0.1");
  info.port = j.value("api_port", 0);
  if (info.pid <= 0 || info.port <= 0 || (::kill(info.pid, 0) != 0 && errno == ESRCH)) {
    return none();
  }
  std::ifstream t(home / "api-token");
  if (!t) return make_error("cannot read " + (home / "api-token").string() + ": the API token");
  std::getline(t, info.token);
  return info;
}

Result<std::string> ApiClient::request(const std::string& method, const std::string& path,
                                       const std::string& body, std::chrono::seconds timeout) {
  httplib::Client c(info_.host, info_.port);
  c.set_connection_timeout(5, 0);
  c.set_read_timeout(timeout.count(), 0);
  c.set_write_timeout(30, 0);
  httplib::Headers headers{{"Authorization", "Bearer " + info_.token}};
  httplib::Result r =
      method == "GET" ? c.Get(path, headers) : c.Post(path, headers, body, "application/json");
  if (!r) {
    return make_error("cannot reach the daemon at " + info_.host + ":" +
                      std::to_string(info_.port) + " (" + httplib::to_string(r.error()) +
                      "); is `hostless daemon` still running?");
  }
  if (r->status >= 400) {
    json j = json::parse(r->body, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.contains("error")) {
      return make_error(
          j["error"].get<std::string>(),
          parse_kind(j.contains("kind") && j["kind"].is_string() ? j["kind"].get<std::string>()
                                                                 : std::string()));
    }
    return make_error("the daemon answered " + std::to_string(r->status));
  }
  return r->body;
}

Result<json> ApiClient::get(const std::string& path, std::chrono::seconds timeout) {
  auto body = request("GET", path, "", timeout);
  if (!body) return body.error();
  json j = json::parse(*body, nullptr, false);
  if (j.is_discarded()) return make_error("the daemon sent invalid JSON");
  return j;
}

Result<json> ApiClient::post(const std::string& path, const json& body,
                             std::chrono::seconds timeout) {
  auto r = request("POST", path, body.dump(), timeout);
  if (!r) return r.error();
  json j = json::parse(*r, nullptr, false);
  if (j.is_discarded()) return make_error("the daemon sent invalid JSON");
  return j;
}

Result<std::string> ApiClient::get_raw(const std::string& path, std::chrono::seconds timeout) {
  return request("GET", path, "", timeout);
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

Result<json> ApiClient::wait_job(const std::string& id, bool show_progress) {
  bool tty = show_progress && ::isatty(STDERR_FILENO);
  std::string last_line;
  std::string last_stage;
  while (true) {
    auto j = get("/api/v1/jobs/" + id, std::chrono::seconds(30));
    if (!j) return j.error();
    std::string state = j->value("state", "");
    std::string stage = j->value("stage", "");
    if (state != "running") {
      if (tty && !last_line.empty())
        std::cerr << "\r" << std::string(last_line.size(), ' ') << "\r";
      if (state == "done") return (*j)["result"];
      return make_error(j->value("error", "the job failed"),
                        parse_kind(j->value("error_kind", std::string())));
    }
    std::uint64_t done = j->value("done", std::uint64_t{0});
    std::uint64_t total = j->value("total", std::uint64_t{0});
    if (tty) {
      std::string line = stage;
      if (total > 0) {
        int pct = static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total));
        int width = 30;
        int fill = pct * width / 100;
        line += " [" + std::string(fill, '#') + std::string(width - fill, '.') + "] " +
                std::to_string(pct) + "% " + human_bytes(static_cast<double>(done)) + " / " +
                human_bytes(static_cast<double>(total));
      }
      if (line.size() < last_line.size()) line += std::string(last_line.size() - line.size(), ' ');
      std::cerr << "\r" << line << std::flush;
      last_line = line;
    } else if (show_progress && stage != last_stage) {
      std::cerr << stage << "...\n";
    }
    last_stage = stage;
    std::this_thread::sleep_for(std::chrono::milliseconds(tty ? 100 : 50));
  }
}

}  // namespace hostless::cli
