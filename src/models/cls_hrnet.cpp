// ClsHighResolutionNet compiled once: every other translation unit sees the extern template
// declarations of cls_hrnet.hpp and only links against these.
#include "hrnet/models/cls_hrnet.hpp"

namespace hrnet::models {

template class ClsHighResolutionNet<float, CPU>;
template class ClsHighResolutionNet<double, CPU>;  // the double-precision model tests
#ifdef HRNET_WITH_CUDA
template class ClsHighResolutionNet<float, CUDA>;
#endif

}  // namespace hrnet::models
