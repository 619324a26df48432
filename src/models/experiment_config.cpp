// Schema-validated loading of the official experiment files (see models/config.hpp). Compiled here so
// that the YAML parser (yaml-cpp) stays out of the public headers.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <limits>
#include <fstream>
#include <cstdlib>
#include <set>
#include <sstream>

#include "hrnet/models/config.hpp"
#include "hrnet/models/validate.hpp"

namespace hrnet::models {
namespace {

enum class Type { Int, Float, Bool, String, IntList, FloatList, BoolList, StringList, BoolTuple };

struct Field {
  std::string key;
  Type type;
  std::string default_value;  // "" with `required`; lists as "a,b,c"
  bool required = false;
};

// Fields shared by both families.
std::vector<Field> common_fields() {
  return {
      {"GPUS", Type::String, "(0,)"},       {"LOG_DIR", Type::String, "log"},
      {"DATA_DIR", Type::String, ""},       {"OUTPUT_DIR", Type::String, "output"},
      {"WORKERS", Type::Int, "4"},          {"PRINT_FREQ", Type::Int, "20"},
      {"CUDNN.BENCHMARK", Type::Bool, "true"}, {"CUDNN.DETERMINISTIC", Type::Bool, "false"},
      {"CUDNN.ENABLED", Type::Bool, "true"}, {"MODEL.NAME", Type::String, "", true},
      {"DEBUG.DEBUG", Type::Bool, "false"},
  };
}

void add_stage(std::vector<Field>& f, const std::string& s, bool cls_stage1 = false) {
  const std::string p = "MODEL.EXTRA." + s + ".";
  f.push_back({p + "NUM_MODULES", Type::Int, "", true});
  // the classification yaml spells STAGE1's branch count NUM_RANCHES; the code never reads it
  if (cls_stage1) f.push_back({p + "NUM_RANCHES", Type::Int, "1"});
  else f.push_back({p + "NUM_BRANCHES", Type::Int, "", true});
  f.push_back({p + "BLOCK", Type::String, "", true});
  f.push_back({p + "NUM_BLOCKS", Type::IntList, "", true});
  f.push_back({p + "NUM_CHANNELS", Type::IntList, "", true});
  f.push_back({p + "FUSE_METHOD", Type::String, "SUM"});
}

std::vector<Field> pose_fields() {
  auto f = common_fields();
  const std::vector<Field> more = {
      {"AUTO_RESUME", Type::Bool, "false"}, {"RANK", Type::Int, "0"}, {"VERBOSE", Type::Bool, "true"},
      {"DIST_BACKEND", Type::String, "nccl"}, {"MULTIPROCESSING_DISTRIBUTED", Type::Bool, "true"},
      {"FP16.ENABLED", Type::Bool, "false"}, {"FP16.STATIC_LOSS_SCALE", Type::Float, "1.0"},
      {"FP16.DYNAMIC_LOSS_SCALE", Type::Bool, "false"},
      {"DATASET.ROOT", Type::String, ""}, {"DATASET.DATASET", Type::String, "coco_kpt"},
      {"DATASET.DATASET_TEST", Type::String, "coco"}, {"DATASET.NUM_JOINTS", Type::Int, "17"},
      {"DATASET.MAX_NUM_PEOPLE", Type::Int, "30"}, {"DATASET.TRAIN", Type::String, "train2017"},
      {"DATASET.TEST", Type::String, "val2017"}, {"DATASET.DATA_FORMAT", Type::String, "jpg"},
      {"DATASET.MAX_ROTATION", Type::Float, "30"}, {"DATASET.MIN_SCALE", Type::Float, "0.75"},
      {"DATASET.MAX_SCALE", Type::Float, "1.25"}, {"DATASET.SCALE_TYPE", Type::String, "short"},
      {"DATASET.MAX_TRANSLATE", Type::Float, "40"}, {"DATASET.INPUT_SIZE", Type::Int, "512"},
      {"DATASET.OUTPUT_SIZE", Type::IntList, "128,256"}, {"DATASET.FLIP", Type::Float, "0.5"},
      {"DATASET.SIGMA", Type::Float, "2.0"}, {"DATASET.SCALE_AWARE_SIGMA", Type::Bool, "false"},
      {"DATASET.BASE_SIZE", Type::Float, "256.0"}, {"DATASET.BASE_SIGMA", Type::Float, "2.0"},
      {"DATASET.INT_SIGMA", Type::Bool, "false"}, {"DATASET.WITH_CENTER", Type::Bool, "false"},
      {"DEBUG.SAVE_BATCH_IMAGES_GT", Type::Bool, "false"}, {"DEBUG.SAVE_BATCH_IMAGES_PRED", Type::Bool, "false"},
      {"DEBUG.SAVE_HEATMAPS_GT", Type::Bool, "false"}, {"DEBUG.SAVE_HEATMAPS_PRED", Type::Bool, "false"},
      {"DEBUG.SAVE_TAGMAPS_PRED", Type::Bool, "false"},
      {"LOSS.NUM_STAGES", Type::Int, "1"}, {"LOSS.WITH_HEATMAPS_LOSS", Type::BoolList, "true"},
      {"LOSS.HEATMAPS_LOSS_FACTOR", Type::FloatList, "1.0"}, {"LOSS.WITH_AE_LOSS", Type::BoolList, "true"},
      {"LOSS.AE_LOSS_TYPE", Type::String, "max"}, {"LOSS.PUSH_LOSS_FACTOR", Type::FloatList, "0.001"},
      {"LOSS.PULL_LOSS_FACTOR", Type::FloatList, "0.001"},
      {"MODEL.INIT_WEIGHTS", Type::Bool, "true"}, {"MODEL.PRETRAINED", Type::String, ""},
      {"MODEL.NUM_JOINTS", Type::Int, "17"}, {"MODEL.TAG_PER_JOINT", Type::Bool, "true"},
      {"MODEL.SYNC_BN", Type::Bool, "false"},
      {"MODEL.EXTRA.FINAL_CONV_KERNEL", Type::Int, "1"}, {"MODEL.EXTRA.PRETRAINED_LAYERS", Type::StringList, "*"},
      {"MODEL.EXTRA.STEM_INPLANES", Type::Int, "64"},
      {"MODEL.EXTRA.DECONV.NUM_DECONVS", Type::Int, "1"}, {"MODEL.EXTRA.DECONV.NUM_CHANNELS", Type::IntList, "32"},
      {"MODEL.EXTRA.DECONV.KERNEL_SIZE", Type::IntList, "4"}, {"MODEL.EXTRA.DECONV.NUM_BASIC_BLOCKS", Type::Int, "4"},
      {"MODEL.EXTRA.DECONV.CAT_OUTPUT", Type::BoolList, "true"},
      {"TRAIN.LR_FACTOR", Type::Float, "0.1"}, {"TRAIN.LR_STEP", Type::IntList, "90,110"},
      {"TRAIN.LR", Type::Float, "0.001"}, {"TRAIN.OPTIMIZER", Type::String, "adam"},
      {"TRAIN.MOMENTUM", Type::Float, "0.9"}, {"TRAIN.WD", Type::Float, "0.0001"},
      {"TRAIN.NESTEROV", Type::Bool, "false"}, {"TRAIN.GAMMA1", Type::Float, "0.99"},
      {"TRAIN.GAMMA2", Type::Float, "0.0"}, {"TRAIN.BEGIN_EPOCH", Type::Int, "0"},
      {"TRAIN.END_EPOCH", Type::Int, "140"}, {"TRAIN.RESUME", Type::Bool, "false"},
      {"TRAIN.CHECKPOINT", Type::String, ""}, {"TRAIN.IMAGES_PER_GPU", Type::Int, "32"},
      {"TRAIN.SHUFFLE", Type::Bool, "true"},
      {"TEST.FLIP_TEST", Type::Bool, "false"}, {"TEST.ADJUST", Type::Bool, "true"},
      {"TEST.REFINE", Type::Bool, "true"}, {"TEST.SCALE_FACTOR", Type::FloatList, "1"},
      {"TEST.DETECTION_THRESHOLD", Type::Float, "0.2"}, {"TEST.TAG_THRESHOLD", Type::Float, "1.0"},
      {"TEST.USE_DETECTION_VAL", Type::Bool, "true"}, {"TEST.IGNORE_TOO_MUCH", Type::Bool, "false"},
      {"TEST.MODEL_FILE", Type::String, ""}, {"TEST.IGNORE_CENTER", Type::Bool, "true"},
      {"TEST.NMS_KERNEL", Type::Int, "3"}, {"TEST.NMS_PADDING", Type::Int, "1"},
      {"TEST.PROJECT2IMAGE", Type::Bool, "false"}, {"TEST.WITH_HEATMAPS", Type::BoolTuple, "true"},
      {"TEST.WITH_AE", Type::BoolTuple, "true"}, {"TEST.LOG_PROGRESS", Type::Bool, "false"},
      {"TEST.IMAGES_PER_GPU", Type::Int, "1"},
  };
  f.insert(f.end(), more.begin(), more.end());
  add_stage(f, "STAGE2");
  add_stage(f, "STAGE3");
  add_stage(f, "STAGE4");
  return f;
}

std::vector<Field> cls_fields() {
  auto f = common_fields();
  const std::vector<Field> more = {
      {"MODEL.IMAGE_SIZE", Type::IntList, "224,224"}, {"MODEL.NUM_CLASSES", Type::Int, "1000"},
      {"MODEL.PRETRAINED", Type::String, ""}, {"MODEL.INIT_WEIGHTS", Type::Bool, "true"},
      {"MODEL.EXTRA.WITH_HEAD", Type::Bool, "true"},
      {"DATASET.DATASET", Type::String, "imagenet"}, {"DATASET.DATA_FORMAT", Type::String, "jpg"},
      {"DATASET.ROOT", Type::String, ""}, {"DATASET.TEST_SET", Type::String, "val"},
      {"DATASET.TRAIN_SET", Type::String, "train"},
      {"TEST.BATCH_SIZE_PER_GPU", Type::Int, "32"}, {"TEST.MODEL_FILE", Type::String, ""},
      {"TRAIN.BATCH_SIZE_PER_GPU", Type::Int, "32"}, {"TRAIN.BEGIN_EPOCH", Type::Int, "0"},
      {"TRAIN.END_EPOCH", Type::Int, "100"}, {"TRAIN.RESUME", Type::Bool, "false"},
      {"TRAIN.LR_FACTOR", Type::Float, "0.1"}, {"TRAIN.LR_STEP", Type::IntList, "30,60,90"},
      {"TRAIN.OPTIMIZER", Type::String, "sgd"}, {"TRAIN.LR", Type::Float, "0.1"},
      {"TRAIN.WD", Type::Float, "0.0001"}, {"TRAIN.MOMENTUM", Type::Float, "0.9"},
      {"TRAIN.NESTEROV", Type::Bool, "false"}, {"TRAIN.SHUFFLE", Type::Bool, "true"},
  };
  f.insert(f.end(), more.begin(), more.end());
  add_stage(f, "STAGE1", true);
  add_stage(f, "STAGE2");
  add_stage(f, "STAGE3");
  add_stage(f, "STAGE4");
  return f;
}

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& msg) {
  throw ConfigError(file.string() + ": " + msg);
}

std::string type_name(Type t) {
  switch (t) {
    case Type::Int: return "an integer";
    case Type::Float: return "a number";
    case Type::Bool: return "a boolean";
    case Type::String: return "a string";
    case Type::IntList: return "a list of integers";
    case Type::FloatList: return "a list of numbers";
    case Type::BoolList: return "a list of booleans";
    case Type::StringList: return "a list of strings";
    case Type::BoolTuple: return "a tuple of booleans such as (True, False)";
  }
  return "?";
}

bool parse_bool(const std::string& s, bool& out) {
  static const std::set<std::string> yes{"true", "True", "TRUE", "yes", "Yes", "on", "On"},
      no{"false", "False", "FALSE", "no", "No", "off", "Off"};
  if (yes.count(s)) return out = true, true;
  if (no.count(s)) return out = false, true;
  return false;
}
// A value from the file for a message: control characters (a NUL included) escaped, cut to 60 bytes.
std::string printable(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < 60; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > 60) out += "...";
  return out;
}

