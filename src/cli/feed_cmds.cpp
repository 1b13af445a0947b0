// hostless post DIR TEXT | post DIR --delete ID: write a microblog feed's
// files again (src/feed) and publish the folder as `hostless publish` does.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <random>

#include "cli/context.hpp"
#include "feed/feed.hpp"

namespace hostless::cli {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Holds an exclusive flock on the feed folder itself (no lock file to
// publish), so two `hostless post` on one folder do not lose a post.
class FolderLock {
 public:
  explicit FolderLock(const fs::path& dir) : fd_(::open(dir.c_str(), O_RDONLY | O_DIRECTORY)) {
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~FolderLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_;
};

std::uint64_t now_us() {
  auto d = std::chrono::system_clock::now().time_since_epoch();
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

// An attachment's file in the feed folder, when its url names a plain file
// directly in media/ (as `post --attach` writes them), relative to the folder.
std::optional<fs::path> media_file(const feed::Attachment& a) {
  fs::path rel(a.url);
  if (rel.parent_path() != "media" || rel.filename() == ".." || rel.filename() == ".") {
    return std::nullopt;
  }
  return rel;
}

struct Change {
  std::string text;
  std::string reply_to;  // canonical
  std::vector<fs::path> attach;
  std::string delete_id;
};

// Applies the change to the feed in `dir` under the folder lock; `address`,
// when not empty, is recorded as the feed's. Returns the post's id.
Result<std::string> apply(const fs::path& dir, const Change& c, const std::string& address) {
  FolderLock lock(dir);
  auto loaded = feed::load(dir);
  if (!loaded) return loaded.error();
  feed::Feed f = std::move(*loaded);
  if (!address.empty()) f.address = address;
  std::string id;
  if (!c.delete_id.empty()) {
    auto removed = f.remove(c.delete_id);
    if (!removed) return removed.error();
    id = removed->id;
    for (const auto& a : removed->attachments) {
      if (auto rel = media_file(a)) {
        std::error_code ec;
        fs::remove(dir / *rel, ec);
      }
    }
  } else {
    std::uint64_t t = now_us();
    // Ids sort by time even when the clock steps back: never below the newest.
    if (auto newest = feed::post_id_time(f.newest_id()); newest && *newest >= t) t = *newest + 1;
    std::random_device rd;
    feed::Post p;
    p.id = feed::make_post_id(t, rd());
    p.published = static_cast<std::int64_t>(t / 1000000);
    p.text = c.text;
    p.reply_to = c.reply_to;
    p.mentions = feed::find_mentions(c.text);
    std::error_code ec;
    fs::create_directories(dir / "media", ec);
    for (const auto& src : c.attach) {
      std::string name = feed::media_name(p.id, src.filename().string());
      fs::copy_file(src, dir / "media" / name, ec);
      if (ec) {
        std::string why = ec.message();
        // Leave no half-made post behind: its other files go too.
        for (const auto& done : p.attachments) fs::remove(dir / done.url, ec);
        return make_error("cannot copy " + src.string() + " into media/: " + why +
                          " (attach each file once)");
      }
      feed::Attachment a;
      a.url = "media/" + name;
      a.mime_type = feed::mime_type_for(name);
      a.size = fs::file_size(dir / "media" / name, ec);
      p.attachments.push_back(a);
    }
    id = p.id;
    f.add(std::move(p));
  }
  if (auto s = feed::save(dir, f); !s) return s.error();
  return id;
}

// Makes the feed's files name `address`.
Status record_address(const fs::path& dir, const std::string& address) {
  FolderLock lock(dir);
  auto f = feed::load(dir);
  if (!f) return f.error();
  f->address = address;
  return feed::save(dir, *f);
}

// Posts another device published under this feed's key that the folder
// lacks (docs/microblog.md, "One key on two devices"): `version` (its
// info-hash, `seq`) is fetched into a scratch folder and its posts (and
// their media) merged into `dir`. Returns how many posts it took; says so
// on stderr.
Result<std::size_t> merge_version(const Globals& g, const fs::path& dir, const std::string& address,
                                  const std::string& version, std::int64_t seq) {
  auto api = connect(g);
  if (!api) return make_error("no daemon to fetch the other device's version");
  std::random_device rd;
  const fs::path scratch =
      fs::temp_directory_path() / ("hostless-merge-" + std::to_string(rd()) + std::to_string(rd()));
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{scratch};
  auto started = api->post(
      "/api/v1/get", {{"address", address}, {"outdir", scratch.string()}, {"info_hash", version}},
      std::chrono::seconds(30));
  if (!started) return started.error();
  auto got = api->wait_job((*started)["job"], false);
  if (!got) return got.error();
  auto other = feed::load(scratch);
  if (!other) {
    return make_error("version " + std::to_string(seq) +
                      " of this feed is not a feed: " + other.error().message);
  }
  FolderLock lock(dir);
  auto here = feed::load(dir);
  if (!here) return here.error();
  const auto taken = here->merge(*other);
  if (taken.empty()) return std::size_t{0};
  std::error_code ec;
  fs::create_directories(dir / "media", ec);
  for (const auto& p : taken) {
    for (const auto& a : p.attachments) {
      if (auto rel = media_file(a)) {
        fs::copy_file(scratch / *rel, dir / *rel, fs::copy_options::skip_existing, ec);
      }
    }
  }
  if (auto s = feed::save(dir, *here); !s) return s.error();
  std::cerr << "merged " << taken.size() << (taken.size() == 1 ? " post" : " posts")
            << " from version " << seq << ", published from another device with this key\n";
  return taken.size();
}

// Writes the feeds this node follows, with their handles, into the feed's
// following.json (docs/microblog.md), so followers' "network" views list
// them. Under the folder lock.
Status record_following(const Globals& g, const fs::path& dir) {
  auto api = connect(g);
  if (!api) return make_error("no daemon to ask whom this node follows");
  auto r = api->get("/api/v1/following", std::chrono::seconds(20));
  if (!r) return r.error();
  std::vector<feed::Followed> list;
  for (const auto& s : *r) list.push_back({s.value("address", ""), s.value("handle", "")});
  FolderLock lock(dir);
  return feed::save_following(dir, list);
}

}  // namespace

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
    Change c;
    c.delete_id = a->delete_id;
    if (c.delete_id.empty()) {
      if (auto s = feed::check_text(a->text); !s) return void(result = fail(s.error().message));
      c.text = a->text;
      if (!a->reply_to.empty()) {
        auto r = feed::parse_reply_to(a->reply_to);
        if (!r) return void(result = fail(r.error().message));
        c.reply_to = *r;
      }
      if (a->attach.size() > feed::kMaxAttachments) {
        std::cerr << "hostless: at most " << feed::kMaxAttachments << " attachments a post\n";
        return void(result = kExitUsage);
      }
      for (const auto& f : a->attach) {
        std::error_code ec;
        if (!fs::is_regular_file(f, ec)) return void(result = fail(f + " is not a file to attach"));
        c.attach.emplace_back(f);
      }
    }
    std::error_code ec;
    fs::path dir = fs::absolute(a->dir, ec);
    auto current = feed::load(dir);
    if (!current) return void(result = fail(current.error().message));
    if (!c.delete_id.empty() && !current->contains(c.delete_id)) {
      return void(result = fail(current->remove(c.delete_id).error().message));
    }

    // The feed's files name its address (Atom ids, feed_url): a feed never
    // published is published once as it is to learn it.
    std::string address = current->address;
    if (!a->no_publish && address.empty()) {
      auto first = publish_folder(g, dir.string(), a->key, false);
      if (!first) return void(result = kExitFailure);
      address = (*first)["address"].get<std::string>();
    }
    if (!a->no_publish) {
      if (auto s = record_following(g, dir); !s) {
        return void(result = fail("cannot write following.json: " + s.error().message));
      }
    }
    auto id = apply(dir, c, address);
    if (!id) return void(result = fail(id.error().message));

    json out = {{"id", *id}, {"deleted", !c.delete_id.empty()}};
    if (!a->no_publish) {
      auto r = publish_folder(g, dir.string(), a->key, !a->json);
      // Published under another address than the files name (another --key):
      // they name the new one, in one more version.
      if (r && (*r)["address"].get<std::string>() != address) {
        if (auto s = record_address(dir, (*r)["address"]); !s) {
          return void(result = fail(s.error().message));
        }
        r = publish_folder(g, dir.string(), a->key, !a->json);
      }
      // The DHT held a version this node did not publish (the other device
      // of a shared key): its posts are merged in, in one more version, so
      // none is lost.
      if (r && r->contains("other_device")) {
        const auto& other = (*r)["other_device"];
        auto merged = merge_version(g, dir, (*r)["address"], other.value("info_hash", ""),
                                    other.value("seq", std::int64_t{0}));
        if (!merged) {
          std::cerr << "hostless: cannot merge the posts of version " << other.value("seq", 0)
                    << ", published from another device: " << merged.error().message
                    << "; they are not in this version\n";
        } else if (*merged > 0) {
          r = publish_folder(g, dir.string(), a->key, !a->json);
        }
      }
      if (!r) {
        std::cerr << "hostless: the change is saved in " << dir.string()
                  << "; publish it with `hostless publish " << a->dir << "`\n";
        return void(result = kExitFailure);
      }
      out["publish"] = *r;
    }
    if (a->json) {
      std::cout << out.dump(2) << "\n";
    } else {
      std::cout << (c.delete_id.empty() ? "posted " : "deleted ") << *id << "\n";
      if (out.contains("publish")) print_publish_result(out["publish"]);
    }
    result = kExitOk;
  });
}

}  // namespace hostless::cli
