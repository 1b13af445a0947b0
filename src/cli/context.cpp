// What every command shares (context.hpp): errors, the home, the daemon's
// API, listings.
#include <ctime>
#include <iostream>

#include "cli/context.hpp"
#include "protocol/address.hpp"
#include "store/home.hpp"

namespace hostless::cli {
using json = nlohmann::json;

int fail(const std::string& message) {
  std::cerr << "hostless: " << message << "\n";
  return kExitFailure;
}

std::optional<std::filesystem::path> open_home(const Globals& g) {
  auto home = resolve_home(g.home_flag);
  if (!home) {
    fail(home.error().message);
    return std::nullopt;
  }
  if (auto s = ensure_home(*home); !s) {
    fail(s.error().message);
    return std::nullopt;
  }
  return *home;
}

std::optional<ApiClient> connect(const Globals& g) {
  auto home = open_home(g);
  if (!home) return std::nullopt;
  auto info = find_daemon(*home);
  if (!info) {
    fail(info.error().message);
    return std::nullopt;
  }
  return ApiClient(*info);
}

std::optional<SiteTarget> connect_for(const Globals& g, const std::string& text) {
  auto a = SiteAddress::parse(text);
  auto name = parse_site_name(text);
  if (!a && !name) {
    fail(a.error().message + "; or a name: `hostless name list`");
    return std::nullopt;
  }
  auto api = connect(g);
  if (!api) return std::nullopt;
  if (a) return SiteTarget{a->str(), std::move(*api)};
  // A petname, a followed feed's handle or a DNS name: the daemon knows.
  auto named = api->post("/api/v1/names/lookup", {{"name", *name}}, std::chrono::seconds(15));
  if (!named) {
    // Most likely a mistyped address: say both.
    fail(named.error().message + "\nAs an address: " + a.error().message);
    return std::nullopt;
  }
  return SiteTarget{(*named)["address"].get<std::string>(), std::move(*api)};
}

std::string age(std::int64_t unix_seconds) {
  if (unix_seconds <= 0) return "never";
  auto d = static_cast<std::int64_t>(std::time(nullptr)) - unix_seconds;
  if (d < 60) return "just now";
  if (d < 3600) return std::to_string(d / 60) + " min ago";
  if (d < 86400) return std::to_string(d / 3600) + " h ago";
  return std::to_string(d / 86400) + " days ago";
}

void add_listing(CLI::App& app, const Globals& g, int& result, const char* name,
                 const std::string& description, const std::string& footer, const char* path,
                 std::function<void(const json&)> print) {
  auto json_flag = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand(name, description);
  cmd->add_flag("--json", *json_flag, "Print JSON");
  cmd->footer(footer);
  cmd->callback([&g, &result, json_flag, path, print = std::move(print)] {
    auto api = connect(g);
    if (!api) return void(result = kExitFailure);
    auto r = api->get(path, std::chrono::seconds(10));
    if (!r) return void(result = fail(r.error().message));
    if (*json_flag) {
      std::cout << r->dump(2) << "\n";
    } else {
      print(*r);
    }
    result = kExitOk;
  });
}

}  // namespace hostless::cli