// The one number parser of experiment files (loading, overrides, get_int/get_double and the lists):
// the whole item must be a base-10 integer (strtoll's syntax) within int, or a number (strtod's
// syntax) that does not overflow a double; a NUL inside the item is refused (strtoll/strtod would
// stop there). Fails with ConfigError naming the file, the key and the value; `whole` is the key's
// type, for the message.
int parse_int(const std::filesystem::path& file, const std::string& key, const std::string& item, Type whole) {
  const std::string got = "key '" + key + "' must be " + type_name(whole) + ", got '" + printable(item) + "'";
  if (item.empty() || item.find('\0') != std::string::npos) fail(file, got);
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(item.c_str(), &end, 10);
  if (end == item.c_str() || *end != '\0') fail(file, got);
  if (errno == ERANGE || v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
    fail(file, got + ": out of range (" + std::to_string(std::numeric_limits<int>::min()) + " to " +
                   std::to_string(std::numeric_limits<int>::max()) + ")");
  return int(v);
}
double parse_number(const std::filesystem::path& file, const std::string& key, const std::string& item, Type whole) {
  const std::string got = "key '" + key + "' must be " + type_name(whole) + ", got '" + printable(item) + "'";
  if (item.empty() || item.find('\0') != std::string::npos) fail(file, got);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(item.c_str(), &end);
  if (end == item.c_str() || *end != '\0') fail(file, got);
  // (ERANGE on underflow returns the nearest representable value: accepted)
  if (errno == ERANGE && std::isinf(v)) fail(file, got + ": out of range for a double");
  return v;
}
std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Checks one scalar item against an element type; names the key on failure.
void check_item(const std::filesystem::path& file, const std::string& key, const std::string& item, Type elem,
                Type whole) {
  bool b;
  if (elem == Type::Int) (void)parse_int(file, key, item, whole);
  if (elem == Type::Float) (void)parse_number(file, key, item, whole);
  if (elem == Type::Bool && !parse_bool(item, b))
    fail(file, "key '" + key + "' must be " + type_name(whole) + ", got '" + printable(item) + "'");
}

Type element_type(Type t) {
  switch (t) {
    case Type::IntList: return Type::Int;
    case Type::FloatList: return Type::Float;
    case Type::BoolList: case Type::BoolTuple: return Type::Bool;
    case Type::StringList: return Type::String;
    default: return t;
  }
}
bool is_list(Type t) {
  return t == Type::IntList || t == Type::FloatList || t == Type::BoolList || t == Type::StringList || t == Type::BoolTuple;
}

// Converts a YAML node (or a command-line string) to a validated value.
ExperimentConfig::Value make_value(const std::filesystem::path& file, const std::string& key, const YAML::Node& n,
                                   Type t) {
  ExperimentConfig::Value v;
  v.from_file = true;
  if (is_list(t)) {
    v.kind = ExperimentConfig::Value::Kind::List;
    if (n.IsSequence()) {
      for (const auto& e : n) {
        if (!e.IsScalar()) fail(file, "key '" + key + "' must be " + type_name(t) + " (nested value found)");
        v.items.push_back(e.Scalar());
      }
    } else if (n.IsScalar() && t == Type::BoolTuple) {  // "(True, False)" is a string in YAML
      std::string s = trim(n.Scalar());
      if (s.size() < 2 || s.front() != '(' || s.back() != ')') fail(file, "key '" + key + "' must be " + type_name(t) + ", got '" + s + "'");
      std::stringstream ss(s.substr(1, s.size() - 2));
      for (std::string item; std::getline(ss, item, ',');)
        if (!trim(item).empty()) v.items.push_back(trim(item));
    } else if (n.IsScalar()) {  // a single value where a list is expected
      v.items.push_back(n.Scalar());
    } else {
      fail(file, "key '" + key + "' must be " + type_name(t));
    }
  } else {
    if (!n.IsScalar()) fail(file, "key '" + key + "' must be " + type_name(t) + ", got a " + (n.IsMap() ? "mapping" : "list"));
    v.items.push_back(n.Scalar());
  }
  for (const auto& item : v.items) check_item(file, key, item, element_type(t), t);
  return v;
}

void walk(const std::filesystem::path& file, const YAML::Node& node, const std::string& prefix,
          const std::map<std::string, Type>& schema, const std::set<std::string>& sections,
          std::map<std::string, ExperimentConfig::Value>& out) {
  for (const auto& kv : node) {
    const std::string name = kv.first.Scalar();
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    const YAML::Node& val = kv.second;
    if (sections.count(key)) {
      if (!val.IsMap()) fail(file, "key '" + key + "' must be a section (a mapping of keys)");
      walk(file, val, key, schema, sections, out);
      continue;
    }
    auto it = schema.find(key);
    if (it == schema.end()) {
      std::ostringstream msg;
      msg << "unknown key '" << key << "'";
      if (kv.first.Mark().line >= 0) msg << " (line " << kv.first.Mark().line + 1 << ")";
      // suggest keys of the same section
      std::vector<std::string> siblings;
      for (const auto& [k, _] : schema)
        if (k.rfind(prefix.empty() ? "" : prefix + ".", 0) == 0 &&
            k.find('.', prefix.empty() ? 0 : prefix.size() + 1) == std::string::npos)
          siblings.push_back(k);
      if (!siblings.empty() && siblings.size() <= 40) {
        msg << "; known keys here:";
        for (const auto& s : siblings) msg << " " << s.substr(prefix.empty() ? 0 : prefix.size() + 1);
      }
      fail(file, msg.str());
    }
    out[key] = make_value(file, key, val, it->second);
  }
}

}  // namespace

