// Precompiled for every test program (tests/CMakeLists.txt, hrnet_add_test): Catch2 and the
// standard, JSON and core headers most tests include, parsed once per build instead of once per
// test. Force-included, so a test still includes what it uses and compiles without it.
#pragma once
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "hrnet/autograd/var.hpp"
#include "hrnet/core/tensor.hpp"
