// make_synthetic: writes synthetic datasets. "pose": a COCO-format person keypoint dataset (see
// include/hrnet/data/synthetic.hpp) that data::CocoKeypoints and pycocotools read; "cls": an image
// classification dataset in ImageFolder layout (include/hrnet/data/synthetic_cls.hpp).
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "cli.hpp"
#include "hrnet/data/synthetic.hpp"
#include "hrnet/data/synthetic_cls.hpp"

namespace {

constexpr const char* kUsage = R"(usage: make_synthetic pose --output DIR --images N [options]

Writes a synthetic COCO-format person keypoint dataset:
  DIR/train2017/000000000001.jpg ...       N training images (JPEG)
  DIR/val2017/...                          M validation images
  DIR/annotations/person_keypoints_train2017.json, person_keypoints_val2017.json
Each image has a textured background and 1..max_people stick figures with the 17 COCO joints
(visible v=2, occluded v=1, outside the image v=0), plus crowd regions (iscrowd=1, RLE) and
unlabelled people (num_keypoints=0). The same seed and options give byte-identical files.

options:
  --output DIR         output folder (created; files of the same names are replaced)
  --images N           number of training images (0..1000000)
  --val_images M       number of validation images (default: ceil(N / 4))
  --seed S             random seed, an unsigned 64-bit integer (default 0)
  --min_size PX        smallest image side (default 256, at least 64)
  --max_size PX        largest image side (default 384, at most 4096)
  --max_people K       labelled people per image, at most K (default 4, at most 12)
  --min_people K       labelled people per image, at least K (default 1)
  --min_person_scale F smallest figure height, a fraction of the largest that fits (default 0.45)
  --no_distractors     no background blobs and lines, crowd regions, unlabelled people, occluders
  --quickstart         the README's quick-start set: one large person per image (--max_people 1
                       --min_person_scale 0.8 --no_distractors), sides 128..192 (--min_size 128
                       --max_size 192); the other flags override it
  --quality Q          JPEG quality 1..100 (default 95)
  -h, --help           show this help
Options may also be spelt in kebab-case (--val-images); --out is accepted for --output.

usage: make_synthetic cls --output DIR --format folder|tfrecord --classes K --images N [options]

Writes a synthetic image classification dataset in torchvision ImageFolder layout (train_cls --datadir DIR):
  DIR/train/class_00/000000.jpg ...        N training images per class
  DIR/val/class_00/...                     M validation images per class
or as TFRecord shards in the layout of inception's build_imagenet_data.py (train_cls --data_path DIR):
  DIR/train-00000-of-00002 ...             image/encoded, image/class/label = class + 1, boxes, ...
  DIR/validation-00000-of-00001
Class c: stripes of its own hue and angle plus shapes of its own kind (circle, square, triangle,
ellipse), images of varied sizes; one training image is a grayscale JPEG and one a CMYK JPEG.

options:
  --output DIR         output folder (created; files of the same names are replaced)
  --format F           folder (ImageFolder, the default) or tfrecord (shuffled TFRecord shards)
  --train_shards S     tfrecord: number of training shards (default 2)
  --val_shards S       tfrecord: number of validation shards (default 1)
  --classes K          number of classes (1..1000)
  --images N           training images per class (>= 1)
  --val_images M       validation images per class (default: ceil(N / 4))
  --seed S             random seed (default 0)
  --min_size PX        smallest image side (default 48, at least 16)
  --max_size PX        largest image side (default 96)
  --quality Q          JPEG quality 1..100 (default 90)
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

