// A feed folder (docs/microblog.md): the posts and profile read from its
// files, the changes `hostless post` makes, and rendering every file again.
// Rendering is deterministic: the same feed gives the same bytes, so a full
// archive page's file (and its torrent file root) never changes.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "feed/post.hpp"
#include "util/result.hpp"

namespace hostless::feed {

// Posts in feed.json; older ones move to archive pages.
constexpr std::size_t kRecentPosts = 20;
// Posts an archive page takes before it is frozen.
constexpr std::size_t kPageSize = 50;

struct Profile {
  std::string name;
  std::string bio;
};

struct ArchivePage {
  int number = 0;           // archive/NNNN.json, from 1
  bool frozen = false;      // took kPageSize posts once; never takes more
  std::vector<Post> posts;  // newest first
};

// Ids of removed posts a feed remembers (in feed.json), so a merge with
// another device's copy that still has them does not bring them back.
constexpr std::size_t kMaxDeleted = 1000;

// What a merge changed: the posts taken from the other copy and the posts
// removed because the other copy deleted them, each newest first, and
// whether it learnt of other deletions.
struct Merged {
  std::vector<Post> taken;
  std::vector<Post> dropped;
  bool new_deletions = false;
  bool changed() const { return !taken.empty() || !dropped.empty() || new_deletions; }
};

struct Feed {
  Profile profile;
  std::string address;             // "" until `hostless post` learns it from a publish
  std::vector<Post> recent;        // newest first, at most kRecentPosts
  std::vector<ArchivePage> pages;  // oldest first
  // Ids of removed posts, sorted, at most kMaxDeleted (the newest kept).
  std::vector<std::string> deleted;

  // Adds `post` (its id must be new) and moves the oldest posts past
  // kRecentPosts to the newest unfrozen archive page, opening a new page when
  // there is none.
  void add(Post post);
  // Removes the post with this id wherever it is and remembers the id in
  // `deleted`; a frozen page stays frozen. Returns the removed post, or an
  // error naming the id.
  Result<Post> remove(std::string_view id);
  // Takes the posts of `other` (the same feed as another device published
  // it) that this one lacks and has not deleted, by id, and removes the ones
  // `other` deleted; the deleted ids of both are kept. When anything
  // changed, every post is laid out again, oldest first, as if each had been
  // added in turn (archive pages may change once).
  Merged merge(const Feed& other);
  // The newest id in the feed, "" when empty.
  std::string newest_id() const;
  bool contains(std::string_view id) const;
};

// The files of a feed, by path relative to its folder ("feed.json",
// "archive/0001.json", ...); media/ and following.json are not rendered.
std::map<std::string, std::string> render(const Feed& feed);

std::string render_json_feed(const Feed& feed);
std::string render_archive_page(const ArchivePage& page);
std::string render_atom(const Feed& feed);
std::string render_index_html(const Feed& feed);

// Reads a feed folder: profile.json, feed.json and its archive pages. Fails
// with "<dir> is not a feed folder ..." when profile.json or feed.json is
// missing or feed.json lacks the hostless extension, and names the file and
// field of anything malformed.
Result<Feed> load(const std::filesystem::path& dir);
// A followed feed's newest posts, newest first, from the text of its
// feed.json as a peer sent it: at most kMaxFeedJsonBytes, valid JSON with the
// hostless extension, every post checked as load() checks it (text rules,
// ids, reply targets); any fault refuses the whole file, saying why.
constexpr std::size_t kMaxFeedJsonBytes = 1 << 20;
Result<std::vector<Post>> parse_recent_posts(std::string_view feed_json);

// following.json: the feeds the author follows, each with the author's
// petname for it (their handle on the author's node; "" for none).
struct Followed {
  std::string address;  // canonical
  std::string petname;
};
constexpr std::size_t kMaxFollowingBytes = 256 << 10;
constexpr std::size_t kMaxFollowing = 5000;
// [{"address": ..., "petname": ...}, ...] sorted by address, one line each.
std::string render_following(std::vector<Followed> list);
// Writes following.json when it differs from `list`'s rendering.
Status save_following(const std::filesystem::path& dir, const std::vector<Followed>& list);
// A followed feed's following.json as a peer sent it: at most
// kMaxFollowingBytes and kMaxFollowing entries, a JSON array of objects with
// a canonical address; a petname that is not a valid handle is dropped (""),
// and an entry without a valid address is skipped. Any other fault refuses
// the whole file, saying why.
Result<std::vector<Followed>> parse_following(std::string_view text);

// blocklist.json, the one file a blocklist site needs (docs/microblog.md,
// "Blocklists"): {"hostless_blocklist": 1, "blocked": [{"address": ...,
// "reason": ...}, ...]}. A subscriber reads at most kMaxBlocklistBytes and
// kMaxBlocklistEntries entries; an entry without a canonical address is
// skipped, a reason that breaks the post text rules or is longer than
// kMaxReasonCodePoints is dropped ("").
struct Listed {
  std::string address;  // canonical
  std::string reason;
};
constexpr std::size_t kMaxBlocklistBytes = 1 << 20;
constexpr std::size_t kMaxBlocklistEntries = 20000;
constexpr std::size_t kMaxReasonCodePoints = 200;
Result<std::vector<Listed>> parse_blocklist(std::string_view text);
// The file for `list`, sorted by address, one entry a line.
std::string render_blocklist(std::vector<Listed> list);

// Writes the rendered files that differ from what is on disk (each through
// a temporary file and rename) and creates media/.
Status save(const std::filesystem::path& dir, const Feed& feed);

// Turns a folder copied from the feed template into a feed named `name`
// (when profile.json has no name yet) with no posts.
Status initialize(const std::filesystem::path& dir, const std::string& name);

}  // namespace hostless::feed
