// An image classification dataset laid out as torchvision's ImageFolder expects it:
//
//   root/<class>/**/<file>.{jpg,jpeg,png,ppm,bmp,pgm,tif,tiff,webp}   (extensions case-insensitive)
//
// Indexing follows torchvision.datasets.folder exactly, so labels and sample order equal the
// official trainer's: the classes are the sub-folder names of root in sorted (byte) order and a
// class's index is its position; each class folder is walked recursively (symlinks followed), the
// folders in sorted path order (as sorted(os.walk(...))), and the files of a folder in sorted name
// order. Hidden entries are not skipped (neither does torchvision).
//
// Errors (IoError naming the folder): root missing or not a folder; no class folder; a class
// folder without any image file (torchvision >= 0.10 raises for this too, rather than training a
// class that never appears). Files are indexed by name only: whether one decodes is found when it
// is read (data::read_image; it sniffs the format, so PNGs named .JPEG, as ImageNet has, work).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace hrnet::data {

struct ImageFolderSample {
  std::filesystem::path path;
  std::int64_t label = 0;  // index into ImageFolder::classes()
};

// torchvision's IMG_EXTENSIONS, compared in lower case.
bool has_image_extension(const std::filesystem::path& file);

class ImageFolder {
 public:
  explicit ImageFolder(const std::filesystem::path& root);

  const std::filesystem::path& root() const { return root_; }
  const std::vector<std::string>& classes() const { return classes_; }
  const std::vector<ImageFolderSample>& samples() const { return samples_; }
  std::size_t size() const { return samples_.size(); }
  const ImageFolderSample& operator[](std::size_t i) const { return samples_[i]; }
  // Images per class, in class order.
  std::vector<std::int64_t> class_counts() const;

 private:
  std::filesystem::path root_;
  std::vector<std::string> classes_;
  std::vector<ImageFolderSample> samples_;
};

}  // namespace hrnet::data
