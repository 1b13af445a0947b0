// Changing a feed folder in place: the post or deletion `hostless post`
// makes, the address its files name, the posts another device published
// under the same key. Each change holds an exclusive flock on the folder, so
// two changes of one feed (the CLI and the dashboard, two terminals) never
// lose a post.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "feed/feed.hpp"
#include "util/result.hpp"

namespace hostless::feed {

// A post to add, or (delete_id set) the post to remove.
struct Change {
  std::string text;                           // checked by check_text
  std::string reply_to;                       // "" or canonical (parse_reply_to)
  std::vector<std::filesystem::path> attach;  // files copied into media/
  std::string delete_id;
};

// Checks what a change can be checked for before the folder is touched: the
// text, the reply target (made canonical), the number of attachments and
// that each is a file.
Status check_change(Change& change);

// Applies `change` to the feed in `dir`; `address`, when not empty, is
// recorded as the feed's. A new post's id is its time (never below the
// newest post's). Returns the id of the post added or removed.
Result<std::string> apply_change(const std::filesystem::path& dir, const Change& change,
                                 const std::string& address);

// Makes the feed's files name `address`.
Status record_address(const std::filesystem::path& dir, const std::string& address);

// Writes following.json (save_following) under the folder's lock.
Status record_following(const std::filesystem::path& dir, const std::vector<Followed>& list);

// Merges into the feed in `dir` the feed in `other_dir` (a version another
// device published under this feed's key): Feed::merge, with the media files
// of the posts taken copied and those of the posts dropped removed.
Result<Merged> merge_folder(const std::filesystem::path& dir,
                            const std::filesystem::path& other_dir);

}  // namespace hostless::feed
