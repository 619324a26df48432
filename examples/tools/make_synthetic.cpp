// make_synthetic: writes synthetic datasets. Currently one kind, "pose": a COCO-format person
// keypoint dataset (see include/hrnet/data/synthetic.hpp) that data::CocoKeypoints and pycocotools read.
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "hrnet/data/synthetic.hpp"

namespace {

constexpr const char* kUsage = R"(usage: make_synthetic pose --out DIR --images N [options]

Writes a synthetic COCO-format person keypoint dataset:
  DIR/train2017/000000000001.jpg ...       N training images (JPEG)
  DIR/val2017/...                          M validation images
  DIR/annotations/person_keypoints_train2017.json, person_keypoints_val2017.json
Each image has a textured background and 1..max-people stick figures with the 17 COCO joints
(visible v=2, occluded v=1, outside the image v=0), plus crowd regions (iscrowd=1, RLE) and
unlabelled people (num_keypoints=0). The same seed and options give byte-identical files.

options:
  --out DIR            output folder (created; files of the same names are replaced)
  --images N           number of training images (0..1000000)
  --val-images M       number of validation images (default: ceil(N / 4))
  --seed S             random seed, an unsigned 64-bit integer (default 0)
  --min-size PX        smallest image side (default 256, at least 64)
  --max-size PX        largest image side (default 384, at most 4096)
  --max-people K       labelled people per image, 1..K (default 4, at most 12)
  --quality Q          JPEG quality 1..100 (default 95)
  -h, --help           show this help
)";

struct UsageError {
  std::string message;
};

template <class T>
T parse_number(std::string_view flag, std::string_view text) {
  T v{};
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end || text.empty())
    throw UsageError{std::string(flag) + " expects " + (std::is_signed_v<T> ? "an integer" : "a non-negative integer") +
                     ", got '" + std::string(text) + "'"};
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hrnet;
  try {
    if (argc < 2) throw UsageError{"missing the dataset kind (pose)"};
    const std::string_view kind = argv[1];
    if (kind == "-h" || kind == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (kind != "pose") throw UsageError{"unknown dataset kind '" + std::string(kind) + "' (expected: pose)"};

    data::SyntheticPoseOptions opt;
    std::optional<std::filesystem::path> out;
    std::optional<int> images, val_images;
    for (int i = 2; i < argc; ++i) {
      const std::string_view arg = argv[i];
      if (arg == "-h" || arg == "--help") {
        std::cout << kUsage;
        return 0;
      }
      if (arg.substr(0, 2) != "--") throw UsageError{"unexpected argument '" + std::string(arg) + "'"};
      if (i + 1 >= argc) throw UsageError{std::string(arg) + " needs a value"};
      const std::string_view value = argv[++i];
      if (arg == "--out") {
        if (value.empty()) throw UsageError{"--out needs a non-empty folder"};
        out = std::filesystem::path(value);
      } else if (arg == "--images") {
        images = parse_number<int>(arg, value);
      } else if (arg == "--val-images") {
        val_images = parse_number<int>(arg, value);
      } else if (arg == "--seed") {
        opt.seed = parse_number<std::uint64_t>(arg, value);
      } else if (arg == "--min-size") {
        opt.min_side = parse_number<int>(arg, value);
      } else if (arg == "--max-size") {
        opt.max_side = parse_number<int>(arg, value);
      } else if (arg == "--max-people") {
        opt.max_people = parse_number<int>(arg, value);
      } else if (arg == "--quality") {
        opt.jpeg_quality = parse_number<int>(arg, value);
      } else {
        throw UsageError{"unknown option '" + std::string(arg) + "'"};
      }
    }
    if (!out) throw UsageError{"--out DIR is required"};
    if (!images) throw UsageError{"--images N is required"};
    if (*images < 0) throw UsageError{"--images must be >= 0"};
    if (val_images && *val_images < 0) throw UsageError{"--val-images must be >= 0"};
    opt.train_images = *images;
    opt.val_images = val_images ? *val_images : int((std::int64_t(*images) + 3) / 4);

    const auto t0 = std::chrono::steady_clock::now();
    data::write_synthetic_pose(*out, opt);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("make_synthetic: wrote %d train + %d val images to %s in %.2f s\n", opt.train_images, opt.val_images,
                out->string().c_str(), secs);
    return 0;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "make_synthetic: error: %s\n(run 'make_synthetic --help' for usage)\n", e.message.c_str());
    return 2;
  } catch (const hrnet::ValueError& e) {
    std::fprintf(stderr, "make_synthetic: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_synthetic: error: %s\n", e.what());
    return 1;
  }
}