int make_cls(int argc, char** argv) {
  using namespace hrnet;
  data::SyntheticClsOptions opt;
  std::optional<std::filesystem::path> out;
  std::optional<int> images, val_images, classes;
  std::string format = "folder";
  int train_shards = 2, val_shards = 1;
  cli::Args args(argc, argv);
  while (args.next()) {
    const std::string& a = args.key();
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (a == "--output") {
      const std::string value = args.value();
      if (value.empty()) throw UsageError{args.typed() + " needs a non-empty folder"};
      out = std::filesystem::path(value);
    } else if (a == "--format") {
      format = args.value();
    } else if (a == "--classes") {
      classes = parse_number<int>(args.typed(), args.value());
    } else if (a == "--images") {
      images = parse_number<int>(args.typed(), args.value());
    } else if (a == "--val_images") {
      val_images = parse_number<int>(args.typed(), args.value());
    } else if (a == "--seed") {
      opt.seed = parse_number<std::uint64_t>(args.typed(), args.value());
    } else if (a == "--min_size") {
      opt.min_side = parse_number<int>(args.typed(), args.value());
    } else if (a == "--max_size") {
      opt.max_side = parse_number<int>(args.typed(), args.value());
    } else if (a == "--train_shards") {
      train_shards = parse_number<int>(args.typed(), args.value());
    } else if (a == "--val_shards") {
      val_shards = parse_number<int>(args.typed(), args.value());
    } else if (a == "--quality") {
      opt.jpeg_quality = parse_number<int>(args.typed(), args.value());
    } else {
      args.unknown();
    }
  }
  if (format != "folder" && format != "tfrecord") throw UsageError{"--format must be folder or tfrecord, got '" + format + "'"};
  if (!out) throw UsageError{"--output DIR is required"};
  if (!classes) throw UsageError{"--classes K is required"};
  if (!images) throw UsageError{"--images N is required"};
  opt.classes = *classes;
  opt.images = *images;
  opt.val_images = val_images ? *val_images : int((std::int64_t(*images) + 3) / 4);
  const auto t0 = std::chrono::steady_clock::now();
  const data::SyntheticClsSummary s = format == "folder" ? data::write_synthetic_cls(*out, opt)
                                                         : data::write_synthetic_cls_tfrecord(*out, opt, train_shards, val_shards);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("make_synthetic: wrote %d train + %d val images of %d classes to %s%s in %.2f s%s%s\n", s.train_images,
              s.val_images, opt.classes, out->string().c_str(),
              format == "tfrecord" ? (" as " + std::to_string(train_shards) + " + " + std::to_string(val_shards) + " TFRecord shards").c_str() : "",
              secs, s.wrote_gray ? " (one grayscale JPEG" : "",
              s.wrote_gray ? (s.wrote_cmyk ? ", one CMYK JPEG)" : ")") : "");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hrnet;
  try {
    if (argc < 2) throw UsageError{"missing the dataset kind (pose or cls)"};
    const std::string_view kind = argv[1];
    if (kind == "-h" || kind == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (kind == "cls") return make_cls(argc - 1, argv + 1);
    if (kind != "pose") throw UsageError{"unknown dataset kind '" + std::string(kind) + "' (expected: pose or cls)"};

    // Flags are collected and applied over the base options afterwards, so that --quickstart sets
    // the base wherever it is written and the other flags override it.
    bool quickstart = false;
    std::vector<std::function<void(data::SyntheticPoseOptions&)>> set;
    std::optional<std::filesystem::path> out;
    std::optional<int> images, val_images;
    cli::Args args(argc - 1, argv + 1);  // after the dataset kind
    while (args.next()) {
      const std::string& a = args.key();
      if (a == "-h" || a == "--help") {
        std::cout << kUsage;
        return 0;
      }
      // the library's range checks name the option struct's fields; the parse errors name the flag
      if (a == "--output") {
        const std::string value = args.value();
        if (value.empty()) throw UsageError{args.typed() + " needs a non-empty folder"};
        out = std::filesystem::path(value);
      } else if (a == "--images") {
        images = parse_number<int>(args.typed(), args.value());
      } else if (a == "--val_images") {
        val_images = parse_number<int>(args.typed(), args.value());
      } else if (a == "--seed") {
        set.push_back([v = parse_number<std::uint64_t>(args.typed(), args.value())](auto& o) { o.seed = v; });
      } else if (a == "--min_size") {
        set.push_back([v = parse_number<int>(args.typed(), args.value())](auto& o) { o.min_side = v; });
      } else if (a == "--max_size") {
        set.push_back([v = parse_number<int>(args.typed(), args.value())](auto& o) { o.max_side = v; });
      } else if (a == "--max_people") {
        set.push_back([v = parse_number<int>(args.typed(), args.value())](auto& o) { o.max_people = v; });
      } else if (a == "--min_people") {
        set.push_back([v = parse_number<int>(args.typed(), args.value())](auto& o) { o.min_people = v; });
      } else if (a == "--min_person_scale") {
        set.push_back([v = args.number()](auto& o) { o.min_person_scale = v; });
      } else if (a == "--no_distractors") {
        set.push_back([v = !args.flag()](auto& o) { o.distractors = v; });
      } else if (a == "--quickstart") {
        quickstart = args.flag();
      } else if (a == "--quality") {
        set.push_back([v = parse_number<int>(args.typed(), args.value())](auto& o) { o.jpeg_quality = v; });
      } else {
        args.unknown();
      }
    }
    if (!out) throw UsageError{"--output DIR is required"};
    if (!images) throw UsageError{"--images N is required"};
    data::SyntheticPoseOptions opt = quickstart ? data::synthetic_pose_quickstart() : data::SyntheticPoseOptions{};
    for (const auto& f : set) f(opt);
    if (*images < 0) throw UsageError{"--images must be >= 0"};
    if (val_images && *val_images < 0) throw UsageError{"--val_images must be >= 0"};
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
