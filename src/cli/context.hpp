// What every command shares: the resolved home and output options.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli/client.hpp"

namespace hostless::cli {

struct Globals {
  std::optional<std::string> home_flag;
};

// Exit codes (DESIGN.md): 0 success, 1 failure, 2 usage.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Prints "hostless: <message>" to stderr and returns kExitFailure.
int fail(const std::string& message);

// Resolves and creates <home>; on failure prints the error and returns nullopt.
std::optional<std::filesystem::path> open_home(const Globals& g);

// Finds the home's daemon; prints the error and returns nullopt when none
// runs.
std::optional<ApiClient> connect(const Globals& g);

struct SiteTarget {
  std::string address;  // canonical
  ApiClient api;
};
// For commands that name a site: validates the address locally first, so a
// typo gets the parser's message without needing a daemon, then finds the
// daemon, which turns a name into its address. Prints the error and returns
// nullopt on failure.
std::optional<SiteTarget> connect_for(const Globals& g, const std::string& text);

// Each add_* registers commands on `app`; `result` receives the exit code.
// keys ... (keys_cmd.cpp)
void add_keys_commands(CLI::App& app, const Globals& g, int& result);
void add_daemon_command(CLI::App& app, const Globals& g, int& result);
// publish, resolve, get (publish_cmds.cpp)
void add_publish_commands(CLI::App& app, const Globals& g, int& result);
// torrent (publish_cmds.cpp)
void add_torrent_command(CLI::App& app, const Globals& g, int& result);
// mirror, unmirror, block, unblock (mirror_cmds.cpp)
void add_mirror_commands(CLI::App& app, const Globals& g, int& result);
// blocklist subscribe | unsubscribe | list (mirror_cmds.cpp)
void add_blocklist_command(CLI::App& app, const Globals& g, int& result);
// follow, unfollow, following (follow_cmds.cpp)
void add_follow_commands(CLI::App& app, const Globals& g, int& result);
// network, timeline (follow_cmds.cpp)
void add_timeline_commands(CLI::App& app, const Globals& g, int& result);
// dashboard, status, sites (status_cmds.cpp)
void add_status_commands(CLI::App& app, const Globals& g, int& result);
void add_name_commands(CLI::App& app, const Globals& g, int& result);
void add_export_command(CLI::App& app, const Globals& g, int& result);
void add_new_command(CLI::App& app, int& result);
void add_post_command(CLI::App& app, const Globals& g, int& result);

// What `hostless publish DIR` does: asks the daemon to publish the folder
// (POST /api/v1/publish) and waits for the job, showing its progress on
// stderr when `show_progress`. Returns the job's result (address, url,
// magnet, seq, ...); prints the error and returns nullopt on failure.
std::optional<nlohmann::json> publish_folder(
    const Globals& g, const std::string& dir, const std::string& key, bool show_progress,
    const std::optional<std::vector<std::string>>& web_seeds = std::nullopt);
// Prints a publish result as `hostless publish` does: address, URL and
// magnet on stdout, the version and any warnings on stderr.
void print_publish_result(const nlohmann::json& r);

// A command that GETs `path` from the daemon and prints the answer: as JSON
// with --json, else through `print`.
void add_listing(CLI::App& app, const Globals& g, int& result, const char* name,
                 const std::string& description, const std::string& footer, const char* path,
                 std::function<void(const nlohmann::json&)> print);

// "3 min ago"; "never" for 0.
std::string age(std::int64_t unix_seconds);

}  // namespace hostless::cli