// The TF port's INI schema (yuanyuanli85/tf-hrnet cfgs/*.cfg, read by utils/config.py).
std::vector<Field> tf_fields() {
  std::vector<Field> f = {
      {"COMMON.summary_step", Type::Int, "100"}, {"COMMON.save_step", Type::Int, "10000"},
      {"COMMON.lr_rate_init", Type::Float, "0.1"}, {"COMMON.momentum", Type::Float, "0.9"},
      // not in the port's files (it hard-codes 224): our extension, for small synthetic runs
      {"COMMON.image_size", Type::Int, "224"},
      {"NET.weight_l2_scale", Type::Float, "0.0001"}, {"NET.num_stages", Type::Int, "3"},
      {"NET.num_channels", Type::Int, "", true},
      {"FRONT.num_channels", Type::Int, "64"}, {"FRONT.bottlenect_channels", Type::Int, "256"},
      {"FRONT.output_channels", Type::Int, ""}, {"FRONT.num_blocks", Type::Int, "4"},
      {"HEAD.base_channel", Type::Int, "128"}, {"HEAD.num_branches", Type::Int, "4"},
      {"HEAD.cls_num", Type::Int, "1001"}, {"HEAD.fc_channel", Type::Int, "2048"},
  };
  for (const char* s : {"S2", "S3", "S4"})
    for (const char* k : {"num_modules", "num_channels", "num_blocks", "num_branches"})
      f.push_back({std::string(s) + "." + k, Type::Int, "", std::string(k) != "num_channels"});
  return f;
}

