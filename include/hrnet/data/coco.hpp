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
// Errors (IoError): missing annotation file; malformed JSON (with the parser's message); a missing or
// mistyped required field (naming the field and the image/annotation id); an annotation of an unknown
// image; a missing image folder or image file (naming the path) when check_images is on.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

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
inline std::vector<Rle> annotation_rles(const CocoAnnotation& a, int h, int w) {
  if (a.segmentation.is_rle()) return {*a.segmentation.rle};
  try {
    return rle_from_polygons(a.segmentation.polygons, h, w);
  } catch (const ValueError& e) {
    HRNET_THROW(ValueError, "annotation " << a.id << ": " << e.what());
  }
}

// The official get_mask for one image (1 = supervise), row-major height x width.
inline Mask coco_loss_mask(const CocoImage& img, const std::vector<CocoAnnotation>& anns) {
  Mask m(img.height, img.width, 0);
  for (const auto& a : anns) {
    if (!a.iscrowd && a.num_keypoints != 0) continue;
    for (const Rle& r : annotation_rles(a, img.height, img.width)) {
      HRNET_CHECK(r.height == img.height && r.width == img.width, ShapeError,
                  "coco loss mask: annotation " << a.id << " has an RLE of " << r.height << "x" << r.width
                                                << " for image " << img.id << " of " << img.height << "x"
                                                << img.width);
      rle_decode_or(r, m);
    }
  }
  for (auto& v : m.data) v = std::uint8_t(v == 0);
  return m;
}

class CocoKeypoints {
 public:
  struct Options {
    bool remove_images_without_annotations = true;  // the official training filter
    bool check_images = true;                       // require every kept image file to exist
    int num_joints = 17;                            // keypoints per annotation (COCO 17)
  };

  CocoKeypoints(const std::filesystem::path& root, const std::string& split) : CocoKeypoints(root, split, Options{}) {}
  CocoKeypoints(const std::filesystem::path& root, const std::string& split, Options opt) : opt_(opt) {
    namespace fs = std::filesystem;
    const fs::path ann_file = root / "annotations" / ("person_keypoints_" + split + ".json");
    image_dir_ = fs::is_directory(root / "images" / split) ? root / "images" / split : root / split;
    load(ann_file);
    std::vector<std::size_t> kept;
    for (std::size_t i = 0; i < all_images_.size(); ++i)
      if (!opt_.remove_images_without_annotations || !all_anns_[i].empty()) kept.push_back(i);
    ids_ = std::move(kept);
    if (opt_.check_images) {
      HRNET_CHECK(ids_.empty() || fs::is_directory(image_dir_), IoError,
                  "COCO images folder not found: neither " << (root / "images" / split) << " nor " << (root / split)
                                                           << " exists");
      for (std::size_t i : ids_)
        HRNET_CHECK(fs::is_regular_file(all_images_[i].path), IoError,
                    "COCO image file not found: " << all_images_[i].path << " (image id " << all_images_[i].id << ")");
    }
  }

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
  Mask loss_mask(std::size_t i) const { return coco_loss_mask(image(i), annotations(i)); }

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
  T field(const nlohmann::json& j, const char* name, const std::string& what) const {
    auto it = j.find(name);
    HRNET_CHECK(it != j.end(), IoError, ann_file_.string() << ": " << what << " has no field \"" << name << "\"");
    try {
      return it->get<T>();
    } catch (const nlohmann::json::exception& e) {
      HRNET_THROW(IoError, ann_file_.string() << ": " << what << ": field \"" << name << "\" has the wrong type ("
                                              << it->type_name() << "): " << e.what());
    }
  }

  static std::string id_text(const nlohmann::json& j) {
    auto it = j.find("id");
    return it == j.end() ? std::string("(no id)") : it->dump();
  }

