// The two preprocessing recipes of HRNet-C training, chosen by the command line used:
//
//   kOfficial  HRNet-Image-Classification (PyTorch): RandomResizedCrop + flip + mean/std;
//              eval resize short side int(S / 0.875) + centre crop S (hrnet/data/cls_transforms.hpp)
//   kTfPort    tf-hrnet (the ResNet preprocessing of TF's official models): sample_distorted_bounding_box
//              over the record's boxes + flip + bilinear resize to S, mean subtraction without std;
//              eval aspect-preserving resize to 256 + central crop S (hrnet/data/tf_transforms.hpp)
//
// Both map a ClsSample (encoded bytes, boxes) to S x S x 3 floats, one image of an NHWC batch.
#pragma once
#include <cstdint>
#include <string>

#include "hrnet/classification/cls_dataset.hpp"
#include "hrnet/core/rng.hpp"
#include "hrnet/data/cls_transforms.hpp"
#include "hrnet/data/tf_transforms.hpp"

namespace hrnet::classification {

enum class ClsRecipeKind { kOfficial, kTfPort };

struct ClsRecipe {
  ClsRecipeKind kind = ClsRecipeKind::kOfficial;
  data::ClsTransformOptions official;  // kOfficial
  data::TfTransformOptions tf;         // kTfPort
  std::int64_t size() const { return kind == ClsRecipeKind::kOfficial ? official.size : tf.size; }
  // One line for the log: what the train and eval transforms do.
  std::string describe() const;
};

// The training transform of one sample into out[S * S * 3]; the draws come from rng.
void cls_recipe_train(const ClsRecipe& recipe, const ClsSample& sample, Rng& rng, float* out);
// The evaluation transform (deterministic).
void cls_recipe_eval(const ClsRecipe& recipe, const ClsSample& sample, float* out);

}  // namespace hrnet::classification