ExperimentConfig load_tf_ini(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) fail(path, "cannot be read");
  const auto fields = tf_fields();
  std::map<std::string, Type> schema;
  for (const auto& f : fields) schema[f.key] = f.type;
  std::map<std::string, ExperimentConfig::Value> values;
  std::string section, line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    const std::string where = " (line " + std::to_string(lineno) + ")";
    if (t.front() == '[') {
      if (t.back() != ']') fail(path, "malformed section header '" + t + "'" + where);
      section = trim(t.substr(1, t.size() - 2));
      continue;
    }
    const auto eq = t.find_first_of("=:");
    if (eq == std::string::npos) fail(path, "expected 'key = value', got '" + t + "'" + where);
    if (section.empty()) fail(path, "key outside any [SECTION]" + where);
    std::string name = trim(t.substr(0, eq));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    const std::string key = section + "." + name, value = trim(t.substr(eq + 1));
    auto it = schema.find(key);
    if (it == schema.end()) fail(path, "unknown key '" + key + "'" + where);
    if (values.count(key)) fail(path, "key '" + key + "' appears twice" + where);
    ExperimentConfig::Value v;
    v.from_file = true;
    v.items.push_back(value);
    check_item(path, key, value, it->second, it->second);
    values[key] = v;
  }
  for (const auto& f : fields) {
    if (values.count(f.key)) continue;
    if (f.required) fail(path, "required key '" + f.key + "' is missing");
    ExperimentConfig::Value v;
    v.items.push_back(f.default_value);
    values[f.key] = v;
  }
  ExperimentConfig cfg(path, ConfigFamily::Classification, std::move(values), ConfigFormat::TfIni);
  // What the TF code hard-codes: accept only those values (the file's other values are honoured).
  auto only = [&](const std::string& key, int want, const std::string& why) {
    if (cfg.get_int(key) != want) fail(path, key + " must be " + std::to_string(want) + ": " + why);
  };
  only("NET.num_stages", 3, "the network has stages 2, 3 and 4");
  only("FRONT.num_channels", 64, "the stem is fixed at 64 channels");
  only("FRONT.bottlenect_channels", 256, "layer1's Bottlenecks output 256 channels");
  only("HEAD.base_channel", 128, "the head's widths are fixed at 128/256/512/1024");
  only("HEAD.num_branches", 4, "the head needs 4 branches");
  only("HEAD.fc_channel", 2048, "the final layer is fixed at 2048 channels");
  const int S = cfg.get_int("COMMON.image_size");
  if (S < 32 || S % 32 != 0) fail(path, "COMMON.image_size must be a positive multiple of 32 (the network downsamples 32x), got " + std::to_string(S));
  const int C = cfg.get_int("NET.num_channels");
  if (cfg.set_in_file("FRONT.output_channels")) only("FRONT.output_channels", C, "it is NET.num_channels");
  for (const char* s : {"S2", "S3", "S4"})
    if (cfg.set_in_file(std::string(s) + ".num_channels"))
      only(std::string(s) + ".num_channels", C, "every stage uses NET.num_channels");
  return cfg;
}