  void load(const std::filesystem::path& ann_file) {
    namespace fs = std::filesystem;
    ann_file_ = ann_file;
    HRNET_CHECK(fs::is_regular_file(ann_file), IoError, "COCO annotation file not found: " << ann_file);
    std::ifstream in(ann_file, std::ios::binary);
    HRNET_CHECK(in, IoError, "cannot open COCO annotation file " << ann_file);
    nlohmann::json doc;
    try {
      doc = nlohmann::json::parse(in);
    } catch (const nlohmann::json::parse_error& e) {
      HRNET_THROW(IoError, "malformed JSON in COCO annotation file " << ann_file << ": " << e.what());
    }
    HRNET_CHECK(doc.is_object(), IoError, ann_file.string() << ": the top level is not a JSON object");
    for (const char* key : {"images", "annotations"}) {
      auto it = doc.find(key);
      HRNET_CHECK(it != doc.end(), IoError, ann_file.string() << ": no field \"" << key << "\"");
      HRNET_CHECK(it->is_array(), IoError, ann_file.string() << ": field \"" << key << "\" is not an array");
    }

    std::unordered_map<std::int64_t, std::size_t> by_id;
    for (const auto& ji : doc["images"]) {
      HRNET_CHECK(ji.is_object(), IoError, ann_file.string() << ": an entry of \"images\" is not an object");
      const std::string what = "image " + id_text(ji);
      CocoImage img;
      img.id = field<std::int64_t>(ji, "id", what);
      img.file_name = field<std::string>(ji, "file_name", what);
      img.height = field<int>(ji, "height", what);
      img.width = field<int>(ji, "width", what);
      HRNET_CHECK(img.height > 0 && img.width > 0, IoError,
                  ann_file.string() << ": " << what << " has size " << img.height << "x" << img.width);
      img.path = image_dir_ / img.file_name;
      HRNET_CHECK(by_id.emplace(img.id, all_images_.size()).second, IoError,
                  ann_file.string() << ": duplicate image id " << img.id);
      all_images_.push_back(std::move(img));
    }
    all_anns_.assign(all_images_.size(), {});

    for (const auto& ja : doc["annotations"]) {
      HRNET_CHECK(ja.is_object(), IoError, ann_file.string() << ": an entry of \"annotations\" is not an object");
      const std::string what = "annotation " + id_text(ja);
      CocoAnnotation a;
      a.id = field<std::int64_t>(ja, "id", what);
      a.image_id = field<std::int64_t>(ja, "image_id", what);
      if (ja.contains("category_id")) a.category_id = field<std::int64_t>(ja, "category_id", what);
      a.iscrowd = field<int>(ja, "iscrowd", what) != 0;
      a.num_keypoints = field<int>(ja, "num_keypoints", what);
      const auto kps = field<std::vector<double>>(ja, "keypoints", what);
      HRNET_CHECK(kps.size() == std::size_t(3 * opt_.num_joints), IoError,
                  ann_file.string() << ": " << what << ": field \"keypoints\" has " << kps.size() << " numbers, expected "
                                    << 3 * opt_.num_joints << " (" << opt_.num_joints << " joints x 3)");
      a.keypoints.resize(std::size_t(opt_.num_joints));
      for (std::size_t k = 0; k < a.keypoints.size(); ++k) a.keypoints[k] = {kps[3 * k], kps[3 * k + 1], kps[3 * k + 2]};
      const auto bbox = field<std::vector<double>>(ja, "bbox", what);
      HRNET_CHECK(bbox.size() == 4, IoError,
                  ann_file.string() << ": " << what << ": field \"bbox\" has " << bbox.size() << " numbers, expected 4");
      a.bbox = {bbox[0], bbox[1], bbox[2], bbox[3]};
      a.area = field<double>(ja, "area", what);
      auto img_it = by_id.find(a.image_id);
      HRNET_CHECK(img_it != by_id.end(), IoError,
                  ann_file.string() << ": " << what << " refers to image " << a.image_id << ", which is not in \"images\"");
      a.segmentation = parse_segmentation(ja, what);
      all_anns_[img_it->second].push_back(std::move(a));
      ++num_anns_;
    }
  }

  CocoSegmentation parse_segmentation(const nlohmann::json& ja, const std::string& what) const {
    auto it = ja.find("segmentation");
    HRNET_CHECK(it != ja.end(), IoError, ann_file_.string() << ": " << what << " has no field \"segmentation\"");
    CocoSegmentation seg;
    const std::string where = ann_file_.string() + ": " + what + ": field \"segmentation\"";
    if (it->is_array()) {
      try {
        seg.polygons = it->get<std::vector<std::vector<double>>>();
      } catch (const nlohmann::json::exception& e) {
        HRNET_THROW(IoError, where << " is not a list of polygons (lists of numbers): " << e.what());
      }
      return seg;
    }
    HRNET_CHECK(it->is_object(), IoError, where << " is neither a list of polygons nor an RLE object");
    const std::string rwhat = what + " segmentation";
    const auto size = field<std::vector<int>>(*it, "size", rwhat);
    HRNET_CHECK(size.size() == 2 && size[0] >= 0 && size[1] >= 0, IoError, where << ": \"size\" must be [height, width]");
    auto c = it->find("counts");
    HRNET_CHECK(c != it->end(), IoError, ann_file_.string() << ": " << rwhat << " has no field \"counts\"");
    try {
      if (c->is_string())
        seg.rle = rle_from_string(c->get<std::string>(), size[0], size[1]);
      else
        seg.rle = rle_from_counts(c->get<std::vector<std::uint32_t>>(), size[0], size[1]);
    } catch (const nlohmann::json::exception& e) {
      HRNET_THROW(IoError, where << ": \"counts\" is neither a string nor a list of counts: " << e.what());
    } catch (const ValueError& e) {
      HRNET_THROW(IoError, where << ": invalid RLE: " << e.what());
    }
    return seg;
  }

  Options opt_;
  std::filesystem::path ann_file_, image_dir_;
  std::vector<CocoImage> all_images_;
  std::vector<std::vector<CocoAnnotation>> all_anns_;
  std::vector<std::size_t> ids_;
  std::int64_t num_anns_ = 0;
};

}  // namespace hrnet::data
