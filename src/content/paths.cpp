// Site paths: the rules for one file path in a site and for a site's whole
// list of them, and the canonical file order.
#include "content/paths.hpp"

#include "content/detail/shared.hpp"
#include "util/encoding.hpp"

#include <algorithm>
#include <cstdint>
#include <set>
#include <unordered_map>
#include <utility>

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

namespace hostless {

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      parts.push_back(path.substr(start));
      return parts;
    }
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

// Why `part` cannot be one component of a path in a site, or nullopt if it can.
std::optional<std::string> component_problem(std::string_view part) {
  if (part.empty()) return "it has an empty component";
  if (part == "." || part == "..") return "it has a \".\" or \"..\" component";
  // Dotfiles are never published (snapshot), and a ".git/config" written by
  // `get` could run commands the next time someone uses git there.
  if (part.front() == '.') {
    return "it has a hidden component " + shown(part) + " (sites have no dotfiles)";
  }
  if (part.size() > kMaxComponentBytes) {
    return "a component is longer than " + std::to_string(kMaxComponentBytes) + " bytes";
  }
  return std::nullopt;
}

// What a disk that ignores letter case and Unicode forms may take for the
// same name: ICU's NFKC_Casefold (compatibility forms, case and ignorable
// characters folded), a superset of what APFS, ext4's casefold and NTFS
// fold, and of libtorrent's own ASCII-case rename. `s` is valid UTF-8.
std::string folded_name(std::string_view s) {
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* fold = icu::Normalizer2::getNFKCCasefoldInstance(err);
  icu::UnicodeString out;
  if (U_SUCCESS(err)) {
    out = fold->normalize(icu::UnicodeString::fromUTF8(
                              icu::StringPiece(s.data(), static_cast<std::int32_t>(s.size()))),
                          err);
  }
  if (U_FAILURE(err)) {
    // Never expected (ICU's data is built in); ASCII case is still folded.
    std::string ascii(s);
    for (char& c : ascii) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return ascii;
  }
  std::string utf8;
  out.toUTF8String(utf8);
  return utf8;
}

}  // namespace

std::string shown(std::string_view s) {
  constexpr std::size_t kShown = 200;
  return quote_for_message(s, kShown, valid_utf8(s.substr(0, kShown)));
}

std::optional<std::string> path_problem(std::string_view path) {
  if (path.empty()) return "it is empty";
  if (path.front() == '/') return "it is absolute";
  if (path.find('\\') != std::string_view::npos) return "it contains a backslash";
  if (path.find('\0') != std::string_view::npos) return "it contains a NUL byte";
  if (!valid_utf8(path)) return "it is not valid UTF-8";
  if (path.size() > kMaxSitePathBytes) {
    return "it is longer than " + std::to_string(kMaxSitePathBytes) + " bytes";
  }
  const auto parts = split_path(path);
  if (parts.size() > kMaxPathDepth) {
    return "it is more than " + std::to_string(kMaxPathDepth) + " levels deep";
  }
  for (const std::string_view part : parts) {
    if (auto problem = component_problem(part)) return problem;
  }
  return std::nullopt;
}

bool canonical_less_path(std::string_view a, std::string_view b) {
  const auto pa = split_path(a);
  const auto pb = split_path(b);
  return std::lexicographical_compare(pa.begin(), pa.end(), pb.begin(), pb.end());
}

Error too_many_files(std::size_t count) {
  return make_error("a site can have at most " + std::to_string(kMaxSiteFiles) +
                    " files; this one has " + std::to_string(count));
}

Status check_site_paths(std::vector<std::string_view> paths) {
  if (paths.size() > kMaxSiteFiles) {
    return too_many_files(paths.size());
  }
  for (const std::string_view p : paths) {
    if (auto problem = path_problem(p)) {
      return make_error("invalid file path " + shown(p) + ": " + *problem);
    }
  }
  std::sort(paths.begin(), paths.end(), canonical_less_path);
  std::set<std::string_view> dirs;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    if (i > 0 && paths[i] == paths[i - 1]) {
      return make_error("file path " + shown(paths[i]) + " appears twice");
    }
    const std::string_view p = paths[i];
    for (std::size_t slash = p.find('/'); slash != std::string_view::npos;
         slash = p.find('/', slash + 1)) {
      dirs.insert(p.substr(0, slash));
    }
  }
  for (const std::string_view p : paths) {
    if (dirs.count(p) != 0) {
      return make_error("file path " + shown(p) + " is also a directory of other files");
    }
  }
  // libtorrent renames a file on load (to "name.1.ext") when its path equals
  // another file's or directory's path ignoring ASCII case, so such a file
  // could not be found under its own name. And on a disk that folds case or
  // Unicode forms the two would be one file: with a file hard-linked from
  // another site (reuse), a stranger's pair of names could write into that
  // site's file. So names equal once folded are refused.
  std::set<std::string> folded_dirs;
  for (const std::string_view d : dirs) folded_dirs.insert(folded_name(d));
  std::unordered_map<std::string, std::string_view> folded_files;
  for (const std::string_view p : paths) {
    std::string folded = folded_name(p);
    if (folded_dirs.count(folded) != 0) {
      return make_error("file path " + shown(p) +
                        " differs only in letter case or Unicode form from a directory of "
                        "other files; rename one");
    }
    const auto [it, inserted] = folded_files.emplace(std::move(folded), p);
    if (!inserted) {
      return make_error("file paths " + shown(it->second) + " and " + shown(p) +
                        " differ only in letter case or Unicode form; rename one");
    }
  }
  return {};
}

}  // namespace hostless
