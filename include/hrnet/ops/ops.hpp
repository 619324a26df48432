// All differentiable ops.
#pragma once
#include "hrnet/ops/batch_norm.hpp"
#include "hrnet/ops/concat.hpp"
#include "hrnet/ops/conv.hpp"
#include "hrnet/ops/elementwise.hpp"
#include "hrnet/ops/linear.hpp"
#include "hrnet/ops/loss.hpp"
#include "hrnet/ops/pool.hpp"
#include "hrnet/ops/reduce.hpp"
#include "hrnet/ops/resize.hpp"
#include "hrnet/ops/slice.hpp"
