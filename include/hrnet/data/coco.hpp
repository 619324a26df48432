// COCO person-keypoint dataset index and HigherHRNet's training loss mask.
//
// CocoKeypoints(root, split) reads root/annotations/person_keypoints_{split}.json and resolves images
// in root/images/{split}/ (the official layout) or, when that folder does not exist, root/{split}/
// (the layout of DeepSparkHub and of the coco-sample). Semantics follow the official
// HigherHRNet lib/dataset/COCODataset.py + COCOKeypoints.py with pycocotools:
//   - image order is the order of the "images" array (pycocotools' coco.imgs keys); the annotations of
//     an image are in file order (coco.imgToAnns);
//   - training filter (remove_images_without_annotations, on by default): keep the images with at
//     least one annotation of any kind (len(getAnnIds(imgIds=id, iscrowd=None)) > 0);
//   - loss_mask(i): m = sum of decode(frPyObjects(seg)) over crowd annotations and over every polygon
//     of non-crowd annotations with num_keypoints == 0; mask = (m < 0.5), i.e. 1 = supervise. As the
//     decoded masks are 0/1 this is "ones minus the union".
//   - people(i): the annotations used for joints, iscrowd == 0 or num_keypoints > 0.
// Deviations, where the official code would crash: a crowd annotation with polygons adds each
// polygon, and RLE segmentation with a compressed counts string is accepted anywhere.
//
// Errors (IoError): missing annotation file; malformed JSON (with the parser's message, nesting deeper
// than io::kMaxJsonDepth included); a missing or mistyped required field (naming the field and the
// image/annotation id); an integer field out of range (ids: int64; iscrowd, num_keypoints, RLE size:
// int; RLE counts: uint32); an image "height"/"width" over kMaxImageSide or their product over
// kMaxImagePixels (data/image.hpp: the decoder's limits, so the loss mask stays bounded); an
// annotation of an unknown image; a missing image folder or image file (naming the path) when
// check_images is on.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "hrnet/core/error.hpp"
#include "hrnet/data/mask.hpp"

namespace hrnet::data {

struct CocoImage {
  std::int64_t id = 0;
  std::string file_name;
  int height = 0, width = 0;
  std::filesystem::path path;  // resolved image file
};

// A segmentation: polygons (each x0, y0, x1, y1, ...) or one RLE (COCO crowd regions).
struct CocoSegmentation {
  std::vector<std::vector<double>> polygons;
  std::optional<Rle> rle;
  bool is_rle() const { return rle.has_value(); }
};

struct CocoAnnotation {
  std::int64_t id = 0, image_id = 0, category_id = 1;
  std::vector<std::array<double, 3>> keypoints;  // num_joints x (x, y, v)
  int num_keypoints = 0;
  bool iscrowd = false;
  std::array<double, 4> bbox{};  // x, y, w, h
  double area = 0;
  CocoSegmentation segmentation;
};

// frPyObjects(segmentation, h, w) for one annotation: one RLE per polygon, or the annotation's RLE.
std::vector<Rle> annotation_rles(const CocoAnnotation& a, int h, int w);

// The official get_mask for one image (1 = supervise), row-major height x width.
Mask coco_loss_mask(const CocoImage& img, const std::vector<CocoAnnotation>& anns);

class CocoKeypoints {
 public:
  struct Options {
    bool remove_images_without_annotations = true;  // the official training filter
    bool check_images = true;                       // require every kept image file to exist
    int num_joints = 17;                            // keypoints per annotation (COCO 17)
  };

  CocoKeypoints(const std::filesystem::path& root, const std::string& split) : CocoKeypoints(root, split, Options{}) {}
  CocoKeypoints(const std::filesystem::path& root, const std::string& split, Options opt);

  // The kept images (after the training filter).
  std::size_t size() const { return ids_.size(); }
  const CocoImage& image(std::size_t i) const { return all_images_[index(i)]; }
  const std::vector<CocoAnnotation>& annotations(std::size_t i) const { return all_anns_[index(i)]; }
  // The annotations used for joints: iscrowd == 0 or num_keypoints > 0.
  std::vector<const CocoAnnotation*> people(std::size_t i) const {
    std::vector<const CocoAnnotation*> out;
    for (const auto& a : annotations(i))
      if (!a.iscrowd || a.num_keypoints > 0) out.push_back(&a);
    return out;
  }
  // (out of memory: IoError naming the annotation file and the image, not a bare std::bad_alloc)
  Mask loss_mask(std::size_t i) const;

  // Every image of the file, before filtering, and its annotations.
  const std::vector<CocoImage>& all_images() const { return all_images_; }
  const std::vector<CocoAnnotation>& all_annotations_of(std::size_t image_index) const {
    return all_anns_.at(image_index);
  }
  std::int64_t num_annotations() const { return num_anns_; }
  const std::filesystem::path& image_dir() const { return image_dir_; }
  const std::filesystem::path& annotation_file() const { return ann_file_; }

 private:
  std::size_t index(std::size_t i) const {
    HRNET_CHECK(i < ids_.size(), ValueError, "CocoKeypoints: index " << i << " out of range (" << ids_.size() << " images)");
    return ids_[i];
  }

  template <class T>
  T field(const nlohmann::json& j, const char* name, const std::string& what) const;
  // Integer fields, range-checked ([lo, hi]) before any conversion; IoError naming file, record, field.
  std::int64_t int_field(const nlohmann::json& j, const char* name, const std::string& what, std::int64_t lo,
                         std::int64_t hi) const;
  std::vector<std::int64_t> int_list_field(const nlohmann::json& j, const char* name, const std::string& what,
                                           std::int64_t lo, std::int64_t hi) const;
  static std::string id_text(const nlohmann::json& j);
  void load(const std::filesystem::path& ann_file);
  CocoSegmentation parse_segmentation(const nlohmann::json& ja, const std::string& what) const;

  Options opt_;
  std::filesystem::path ann_file_, image_dir_;
  std::vector<CocoImage> all_images_;
  std::vector<std::vector<CocoAnnotation>> all_anns_;
  std::vector<std::size_t> ids_;
  std::int64_t num_anns_ = 0;
};

}  // namespace hrnet::data
