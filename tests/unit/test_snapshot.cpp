// Publishing a folder: what the scan saw is what gets copied, even if a file
// is swapped for a symbolic link (or another file) between scan and copy.
#include <fcntl.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "content/snapshot.hpp"
#include "support/sandbox.hpp"

using namespace hostless;
namespace fs = std::filesystem;

namespace {

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Gives `path` (not a link it may be) the modification time the scan saw, so
// that only the device and inode can tell it from the scanned file.
void set_mtime(const fs::path& path, std::int64_t mtime_ns) {
  const struct timespec times[2] = {
      {0, UTIME_OMIT},
      {static_cast<time_t>(mtime_ns / 1000000000), static_cast<long>(mtime_ns % 1000000000)}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

// True if any file under `dir` holds `needle`.
bool any_file_holds(const fs::path& dir, const std::string& needle) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return false;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && read_text(e.path()).find(needle) != std::string::npos) return true;
  }
  return false;
}

const std::string kPage = "<p>public page</p>";
const std::string kSecret = "PRIVATE KEY 12345!";  // as long as kPage

}  // namespace

TEST_CASE("a file swapped for a symlink after the scan is not followed", "[snapshot]") {
  test::Sandbox box;
  REQUIRE(kPage.size() == kSecret.size());
  write_text(box / "site/index.html", kPage);
  write_text(box / "secret", kSecret);
  auto scanned = scan_folder(box / "site");
  REQUIRE(scanned.ok());
  REQUIRE(scanned->size() == 1);

  fs::remove(box / "site/index.html");
  fs::create_symlink(box / "secret", box / "site/index.html");
  set_mtime(box / "secret", scanned->front().mtime_ns);

  auto snap = make_snapshot(*scanned, "site", box / "staging", {}, {}, 1, nullptr);
  REQUIRE_FALSE(snap.ok());
  CHECK_THAT(snap.error().message, Catch::Contains("index.html") && Catch::Contains("replaced"));
  CHECK_FALSE(any_file_holds(box / "staging", kSecret));
}

TEST_CASE("a file replaced by another file after the scan is refused", "[snapshot]") {
  test::Sandbox box;
  write_text(box / "site/index.html", kPage);
  auto scanned = scan_folder(box / "site");
  REQUIRE(scanned.ok());

  write_text(box / "other", kSecret);
  set_mtime(box / "other", scanned->front().mtime_ns);
  fs::rename(box / "other", box / "site/index.html");

  auto snap = make_snapshot(*scanned, "site", box / "staging", {}, {}, 1, nullptr);
  REQUIRE_FALSE(snap.ok());
  CHECK_THAT(snap.error().message, Catch::Contains("replaced"));
  CHECK_FALSE(any_file_holds(box / "staging", kSecret));
}

TEST_CASE("a symlink to a file inside the folder is published as that file", "[snapshot]") {
  test::Sandbox box;
  write_text(box / "site/index.html", kPage);
  fs::create_symlink("index.html", box / "site/home.html");
  auto scanned = scan_folder(box / "site");
  REQUIRE(scanned.ok());
  REQUIRE(scanned->size() == 2);

  auto snap = make_snapshot(*scanned, "site", box / "staging", {}, {}, 1, nullptr);
  REQUIRE(snap.ok());
  CHECK(snap->file_count == 2);
  CHECK(read_text(box / "staging/site/home.html") == kPage);
  CHECK_FALSE(fs::is_symlink(box / "staging/site/home.html"));
}
