// A synthetic COCO-format person-keypoint dataset: small, deterministic, learnable, on disk in the
// layout data::CocoKeypoints reads.
//
//   root/train2017/000000000001.jpg ...        (COCO file naming: the image id on 12 digits)
//   root/val2017/...
//   root/annotations/person_keypoints_train2017.json, person_keypoints_val2017.json
//
// Each image (sides drawn in [min_side, max_side], never square) has a textured, noisy, low-saturation
// background and 1..max_people stick figures with all 17 COCO joints in a plausible pose (head disc
// with eyes/ears/nose dots, torso quadrilateral, limbs as thick lines, joint dots), at random scale,
// position and rotation. Each figure has its own saturated colour (person_color) in three shades:
// the base colour (head, torso, joint dots), a light one for the person's left limbs, eye and ear, and
// a dark one for the right limbs, eye, ear and the nose. Annotations:
//   - keypoints (x, y, v): v = 2 where the joint's pixel shows the figure, v = 1 where something drawn
//     later covers it (occluder boxes, other figures), v = 0 with x = y = 0 outside the image;
//   - segmentation: one polygon, the convex hull of the figure (with a pixel of margin) clipped to the
//     image; area = its pixel area as pycocotools rasterises it; bbox = the polygon's extent.
// Every split with >= 2 images also has a crowd region in its first image (iscrowd 1, a group of
// small figures, segmentation = uncompressed RLE of the union of their hulls, num_keypoints 0) and an
// unlabelled person in its second (iscrowd 0, num_keypoints 0, polygon, keypoints all 0); a
// one-image split has both in its image; other images get them at random. Ids: train images
// 1..train_images, val images follow; annotation id = 100 * image id + index in the image.
//
// Easier sets for a quick start (synthetic_pose_quickstart()): min_people > 1 fixes a floor on the
// labelled people, distractors = false leaves out the background blobs and lines, the crowd region,
// the unlabelled person and the occluder boxes, and min_person_scale raises the smallest figure height
// (a fraction of the largest height that fits the image; the default 0.45 as the original set).
//
// Deterministic: a given seed and options give byte-identical files (own RNG, no std distributions);
// the default options draw exactly the original set.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "hrnet/data/image.hpp"
#include "hrnet/data/mask.hpp"

namespace hrnet::data {

struct SyntheticPoseOptions {
  int train_images = 32;
  int val_images = 8;
  std::uint64_t seed = 0;
  int min_side = 256;  // image sides are drawn in [min_side, max_side]
  int max_side = 384;
  int min_people = 1;  // labelled figures per image: min_people..max_people
  int max_people = 4;
  bool distractors = true;        // background blobs and lines, crowd region, unlabelled person, occluders
  double min_person_scale = 0.45; // figure heights drawn in [min_person_scale, 1] x the largest that fits
  int jpeg_quality = 95;
};

// The quick-start set (make_synthetic pose --quickstart, README): one large person per image (height
// 0.8..1 of the largest that fits) on a plain textured background without distractors, images of
// 128..192 px sides, so that configs/synthetic/quickstart_w16_64.yaml learns to find them in minutes
// on a CPU. (--max_people 2 adds a second person; then the tags must also learn to tell them apart.)
SyntheticPoseOptions synthetic_pose_quickstart();

enum class SyntheticSplit { train, val };

// "train2017" / "val2017".
const char* synthetic_split_name(SyntheticSplit split);

// One annotation of a rendered image, as written to the JSON.
struct SyntheticAnnotation {
  std::array<std::array<double, 3>, 17> keypoints{};  // x, y, v
  int num_keypoints = 0;
  bool iscrowd = false;
  std::vector<double> polygon;  // non-crowd segmentation: x0, y0, x1, y1, ...
  Rle rle;                      // crowd segmentation
  std::array<double, 4> bbox{};
  double area = 0;
  std::array<Rgb, 3> shades{};  // base, left, right (crowd: unused)
};

// The pixel owner map of a rendered image: the annotation drawn on top of each pixel.
inline constexpr std::int32_t kSyntheticBackground = -1;
inline constexpr std::int32_t kSyntheticOccluder = -2;

struct SyntheticPoseImage {
  std::int64_t id = 0;
  std::string file_name;
  Image image;                       // before JPEG compression
  std::vector<std::int32_t> owner;   // row-major: annotation index, kSyntheticBackground or kSyntheticOccluder
  std::vector<SyntheticAnnotation> annotations;
  std::int32_t owner_at(std::int64_t y, std::int64_t x) const { return owner[std::size_t(y * image.width + x)]; }
};

// Image `index` of `split`, exactly as write_synthetic_pose draws and annotates it.
SyntheticPoseImage render_synthetic_pose(const SyntheticPoseOptions& opt, SyntheticSplit split, int index);

// Writes the whole dataset under `root` (folders created; existing files of the same names replaced,
// each atomically). ValueError for bad options, IoError when a file cannot be written.
void write_synthetic_pose(const std::filesystem::path& root, const SyntheticPoseOptions& opt);

}  // namespace hrnet::data
