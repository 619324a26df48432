// State dicts: a module's parameters and buffers under their PyTorch names, as safetensors.
// On disk every tensor is in PyTorch's layout (OIHW weights, NCHW activations) and
// num_batches_tracked is a 0-d int64, so files move both ways between hrnet and PyTorch.
#pragma once
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "hrnet/io/safetensors.hpp"
#include "hrnet/io/tensor_io.hpp"
#include "hrnet/nn/module.hpp"

namespace hrnet::nn {

template <FloatType T, Device D>
io::SafetensorsFile state_dict(const Module<T, D>& m) {
  io::SafetensorsFile f;
  for (const auto& p : m.named_parameters()) f.tensors[p.name] = io::to_raw(to_cpu(p.var->value()));
  for (const auto& b : m.named_buffers()) {
    if (b.tensor) {
      f.tensors[b.name] = io::to_raw(to_cpu(*b.tensor));
    } else {
      auto c = Tensor<std::int64_t, CPU>::full(Shape{}, *b.counter);
      f.tensors[b.name] = io::to_raw(c);
    }
  }
  return f;
}

struct LoadReport {
  std::vector<std::string> missing;     // in the module, not in the file
  std::vector<std::string> unexpected;  // in the file, not in the module
  std::vector<std::string> mismatched;  // "name: file [..] vs model [..]"
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  std::string str() const {
    std::ostringstream s;
    auto list = [&](const char* what, const std::vector<std::string>& v) {
      if (v.empty()) return;
      s << what << " (" << v.size() << "):";
      const std::size_t shown = std::min<std::size_t>(v.size(), 25);
      for (std::size_t i = 0; i < shown; ++i) s << "\n  " << v[i];
      if (shown < v.size()) s << "\n  ... and " << v.size() - shown << " more";
      s << "\n";
    };
    list("missing keys", missing);
    list("unexpected keys", unexpected);
    list("shape mismatches", mismatched);
    return s.str();
  }
};

// Copies matching entries of `f` into the module. With strict = true (the default) any missing,
// unexpected or mis-shaped key throws StateDictError naming every offender and nothing is changed;
// otherwise matching entries load and the report lists the rest.
template <FloatType T, Device D>
LoadReport load_state_dict(Module<T, D>& m, const io::SafetensorsFile& f, bool strict = true,
                           const std::string& source = "state dict") {
  LoadReport r;
  std::set<std::string> seen;
  auto check = [&](const std::string& name, const std::vector<std::int64_t>& want) -> const io::RawTensor* {
    seen.insert(name);
    auto it = f.tensors.find(name);
    if (it == f.tensors.end()) {
      r.missing.push_back(name);
      return nullptr;
    }
    if (it->second.shape != want) {
      std::ostringstream s;
      auto fmt = [](const std::vector<std::int64_t>& d) {
        std::string r = "[";
        for (std::size_t i = 0; i < d.size(); ++i) r += (i ? ", " : "") + std::to_string(d[i]);
        return r + "]";
      };
      s << name << ": file " << fmt(it->second.shape) << " vs model " << fmt(want);
      r.mismatched.push_back(s.str());
      return nullptr;
    }
    return &it->second;
  };
  struct Pending {
    const io::RawTensor* raw;
    std::string name;
    Tensor<T, D>* tensor;
    std::int64_t* counter;
  };
  std::vector<Pending> todo;
  for (const auto& p : m.named_parameters())
    if (auto* raw = check(p.name, p.var->value().shape().dims())) todo.push_back({raw, p.name, &p.var->value(), nullptr});
  for (const auto& b : m.named_buffers()) {
    const auto want = b.tensor ? b.tensor->shape().dims() : std::vector<std::int64_t>{};
    if (auto* raw = check(b.name, want)) todo.push_back({raw, b.name, b.tensor, b.counter});
  }
  for (const auto& [name, _] : f.tensors)
    if (!seen.count(name)) r.unexpected.push_back(name);
  if (strict && !r.ok()) HRNET_THROW(StateDictError, source << " does not match the model:\n" << r.str());
  // Convert everything first, then commit: a conversion error leaves the module unchanged.
  std::vector<Tensor<T, CPU>> values(todo.size());
  std::vector<std::int64_t> counters(todo.size(), 0);
  for (std::size_t i = 0; i < todo.size(); ++i) {
    if (todo[i].counter) counters[i] = io::from_raw<std::int64_t>(*todo[i].raw, todo[i].name)[0];
    else values[i] = io::from_raw<T>(*todo[i].raw, todo[i].name);
  }
  for (std::size_t i = 0; i < todo.size(); ++i) {
    if (todo[i].counter) *todo[i].counter = counters[i];
    else if constexpr (is_cpu<D>) todo[i].tensor->copy_from(values[i]);
    else todo[i].tensor->copy_from(to_cuda(values[i]));
  }
  return r;
}

template <FloatType T, Device D>
void save_safetensors(const Module<T, D>& m, const std::filesystem::path& path,
                      const std::map<std::string, std::string>& metadata = {}) {
  auto f = state_dict(m);
  f.metadata = metadata;
  io::write_safetensors(path, f);
}
template <FloatType T, Device D>
LoadReport load_safetensors(Module<T, D>& m, const std::filesystem::path& path, bool strict = true) {
  return load_state_dict(m, io::read_safetensors(path), strict, path.string());
}

}  // namespace hrnet::nn
