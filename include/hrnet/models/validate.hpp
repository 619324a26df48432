// Checks of model descriptions against what the official builders can run. Every message names
// the config key at fault; pose_net_config / cls_net_config add the file name.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "hrnet/core/error.hpp"
#include "hrnet/models/model_config.hpp"

namespace hrnet::models {

// Checks a stage description against the official builder's assumptions; names the stage.
inline void validate_stage(const StageConfig& s, const std::string& name) {
  HRNET_CHECK(s.num_modules >= 1, ValueError, name << ".NUM_MODULES must be >= 1, got " << s.num_modules);
  HRNET_CHECK(s.num_branches >= 1, ValueError, name << ".NUM_BRANCHES must be >= 1, got " << s.num_branches);
  HRNET_CHECK(static_cast<int>(s.num_blocks.size()) == s.num_branches, ValueError,
              name << ".NUM_BLOCKS has " << s.num_blocks.size() << " entries for " << s.num_branches << " branches");
  HRNET_CHECK(static_cast<int>(s.num_channels.size()) == s.num_branches, ValueError,
              name << ".NUM_CHANNELS has " << s.num_channels.size() << " entries for " << s.num_branches << " branches");
  for (int v : s.num_blocks) HRNET_CHECK(v >= 1, ValueError, name << ".NUM_BLOCKS entries must be >= 1");
  for (int v : s.num_channels) HRNET_CHECK(v >= 1, ValueError, name << ".NUM_CHANNELS entries must be >= 1");
  HRNET_CHECK(s.fuse_method == "SUM", ValueError, name << ".FUSE_METHOD '" << s.fuse_method << "' is not supported (only SUM)");
}

// Branch widths after the blocks (NUM_CHANNELS * expansion).
inline std::vector<std::int64_t> stage_widths(const StageConfig& s) {
  std::vector<std::int64_t> w;
  for (int c : s.num_channels) w.push_back(std::int64_t{c} * expansion(s.block));
  return w;
}

// Exactness note 4: a transition into stages 3/4 reads y_list[-1], so only the last existing
// branch may change width.
inline void validate_transition(const std::vector<std::int64_t>& pre, const std::vector<std::int64_t>& cur,
                                const std::string& stage, bool reads_last) {
  HRNET_CHECK(cur.size() >= pre.size(), ValueError,
              stage << " has fewer branches (" << cur.size() << ") than the stage before it (" << pre.size() << ")");
  if (!reads_last) return;
  for (std::size_t i = 0; i + 1 < pre.size(); ++i)
    HRNET_CHECK(cur[i] == pre[i], ValueError,
                stage << " changes the width of branch " << i << " (" << pre[i] << " -> " << cur[i]
                      << "); the official transition would feed it the last branch, which cannot run");
}

// deconv kernel -> (padding, output_padding), as _get_deconv_cfg
inline std::pair<int, int> deconv_padding(int kernel) {
  if (kernel == 4) return {1, 0};
  if (kernel == 3) return {1, 1};
  if (kernel == 2) return {0, 0};
  HRNET_THROW(ValueError, "MODEL.EXTRA.DECONV.KERNEL_SIZE must be 2, 3 or 4, got " << kernel);
}

inline void validate_pose_config(const PoseNetConfig& c) {
  HRNET_CHECK(c.num_joints >= 1, ValueError, "MODEL.NUM_JOINTS must be >= 1, got " << c.num_joints);
  HRNET_CHECK(c.final_conv_kernel == 1 || c.final_conv_kernel == 3, ValueError,
              "MODEL.EXTRA.FINAL_CONV_KERNEL must be 1 or 3, got " << c.final_conv_kernel);
  validate_stage(c.stage2, "MODEL.EXTRA.STAGE2");
  validate_stage(c.stage3, "MODEL.EXTRA.STAGE3");
  validate_stage(c.stage4, "MODEL.EXTRA.STAGE4");
  validate_transition({256}, stage_widths(c.stage2), "MODEL.EXTRA.STAGE2", false);
  validate_transition(stage_widths(c.stage2), stage_widths(c.stage3), "MODEL.EXTRA.STAGE3", true);
  validate_transition(stage_widths(c.stage3), stage_widths(c.stage4), "MODEL.EXTRA.STAGE4", true);
  const auto& d = c.deconv;
  HRNET_CHECK(d.num_deconvs >= 0 && static_cast<int>(d.num_channels.size()) == d.num_deconvs &&
                  static_cast<int>(d.kernel_size.size()) == d.num_deconvs &&
                  static_cast<int>(d.cat_output.size()) == d.num_deconvs,
              ValueError,
              "MODEL.EXTRA.DECONV: NUM_CHANNELS, KERNEL_SIZE and CAT_OUTPUT need NUM_DECONVS = " << d.num_deconvs
                                                                                            << " entries each");
  for (int k : d.kernel_size) (void)deconv_padding(k);
  HRNET_CHECK(static_cast<int>(c.with_ae_loss.size()) >= d.num_deconvs + 1, ValueError,
              "LOSS.WITH_AE_LOSS needs one entry per output (" << d.num_deconvs + 1 << "), got " << c.with_ae_loss.size());
}

inline void validate_cls_config(const ClsNetConfig& c) {
  validate_stage(c.stage1, "MODEL.EXTRA.STAGE1");
  validate_stage(c.stage2, "MODEL.EXTRA.STAGE2");
  validate_stage(c.stage3, "MODEL.EXTRA.STAGE3");
  validate_stage(c.stage4, "MODEL.EXTRA.STAGE4");
  HRNET_CHECK(c.stage1.num_branches == 1, ValueError, "MODEL.EXTRA.STAGE1 must have one branch");
  HRNET_CHECK(c.stage4.num_branches == 4, ValueError,
              "the classification head needs exactly 4 branches in MODEL.EXTRA.STAGE4, got " << c.stage4.num_branches);
  std::vector<std::int64_t> pre{std::int64_t{c.stage1.num_channels[0]} * expansion(c.stage1.block)};
  const StageConfig* stages[3] = {&c.stage2, &c.stage3, &c.stage4};
  for (int s = 0; s < 3; ++s) {
    validate_transition(pre, stage_widths(*stages[s]), "MODEL.EXTRA.STAGE" + std::to_string(s + 2), s > 0);
    pre = stage_widths(*stages[s]);
  }
}

}  // namespace hrnet::models
