// PoseHigherResolutionNet compiled once: every other translation unit sees the extern template
// declarations of pose_higher_hrnet.hpp and only links against these.
#include "hrnet/models/pose_higher_hrnet.hpp"

namespace hrnet::models {

template class PoseHigherResolutionNet<float, CPU>;
template class PoseHigherResolutionNet<double, CPU>;  // the double-precision model tests
#ifdef HRNET_WITH_CUDA
template class PoseHigherResolutionNet<float, CUDA>;
#endif

}  // namespace hrnet::models
