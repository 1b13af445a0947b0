// hostless follow | unfollow | following | network | timeline: the feeds this
// node follows, who they follow, and their newest posts.
#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/context.hpp"
#include "protocol/address.hpp"

namespace hostless::cli {
using json = nlohmann::json;

void add_follow_commands(CLI::App& app, const Globals& g, int& result) {
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
}

void add_timeline_commands(CLI::App& app, const Globals& g, int& result) {
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
}

}  // namespace hostless::cli
