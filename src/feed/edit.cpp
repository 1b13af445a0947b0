// Changing a feed folder in place (edit.hpp).
#include "feed/edit.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <random>

namespace hostless::feed {
namespace fs = std::filesystem;

namespace {

// Holds an exclusive flock on the feed folder itself (no lock file to
// publish) while it lives.
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
// directly in media/ (as apply_change writes them), relative to the folder.
std::optional<fs::path> media_file(const Attachment& a) {
  fs::path rel(a.url);
  if (rel.parent_path() != "media" || rel.filename() == ".." || rel.filename() == ".") {
    return std::nullopt;
  }
  return rel;
}

}  // namespace

Status check_change(Change& c) {
  if (!c.delete_id.empty()) {
    if (!c.text.empty() || !c.reply_to.empty() || !c.attach.empty()) {
      return make_error("a deletion takes no text, reply target or attachments");
    }
    return {};
  }
  if (auto s = check_text(c.text); !s) return s;
  if (!c.reply_to.empty()) {
    auto r = parse_reply_to(c.reply_to);
    if (!r) return r.error();
    c.reply_to = *r;
  }
  if (c.attach.size() > kMaxAttachments) {
    return make_error("at most " + std::to_string(kMaxAttachments) + " attachments a post");
  }
  for (const auto& f : c.attach) {
    std::error_code ec;
    if (!f.is_absolute()) return make_error(f.string() + ": attachments need absolute paths");
    if (!fs::is_regular_file(f, ec)) return make_error(f.string() + " is not a file to attach");
  }
  return {};
}

Result<std::string> apply_change(const fs::path& dir, const Change& c, const std::string& address) {
  FolderLock lock(dir);
  auto loaded = load(dir);
  if (!loaded) return loaded.error();
  Feed f = std::move(*loaded);
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
    if (auto newest = post_id_time(f.newest_id()); newest && *newest >= t) t = *newest + 1;
    std::random_device rd;
    Post p;
    p.id = make_post_id(t, rd());
    p.published = static_cast<std::int64_t>(t / 1000000);
    p.text = c.text;
    p.reply_to = c.reply_to;
    p.mentions = find_mentions(c.text);
    std::error_code ec;
    fs::create_directories(dir / "media", ec);
    for (const auto& src : c.attach) {
      std::string name = media_name(p.id, src.filename().string());
      fs::copy_file(src, dir / "media" / name, ec);
      if (ec) {
        std::string why = ec.message();
        // Leave no half-made post behind: its other files go too.
        for (const auto& done : p.attachments) fs::remove(dir / done.url, ec);
        return make_error("cannot copy " + src.string() + " into media/: " + why +
                          " (attach each file once)");
      }
      Attachment a;
      a.url = "media/" + name;
      a.mime_type = mime_type_for(name);
      a.size = fs::file_size(dir / "media" / name, ec);
      p.attachments.push_back(a);
    }
    id = p.id;
    f.add(std::move(p));
  }
  if (auto s = save(dir, f); !s) return s.error();
  return id;
}

Status record_address(const fs::path& dir, const std::string& address) {
  FolderLock lock(dir);
  auto f = load(dir);
  if (!f) return f.error();
  f->address = address;
  return save(dir, *f);
}

Status record_following(const fs::path& dir, const std::vector<Followed>& list) {
  FolderLock lock(dir);
  return save_following(dir, list);
}

Result<Merged> merge_folder(const fs::path& dir, const fs::path& other_dir) {
  auto other = load(other_dir);
  if (!other) return other.error();
  FolderLock lock(dir);
  auto here = load(dir);
  if (!here) return here.error();
  auto merged = here->merge(*other);
  if (!merged.changed()) return merged;
  std::error_code ec;
  fs::create_directories(dir / "media", ec);
  for (const auto& p : merged.taken) {
    for (const auto& a : p.attachments) {
      if (auto rel = media_file(a)) {
        fs::copy_file(other_dir / *rel, dir / *rel, fs::copy_options::skip_existing, ec);
      }
    }
  }
  for (const auto& p : merged.dropped) {
    for (const auto& a : p.attachments) {
      if (auto rel = media_file(a)) fs::remove(dir / *rel, ec);
    }
  }
  if (auto s = save(dir, *here); !s) return s.error();
  return merged;
}

}  // namespace hostless::feed
