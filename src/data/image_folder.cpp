// torchvision ImageFolder indexing (see hrnet/data/image_folder.hpp).
#include "hrnet/data/image_folder.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <string_view>
#include <system_error>

#include "hrnet/core/error.hpp"

namespace hrnet::data {
namespace {

namespace fs = std::filesystem;

constexpr std::array<std::string_view, 9> kImageExtensions = {".jpg", ".jpeg", ".png", ".ppm", ".bmp",
                                                              ".pgm", ".tif",  ".tiff", ".webp"};
constexpr const char* kExtensionList = ".jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp (any case)";

// One folder's entries as os.scandir sees them (is_dir / is_file follow symlinks).
struct Entries {
  std::vector<std::string> dirs, files;
};

Entries list_folder(const fs::path& dir) {
  Entries e;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  HRNET_CHECK(!ec, IoError, "image folder " << dir.string() << " cannot be listed: " << ec.message());
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    HRNET_CHECK(!ec, IoError, "image folder " << dir.string() << " cannot be listed: " << ec.message());
    std::error_code sec;
    const fs::file_status st = fs::status(it->path(), sec);  // follows symlinks; a dangling one is neither
    const std::string name = it->path().filename().string();
    if (fs::is_directory(st)) e.dirs.push_back(name);
    else if (fs::exists(st)) e.files.push_back(name);
  }
  std::sort(e.dirs.begin(), e.dirs.end());
  std::sort(e.files.begin(), e.files.end());
  return e;
}

// os.walk(top, followlinks=True) visited in sorted order of the folder paths (sorted(os.walk(...))
// sorts the (root, dirs, files) tuples by root). The path strings are root + "/" + name, as
// os.path.join builds them. A symlink cycle would make os.walk loop; here a folder reached twice
// (by its canonical path) is an error.
void walk_sorted(const fs::path& top, std::vector<std::pair<std::string, std::vector<std::string>>>& out,
                 std::set<fs::path>& seen) {
  std::error_code ec;
  const fs::path canon = fs::canonical(top, ec);
  HRNET_CHECK(!ec, IoError, "image folder " << top.string() << ": " << ec.message());
  HRNET_CHECK(seen.insert(canon).second, IoError,
              "image folder " << top.string() << ": a symlink cycle reaches " << canon.string() << " twice");
  Entries e = list_folder(top);
  out.emplace_back(top.string(), std::move(e.files));
  for (const auto& d : e.dirs) walk_sorted(top / d, out, seen);
}

}  // namespace

bool has_image_extension(const fs::path& file) {
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(kImageExtensions.begin(), kImageExtensions.end(), ext) != kImageExtensions.end();
}

ImageFolder::ImageFolder(const fs::path& root) : root_(root) {
  std::error_code ec;
  HRNET_CHECK(fs::exists(root, ec), IoError, "image folder " << root.string() << " does not exist");
  HRNET_CHECK(fs::is_directory(root, ec), IoError, "image folder " << root.string() << " is not a directory");
  classes_ = list_folder(root).dirs;
  HRNET_CHECK(!classes_.empty(), IoError,
              "image folder " << root.string() << " has no class folders (expected " << root.string()
                              << "/<class>/<image files>)");
  for (std::size_t c = 0; c < classes_.size(); ++c) {
    std::vector<std::pair<std::string, std::vector<std::string>>> folders;
    std::set<fs::path> seen;
    walk_sorted(root / classes_[c], folders, seen);
    std::sort(folders.begin(), folders.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    const std::size_t before = samples_.size();
    for (const auto& [dir, files] : folders)
      for (const auto& f : files)
        if (has_image_extension(f)) samples_.push_back({fs::path(dir) / f, static_cast<std::int64_t>(c)});
    HRNET_CHECK(samples_.size() > before, IoError,
                "image folder " << (root / classes_[c]).string() << " (class '" << classes_[c]
                                << "') has no image files; supported extensions: " << kExtensionList);
  }
}

std::vector<std::int64_t> ImageFolder::class_counts() const {
  std::vector<std::int64_t> n(classes_.size(), 0);
  for (const auto& s : samples_) ++n[static_cast<std::size_t>(s.label)];
  return n;
}

}  // namespace hrnet::data
