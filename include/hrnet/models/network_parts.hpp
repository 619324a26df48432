// Forward declarations of the layers and trunk pieces a network holds by pointer. The network
// headers (cls_hrnet.hpp, pose_higher_hrnet.hpp) declare their members with these, so including a
// network does not pull in the layer definitions; the definitions are needed only where the
// network's members are compiled (src/models/).
#pragma once
#include "hrnet/core/device.hpp"
#include "hrnet/core/dtype.hpp"

namespace hrnet::nn {
template <FloatType T, Device D, int K>
class Conv2d;
template <FloatType T, Device D, int K>
class ConvTranspose2d;
template <FloatType T, Device D>
class BatchNorm2d;
template <FloatType T, Device D>
class Linear;
template <FloatType T, Device D>
class BasicBlock;
}  // namespace hrnet::nn

namespace hrnet::models {
template <FloatType T, Device D>
class BlockSequence;
template <FloatType T, Device D>
class HRNetTrunk;
}  // namespace hrnet::models
