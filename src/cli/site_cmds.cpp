// hostless publish | resolve | get | torrent | mirror | unmirror | follow | unfollow | following |
// timeline |
// dashboard | status | sites:
// thin API calls.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/client.hpp"
#include "cli/context.hpp"
#include "gateway/http_rules.hpp"
#include "protocol/address.hpp"
#include "util/files.hpp"

namespace hostless::cli {
namespace fs = std::filesystem;
using json = nlohmann::json;

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

namespace {

// "3 min ago"; "never" for 0.
std::string age(std::int64_t unix_seconds) {
  if (unix_seconds <= 0) return "never";
  auto d = static_cast<std::int64_t>(std::time(nullptr)) - unix_seconds;
  if (d < 60) return "just now";
  if (d < 3600) return std::to_string(d / 60) + " min ago";
  if (d < 86400) return std::to_string(d / 3600) + " h ago";
  return std::to_string(d / 86400) + " days ago";
}

}  // namespace

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

// A command that GETs `path` from the daemon and prints the answer: as JSON
// with --json, else through `print`.
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

namespace {

// A command that takes one site address and POSTs it to /api/v1/<path>;
// with `job`, waits for the job that starts. Prints the answer (the job's
// result) as JSON with --json, else through `print`.
void add_address_command(CLI::App& app, const Globals& g, int& result, const std::string& name,
                         const std::string& description, const std::string& footer,
                         const std::string& path, bool job,
                         std::function<void(const std::string&, const json&)> print) {
  struct Args {
    std::string address;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(name, description);
  cmd->add_option("ADDR", a->address, "Site address (any accepted form)")->required();
  cmd->add_flag("--json", a->json, "Print the result as JSON");
  cmd->footer(footer);
  cmd->callback([&g, &result, a, path, job, print = std::move(print)] {
    auto target = connect_for(g, a->address);
    if (!target) return void(result = kExitFailure);
    auto r = target->api.post("/api/v1/" + path, {{"address", target->address}},
                              std::chrono::seconds(30));
    if (r && job) r = target->api.wait_job((*r)["job"], !a->json);
    if (!r) return void(result = fail(r.error().message));
    if (a->json) {
      std::cout << r->dump(2) << "\n";
    } else {
      print(target->address, *r);
    }
    result = kExitOk;
  });
}

// add_address_command for a call that answers at once: prints `done` and
// the address.
void add_address_action(CLI::App& app, const Globals& g, int& result, const std::string& name,
                        const std::string& description, const std::string& footer,
                        const std::string& done) {
  add_address_command(
      app, g, result, name, description, footer, name, false,
      [done](const std::string& address, const json&) { std::cout << done << address << "\n"; });
}

}  // namespace

void add_site_commands(CLI::App& app, const Globals& g, int& result) {
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
  add_address_command(
      app, g, result, "mirror",
      "Keep a whole copy of a site, seed it, follow its updates, keep its name alive",
      "The site keeps resolving and loading from this node while its publisher is offline.\n"
      "Example:\n  hostless mirror <address>",
      "mirror", true, [](const std::string& address, const json& r) {
        std::cout << "mirroring " << address << " (version " << r["seq"] << ")\n";
      });
  add_address_action(app, g, result, "unmirror", "Stop mirroring a site and free its data",
                     "Example:\n  hostless unmirror <address>", "no longer mirroring ");
  add_address_action(app, g, result, "block",
                     "Block a site: free its data; never visit, follow or mirror it",
                     "Its posts leave the timeline and this node stops seeding it. Undo with\n"
                     "`hostless unblock`.\nExample:\n  hostless block <address>",
                     "blocked ");
  add_address_action(app, g, result, "unblock", "Allow a blocked site again",
                     "Example:\n  hostless unblock <address>", "unblocked ");
  {
    struct Args {
      std::string address, handle;
      bool media = false;
      bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand(
        "follow", "Follow a feed: keep and seed it, fetch its new posts, keep its name alive");
    cmd->add_option("ADDR", a->address, "The feed's address (any accepted form)")->required();
    cmd->add_option("--as", a->handle,
                    "Your name for it (letters, digits, '-', '_'; e.g. alice): "
                    "`hostless unfollow alice`");
    cmd->add_flag("--media", a->media,
                  "Keep its media/ (attachments) too; else they are fetched when opened");
    cmd->add_flag("--json", a->json, "Print the result as JSON");
    cmd->footer(
        "A followed feed's files but media/ (or all, with --media) are kept and seeded\n"
        "while they stay under the daemon's --follow-max-mib, checked for new versions\n"
        "every --mirror-interval, and survive restarts. Following a feed again changes\n"
        "its handle (with --as) and whether its media is kept.\n"
        "Example:\n  hostless follow <address> --as alice");
    cmd->callback([&g, &result, a] {
      auto handle = parse_handle(a->handle);
      if (!handle) return void(result = fail(handle.error().message));
      auto target = connect_for(g, a->address);
      if (!target) return void(result = kExitFailure);
      auto started =
          target->api.post("/api/v1/follow",
                           {{"address", target->address}, {"handle", *handle}, {"media", a->media}},
                           std::chrono::seconds(30));
      if (!started) return void(result = fail(started.error().message));
      auto r = target->api.wait_job((*started)["job"], !a->json);
      if (!r) return void(result = fail(r.error().message));
      if (a->json) {
        std::cout << r->dump(2) << "\n";
      } else {
        std::cout << "following " << target->address;
        if (r->contains("handle")) std::cout << " as @" << (*r)["handle"].get<std::string>();
        std::cout << " (version " << (*r)["seq"]
                  << (r->value("media", false) ? ", with its media" : "") << ")\n";
      }
      result = kExitOk;
    });
  }
  {
    struct Args {
      std::string feed;
      bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("unfollow", "Stop following a feed and free its data");
    cmd->add_option("FEED", a->feed, "The feed's handle or address")->required();
    cmd->add_flag("--json", a->json, "Print the result as JSON");
    cmd->footer("Example:\n  hostless unfollow alice");
    cmd->callback([&g, &result, a] {
      auto api = connect(g);
      if (!api) return void(result = kExitFailure);
      std::string feed = a->feed;
      if (auto addr = SiteAddress::parse(feed)) feed = addr->str();  // URLs and magnets too
      auto r = api->post("/api/v1/unfollow", {{"feed", feed}}, std::chrono::seconds(30));
      if (!r) return void(result = fail(r.error().message));
      if (a->json) {
        std::cout << r->dump(2) << "\n";
      } else {
        std::cout << "no longer following " << (*r)["address"].get<std::string>() << "\n";
      }
      result = kExitOk;
    });
  }
  add_listing(app, g, result, "following", "List the feeds this node follows",
              "--json prints the `sites --json` entries of each feed.\n"
              "Example:\n  hostless following",
              "/api/v1/following", [](const json& r) {
                if (r.empty()) {
                  std::cout << "not following any feed yet (hostless follow <address> --as "
                               "<name>)\n";
                  return;
                }
                std::printf("%-16s %-54s %5s  %s\n", "HANDLE", "ADDRESS", "SEQ", "UPDATED");
                for (const auto& s : r) {
                  std::string handle =
                      s.contains("handle") ? "@" + s["handle"].get<std::string>() : "-";
                  std::printf("%-16s %-54s %5lld  %s\n", handle.c_str(),
                              s["address"].get<std::string>().c_str(),
                              static_cast<long long>(s["seq"].get<std::int64_t>()),
                              age(s.value("version_added", std::int64_t{0})).c_str());
                  if (s.contains("listed_by")) {
                    std::cerr << "note: " << handle << " is on the blocklist "
                              << s["listed_by"].get<std::string>()
                              << "; you follow it, so it stays (`hostless block` it to drop it)\n";
                  }
                }
              });
  {
    auto* lists = app.add_subcommand(
        "blocklist", "Subscribe to blocklists: sites whose blocklist.json names sites to block");
    lists->require_subcommand(1);
    lists->footer(
        "What a subscribed list names is not visited, seeded or suggested by this node,\n"
        "unless you follow or mirror it. The format: docs/microblog.md, \"Blocklists\".\n"
        "Example:\n  hostless blocklist subscribe <address>");
    add_address_command(
        *lists, g, result, "subscribe", "Keep a blocklist and block what it lists",
        "The list is kept like a mirror (within --follow-max-mib) and checked for new\n"
        "versions every --mirror-interval.\nExample:\n  hostless blocklist subscribe <address>",
        "subscribe", true, [](const std::string& address, const json& r) {
          std::cout << "subscribed to " << address << " (version " << r["seq"] << ", "
                    << r["entries"] << " sites listed)\n";
        });
    add_address_action(*lists, g, result, "unsubscribe", "Stop using a blocklist and free its data",
                       "Example:\n  hostless blocklist unsubscribe <address>",
                       "unsubscribed from ");
    add_listing(*lists, g, result, "list", "List the blocklists this node subscribes to",
                "Example:\n  hostless blocklist list", "/api/v1/blocklists", [](const json& r) {
                  if (r.empty()) {
                    std::cout << "no blocklists (hostless blocklist subscribe <address>)\n";
                    return;
                  }
                  for (const auto& l : r) {
                    std::cout << l["address"].get<std::string>() << "  version " << l["seq"];
                    if (l.contains("error")) {
                      std::cout << "  not read: " << l["error"].get<std::string>() << "\n";
                    } else {
                      std::cout << "  " << l["entries"] << " sites\n";
                    }
                  }
                });
  }
  add_listing(app, g, result, "network",
              "List the feeds that the feeds you follow follow (their following.json)",
              "Most followed first, with who follows each and the names they give it;\n"
              "feeds you follow, block or publish are left out.\nExample:\n  hostless network",
              "/api/v1/network", [](const json& r) {
                for (const auto& e : r.value("errors", json::array())) {
                  std::cerr << e.value("handle", e.value("address", "")) << ": following.json "
                            << "not read: " << e.value("error", "") << "\n";
                }
                const json feeds = r.value("feeds", json::array());
                if (feeds.empty()) {
                  std::cout << "no feeds yet: the feeds you follow follow no one else\n";
                  return;
                }
                std::printf("%-54s %-24s  %s\n", "ADDRESS", "CALLED", "FOLLOWED BY");
                for (const auto& f : feeds) {
                  const auto list = [](const json& a, const char* prefix) {
                    std::string s;
                    for (const auto& x : a)
                      s += std::string(s.empty() ? "" : ", ") + prefix + x.get<std::string>();
                    return s.empty() ? std::string("-") : s;
                  };
                  std::printf("%-54s %-24s  %s\n", f["address"].get<std::string>().c_str(),
                              list(f["petnames"], "").c_str(), list(f["followed_by"], "@").c_str());
                }
              });
  {
    struct Args {
      int limit = 20;
      bool json = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("timeline",
                                   "Show the newest posts of the feeds you follow and your own");
    cmd->add_option("--limit", a->limit, "How many posts")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    cmd->add_flag("--json", a->json, "Print JSON: the posts and each feed's state");
    cmd->footer(
        "Newest first; your own posts (feeds this node publishes) show as \"you\". A post\n"
        "dated in the future is shown at the time this node got it.\n"
        "Example:\n  hostless timeline --limit 50");
    cmd->callback([&g, &result, a] {
      auto api = connect(g);
      if (!api) return void(result = kExitFailure);
      auto r =
          api->get("/api/v1/timeline?limit=" + std::to_string(a->limit), std::chrono::seconds(30));
      if (!r) return void(result = fail(r.error().message));
      result = kExitOk;
      if (a->json) {
        std::cout << r->dump(2) << "\n";
        return;
      }
      const auto name = [](const json& j, const char* handle, const char* address) {
        if (j.value("own", false)) return std::string("you");
        return j.contains(handle) ? "@" + j[handle].get<std::string>()
                                  : j[address].get<std::string>().substr(0, 12) + "...";
      };
      const json& posts = (*r)["posts"];
      if (posts.empty()) {
        std::cout << "no posts yet (follow a feed: hostless follow <address> --as <name>)\n";
      }
      for (const auto& p : posts) {
        std::cout << name(p, "handle", "feed") << "  " << age(p["time"].get<std::int64_t>()) << "  "
                  << p["url"].get<std::string>() << "\n";
        // The text is plain text (the feed's rules forbid control characters).
        std::string text = p["text"].get<std::string>();
        std::string::size_type at = 0;
        while ((at = text.find('\n', at)) != std::string::npos) text.replace(at++, 1, "\n    ");
        std::cout << "    " << text << "\n";
        if (p.contains("reply_to")) {
          std::cout << "    reply to "
                    << (p.value("reply_to_own", false) ? std::string("you: ")
                        : p.contains("reply_to_handle")
                            ? "@" + p["reply_to_handle"].get<std::string>() + ": "
                            : std::string())
                    << p["reply_to"].get<std::string>() << "\n";
        }
        for (const auto& at_file : p.value("attachments", json::array())) {
          std::cout << "    attachment: " << at_file["url"].get<std::string>() << "\n";
        }
      }
      for (const auto& f : (*r)["feeds"]) {
        if (f.contains("error")) {
          std::cerr << "hostless: " << name(f, "handle", "address")
                    << ": not shown: " << f["error"].get<std::string>() << "\n";
        }
      }
    });
  }
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
