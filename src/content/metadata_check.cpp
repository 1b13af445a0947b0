// Checks of a site version's metadata from another node (a stranger's
// metadata): its info dictionary read as its bytes say, against the rules of
// site paths (paths.cpp) and against what libtorrent would store.
#include "content/metadata_check.hpp"

#include "content/detail/shared.hpp"
#include "content/paths.hpp"

#include <cstddef>
#include <exception>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <libtorrent/bdecode.hpp>
#include <libtorrent/error_code.hpp>
#include <libtorrent/file_storage.hpp>
#include <libtorrent/torrent_info.hpp>

namespace hostless {

namespace {

// Decode limits for the second look at an info dictionary: libtorrent decoded
// it first within its own (lower) limits, so these never cut a torrent it
// accepted, and still bound the work if its settings change.
constexpr int kDecodeDepth = 1000;
constexpr int kDecodeTokens = 10000000;

// The files an info dictionary names, as its bytes say (before libtorrent
// sanitises anything): '/'-joined paths below the site's folder. Counts all of
// them but keeps at most kMaxSiteFiles + 1.
struct MetadataFiles {
  std::vector<std::string> paths;
  std::size_t count = 0;

  void add(std::string path) {
    if (++count <= kMaxSiteFiles + 1) paths.push_back(std::move(path));
  }
};

std::string_view std_view(lt::string_view s) {
  return {s.data(), s.size()};
}

Error symlink_error(std::string_view path) {
  return make_error("file " + shown(path) + " is a symbolic link (sites have none)");
}

// BEP 47 attributes of a file that holds data (pad files are skipped before):
// hostless sites' files have none. libtorrent acts on them when it creates the
// files, before the metadata is checked: "l" makes a link, "x" an executable.
Status attr_problem(std::string_view attr, std::string_view path) {
  if (attr.find('l') != std::string_view::npos) return symlink_error(path);
  if (attr.empty()) return {};
  const bool known = attr.find_first_not_of("xh") == std::string_view::npos;
  return make_error("file " + shown(path) + " has the attributes " + shown(attr) + " (" +
                    (known ? "executable or hidden" : "unknown") +
                    "; hostless sites' files have none)");
}

// One path given as a list of components (v1 "path" / "path.utf-8").
Result<std::string> joined_path(const lt::bdecode_node& list) {
  std::string path;
  for (int i = 0; i < list.list_size(); ++i) {
    const lt::bdecode_node part = list.list_at(i);
    if (part.type() != lt::bdecode_node::string_t) {
      return make_error("a file path holds something other than strings");
    }
    const std::string_view name = std_view(part.string_value());
    if (i > 0) path += '/';
    path += name;
    // Joined, it would read as two components.
    if (name.find('/') != std::string_view::npos) {
      return make_error("invalid file path " + shown(path) + ": a component contains a slash");
    }
    if (path.size() > kMaxSitePathBytes) {
      return make_error("invalid file path " + shown(path) + ": it is longer than " +
                        std::to_string(kMaxSitePathBytes) + " bytes");
    }
  }
  return path;
}

// v1: the "files" list (multi-file torrents). Pad files (BEP 47) hold no
// data and are never written, so their paths don't matter.
Status v1_files(const lt::bdecode_node& list, MetadataFiles& out) {
  for (int i = 0; i < list.list_size(); ++i) {
    const lt::bdecode_node f = list.list_at(i);
    if (f.type() != lt::bdecode_node::dict_t) return make_error("a file entry is malformed");
    const std::string_view attr = std_view(f.dict_find_string_value("attr"));
    if (attr.find('p') != std::string_view::npos) continue;
    // libtorrent reads "path.utf-8" when present, else "path": both must be sound.
    std::optional<std::string> chosen;
    for (const char* key : {"path", "path.utf-8"}) {
      const lt::bdecode_node p = f.dict_find_list(key);
      if (!p) continue;
      auto path = joined_path(p);
      if (!path) return path.error();
      if (auto problem = path_problem(*path)) {
        return make_error("invalid file path " + shown(*path) + ": " + *problem);
      }
      chosen = std::move(*path);
    }
    if (!chosen) return make_error("a file entry has no path");
    if (Status s = attr_problem(attr, *chosen); !s) return s;
    out.add(std::move(*chosen));
  }
  return {};
}

// v2: the nested "file tree" dictionaries; a file is a dictionary under the
// key "". Walked without recursion, at most kMaxPathDepth levels.
Status v2_files(const lt::bdecode_node& tree, MetadataFiles& out) {
  struct Dir {
    lt::bdecode_node node;
    std::string path;
    std::size_t depth;
  };
  std::vector<Dir> todo{{tree, std::string(), 0}};
  while (!todo.empty()) {
    Dir dir = std::move(todo.back());
    todo.pop_back();
    for (int i = 0; i < dir.node.dict_size(); ++i) {
      const auto [lt_key, child] = dir.node.dict_at(i);
      const std::string_view key = std_view(lt_key);
      if (child.type() != lt::bdecode_node::dict_t) return make_error("the file tree is malformed");
      if (key.empty()) {
        if (dir.depth == 0) return make_error("the file tree is malformed");
        const std::string_view attr = std_view(child.dict_find_string_value("attr"));
        if (Status s = attr_problem(attr, dir.path); !s) return s;
        out.add(dir.path);
        continue;
      }
      std::string path = dir.depth == 0 ? std::string(key) : dir.path + "/" + std::string(key);
      if (key.find('/') != std::string_view::npos) {
        return make_error("invalid file path " + shown(path) + ": a component contains a slash");
      }
      if (dir.depth + 1 > kMaxPathDepth || path.size() > kMaxSitePathBytes) {
        return make_error("invalid file path " + shown(path) + ": it is more than " +
                          std::to_string(kMaxPathDepth) + " levels deep or longer than " +
                          std::to_string(kMaxSitePathBytes) + " bytes");
      }
      todo.push_back({child, std::move(path), dir.depth + 1});
    }
  }
  return {};
}

Status check_metadata(const lt::torrent_info& ti) {
  const auto section = ti.info_section();
  lt::error_code ec;
  int pos = 0;
  const lt::bdecode_node info = lt::bdecode(section, ec, &pos, kDecodeDepth, kDecodeTokens);
  if (ec) return make_error("its info dictionary cannot be decoded: " + ec.message());
  if (info.type() != lt::bdecode_node::dict_t) {
    return make_error("its info section is not a dictionary");
  }

  // libtorrent names the folder after "name.utf-8" when present, else "name".
  std::string name;
  for (const char* key : {"name", "name.utf-8"}) {
    const lt::bdecode_node n = info.dict_find(key);
    if (!n) continue;
    if (n.type() != lt::bdecode_node::string_t) return make_error("its name is not a string");
    name = std::string(std_view(n.string_value()));
    if (auto problem = path_problem(name); problem || name.find('/') != std::string::npos) {
      return make_error("invalid site name " + shown(name) + ": " +
                        problem.value_or("it contains a slash"));
    }
  }
  if (name.empty()) return make_error("it has no name");

  // A hybrid torrent lists its files twice (v1 list, v2 tree); libtorrent
  // stores what the v2 tree says and checks that the lists agree. Both must
  // be sound.
  const lt::bdecode_node list = info.dict_find_list("files");
  const lt::bdecode_node tree = info.dict_find_dict("file tree");
  MetadataFiles v1;
  MetadataFiles v2;
  if (list) {
    if (Status s = v1_files(list, v1); !s) return s;
  } else if (!tree) {
    // A single-file torrent: its file is the name itself, its attributes the info's.
    if (Status s = attr_problem(std_view(info.dict_find_string_value("attr")), name); !s) {
      return s;
    }
    v1.add(name);
  }
  if (tree) {
    if (Status s = v2_files(tree, v2); !s) return s;
  }
  std::vector<const MetadataFiles*> lists;
  if (list || !tree) lists.push_back(&v1);
  if (tree) lists.push_back(&v2);
  for (const MetadataFiles* files : lists) {
    if (files->count > kMaxSiteFiles) return too_many_files(files->count);
    if (files->count == 0) return make_error("it lists no files");
    if (Status s = check_site_paths({files->paths.begin(), files->paths.end()}); !s) return s;
  }

  // libtorrent must store every file exactly where the metadata says: any
  // path it rewrote (rules of other platforms, say) would be served and
  // written under a name the site never had.
  const MetadataFiles& named = ti.v2() && tree ? v2 : v1;
  std::set<std::string_view> expected;
  std::vector<std::string> full;
  full.reserve(named.paths.size());
  for (const std::string& p : named.paths) full.push_back(name + "/" + p);
  expected.insert(full.begin(), full.end());
  const lt::file_storage& fs = ti.files();
  std::size_t stored = 0;
  for (const lt::file_index_t i : fs.file_range()) {
    if (fs.pad_file_at(i)) continue;
    ++stored;
    const std::string path = fs.file_path(i);
    // A one-file torrent's file is its name, not name/name.
    const bool single = named.paths.size() == 1 && path == named.paths.front();
    if (expected.count(path) == 0 && !single) {
      return make_error("libtorrent would store a file as " + shown(path) +
                        ", which its metadata does not name");
    }
  }
  if (stored != named.paths.size()) {
    return make_error("libtorrent sees " + std::to_string(stored) +
                      " files where its metadata names " + std::to_string(named.paths.size()));
  }
  return {};
}

}  // namespace

Status check_site_metadata(const lt::torrent_info& ti) {
  try {
    return check_metadata(ti);
  } catch (const std::exception& e) {
    return make_error(std::string("cannot check the site's metadata: ") + e.what());
  }
}

}  // namespace hostless
