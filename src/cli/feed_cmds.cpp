// hostless post DIR TEXT | post DIR --delete ID: the daemon writes the post
// into the feed folder and publishes it (POST /api/v1/post); --no-publish
// only writes the files, here.
#include <iostream>

#include "cli/context.hpp"
#include "feed/edit.hpp"

namespace hostless::cli {
namespace fs = std::filesystem;
using json = nlohmann::json;

void add_post_command(CLI::App& app, const Globals& g, int& result) {
  struct Args {
    std::string dir, text, reply_to, delete_id, key;
    std::vector<std::string> attach;
    bool no_publish = false;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("post", "Add a post to a feed folder and publish it");
  cmd->add_option("DIR", a->dir, "Feed folder (from `hostless new DIR --template feed`)")
      ->required();
  auto* text = cmd->add_option("TEXT", a->text,
                               "The post: plain text, UTF-8, at most " +
                                   std::to_string(feed::kMaxTextCodePoints) + " characters");
  auto* reply = cmd->add_option("--reply-to", a->reply_to,
                                "Answer this post: hostless://<address>/feed.json#<id> "
                                "(or an address)");
  // One file per --attach, so `--attach cat.jpg "text"` keeps the text.
  auto* attach = cmd->add_option("--attach", a->attach,
                                 "Attach a file (copied into media/); repeat for more, at most " +
                                     std::to_string(feed::kMaxAttachments))
                     ->allow_extra_args(false);
  auto* del = cmd->add_option("--delete", a->delete_id, "Remove the post with this id instead");
  cmd->add_option("--key", a->key, "Publish with this named key (see `hostless keys list`)");
  cmd->add_flag("--no-publish", a->no_publish, "Only write the feed's files");
  cmd->add_flag("--json", a->json, "Print the result as JSON");
  del->excludes(text)->excludes(reply)->excludes(attach);
  cmd->footer(
      "Prints the post's id, then what `hostless publish` prints. Posts keep their\n"
      "mentions (addresses in the text) and replies; see docs/microblog.md.\n"
      "Examples:\n"
      "  hostless post ./feed \"hello, world\"\n"
      "  hostless post ./feed \"me too\" --reply-to hostless://<address>/feed.json#<id>\n"
      "  hostless post ./feed --delete <id>");
  cmd->callback([&g, &result, a] {
    if (a->text.empty() && a->delete_id.empty()) {
      std::cerr << "hostless: give the text to post, e.g. `hostless post " << a->dir
                << " \"hello\"`, or --delete ID\n";
      return void(result = kExitUsage);
    }
    std::error_code ec;
    const fs::path dir = fs::absolute(a->dir, ec);
    feed::Change c;
    c.text = a->text;
    c.delete_id = a->delete_id;
    c.reply_to = a->reply_to;
    for (const auto& f : a->attach) c.attach.push_back(fs::absolute(f, ec));
    if (auto s = feed::check_change(c); !s) return void(result = fail(s.error().message));
    auto current = feed::load(dir);
    if (!current) return void(result = fail(current.error().message));
    if (!c.delete_id.empty() && !current->contains(c.delete_id)) {
      return void(result = fail(current->remove(c.delete_id).error().message));
    }

    json out;
    if (a->no_publish) {
      auto id = feed::apply_change(dir, c, "");
      if (!id) return void(result = fail(id.error().message));
      out = {{"id", *id}, {"deleted", !c.delete_id.empty()}};
    } else {
      // The daemon writes the post and publishes (SiteService::start_post),
      // as the dashboard's posts do.
      auto api = connect(g);
      if (!api) return void(result = kExitFailure);
      json body = {{"folder", dir.string()}, {"key", a->key},          {"text", c.text},
                   {"delete", c.delete_id},  {"reply_to", c.reply_to}, {"attach", json::array()}};
      for (const auto& f : c.attach) body["attach"].push_back(f.string());
      auto started = api->post("/api/v1/post", body, std::chrono::seconds(30));
      if (!started) return void(result = fail(started.error().message));
      auto r = api->wait_job((*started)["job"], !a->json);
      if (!r) return void(result = fail(r.error().message));
      out = *r;
    }
    if (a->json) {
      std::cout << out.dump(2) << "\n";
    } else {
      std::cout << (c.delete_id.empty() ? "posted " : "deleted ") << out["id"].get<std::string>()
                << "\n";
      if (out.contains("publish")) print_publish_result(out["publish"]);
      if (out.value("merged", 0) > 0) {
        std::cerr << "merged " << out["merged"] << (out["merged"] == 1 ? " post" : " posts")
                  << " published from another device with this key\n";
      }
      if (out.value("merged_deletions", 0) > 0) {
        std::cerr << "removed " << out["merged_deletions"]
                  << (out["merged_deletions"] == 1 ? " post" : " posts")
                  << " deleted on another device with this key\n";
      }
      if (out.contains("merge_error")) {
        std::cerr << "warning: " << out["merge_error"].get<std::string>() << "\n";
      }
    }
    result = kExitOk;
  });
}

}  // namespace hostless::cli
