// The HRNet trunk's building blocks, compiled once for every network dtype and device the library
// provides (the headers declare these instantiations extern).
#include "hrnet/models/hrnet_stage.hpp"

namespace hrnet::models {

#define HRNET_INSTANTIATE_STAGE(T, D)       \
  template class BlockSequence<T, D>;        \
  template class HighResolutionModule<T, D>; \
  template class Stage<T, D>;                \
  template class Transition<T, D>;           \
  template class HRNetTrunk<T, D>;

HRNET_INSTANTIATE_STAGE(float, CPU)
HRNET_INSTANTIATE_STAGE(double, CPU)  // gradchecks and the double-precision model tests
#ifdef HRNET_WITH_CUDA
HRNET_INSTANTIATE_STAGE(float, CUDA)
#endif

#undef HRNET_INSTANTIATE_STAGE

}  // namespace hrnet::models
