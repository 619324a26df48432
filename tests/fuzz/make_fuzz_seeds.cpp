// Writes the synthetic part of the fuzz seed corpora (tests/fuzz/make_corpus.sh adds the test
// fixtures and make_synthetic's datasets): valid files made by hrnet's own writers, small, each a
// starting point that reaches deep into its parser.
//   usage: make_fuzz_seeds OUT_DIR   (writes OUT_DIR/<target>/<name>)
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "coco_eval_fixed.hpp"
#include "small_module.hpp"
#include "hrnet/data/image.hpp"
#include "hrnet/data/mask.hpp"
#include "hrnet/io/safetensors.hpp"
#include "hrnet/io/tensor_io.hpp"
#include "hrnet/io/tfrecord.hpp"
#include "hrnet/optim/adam.hpp"
#include "hrnet/train/checkpoint.hpp"

namespace fs = std::filesystem;
using namespace hrnet;

namespace {
fs::path g_out;

void put(const std::string& target, const std::string& name, const void* data, std::size_t size) {
  const fs::path p = g_out / target / name;
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!f) throw std::runtime_error("cannot write " + p.string());
}
void put(const std::string& target, const std::string& name, const std::string& s) { put(target, name, s.data(), s.size()); }
void put(const std::string& target, const std::string& name, const std::vector<std::uint8_t>& v) {
  put(target, name, v.data(), v.size());
}

using Small = fuzz::SmallModule;  // the module of fuzz_checkpoint.cpp and fuzz_safetensors.cpp

io::RawTensor raw(DType dt, std::vector<std::int64_t> shape, std::size_t elem) {
  io::RawTensor r;
  r.dtype = dt;
  r.shape = std::move(shape);
  std::size_t n = 1;
  for (auto d : r.shape) n *= std::size_t(d);
  r.data.resize(n * elem);
  for (std::size_t i = 0; i < r.data.size(); ++i) r.data[i] = std::uint8_t(i * 37 + 11);
  return r;
}

void safetensors_seeds() {
  io::SafetensorsFile f;
  f.tensors["f64"] = raw(DType::F64, {2}, 8);
  f.tensors["f32"] = raw(DType::F32, {2, 1, 2, 1}, 4);
  f.tensors["f16"] = raw(DType::F16, {3}, 2);
  f.tensors["bf16"] = raw(DType::BF16, {1, 2}, 2);
  f.tensors["i64"] = raw(DType::I64, {}, 8);
  f.tensors["empty"] = raw(DType::F32, {0, 3}, 4);
  f.metadata["format"] = "pt";
  put("safetensors", "dtypes.safetensors", io::serialize_safetensors(f));
  io::SafetensorsFile e;
  put("safetensors", "empty.safetensors", io::serialize_safetensors(e));
  Small m;
  put("safetensors", "small_module.safetensors", io::serialize_safetensors(nn::state_dict(m)));
}

void checkpoint_seeds() {
  const fs::path tmp = g_out / "checkpoint.tmp.safetensors";
  fs::create_directories(g_out / "checkpoint");
  Small m;
  optim::Adam<float, CPU> opt(m.parameters(), optim::AdamOptions{});
  train::TrainProgress p;
  p.epoch = 1;
  p.step = 3;
  p.seed = 7;
  p.extra["config"] = "w32.yaml";
  train::save_checkpoint(tmp, m, opt, p);  // no optimizer state yet
  fs::copy_file(tmp, g_out / "checkpoint" / "fresh.safetensors", fs::copy_options::overwrite_existing);
  for (auto* v : m.parameters()) {  // one Adam step with made-up gradients: moments in the file
    Tensor<float, CPU>& g = v->grad_buffer();
    for (std::int64_t i = 0; i < g.numel(); ++i) g.data()[i] = 0.25f * float(i + 1);
  }
  opt.step();
  train::save_checkpoint(tmp, m, opt, p);
  fs::copy_file(tmp, g_out / "checkpoint" / "after_step.safetensors", fs::copy_options::overwrite_existing);
  // plain weights (load_weights reads them; load_checkpoint refuses them)
  io::write_safetensors(tmp, nn::state_dict(m));
  fs::copy_file(tmp, g_out / "checkpoint" / "weights.safetensors", fs::copy_options::overwrite_existing);
  fs::remove(tmp);
}

data::Image pattern(std::int64_t h, std::int64_t w, int seed) {
  data::Image img(h, w);
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x)
      img.set(y, x, {std::uint8_t(x * 16 + seed), std::uint8_t(y * 16), std::uint8_t((x ^ y) * 8 + seed * 3)});
  return img;
}

void image_seeds() {
  put("png", "rgb_8x8.png", data::encode_png(pattern(8, 8, 1)));
  put("png", "rgb_3x17.png", data::encode_png(pattern(3, 17, 2)));
  put("png", "rgb_1x1.png", data::encode_png(pattern(1, 1, 3)));
  put("jpeg", "rgb_16x16_q90.jpg", data::encode_jpeg(pattern(16, 16, 4), 90));
  put("jpeg", "rgb_9x23_q50.jpg", data::encode_jpeg(pattern(9, 23, 5), 50));
  put("jpeg", "rgb_1x1_q100.jpg", data::encode_jpeg(pattern(1, 1, 6), 100));
}

