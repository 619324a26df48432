// Typed model descriptions, filled from the official experiment files (models/config.hpp) or
// written by hand. They hold structure only; widths and counts are run-time values.
#pragma once
#include <string>
#include <vector>

namespace hrnet::models {

enum class BlockKind { Basic, Bottleneck };
inline int expansion(BlockKind b) { return b == BlockKind::Basic ? 1 : 4; }

struct StageConfig {
  int num_modules = 1;
  int num_branches = 1;
  BlockKind block = BlockKind::Basic;
  std::vector<int> num_blocks;
  std::vector<int> num_channels;
  std::string fuse_method = "SUM";
};

struct DeconvConfig {
  int num_deconvs = 1;
  std::vector<int> num_channels{32};
  std::vector<int> kernel_size{4};
  int num_basic_blocks = 4;
  std::vector<bool> cat_output{true};
};

// HigherHRNet (lib/models/pose_higher_hrnet.py).
struct PoseNetConfig {
  int num_joints = 17;
  bool tag_per_joint = true;
  int final_conv_kernel = 1;
  StageConfig stage2, stage3, stage4;
  DeconvConfig deconv;
  std::vector<bool> with_ae_loss{true, false};  // from LOSS.WITH_AE_LOSS: decides head widths
  int input_size = 512;
};

// HRNet ImageNet classification (lib/models/cls_hrnet.py).
struct ClsNetConfig {
  StageConfig stage1, stage2, stage3, stage4;
  int image_height = 224, image_width = 224;
  int num_classes = 1000;  // official YAML: always 1000; the TF port's HEAD.cls_num (1001)
};

}  // namespace hrnet::models