ExperimentConfig load_experiment_config(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) fail(path, "no such file");
  if (path.extension() == ".cfg") return load_tf_ini(path);
  YAML::Node root;
  try {
    root = YAML::LoadFile(path.string());
  } catch (const YAML::Exception& e) {
    fail(path, std::string("malformed YAML: ") + e.what());
  }
  if (!root.IsMap()) fail(path, "the file must be a YAML mapping of sections");
  const YAML::Node name = root["MODEL"] && root["MODEL"].IsMap() ? root["MODEL"]["NAME"] : YAML::Node();
  if (!name || !name.IsScalar()) fail(path, "MODEL.NAME is missing (pose_higher_hrnet or cls_hrnet)");
  ConfigFamily family;
  if (name.Scalar() == "pose_higher_hrnet") family = ConfigFamily::Pose;
  else if (name.Scalar() == "cls_hrnet") family = ConfigFamily::Classification;
  else fail(path, "MODEL.NAME '" + name.Scalar() + "' is not supported (pose_higher_hrnet or cls_hrnet)");

  const auto fields = family == ConfigFamily::Pose ? pose_fields() : cls_fields();
  std::map<std::string, Type> schema;
  std::set<std::string> sections;
  for (const auto& f : fields) {
    schema[f.key] = f.type;
    for (auto p = f.key.find('.'); p != std::string::npos; p = f.key.find('.', p + 1)) sections.insert(f.key.substr(0, p));
  }
  std::map<std::string, ExperimentConfig::Value> values;
  walk(path, root, "", schema, sections, values);
  for (const auto& f : fields) {
    if (values.count(f.key)) continue;
    if (f.required) fail(path, "required key '" + f.key + "' is missing");
    ExperimentConfig::Value v;
    v.kind = is_list(f.type) ? ExperimentConfig::Value::Kind::List : ExperimentConfig::Value::Kind::Scalar;
    if (is_list(f.type)) {
      std::stringstream ss(f.default_value);
      for (std::string item; std::getline(ss, item, ',');) v.items.push_back(item);
    } else {
      v.items.push_back(f.default_value);
    }
    values[f.key] = v;
  }
  ExperimentConfig cfg(path, family, std::move(values));
  // Fields the official code reads but only with one meaningful value: check them here.
  if (family == ConfigFamily::Pose) {
    if (cfg.get_int("MODEL.EXTRA.STEM_INPLANES") != 64)
      fail(path, "MODEL.EXTRA.STEM_INPLANES must be 64: the official stem is fixed at 64 channels and ignores it");
    if (cfg.get_int("MODEL.NUM_JOINTS") != cfg.get_int("DATASET.NUM_JOINTS"))
      fail(path, "MODEL.NUM_JOINTS and DATASET.NUM_JOINTS differ");
    // Accepting the key and training with per-device BN would silently change the recipe.
    if (cfg.get_bool("MODEL.SYNC_BN"))
      fail(path,
           "MODEL.SYNC_BN: true is not supported: synchronised batch norm comes with data-parallel training "
           "(--dist), which is not implemented yet; set MODEL.SYNC_BN: false until then");
  } else {
    if (cfg.get_int("MODEL.NUM_CLASSES") != 1000)
      fail(path, "MODEL.NUM_CLASSES must be 1000: the official classifier is always Linear(2048, 1000)");
    if (!cfg.get_bool("MODEL.EXTRA.WITH_HEAD"))
      fail(path, "MODEL.EXTRA.WITH_HEAD: false is not supported (the official model always has the head)");
    if (cfg.get_int_list("MODEL.IMAGE_SIZE").size() != 2) fail(path, "MODEL.IMAGE_SIZE must be [height, width]");
  }
  return cfg;
}

