// hostless publish | resolve | get | torrent: a site's versions, published
// from a folder, looked up, downloaded into a folder, or as a .torrent.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/context.hpp"
#include "gateway/http_rules.hpp"

namespace hostless::cli {
namespace fs = std::filesystem;
using json = nlohmann::json;

std::optional<json> publish_folder(const Globals& g, const std::string& dir_text,
                                   const std::string& key, bool show_progress,
                                   const std::optional<std::vector<std::string>>& web_seeds) {
  auto api = connect(g);
  if (!api) return std::nullopt;
  std::error_code ec;
  fs::path dir = fs::absolute(dir_text, ec);
  json body = {{"folder", dir.string()}, {"key", key}};
  if (web_seeds) body["web_seeds"] = *web_seeds;
  auto started = api->post("/api/v1/publish", body, std::chrono::seconds(30));
  if (!started) {
    fail(started.error().message);
    return std::nullopt;
  }
  auto r = api->wait_job((*started)["job"], show_progress);
  if (!r) {
    fail(r.error().message);
    return std::nullopt;
  }
  return *r;
}

void print_publish_result(const json& r) {
  std::cout << r["address"].get<std::string>() << "\n"
            << r["url"].get<std::string>() << "\n"
            << r["magnet"].get<std::string>() << "\n";
  if (r.contains("web_seeds")) {
    for (const auto& url : r["web_seeds"]) {
      std::cerr << "web seed: " << url.get<std::string>() << "\n";
    }
  }
  if (r.value("unchanged", false)) {
    std::cerr << "unchanged: still version " << r["seq"] << "\n";
  } else {
    std::cerr << "published version " << r["seq"] << " (" << r["files"] << " files, info-hash "
              << r["info_hash"].get<std::string>() << ")\n";
  }
  if (r.contains("other_device")) {
    std::cerr << "warning: " << r["other_device"]["message"].get<std::string>() << "\n";
  }
  if (r.contains("note")) std::cerr << "note: " << r["note"].get<std::string>() << "\n";
  if (r.contains("warning")) std::cerr << "warning: " << r["warning"].get<std::string>() << "\n";
  if (r.contains("reachability"))
    std::cerr << "warning: " << r["reachability"].get<std::string>() << "\n";
}

void add_publish_commands(CLI::App& app, const Globals& g, int& result) {
  {
    struct Args {
      std::string dir, key;
      std::vector<std::string> web_seeds;
      bool no_web_seeds = false;
      bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd =
        app.add_subcommand("publish", "Publish a folder as a site (a new version each time)");
    cmd->add_option("DIR", a->dir, "Folder holding the site (index.html at its top)")->required();
    cmd->add_option("--key", a->key, "Publish with this named key (see `hostless keys list`)");
    auto* ws = cmd->add_option("--web-seed", a->web_seeds,
                               "An http(s) folder that serves this version's files too, as "
                               "`hostless export` writes them (repeatable; kept for later "
                               "versions)");
    cmd->add_flag("--no-web-seeds", a->no_web_seeds, "Drop the site's web seeds")->excludes(ws);
    cmd->add_flag("--json", a->json, "Print the result as JSON");
    cmd->footer(
        "Prints the address, then the gateway URL and the BEP 46 magnet.\n"
        "Web seeds let visitors load the site when no peer has it (the publisher\n"
        "offline, no mirror): export each version there (`hostless export`).\n"
        "Example:\n  hostless publish ./mysite\n"
        "  hostless publish ./mysite --web-seed https://example.org/mysite/");
    cmd->callback([&g, &result, a] {
      std::optional<std::vector<std::string>> web_seeds;
      if (!a->web_seeds.empty() || a->no_web_seeds) web_seeds = a->web_seeds;
      auto r = publish_folder(g, a->dir, a->key, !a->json, web_seeds);
      if (!r) return void(result = kExitFailure);
      if (a->json) {
        std::cout << r->dump(2) << "\n";
      } else {
        print_publish_result(*r);
      }
      result = kExitOk;
    });
  }
  {
    struct Args {
      std::string address;
      int timeout = 30;
      bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("resolve", "Look up a site's current version in the DHT");
    cmd->add_option("ADDR", a->address, "Site address (any accepted form)")->required();
    cmd->add_option("--timeout", a->timeout, "Seconds to search")
        ->check(CLI::Range(0, static_cast<int>(kMaxResolveTimeoutMs / 1000)))
        ->capture_default_str();
    cmd->add_flag("--json", a->json, "Print JSON");
    cmd->footer("Example:\n  hostless resolve hostless://<address>");
    cmd->callback([&g, &result, a] {
      auto target = connect_for(g, a->address);
      if (!target) return void(result = kExitFailure);
      auto* api = &target->api;
      const std::string* addr = &target->address;
      auto r = api->get(
          "/api/v1/resolve?address=" + *addr + "&timeout_ms=" + std::to_string(a->timeout * 1000),
          std::chrono::seconds(a->timeout + 10));
      if (!r) return void(result = fail(r.error().message));
      if (a->json) {
        std::cout << r->dump(2) << "\n";
      } else {
        std::cout << "seq        " << (*r)["seq"] << "\n"
                  << "info-hash  " << (*r)["info_hash"].get<std::string>() << "\n"
                  << "magnet     " << (*r)["torrent_magnet"].get<std::string>() << "\n";
      }
      result = kExitOk;
    });
  }
  {
    struct Args {
      std::string address, outdir;
      bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("get", "Download a site's current version into a folder");
    cmd->add_option("ADDR", a->address, "Site address (any accepted form)")->required();
    cmd->add_option("OUTDIR", a->outdir,
                    "New or empty folder to write the site to, or one an interrupted get of "
                    "the same site left (resumed)")
        ->required();
    cmd->add_flag("--json", a->json, "Print the result as JSON");
    cmd->footer(
        "Interrupted (the daemon stopped, a crash, a full disk)? Run the same command\n"
        "again: what was downloaded or written and verifies is kept, the rest fetched.\n"
        "Example:\n  hostless get <address> ./copy");
    cmd->callback([&g, &result, a] {
      auto target = connect_for(g, a->address);
      if (!target) return void(result = kExitFailure);
      auto* api = &target->api;
      const std::string* addr = &target->address;
      std::error_code ec;
      fs::path out = fs::absolute(a->outdir, ec);
      auto started = api->post("/api/v1/get", {{"address", *addr}, {"outdir", out.string()}},
                               std::chrono::seconds(30));
      if (!started) return void(result = fail(started.error().message));
      auto r = api->wait_job((*started)["job"], !a->json);
      if (!r) return void(result = fail(r.error().message));
      if (a->json) {
        std::cout << r->dump(2) << "\n";
      } else {
        std::cout << "wrote " << (*r)["files"] << " files (" << (*r)["bytes"] << " bytes) of "
                  << "version " << (*r)["seq"] << " to " << out.string();
        if (r->value("resumed", false)) {
          std::cout << " (resumed: " << (*r)["kept"] << " files were already there)";
        }
        std::cout << "\n";
        if (r->contains("not_in_site")) {
          std::cerr << "note: " << (*r)["not_in_site"].size() << " files in " << out.string()
                    << " are not part of this version (left as they are), e.g. "
                    << (*r)["not_in_site"][0].get<std::string>() << "\n";
        }
      }
      result = kExitOk;
    });
  }
}

void add_torrent_command(CLI::App& app, const Globals& g, int& result) {
  {
    struct Args {
      std::string address, out;
      bool v1 = false;
      bool magnet = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("torrent", "Save the current version's .torrent file or magnet");
    cmd->add_option("ADDR", a->address, "Site address (any accepted form)")->required();
    cmd->add_option("-o,--output", a->out, "File to write");
    cmd->add_flag("--magnet", a->magnet, "Print the magnet link");
    cmd->add_flag("--v1", a->v1,
                  "The v1-only twin, for clients without BitTorrent v2 (aria2, Transmission 3); "
                  "this node then seeds it");
    cmd->footer(
        "The .torrent opens in any v2-capable BitTorrent client (qBittorrent >= 4.4); the\n"
        "--v1 twin, with its own info-hash, in any BitTorrent client. It is seeded by this\n"
        "node while it holds the version (a site it publishes or mirrors).\n"
        "Examples:\n  hostless torrent <address> -o site.torrent\n"
        "  hostless torrent <address> --v1 --magnet");
    cmd->callback([&g, &result, a] {
      if (a->out.empty() && !a->magnet) {
        return void(result = fail("say what to export: -o FILE, --magnet, or both"));
      }
      auto target = connect_for(g, a->address);
      if (!target) return void(result = kExitFailure);
      const std::string query =
          "/api/v1/torrent?address=" + target->address + (a->v1 ? "&form=v1" : "");
      // Fetching a version this node does not hold whole takes a while.
      constexpr std::chrono::seconds kWait(700);
      if (!a->out.empty()) {
        auto r = target->api.get_raw(query, kWait);
        if (!r) return void(result = fail(r.error().message));
        std::ofstream out(a->out, std::ios::binary | std::ios::trunc);
        out.write(r->data(), static_cast<std::streamsize>(r->size()));
        if (!out) return void(result = fail("cannot write " + a->out));
        std::cerr << "wrote " << a->out << " (" << r->size() << " bytes)\n";
      }
      if (a->magnet) {
        auto r = target->api.get(query + "&format=json", kWait);
        if (!r) return void(result = fail(r.error().message));
        std::cout << (*r)["magnet"].get<std::string>() << "\n";
      }
      result = kExitOk;
    });
  }
}

}  // namespace hostless::cli
