// The feed in memory: adding, removing and merging posts, laid out as the
// recent posts and the archive pages.
#include "feed/feed.hpp"

#include <algorithm>

#include "feed/detail.hpp"
#include "util/encoding.hpp"

namespace hostless::feed {
using detail::keep_deleted;
using detail::newer;

void Feed::add(Post post) {
  recent.push_back(std::move(post));
  std::sort(recent.begin(), recent.end(), newer);
  while (recent.size() > kRecentPosts) {
    if (pages.empty() || pages.back().frozen) {
      ArchivePage page;
      page.number = pages.empty() ? 1 : pages.back().number + 1;
      pages.push_back(page);
    }
    auto& page = pages.back();
    // Every archived post is newer than the pages' posts: it goes first.
    page.posts.insert(page.posts.begin(), std::move(recent.back()));
    recent.pop_back();
    if (page.posts.size() >= kPageSize) page.frozen = true;
  }
}

namespace detail {

void keep_deleted(std::vector<std::string>& ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (ids.size() > kMaxDeleted) {
    ids.erase(ids.begin(), ids.end() - static_cast<std::ptrdiff_t>(kMaxDeleted));
  }
}

}  // namespace detail

Merged Feed::merge(const Feed& other) {
  Merged m;
  std::vector<std::string> gone = deleted;
  gone.insert(gone.end(), other.deleted.begin(), other.deleted.end());
  keep_deleted(gone);
  const auto is_gone = [&](const std::string& id) {
    return std::binary_search(gone.begin(), gone.end(), id);
  };
  const auto take_from = [&](const std::vector<Post>& posts) {
    for (const auto& p : posts) {
      if (!is_gone(p.id) && !contains(p.id) &&
          std::none_of(m.taken.begin(), m.taken.end(),
                       [&](const Post& t) { return t.id == p.id; })) {
        m.taken.push_back(p);
      }
    }
  };
  take_from(other.recent);
  for (const auto& page : other.pages) take_from(page.posts);
  std::vector<Post> all = m.taken;
  const auto keep_from = [&](const std::vector<Post>& posts) {
    for (const auto& p : posts) (is_gone(p.id) ? m.dropped : all).push_back(p);
  };
  keep_from(recent);
  for (const auto& page : pages) keep_from(page.posts);
  m.new_deletions = gone != deleted;
  deleted = std::move(gone);
  if (m.taken.empty() && m.dropped.empty()) return m;
  std::sort(all.begin(), all.end(), newer);
  recent.clear();
  pages.clear();
  for (auto it = all.rbegin(); it != all.rend(); ++it) add(std::move(*it));
  std::sort(m.taken.begin(), m.taken.end(), newer);
  std::sort(m.dropped.begin(), m.dropped.end(), newer);
  return m;
}

Result<Post> Feed::remove(std::string_view id) {
  auto take = [&](std::vector<Post>& posts) -> std::optional<Post> {
    auto it = std::find_if(posts.begin(), posts.end(), [&](const Post& p) { return p.id == id; });
    if (it == posts.end()) return std::nullopt;
    Post p = std::move(*it);
    posts.erase(it);
    deleted.push_back(p.id);
    keep_deleted(deleted);
    return p;
  };
  if (auto p = take(recent)) return *p;
  for (auto& page : pages) {
    if (auto p = take(page.posts)) return *p;
  }
  return make_error("no post with the id " + quote_for_message(id, 40, false) +
                    " in this feed (see the ids in feed.json or archive/)");
}

std::string Feed::newest_id() const {
  if (!recent.empty()) return recent.front().id;
  for (auto it = pages.rbegin(); it != pages.rend(); ++it) {
    if (!it->posts.empty()) return it->posts.front().id;
  }
  return "";
}

bool Feed::contains(std::string_view id) const {
  auto has = [&](const std::vector<Post>& v) {
    return std::any_of(v.begin(), v.end(), [&](const Post& p) { return p.id == id; });
  };
  return has(recent) || std::any_of(pages.begin(), pages.end(),
                                    [&](const ArchivePage& pg) { return has(pg.posts); });
}

}  // namespace hostless::feed
