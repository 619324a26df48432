// Official experiment files (HigherHRNet's and HRNet-Image-Classification's YAML, and the
// TensorFlow port's INI .cfg) parsed against a schema: every key is either known (and honoured, or checked to hold the only value the official
// code supports) or rejected with an error naming the file and the dotted key; a value of the wrong
// type is rejected the same way. Defaults come from the official lib/config/default.py.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "hrnet/core/error.hpp"
#include "hrnet/models/model_config.hpp"

namespace hrnet::models {

class ConfigError : public Error {
  using Error::Error;
};

enum class ConfigFamily { Pose, Classification };
// Official YAML, or the TensorFlow port's INI files (cfgs/w18_s4.cfg; classification only).
enum class ConfigFormat { OfficialYaml, TfIni };

// A validated experiment file: dotted keys ("TRAIN.LR") to values, defaults filled in.
class ExperimentConfig {
 public:
  struct Value {
    enum class Kind { Scalar, List } kind = Kind::Scalar;
    std::vector<std::string> items;  // one item for scalars
    bool from_file = false;          // false: the default
  };

  const std::filesystem::path& path() const { return path_; }
  ConfigFamily family() const { return family_; }
  ConfigFormat format() const { return format_; }
  bool has(const std::string& key) const { return values_.count(key) > 0; }
  bool set_in_file(const std::string& key) const { return has(key) && values_.at(key).from_file; }

  int get_int(const std::string& key) const;
  double get_double(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  std::vector<int> get_int_list(const std::string& key) const;
  std::vector<double> get_double_list(const std::string& key) const;
  std::vector<bool> get_bool_list(const std::string& key) const;
  std::vector<std::string> get_string_list(const std::string& key) const;
  // Command-line style override ("TRAIN.END_EPOCH", "2"), validated like a file entry.
  void set(const std::string& key, const std::string& value);
  // Every key and value, resolved (for printing the configuration at start).
  std::string dump() const;

  // Internal: used by the loader.
  ExperimentConfig(std::filesystem::path p, ConfigFamily f, std::map<std::string, Value> v,
                   ConfigFormat fmt = ConfigFormat::OfficialYaml)
      : path_(std::move(p)), family_(f), format_(fmt), values_(std::move(v)) {}

 private:
  const Value& at(const std::string& key) const;
  std::filesystem::path path_;
  ConfigFamily family_;
  ConfigFormat format_;
  std::map<std::string, Value> values_;
};

// Reads and validates an experiment file. Official YAML: the family comes from MODEL.NAME
// (pose_higher_hrnet or cls_hrnet). A `.cfg` file is read as the TF port's INI format
// (sections COMMON, NET, FRONT, S2..S4, HEAD; option names are case-insensitive, as configparser).
ExperimentConfig load_experiment_config(const std::filesystem::path& path);

// The network input size (height, width) the file describes: DATASET.INPUT_SIZE (pose),
// MODEL.IMAGE_SIZE (classification), COMMON.image_size (224) for the TF port.
std::pair<int, int> model_input_size(const ExperimentConfig& cfg);

// The model structure the file describes (validated: the errors name the keys).
PoseNetConfig pose_net_config(const ExperimentConfig& cfg);
ClsNetConfig cls_net_config(const ExperimentConfig& cfg);

}  // namespace hrnet::models
