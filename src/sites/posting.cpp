// The sites layer's posting: a post (or a deletion) written into a feed
// folder this node publishes, then published, as `hostless post` and the
// dashboard ask (docs/microblog.md, "Publishing").
#include <random>

#include "feed/edit.hpp"
#include "sites/sites.hpp"

namespace hostless {
namespace fs = std::filesystem;
using json = nlohmann::json;

Result<std::string> SiteManager::start_post(const PostRequest& request) {
  if (request.folder.empty() == request.address.empty()) {
    return make_error(request.folder.empty()
                          ? "name the feed to post to: its folder or its address"
                          : "name the feed by its folder or by its address, not both");
  }
  if (!request.folder.empty() && !fs::path(request.folder).is_absolute()) {
    return make_error("post needs an absolute folder path");
  }
  if (request.text.empty() == request.delete_id.empty()) {
    return make_error("give the text to post, or the id of the post to delete");
  }
  return run_job("post",
                 [this, request](const Progress& progress) { return post(request, progress); });
}

Result<json> SiteManager::post(const PostRequest& request, const Progress& progress) {
  fs::path dir = request.folder;
  std::string key = request.key_name;
  if (!request.address.empty()) {
    auto addr = SiteAddress::parse(request.address);
    if (!addr) return addr.error();
    auto record = catalog_.site(*addr);
    if (!record) return record.error();
    if (!*record || (*record)->role != SiteRole::kPublished || (*record)->folder.empty()) {
      return make_error("this node does not publish " + addr->str() +
                        ": post to a feed you made with `hostless new DIR --template feed`");
    }
    dir = (*record)->folder;
    key = (*record)->key_name;
  }

  feed::Change change;
  change.text = request.text;
  change.delete_id = request.delete_id;
  change.reply_to = request.reply_to;
  for (const auto& a : request.attach) change.attach.emplace_back(a);
  if (auto s = feed::check_change(change); !s) return s.error();
  auto current = feed::load(dir);
  if (!current) return current.error();
  if (!change.delete_id.empty() && !current->contains(change.delete_id)) {
    return current->remove(change.delete_id).error();
  }

  // The feed's files name its address (Atom ids, feed_url): a feed never
  // published is published once as it is to learn it.
  std::string address = current->address;
  if (address.empty()) {
    auto first = publish(dir, key, progress);
    if (!first) return first.error();
    address = (*first)["address"].get<std::string>();
  }
  std::vector<feed::Followed> follows;
  if (auto sites = catalog_.sites()) {
    for (const auto& s : *sites) {
      if (s.role == SiteRole::kFollowed) follows.push_back({s.address.str(), s.handle});
    }
  }
  if (auto s = feed::record_following(dir, follows); !s) {
    return make_error("cannot write following.json: " + s.error().message);
  }
  auto id = feed::apply_change(dir, change, address);
  if (!id) return id.error();

  json out = {{"id", *id}, {"deleted", !change.delete_id.empty()}};
  const auto unpublished = [&](const Error& e) {
    return make_error(e.message + "; the change is saved in " + dir.string() +
                      ": publish it with `hostless publish " + dir.string() + "`");
  };
  auto r = publish(dir, key, progress);
  if (!r) return unpublished(r.error());
  // Published under another address than the files name (another key): they
  // name the new one, in one more version.
  if ((*r)["address"].get<std::string>() != address) {
    if (auto s = feed::record_address(dir, (*r)["address"]); !s) return s.error();
    r = publish(dir, key, progress);
    if (!r) return unpublished(r.error());
  }
  // The DHT held a version this node did not publish (the other device of a
  // shared key): its posts are merged in (and its deletions applied), in one
  // more version, so none is lost or brought back.
  if (r->contains("other_device")) {
    const json other = (*r)["other_device"];
    auto published = SiteAddress::parse((*r)["address"].get<std::string>());
    if (!published) return published.error();
    auto merged = merge_other_device(*published, dir, other, progress);
    if (!merged) {
      out["merge_error"] = "cannot merge the posts of version " +
                           std::to_string(other.value("seq", std::int64_t{0})) +
                           ", published from another device: " + merged.error().message +
                           "; they are not in this version";
    } else {
      out["merged"] = merged->taken.size();
      if (!merged->dropped.empty()) out["merged_deletions"] = merged->dropped.size();
      if (merged->changed()) {
        r = publish(dir, key, progress);
        if (!r) return unpublished(r.error());
      }
    }
  }
  out["publish"] = *r;
  return out;
}

Result<feed::Merged> SiteManager::merge_other_device(const SiteAddress& address,
                                                     const fs::path& dir, const json& other,
                                                     const Progress& progress) {
  auto ih = InfoHash::from_hex(other.value("info_hash", ""));
  if (!ih) return ih.error();
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
  if (auto got = get(address, scratch, progress, *ih); !got) return got.error();
  auto merged = feed::merge_folder(dir, scratch);
  if (!merged) {
    return make_error("version " + std::to_string(other.value("seq", std::int64_t{0})) +
                      " of this feed is not a feed: " + merged.error().message);
  }
  return merged;
}

}  // namespace hostless