const ExperimentConfig::Value& ExperimentConfig::at(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) fail(path_, "no key '" + key + "' in this kind of configuration");
  return it->second;
}
int ExperimentConfig::get_int(const std::string& key) const {
  const auto& v = at(key);
  if (v.items.size() != 1) fail(path_, "key '" + key + "' is not an integer");
  return parse_int(path_, key, v.items[0], Type::Int);
}
double ExperimentConfig::get_double(const std::string& key) const {
  const auto& v = at(key);
  if (v.items.size() != 1) fail(path_, "key '" + key + "' is not a number");
  return parse_number(path_, key, v.items[0], Type::Float);
}
bool ExperimentConfig::get_bool(const std::string& key) const {
  const auto& v = at(key);
  bool b = false;
  if (v.items.size() != 1 || !parse_bool(v.items[0], b)) fail(path_, "key '" + key + "' is not a boolean");
  return b;
}
std::string ExperimentConfig::get_string(const std::string& key) const {
  const auto& v = at(key);
  return v.items.empty() ? "" : v.items[0];
}
std::vector<int> ExperimentConfig::get_int_list(const std::string& key) const {
  std::vector<int> out;
  for (const auto& s : at(key).items) out.push_back(parse_int(path_, key, s, Type::IntList));
  return out;
}
std::vector<double> ExperimentConfig::get_double_list(const std::string& key) const {
  std::vector<double> out;
  for (const auto& s : at(key).items) out.push_back(parse_number(path_, key, s, Type::FloatList));
  return out;
}
std::vector<bool> ExperimentConfig::get_bool_list(const std::string& key) const {
  std::vector<bool> out;
  for (const auto& s : at(key).items) {
    bool b = false;
    parse_bool(s, b);
    out.push_back(b);
  }
  return out;
}
std::vector<std::string> ExperimentConfig::get_string_list(const std::string& key) const { return at(key).items; }