// 4 bytes of size (h, w little-endian 16-bit, as fuzz_rle.cpp reads them), then the counts string
std::string rle_input(const data::Rle& r) {
  std::string s;
  s += char(r.height & 255);
  s += char(r.height >> 8);
  s += char(r.width & 255);
  s += char(r.width >> 8);
  return s + data::rle_to_string(r);
}

void rle_seeds() {
  const std::vector<double> tri{2, 2, 30, 5, 12, 25};
  put("rle", "triangle_32x40", rle_input(data::rle_from_polygon(tri, 32, 40)));
  const std::vector<double> quad{0.5, 0.5, 7.5, 0.5, 7.5, 6.5, 0.5, 6.5};
  put("rle", "square_8x8", rle_input(data::rle_from_polygon(quad, 8, 8)));
  const std::vector<double> big{10, 10, 900, 40, 600, 700, 30, 500};
  put("rle", "big_counts_720x960", rle_input(data::rle_from_polygon(big, 720, 960)));
  put("rle", "empty_0x0", rle_input(data::rle_from_counts({0}, 0, 0)));
}

std::string coco_annotation_seed() {
  const std::string kp = hrnet::fuzz::kps(4, 4, 2);
  std::string polygon_rle = data::rle_to_string(data::rle_from_polygon(std::vector<double>{1, 1, 20, 3, 10, 18}, 24, 32));
  std::string esc;
  for (char c : polygon_rle) {
    if (c == '\\' || c == '"') esc += '\\';
    esc += c;
  }
  return R"({"images":[{"id":1,"file_name":"a.jpg","height":24,"width":32},{"id":2,"file_name":"b.jpg","height":16,"width":16},{"id":3,"file_name":"c.jpg","height":8,"width":8}],)"
         R"("categories":[{"id":1,"name":"person","keypoints":[],"skeleton":[]}],"annotations":[)"
         R"({"id":1,"image_id":1,"category_id":1,"iscrowd":0,"num_keypoints":17,"area":120.5,"bbox":[1,1,19,17],"segmentation":[[1,1,20,3,10,18]],"keypoints":[)" +
         kp +
         R"(]},{"id":2,"image_id":1,"category_id":1,"iscrowd":0,"num_keypoints":0,"area":30,"bbox":[20,10,8,8],"segmentation":[[20,10,28,10,28,18,20,18],[2,20,6,20,4,23]],"keypoints":[)" +
         hrnet::fuzz::kps(0, 0, 0) +
         R"(]},{"id":3,"image_id":1,"category_id":1,"iscrowd":1,"num_keypoints":0,"area":40,"bbox":[0,0,10,10],"segmentation":{"counts":")" +
         esc +
         R"(","size":[24,32]},"keypoints":[)" + hrnet::fuzz::kps(0, 0, 0) +
         R"(]},{"id":4,"image_id":2,"category_id":1,"iscrowd":1,"num_keypoints":0,"area":16,"bbox":[0,0,4,4],"segmentation":{"counts":[0,4,12,4,12,4,12,4,204],"size":[16,16]},"keypoints":[)" +
         hrnet::fuzz::kps(0, 0, 0) + "]}]}";
}

io::Example example(int label, bool boxes) {
  io::Example ex;
  ex.features["image/encoded"] = std::vector<std::string>{std::string("\xff\xd8\xff\xe0 not really a jpeg", 22)};
  ex.features["image/class/label"] = std::vector<std::int64_t>{label};
  ex.features["image/class/text"] = std::vector<std::string>{"tench, Tinca tinca"};
  ex.features["image/height"] = std::vector<std::int64_t>{375};
  ex.features["image/format"] = std::vector<std::string>{"JPEG"};
  if (boxes) {
    ex.features["image/object/bbox/xmin"] = std::vector<float>{0.1f, 0.5f};
    ex.features["image/object/bbox/ymin"] = std::vector<float>{0.2f, 0.25f};
    ex.features["image/object/bbox/xmax"] = std::vector<float>{0.6f, 0.9f};
    ex.features["image/object/bbox/ymax"] = std::vector<float>{0.7f, 1.0f};
  }
  ex.features["empty"] = std::monostate{};
  return ex;
}

void tfrecord_seeds() {
  const std::string a = io::encode_example(example(1, true)), b = io::encode_example(example(1000, false));
  put("tf_example", "imagenet_boxes.pb", a);
  put("tf_example", "imagenet_plain.pb", b);
  put("tf_example", "empty.pb", std::string());
  put("tfrecord", "two_records.tfrecord", io::frame_tfrecord(a) + io::frame_tfrecord(b));
  put("tfrecord", "empty_record.tfrecord", io::frame_tfrecord(""));
  put("tfrecord", "empty_shard.tfrecord", std::string());
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_seeds OUT_DIR\n");
    return 2;
  }
  g_out = argv[1];
  try {
    safetensors_seeds();
    checkpoint_seeds();
    image_seeds();
    rle_seeds();
    put("coco_annotations", "polygons_rle_crowd.json", coco_annotation_seed());
    put("coco_results", "fixed_results.json", hrnet::fuzz::fixed_results());
    put("coco_ground_truth", "fixed_ground_truth.json", hrnet::fuzz::fixed_ground_truth());
    tfrecord_seeds();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_fuzz_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
