// One HigherHRNet training sample, exactly as the official COCOKeypoints.__getitem__ builds it:
//   RandomAffineTransform (image to input_size, masks and joints to each output size)
//   -> RandomHorizontalFlip (p = DATASET.FLIP) -> ToTensor + Normalize
//   -> per output size: HeatmapGenerator, JointsGenerator (the official loss uses the first size's joints).
// and the batch the loss takes (collate). The random draws come from the Rng the caller passes; the
// trainer gives every (seed, epoch, sample) its own stream, so samples do not depend on which loader
// thread builds them.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "hrnet/core/rng.hpp"
#include "hrnet/core/tensor.hpp"
#include "hrnet/data/mask.hpp"
#include "hrnet/data/transforms.hpp"

namespace hrnet::data {

struct PoseAugmentation {
  std::int64_t input_size = 512;
  std::vector<std::int64_t> output_sizes{128, 256};
  std::int64_t num_joints = 17;
  std::int64_t max_people = 30;
  double sigma = 2.0;
  double flip_prob = 0.5;
  std::vector<std::int64_t> flip_index{kCocoFlipIndex.begin(), kCocoFlipIndex.end()};
  AffineConfig affine{30, 0.75, 1.5, false, 40};
};

struct PoseSample {
  Tensor<float, CPU> image;                  // (1, 3, S, S), normalised
  std::vector<Tensor<float, CPU>> heatmaps;  // per output size: (K, r, r)
  std::vector<Tensor<float, CPU>> masks;     // per output size: (r, r), 1 = supervise
  std::vector<Tensor<std::int64_t, CPU>> joints;  // per output size: (M, K, 2)
  std::int64_t dropped_people = 0;                // people beyond max_people left out of `joints`
};

// rgb: HWC 8-bit RGB (height x width); mask: the image's loss mask (same size); people: one entry of
// num_joints (x, y, v) per annotation used for joints.
PoseSample make_pose_sample(const std::vector<std::uint8_t>& rgb, std::int64_t height, std::int64_t width,
                            const Mask& mask, const std::vector<std::vector<std::array<double, 3>>>& people,
                            const PoseAugmentation& aug, Rng& rng);

struct PoseBatch {
  Tensor<float, CPU> images;                  // (N, 3, S, S)
  std::vector<Tensor<float, CPU>> heatmaps;   // per output size: (N, K, r, r)
  std::vector<Tensor<float, CPU>> masks;      // per output size: (N, 1, r, r)
  std::vector<Tensor<std::int64_t, CPU>> joints;  // per output size: (N, M, K, 2)
  std::vector<std::int64_t> image_ids;
  std::int64_t dropped_people = 0;
  std::int64_t size() const { return static_cast<std::int64_t>(image_ids.size()); }
};

// Stacks samples (all built with the same augmentation settings) into one batch.
PoseBatch collate(const std::vector<PoseSample>& samples, const std::vector<std::int64_t>& image_ids);

}  // namespace hrnet::data