void ExperimentConfig::set(const std::string& key, const std::string& value) {
  const auto fields = family_ == ConfigFamily::Pose ? pose_fields() : cls_fields();
  auto it = std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return f.key == key; });
  if (it == fields.end()) fail(path_, "cannot override unknown key '" + key + "'");
  values_[key] = make_value(path_, key, YAML::Load(value), it->type);
}

std::string ExperimentConfig::dump() const {
  std::ostringstream s;
  for (const auto& [k, v] : values_) {
    s << k << ": ";
    if (v.kind == Value::Kind::List) {
      s << '[';
      for (std::size_t i = 0; i < v.items.size(); ++i) s << (i ? ", " : "") << v.items[i];
      s << ']';
    } else {
      s << v.items[0];
    }
    s << (v.from_file ? "" : "   (default)") << '\n';
  }
  return s.str();
}

namespace {
StageConfig stage_from(const ExperimentConfig& c, const std::string& s) {
  const std::string p = "MODEL.EXTRA." + s + ".";
  StageConfig st;
  st.num_modules = c.get_int(p + "NUM_MODULES");
  st.num_branches = c.has(p + "NUM_BRANCHES") ? c.get_int(p + "NUM_BRANCHES") : 1;
  const std::string block = c.get_string(p + "BLOCK");
  if (block == "BASIC") st.block = BlockKind::Basic;
  else if (block == "BOTTLENECK") st.block = BlockKind::Bottleneck;
  else fail(c.path(), "key '" + p + "BLOCK' must be BASIC or BOTTLENECK, got '" + block + "'");
  st.num_blocks = c.get_int_list(p + "NUM_BLOCKS");
  st.num_channels = c.get_int_list(p + "NUM_CHANNELS");
  st.fuse_method = c.get_string(p + "FUSE_METHOD");
  return st;
}
template <class F>
auto with_file(const ExperimentConfig& c, F&& f) {
  try {
    return f();
  } catch (const ConfigError&) {
    throw;
  } catch (const Error& e) {  // structure errors name the key; add the file
    fail(c.path(), e.what());
  }
}
}  // namespace

