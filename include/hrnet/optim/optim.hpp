#pragma once
#include "hrnet/optim/adam.hpp"
#include "hrnet/optim/lr_schedule.hpp"
#include "hrnet/optim/sgd.hpp"
