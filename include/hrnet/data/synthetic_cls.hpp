// A synthetic image classification dataset in torchvision ImageFolder layout (or as TFRecord
// shards, write_synthetic_cls_tfrecord):
//
//   root/train/class_00/000000.jpg ...   `images` training images per class
//   root/val/class_00/...                `val_images` validation images per class
//
// Class c is drawn as: a striped background whose hue is c's (hue = 360 c / K, jittered), at an
// angle of 180 c / K degrees (jittered), with a random stripe period and phase, plus 2..5 filled
// shapes of the class's kind (circle, square, triangle, ellipse, cycling with c) in random colours,
// sizes and positions, and pixel noise. Image sides are drawn in [min_side, max_side] independently,
// so sizes and aspect ratios vary. Colour and orientation survive RandomResizedCrop and flips well
// enough that a small HRNet learns the classes far above chance in a few epochs.
//
// Real-world oddities a loader must handle (written where libjpeg is available, as ImageNet has a
// few of each): the first training image of the first class is a grayscale (1-component) JPEG and
// the first training image of the second class (the second of the first if K = 1) an Adobe CMYK JPEG.
//
// Deterministic: a given seed and options give byte-identical files.
#pragma once
#include <cstdint>
#include <filesystem>

#include "hrnet/data/image.hpp"

namespace hrnet::data {

struct SyntheticClsOptions {
  int classes = 4;       // 1..1000
  int images = 32;       // training images per class (>= 1)
  int val_images = 8;    // validation images per class (>= 1)
  std::uint64_t seed = 0;
  int min_side = 48;     // image sides drawn in [min_side, max_side]
  int max_side = 96;
  int jpeg_quality = 90;
};

// Image `index` of class `cls` of a split (val: true for the validation split), as written.
Image render_synthetic_cls(const SyntheticClsOptions& opt, bool val, int cls, int index);

// The folder name of class c ("class_00" ...; zero-padded so that sorted order is class order).
std::string synthetic_cls_class_name(const SyntheticClsOptions& opt, int cls);

struct SyntheticClsSummary {
  int train_images = 0, val_images = 0;
  bool wrote_gray = false, wrote_cmyk = false;
};

// A photo-like picture for decoding benchmarks and tests (not a class of the dataset above): smooth
// multi-octave value noise in colour (large soft regions with detail at every scale), a few shapes
// with hard and soft edges, and fine sensor noise. At JPEG quality 90 a 500x375 one takes 2 to 3 bits
// per pixel, in the range of ImageNet photos. Deterministic in (height, width, seed).
Image render_photo_like(std::int64_t height, std::int64_t width, std::uint64_t seed);

// Writes the dataset under root (folders created, files of the same names replaced).
SyntheticClsSummary write_synthetic_cls(const std::filesystem::path& root, const SyntheticClsOptions& opt);

// The same images as TFRecord shards root/train-0000i-of-0000N and root/validation-..., in the
// layout of inception's build_imagenet_data.py (hrnet/io/tfrecord.hpp): image/encoded (the same
// JPEG bytes, the grayscale and CMYK ones included), image/class/label = class + 1 (0 is
// background), image/class/synset (the folder name), image/class/text, image/filename,
// image/height/width/colorspace/channels/format, and one object box on every other image
// (image/object/bbox/{xmin,ymin,xmax,ymax,label}; none on the others). The images of a split are
// shuffled (seeded) and cut into contiguous shards.
SyntheticClsSummary write_synthetic_cls_tfrecord(const std::filesystem::path& root, const SyntheticClsOptions& opt,
                                                 int train_shards = 2, int val_shards = 1);

}  // namespace hrnet::data