PoseNetConfig pose_net_config(const ExperimentConfig& c) {
  if (c.family() != ConfigFamily::Pose) fail(c.path(), "not a pose (pose_higher_hrnet) configuration");
  return with_file(c, [&] {
    PoseNetConfig p;
    p.num_joints = c.get_int("MODEL.NUM_JOINTS");
    p.tag_per_joint = c.get_bool("MODEL.TAG_PER_JOINT");
    p.final_conv_kernel = c.get_int("MODEL.EXTRA.FINAL_CONV_KERNEL");
    p.stage2 = stage_from(c, "STAGE2");
    p.stage3 = stage_from(c, "STAGE3");
    p.stage4 = stage_from(c, "STAGE4");
    p.deconv.num_deconvs = c.get_int("MODEL.EXTRA.DECONV.NUM_DECONVS");
    p.deconv.num_channels = c.get_int_list("MODEL.EXTRA.DECONV.NUM_CHANNELS");
    p.deconv.kernel_size = c.get_int_list("MODEL.EXTRA.DECONV.KERNEL_SIZE");
    p.deconv.num_basic_blocks = c.get_int("MODEL.EXTRA.DECONV.NUM_BASIC_BLOCKS");
    p.deconv.cat_output = c.get_bool_list("MODEL.EXTRA.DECONV.CAT_OUTPUT");
    p.with_ae_loss = c.get_bool_list("LOSS.WITH_AE_LOSS");
    p.input_size = c.get_int("DATASET.INPUT_SIZE");
    if (c.get_int("LOSS.NUM_STAGES") != p.deconv.num_deconvs + 1)
      fail(c.path(), "LOSS.NUM_STAGES (" + std::to_string(c.get_int("LOSS.NUM_STAGES")) +
                         ") must equal MODEL.EXTRA.DECONV.NUM_DECONVS + 1 (one loss per output)");
    validate_pose_config(p);
    return p;
  });
}

ClsNetConfig cls_net_config(const ExperimentConfig& c) {
  if (c.family() != ConfigFamily::Classification) fail(c.path(), "not a classification (cls_hrnet) configuration");
  if (c.format() == ConfigFormat::TfIni)
    return with_file(c, [&] {
      // The TF port's network is HRNet-C with width NET.num_channels, scalar block counts and a
      // HEAD.cls_num-way classifier. It is built here with the official PyTorch structure.
      ClsNetConfig p;
      const int C = c.get_int("NET.num_channels");
      p.stage1 = {1, 1, BlockKind::Bottleneck, {c.get_int("FRONT.num_blocks")}, {64}, "SUM"};
      StageConfig* st[3] = {&p.stage2, &p.stage3, &p.stage4};
      const char* names[3] = {"S2", "S3", "S4"};
      for (int s = 0; s < 3; ++s) {
        const std::string k = names[s];
        st[s]->num_modules = c.get_int(k + ".num_modules");
        st[s]->num_branches = c.get_int(k + ".num_branches");
        if (st[s]->num_branches != s + 2)
          fail(c.path(), k + ".num_branches must be " + std::to_string(s + 2) + " (one new branch per stage)");
        st[s]->block = BlockKind::Basic;
        st[s]->num_blocks.assign(st[s]->num_branches, c.get_int(k + ".num_blocks"));
        for (int b = 0; b < st[s]->num_branches; ++b) st[s]->num_channels.push_back(C << b);
      }
      p.num_classes = c.get_int("HEAD.cls_num");
      p.image_height = p.image_width = c.get_int("COMMON.image_size");
      validate_cls_config(p);
      return p;
    });
  return with_file(c, [&] {
    ClsNetConfig p;
    p.stage1 = stage_from(c, "STAGE1");
    p.stage2 = stage_from(c, "STAGE2");
    p.stage3 = stage_from(c, "STAGE3");
    p.stage4 = stage_from(c, "STAGE4");
    const auto size = c.get_int_list("MODEL.IMAGE_SIZE");
    p.image_width = size[0];
    p.image_height = size[1];
    validate_cls_config(p);
    return p;
  });
}

std::pair<int, int> model_input_size(const ExperimentConfig& c) {
  if (c.format() == ConfigFormat::TfIni) return {c.get_int("COMMON.image_size"), c.get_int("COMMON.image_size")};
  if (c.family() == ConfigFamily::Pose) return {c.get_int("DATASET.INPUT_SIZE"), c.get_int("DATASET.INPUT_SIZE")};
  const auto s = c.get_int_list("MODEL.IMAGE_SIZE");
  return {s[1], s[0]};
}

}  // namespace hrnet::models
