// train_cls: HRNet-C ImageNet classification training, with either reference command line.
//   train_cls --cfg configs/imagenet/cls_hrnet_w18_sgd_lr5e-2_wd1e-4_bs32_x100.yaml --datadir DIR
//   train_cls --cfg ... --datadir DIR --testModel output/imagenet/<cfg>/final_state.safetensors
//   train_cls --net_cfg configs/imagenet/w30_s4.cfg --data_path TFRECORD_DIR [--resume_training] [--eval_only]
// The recipe, checkpoints, resume and logs are described in hrnet/classification/train_cls.hpp.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "cli.hpp"
#include "hrnet/classification/train_cls.hpp"
#include "hrnet/core/error.hpp"

using namespace hrnet;

namespace {
void usage() {
  std::puts(
      "usage: train_cls --cfg FILE --datadir DIR [options]            (HRNet-Image-Classification)\n"
      "       train_cls --net_cfg FILE --data_path DIR [options]      (tf-hrnet, the TF port)\n"
      "Trains HRNet-C on image folders or TFRecord shards, with the recipe of the command line used:\n"
      "  --cfg         official experiment YAML (e.g. configs/imagenet/cls_hrnet_w18_sgd_lr5e-2_wd1e-4_bs32_x100.yaml):\n"
      "                SGD with the config's TRAIN.* (Nesterov momentum, weight decay, MultiStepLR per epoch),\n"
      "                RandomResizedCrop + flip + mean/std; MODEL.NUM_CLASSES (1000) logits\n"
      "  --datadir     images in DIR/imagenet/images/{train,val} (as the official --dataDir) or DIR/{train,val}, one\n"
      "                folder per class (labels: the sorted folder index), or TFRecord shards DIR/train-*-of-* and\n"
      "                DIR/validation-*-of-* (labels: image/class/label - 1)\n"
      "  --testModel   evaluate these weights (final_state/model_best/checkpoint .safetensors) on the whole\n"
      "                validation set and print loss, top-1 and top-5; no training\n"
      "  --net_cfg     the TF port's .cfg (configs/imagenet/w30_s4.cfg): plain momentum SGD, lr lr_rate_init x\n"
      "                global batch / 256, x0.1 after 30/60/90 epochs' worth of steps, 100 epochs;\n"
      "                sample_distorted_bounding_box + flip + bilinear resize, mean subtraction; HEAD.cls_num (1001)\n"
      "                logits on the label as stored\n"
      "  --data_path   TFRecord shards DIR/train-*-of-* and DIR/validation-*-of-* (default ./data/tfrecord), or\n"
      "                DIR/{train,val} image folders (labels: folder index + 1)\n"
      "  --resume_training, --resume   continue from the output folder's checkpoint (error if there is none);\n"
      "                with --cfg, TRAIN.RESUME: true (the official yamls) resumes an existing checkpoint anyway\n"
      "  --eval_only   evaluate the output folder's checkpoint.safetensors (or --weights FILE) on every validation\n"
      "                image: loss, top-1, top-5 (exact, not the TF port's sampled estimate)\n"
      "  --batch_size, --batch_size_eval   per-step batch for training and evaluation (overrides\n"
      "                TRAIN/TEST.BATCH_SIZE_PER_GPU; TF port default 32); --batch, --batch_eval are the same\n"
      "  --max_epochs  epochs to train (overrides TRAIN.END_EPOCH; TF port default 100)\n"
      "  --output      output folder (default OUTPUT_DIR/<dataset>/<config name>, or output/tf-hrnet/<cfg name>):\n"
      "                checkpoint.safetensors after every epoch, model_best.safetensors, final_state.safetensors,\n"
      "                train_log.csv, epoch_log.csv, tb/\n"
      "  --seed        seed of the initialisation, shuffling and augmentation (default 0); with a fixed\n"
      "                OMP_NUM_THREADS a CPU run is bit-for-bit repeatable and a resumed run equals an uninterrupted one\n"
      "  --workers, --print_freq   loader threads and progress period (override WORKERS, PRINT_FREQ; TF port: 8 and\n"
      "                COMMON.summary_step)\n"
      "  --val_every   validate every N epochs and at the end (default 1; 0: never)\n"
      "  --lr_schedule step (default: the recipe's milestones) or cosine (per step, to 0 at the end)\n"
      "  --warmup_epochs N   linear warmup from 0.1 x lr over the first N epochs, per step (default 0)\n"
      "  --label_smoothing X cross-entropy label smoothing (default 0: both references' loss)\n"
      "  --decode      exact (default: whole-image JPEG decodes, torchvision-exact pixels) or fast (official recipe's\n"
      "                training: decode only the crop at a reduced DCT scale; same draws, pixels within a stated tolerance)\n"
      "  --device      cpu (default) or cuda (the first GPU; needs a CUDA build), both in fp32\n"
      "  --amp, --dist, --enbl_multi_gpu   mixed precision and multi-GPU data parallel training are not\n"
      "                implemented yet: each fails with a message saying so\n"
      "Options may also be spelt in kebab-case (--max-epochs); --dataDir and --test_model are accepted too.\n"
      "Make a small dataset to try it: make_synthetic cls --output DIR --format folder|tfrecord --classes 4 --images 32");
}
}  // namespace

