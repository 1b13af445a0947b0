// hostless dashboard | status | sites: the daemon's dashboard link, its
// state, and the sites it holds.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/context.hpp"
#include "util/files.hpp"

namespace hostless::cli {
namespace fs = std::filesystem;
using json = nlohmann::json;

void add_status_commands(CLI::App& app, const Globals& g, int& result) {
  {
    struct Args {
      bool open = false;
      bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("dashboard", "Print (or open) a sign-in link to the dashboard");
    cmd->add_flag("--open", a->open, "Also open it in the default browser (xdg-open)");
    cmd->add_flag("--json", a->json, "Print JSON");
    cmd->footer(
        "The link signs this browser in once and works for 2 minutes; the dashboard\n"
        "then stays signed in until the daemon restarts.\n"
        "Example:\n  hostless dashboard --open");
    cmd->callback([&g, &result, a] {
      auto api = connect(g);
      if (!api) return void(result = kExitFailure);
      auto r = api->post("/api/v1/login-codes", nlohmann::json::object(), std::chrono::seconds(10));
      if (!r) return void(result = fail(r.error().message));
      std::string url = (*r)["url"].get<std::string>();
      if (a->json) {
        std::cout << r->dump(2) << "\n";
      } else {
        std::cout << url << "\n";
      }
      if (a->open) {
        // Not the link itself on a command line (any local user can read
        // /proc/*/cmdline and could trade the code first): a file only this
        // user can read, which sends the browser on.
        auto home = open_home(g);
        if (!home) return void(result = kExitFailure);
        fs::path page = *home / "dashboard-login.html";
        std::string html =
            "<!doctype html><meta charset=utf-8><title>hostless</title>"
            "<meta http-equiv=refresh content=\"0; url=" +
            url + "\"><a href=\"" + url + "\">Open the dashboard</a>\n";
        if (!write_file_atomic(page, html, 0600)) {
          return void(result = fail("cannot write " + page.string()));
        }
        std::string target = "file://" + page.string();
        pid_t pid = ::fork();
        if (pid == 0) {
          ::execlp("xdg-open", "xdg-open", target.c_str(), static_cast<char*>(nullptr));
          ::_exit(127);
        }
        int status = 0;
        if (pid < 0 || ::waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
          std::cerr << "hostless: could not open a browser (xdg-open); open the link above\n";
        }
      }
      result = kExitOk;
    });
  }
  add_listing(app, g, result, "status", "Show the daemon's state (DHT, ports, totals)",
              "Example:\n  hostless status --json", "/api/v1/status", [](const json& r) {
                for (auto& [k, v] : r.items()) std::cout << k << ": " << v.dump() << "\n";
              });
  add_listing(
      app, g, result, "sites", "List the sites this node publishes, mirrors, follows or visited",
      "Example:\n  hostless sites --json", "/api/v1/sites", [](const json& r) {
        if (r.empty()) {
          std::cout << "no sites yet\n";
        } else {
          std::printf("%-54s %-9s %5s %10s %10s %5s %-7s  %s\n", "ADDRESS", "ROLE", "SEQ", "SIZE",
                      "ON DISK", "PEERS", "NAME", "LAST VISIT");
          // NAME: whether the DHT holds the name of a site this node keeps
          // alive ("stored"), or not yet ("pending", retried).
          const auto name = [](const nlohmann::json& s) {
            if (!s.contains("name")) return std::string("-");
            return std::string(s["name"].value("state", "") == "stored" ? "stored" : "pending");
          };
          const auto bytes = [](const nlohmann::json& s, const char* key) {
            return s.contains(key) ? human_bytes(s[key].get<double>()) : std::string("-");
          };
          for (const auto& s : r) {
            std::string peers = s.contains("peers") ? std::to_string(s["peers"].get<int>()) : "-";
            std::printf("%-54s %-9s %5lld %10s %10s %5s %-7s  %s\n",
                        s["address"].get<std::string>().c_str(),
                        s["role"].get<std::string>().c_str(),
                        static_cast<long long>(s["seq"].get<std::int64_t>()),
                        bytes(s, "size").c_str(), bytes(s, "on_disk").c_str(), peers.c_str(),
                        name(s).c_str(), age(s["last_visit"].get<std::int64_t>()).c_str());
          }
        }
      });
}

}  // namespace hostless::cli
