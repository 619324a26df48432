// The COCO person-keypoint index and HigherHRNet's loss mask (see hrnet/data/coco.hpp).
#include "hrnet/data/coco.hpp"

#include <fstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

namespace hrnet::data {

std::vector<Rle> annotation_rles(const CocoAnnotation& a, int h, int w) {
  if (a.segmentation.is_rle()) return {*a.segmentation.rle};
  try {
    return rle_from_polygons(a.segmentation.polygons, h, w);
  } catch (const ValueError& e) {
    HRNET_THROW(ValueError, "annotation " << a.id << ": " << e.what());
  }
}

Mask coco_loss_mask(const CocoImage& img, const std::vector<CocoAnnotation>& anns) {
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

CocoKeypoints::CocoKeypoints(const std::filesystem::path& root, const std::string& split, Options opt) : opt_(opt) {
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

template <class T>
T CocoKeypoints::field(const nlohmann::json& j, const char* name, const std::string& what) const {
  auto it = j.find(name);
  HRNET_CHECK(it != j.end(), IoError, ann_file_.string() << ": " << what << " has no field \"" << name << "\"");
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception& e) {
    HRNET_THROW(IoError, ann_file_.string() << ": " << what << ": field \"" << name << "\" has the wrong type ("
                                            << it->type_name() << "): " << e.what());
  }
}

std::string CocoKeypoints::id_text(const nlohmann::json& j) {
  auto it = j.find("id");
  return it == j.end() ? std::string("(no id)") : it->dump();
}

void CocoKeypoints::load(const std::filesystem::path& ann_file) {
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

CocoSegmentation CocoKeypoints::parse_segmentation(const nlohmann::json& ja, const std::string& what) const {
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

}  // namespace hrnet::data