int main(int argc, char** argv) try {
  // Loader threads share the cores with the OpenMP compute threads: let OpenMP yield.
  setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
  // Over a file-size limit (ulimit -f) a write must fail with EFBIG, which the checkpoint writer
  // reports (naming the file, the previous checkpoint left intact), not kill the run with SIGXFSZ.
  std::signal(SIGXFSZ, SIG_IGN);
  classification::ClsTrainOptions o;
  cli::Args args(argc, argv);
  while (args.next()) {
    const std::string& a = args.key();
    if (a == "--help" || a == "-h") return usage(), 0;
    if (a == "--cfg") o.cfg = args.value();
    else if (a == "--datadir" || a == "--dataDir") o.datadir = args.value();
    else if (a == "--testModel" || a == "--test_model") o.test_model = args.value();
    else if (a == "--max_epochs") o.max_epochs = static_cast<int>(args.integer(0));
    else if (a == "--device") o.device = args.value();
    else if (a == "--output") o.output = args.value();
    else if (a == "--seed") o.seed = static_cast<std::uint64_t>(args.integer(0)), o.seed_given = true;
    else if (a == "--workers") o.workers = static_cast<int>(args.integer(0));
    else if (a == "--print_freq") o.print_freq = static_cast<int>(args.integer(1));
    else if (a == "--batch" || a == "--batch_size") o.batch_size = static_cast<int>(args.integer(1));
    else if (a == "--batch_eval" || a == "--batch_size_eval") o.batch_size_eval = static_cast<int>(args.integer(1));
    else if (a == "--val_every") o.val_every = static_cast<int>(args.integer(0));
    else if (a == "--label_smoothing") o.label_smoothing = args.number();
    else if (a == "--lr_schedule") o.lr_schedule = args.value();
    else if (a == "--warmup_epochs") o.warmup_epochs = args.number();
    else if (a == "--decode") o.decode = args.value();
    else if (a == "--resume" || a == "--resume_training") o.resume = args.flag();
    else if (a == "--eval_only") o.eval_only = args.flag();
    else if (a == "--weights") o.weights = args.value();
    else if (a == "--net_cfg") o.net_cfg = args.value();
    else if (a == "--data_path") o.data_path = args.value();
    else if (a == "--amp") o.amp = args.flag();
    else if (a == "--dist" || a == "--enbl_multi_gpu") o.dist = args.flag();
    else args.unknown();
  }
  if (o.cfg.empty() && o.net_cfg.empty()) throw ValueError("--cfg FILE (or the TF port's --net_cfg FILE) is required (see --help)");
  const classification::ClsTrainResult r = classification::train_cls(o);
  if (r.evaluated) std::printf("top1 %.3f top5 %.3f loss %.4f on %lld images\n", r.top1, r.top5, r.loss, static_cast<long long>(r.images));
  else if (r.best_top1 >= 0) std::printf("best validation top1 %.3f\n", r.best_top1);
  if (r.skipped_images) std::printf("%lld unreadable images were skipped\n", static_cast<long long>(r.skipped_images));
  return 0;
} catch (const std::exception& e) {
  std::fflush(stdout);
  std::fprintf(stderr, "train_cls: error: %s\n", e.what());
  return 1;
}
