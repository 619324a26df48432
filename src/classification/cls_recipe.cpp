// The official and TF-port preprocessing recipes (hrnet/classification/cls_recipe.hpp).
#include "hrnet/classification/cls_recipe.hpp"

#include <sstream>

#include "hrnet/data/image.hpp"

namespace hrnet::classification {

std::string ClsRecipe::describe() const {
  std::ostringstream s;
  if (kind == ClsRecipeKind::kOfficial) {
    s << "official recipe: train RandomResizedCrop " << official.size << " (scale " << official.crop.scale_min << "-"
      << official.crop.scale_max << ") + flip, eval resize " << official.resize << " + centre crop " << official.size
      << ", mean/std normalisation; "
      << (decode == data::DecodeMode::kFast ? "training decodes the crop at a reduced DCT scale (--decode fast)"
                                            : "whole-image decodes (--decode exact)");
  } else {
    s << "TF port recipe: train sample_distorted_bounding_box (area " << tf.area_min << "-" << tf.area_max << ", aspect "
      << tf.aspect_min << "-" << tf.aspect_max << ", min_object_covered " << tf.min_object_covered
      << ") + flip + bilinear resize " << tf.size << ", eval aspect-preserving resize " << tf.resize
      << " + central crop " << tf.size << ", mean subtraction (no std)";
  }
  return s.str();
}

void cls_recipe_train(const ClsRecipe& recipe, const ClsSample& sample, Rng& rng, float* out) {
  if (recipe.kind == ClsRecipeKind::kOfficial) {
    data::cls_train_transform_encoded(sample.encoded, sample.name, recipe.official, rng, out, recipe.decode);
    return;
  }
  data::tf_train_transform_encoded(sample.encoded, sample.name, sample.boxes, recipe.tf, rng, out);
}

void cls_recipe_eval(const ClsRecipe& recipe, const ClsSample& sample, float* out) {
  if (recipe.kind == ClsRecipeKind::kOfficial) {
    data::cls_eval_transform_encoded(sample.encoded, sample.name, recipe.official, out, data::DecodeMode::kExact);
    return;
  }
  const data::Image img = data::decode_image(sample.encoded, sample.name);
  data::tf_eval_transform(img, recipe.tf, out);
}

}  // namespace hrnet::classification
